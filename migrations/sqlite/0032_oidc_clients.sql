-- Applications become OpenID Connect clients (issue 18): how each authenticates, the URIs it
-- registered (kept exactly as entered, compared byte for byte), the scopes it may ask for, and
-- the consents people gave it. Keep in step with the other database's migration of the same number.

-- Redirect and post-logout URIs are JSON arrays of strings in one text column: they are always
-- read and written with their application (into every instance's in-memory copy), never searched.
-- A public client stores an empty secret_hash, which no presented secret's hash can equal.
ALTER TABLE applications ADD COLUMN client_type TEXT NOT NULL DEFAULT 'confidential'
    CHECK (client_type IN ('confidential', 'public'));
ALTER TABLE applications ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
-- Canonical scope text (sorted, space-separated); always holds openid.
ALTER TABLE applications ADD COLUMN allowed_scopes TEXT NOT NULL DEFAULT 'openid';
-- 1: the plan's own application; people are not asked to consent.
ALTER TABLE applications ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'ES256'
    CHECK (id_token_alg IN ('ES256', 'RS256'));
ALTER TABLE applications ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE applications ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE applications SET updated_at = created_at;

-- What a person allowed an application to read: one row per scope set (canonical text), so the
-- consent page is shown once per set.
CREATE TABLE consents (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    scopes TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    UNIQUE (user_id, application_id, scopes)
);
CREATE INDEX consents_application ON consents (application_id);
