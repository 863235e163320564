-- Authenticator apps (TOTP) and recovery codes (issue 19). Keep in step with the other
-- database's migration of the same number.

-- A user's authenticator app: at most one. The secret is sealed (AES-256-GCM under a key derived
-- from the server key, bound to the user). Unconfirmed (confirmed_at empty) until the first code
-- is entered; `last_step` is the newest 30-second step accepted, and a code is accepted only by
-- `UPDATE ... WHERE last_step < $step`, so each step signs in once however many submit it.
CREATE TABLE authenticator_apps (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users(id),
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    secret_sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step INTEGER NOT NULL,
    last_used_at INTEGER
);

-- Recovery codes: ten per set, only their HMAC kept, each used once (`used_at`, set by a
-- conditional update). A new set replaces the old one.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id, code_hash);
