-- Gatehouse foundation schema (SQLite). Keep in step with migrations/postgres.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE plans (
    id INTEGER PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    host TEXT UNIQUE,
    support_phone TEXT NOT NULL,
    support_hours TEXT NOT NULL,
    terms_version INTEGER NOT NULL,
    terms_text TEXT NOT NULL,
    password_min INTEGER NOT NULL,
    password_max INTEGER NOT NULL,
    code_length INTEGER NOT NULL,
    code_lifetime_secs INTEGER NOT NULL,
    code_max_tries INTEGER NOT NULL,
    code_max_sends_per_hour INTEGER NOT NULL,
    session_idle_secs INTEGER NOT NULL,
    session_absolute_secs INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    username TEXT,
    username_lower TEXT,
    first_name TEXT NOT NULL,
    middle_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT,
    two_step_phone TEXT,
    two_step_method TEXT,
    terms_version_signed INTEGER,
    terms_signed_at INTEGER,
    last_signin_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_plan_username ON users (plan_id, username_lower);
CREATE INDEX users_plan_email ON users (plan_id, email_lower);

-- Failed sign-ins, keyed by the username as typed (existing or not, so that a lock never tells
-- whether an account exists) and by username + client address.
CREATE TABLE signin_throttle (
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    throttle_key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plan_id, throttle_key)
);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    invited_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    cancelled_at INTEGER
);
CREATE INDEX invitations_user ON invitations (user_id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    stage TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    ended_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE verification_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    phone TEXT NOT NULL,
    method TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    tries INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX verification_codes_user ON verification_codes (user_id, created_at);

CREATE TABLE audit_heads (
    plan_id INTEGER PRIMARY KEY NOT NULL REFERENCES plans(id),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_user_id INTEGER,
    subject_user_id INTEGER,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (plan_id, seq)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    delivered_at INTEGER,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);
