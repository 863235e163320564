-- OpenID Connect signing keys (issue 18). Keep in step with the other database's migration of
-- the same number.
--
-- Each plan signs its ID and access tokens with its own keys, one line of keys per algorithm
-- (`ES256`, `RS256`). `generation` counts a line's keys from 1; the unique index below makes a
-- key's creation (the first, made on first use, or a rotation's) happen once however many
-- instances try at the same time: the loser's insert fails and it reads the winner's key.
--
-- A key signs from `active_from` until the next generation's `active_from`; a rotation publishes
-- the next key a day before it is used (clients refresh their copy of the JWKS), and sets the old
-- key's `retired_at` (when it was replaced) and `retire_after` (when the last token it signed has
-- expired: it stays in the JWKS until then and is deleted after).
--
-- The private key (PKCS#8 DER for ES256, PKCS#1 DER for RS256) is sealed with AES-256-GCM under
-- a key derived from the server key (see `services/src/sealing.rs`), bound to its plan and kid.
CREATE TABLE oidc_signing_keys (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    alg TEXT NOT NULL,
    generation INTEGER NOT NULL,
    kid TEXT NOT NULL UNIQUE,
    public_jwk TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    active_from INTEGER NOT NULL,
    retired_at INTEGER,
    retire_after INTEGER
);
CREATE UNIQUE INDEX oidc_signing_keys_generation ON oidc_signing_keys (plan_id, alg, generation);
