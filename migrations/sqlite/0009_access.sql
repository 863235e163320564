-- Who may act for whom: the provider scope of affiliations, the active affiliation of a session,
-- self-service association attempts, access requests, portal applications, and the change log
-- that keeps every instance's permission index in step. Keep in step with the other database's
-- migration of the same name.

-- The providers an affiliation covers when it does not cover all of its practice's providers.
CREATE TABLE affiliation_providers (
    affiliation_id INTEGER NOT NULL REFERENCES affiliations(id),
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    PRIMARY KEY (affiliation_id, provider_id)
);
CREATE INDEX affiliation_providers_provider ON affiliation_providers (provider_id);
CREATE INDEX affiliations_user ON affiliations (user_id);

-- The affiliation the session acts for (null: the user has none, or has not chosen yet).
ALTER TABLE sessions ADD COLUMN active_affiliation_id INTEGER;

-- Step 1 of association: every attempt, counted to throttle per user and per Tax ID; a matched
-- attempt carries what step 2 (or an access request) may use, once.
CREATE TABLE association_attempts (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    tax_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    practice_id INTEGER REFERENCES practices(id),
    provider_id INTEGER REFERENCES providers(id),
    at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX association_attempts_user ON association_attempts (plan_id, user_id, at);
CREATE INDEX association_attempts_tax_id ON association_attempts (plan_id, tax_id, at);

-- A user's request to be given access to a practice that already has an administrator.
CREATE TABLE access_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    provider_id INTEGER REFERENCES providers(id),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by INTEGER REFERENCES users(id),
    user_type TEXT
);
CREATE INDEX access_requests_practice ON access_requests (practice_id, status, created_at);
CREATE UNIQUE INDEX access_requests_one_pending ON access_requests (user_id, practice_id) WHERE status = 'pending';

-- Portal applications that ask the permission check API; the secret is stored as its SHA-256.
CREATE TABLE applications (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    name TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id),
    revoked_at INTEGER
);
CREATE INDEX applications_plan ON applications (plan_id);

-- One row per committed change to who may do what (user_id null: reload the whole plan), written
-- in the change's transaction; every instance polls it to refresh its permission index.
CREATE TABLE access_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER,
    at INTEGER NOT NULL
);
