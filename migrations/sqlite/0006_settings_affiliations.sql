-- Plan branding and review settings, the plan's logo, and affiliations (user x practice) with
-- the administrator flag. Keep in step with the other database's migration of the same name.
ALTER TABLE plans ADD COLUMN brand_color TEXT NOT NULL DEFAULT '#0b4f6c';
ALTER TABLE plans ADD COLUMN access_review_days INTEGER NOT NULL DEFAULT 90;

CREATE TABLE plan_logos (
    plan_id INTEGER PRIMARY KEY NOT NULL REFERENCES plans(id),
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE affiliations (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    user_type TEXT NOT NULL,
    is_admin INTEGER NOT NULL,
    all_providers INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, practice_id)
);
CREATE INDEX affiliations_practice ON affiliations (practice_id);
