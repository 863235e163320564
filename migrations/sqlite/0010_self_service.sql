-- Self-service tools (SQLite). Keep in step with migrations/postgres.

-- Forgot-username and forgot-password lookups, one row per request, keyed by client address and
-- by the email or username typed (existing or not), so every instance counts the same.
CREATE TABLE self_service_attempts (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    throttle_key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX self_service_attempts_key ON self_service_attempts (plan_id, throttle_key, at);

-- A password reset in progress. Only the SHA-256 of its token is stored (a cookie, or the
-- emailed link). `user_id` is NULL when the username and email typed matched no account.
-- origin: 'self' (username + email + two-step code) or 'link' (sent by staff or an administrator).
-- stage: 'code' (a two-step code must be entered) or 'password' (a new password may be chosen).
CREATE TABLE password_resets (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    stage TEXT NOT NULL,
    requested_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Accounts imported from a legacy system keep the old password hash (see domain::legacy) until
-- their first sign-in here replaces it with Argon2id.
ALTER TABLE users ADD COLUMN legacy_hash TEXT;
ALTER TABLE users ADD COLUMN legacy_imported_at INTEGER;
ALTER TABLE users ADD COLUMN legacy_migrated_at INTEGER;
