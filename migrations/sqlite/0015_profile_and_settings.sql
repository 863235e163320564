-- Edit profile (issue 7) and three plan settings (issues 6 and 7). Keep in step with
-- migrations/postgres.

-- A signed-in user who re-entered their username and password ('code': a two-step code to the
-- current phone must follow) or also the code ('open': the profile may be edited until
-- `updated_at` + the unlock window). One row per session; it ends with the session.
CREATE TABLE profile_unlocks (
    session_id INTEGER PRIMARY KEY NOT NULL REFERENCES sessions(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    stage TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A new email address waiting for the link sent to it. Only the SHA-256 of the link's token is
-- stored; a newer request ends the older ones.
CREATE TABLE email_changes (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    new_email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX email_changes_user ON email_changes (user_id);

-- Usernames as plain names ('plain') or email addresses ('email').
ALTER TABLE plans ADD COLUMN username_format TEXT NOT NULL DEFAULT 'plain';
-- How long after deactivation a practice administrator may still reactivate an account.
ALTER TABLE plans ADD COLUMN reactivation_days INTEGER NOT NULL DEFAULT 90;
-- The last day (YYYY-MM-DD, UTC) an imported account may sign in with its old password; '' for none.
ALTER TABLE plans ADD COLUMN legacy_deadline TEXT NOT NULL DEFAULT '';

-- When the account was last deactivated (NULL when never, or before this migration).
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
