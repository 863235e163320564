-- Passkeys (WebAuthn, issue 19). Keep in step with the other database's migration of the same
-- number.

-- A user's registered passkeys. `credential_id` is the authenticator's id for the key
-- (base64url), unique within the plan (whose host is the relying-party id); `user_handle` is the
-- random WebAuthn user id the key holds (the same for all of a user's keys); `credential` is the
-- webauthn-rs `Passkey` as JSON (public key, counter, backup flags). `backup_eligible` (0/1):
-- the authenticator said the key may be copied off it (a synced passkey).
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    credential_id TEXT NOT NULL,
    user_handle TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    backup_eligible INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (plan_id, credential_id)
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony between its two requests (options given, answer awaited): the
-- webauthn-rs state as JSON, found by the SHA-256 of the random handle the client holds, bound
-- to its plan, its kind (`register`, `signin`, `second_step`) and, except for a sign-in by
-- passkey alone, the session and user; used once, short-lived.
CREATE TABLE passkey_ceremonies (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    session_id INTEGER REFERENCES sessions(id),
    user_id INTEGER REFERENCES users(id),
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
