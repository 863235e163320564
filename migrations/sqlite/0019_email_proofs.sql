-- An imported account's first sign-in proves the email on record (issue 13). Keep in step with
-- migrations/postgres.

-- A link emailed to the address on record. Only the SHA-256 of its token is stored; `purpose`
-- says what it may be used for ('first_signin'); a newer link ends the older ones (`used_at`).
CREATE TABLE email_proofs (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX email_proofs_user ON email_proofs (user_id, created_at);

-- 1: imported accounts prove their email before choosing a password and phone; 0: they do not
-- (for plans that imported verified addresses).
ALTER TABLE plans ADD COLUMN legacy_email_proof INTEGER NOT NULL DEFAULT 1;
