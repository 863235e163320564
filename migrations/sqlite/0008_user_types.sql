-- User types per plan: each a set of portal permissions, stored as their stable names separated
-- by commas (e.g. `eligibility.view,claims.view`). `affiliations.user_type` holds the key.
-- Keep in step with the other database's migration of the same name.
CREATE TABLE user_types (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (plan_id, key)
);
