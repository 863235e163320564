-- The OpenID Connect authorization code flow (issue 18). Keep in step with the other database's
-- migration of the same number.

-- How a session was authenticated: when its last factor completed (the ID token's `auth_time`)
-- and the RFC 8176 methods used, space-separated (`pwd sms`, `pwd tel`). Empty until then.
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
ALTER TABLE sessions ADD COLUMN amr TEXT;

-- An authorization request waiting for its person to sign in (or consent). The browser holds a
-- short-lived cookie whose SHA-256 is `token_hash`; the request is bound to the session that
-- completes it and used once.
CREATE TABLE oidc_pending_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    token_hash TEXT NOT NULL UNIQUE,
    -- The parsed request as JSON (redirect URI, scopes, state, nonce, PKCE challenge, prompt, ...).
    parameters TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    session_id INTEGER REFERENCES sessions(id),
    used_at INTEGER
);
CREATE INDEX oidc_pending_requests_expiry ON oidc_pending_requests (expires_at);

-- Authorization codes (only their SHA-256 kept), single use, 60 seconds. A code row is also the
-- grant every token issued from it descends from: revoking it (a code used twice) revokes them.
CREATE TABLE oidc_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL UNIQUE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    scopes TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX oidc_codes_session ON oidc_codes (session_id);

-- Refresh tokens (only their SHA-256 kept), rotated at every use. A family is every token
-- descended from one code (`code_id`); a rotated token used again ends the family and its session.
CREATE TABLE oidc_refresh_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    code_id INTEGER NOT NULL REFERENCES oidc_codes(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX oidc_refresh_tokens_family ON oidc_refresh_tokens (code_id);

-- The stable, opaque `sub` of a user in their plan: random, made at the first sign-in of an
-- application, never changed (so it survives a rotation of the server key).
CREATE TABLE oidc_subjects (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users(id),
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    subject TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (plan_id, subject)
);
