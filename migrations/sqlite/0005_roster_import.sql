-- Roster import from the plan's claims system. Keep in step with migrations/postgres.
-- A provider missing from a newer file is end-dated, never deleted; reappearing clears the date.
ALTER TABLE practices ADD COLUMN updated_at INTEGER;
ALTER TABLE providers ADD COLUMN address2 TEXT NOT NULL DEFAULT '';
ALTER TABLE providers ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE providers ADD COLUMN updated_at INTEGER;
ALTER TABLE providers ADD COLUMN end_dated_at INTEGER;

-- Each import (applied, or refused because of rejected lines) with its change report as JSON.
CREATE TABLE roster_imports (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    at INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users(id),
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    outcome TEXT NOT NULL,
    lines INTEGER NOT NULL,
    added INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX roster_imports_plan ON roster_imports (plan_id, id);

-- One row per plan, written first by every import so that two imports of a plan run one after
-- the other (PostgreSQL row lock; SQLite serializes writers anyway).
CREATE TABLE roster_import_locks (
    plan_id INTEGER PRIMARY KEY NOT NULL REFERENCES plans(id),
    locked_at INTEGER NOT NULL
);
