-- Provider profile update requests (issue 16, seed 003's "Add Facility"): the lines of a thread
-- of topic provider_profile_update, each a provider ID or NPI as typed, and the plan's decision
-- on it. Keep in step with the other database's migration of the same name.
CREATE TABLE profile_update_lines (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    thread_id INTEGER NOT NULL REFERENCES message_threads(id),
    line_no INTEGER NOT NULL,
    kind TEXT NOT NULL,
    requested TEXT NOT NULL,
    decision TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    decided_by INTEGER REFERENCES users(id),
    decided_at INTEGER,
    granted_provider_id INTEGER REFERENCES providers(id),
    UNIQUE (thread_id, line_no)
);
