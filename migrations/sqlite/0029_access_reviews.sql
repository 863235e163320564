-- Access reviews (issue 17, seed 004): one review per practice at a time, due every N days;
-- each user's decision; the reminders sent. A signed review keeps its frozen JSON and digest
-- (the digest also goes into the audit chain) and is never changed again. Keep in step with the
-- other database's migration of the same name.
CREATE TABLE access_reviews (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    due_at INTEGER NOT NULL,
    -- 'schedule' (due after the first administrator or the last review) or 'staff' (started
    -- together from the control panel).
    started_by TEXT NOT NULL,
    decided INTEGER NOT NULL DEFAULT 0,
    signed_at INTEGER,
    signed_by INTEGER REFERENCES users(id),
    signer_name TEXT,
    on_behalf INTEGER NOT NULL DEFAULT 0,
    sole_admin INTEGER NOT NULL DEFAULT 0,
    digest TEXT,
    frozen TEXT,
    created_at INTEGER NOT NULL
);
-- One open review per practice.
CREATE UNIQUE INDEX access_reviews_open ON access_reviews (practice_id) WHERE signed_at IS NULL;
CREATE INDEX access_reviews_plan_due ON access_reviews (plan_id, due_at);
CREATE INDEX access_reviews_practice_signed ON access_reviews (practice_id, signed_at);

CREATE TABLE access_review_decisions (
    review_id INTEGER NOT NULL REFERENCES access_reviews(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    decision TEXT NOT NULL,
    -- For a change: the new user type key, and the provider scope (all, or the listed rows).
    user_type TEXT,
    all_providers INTEGER,
    provider_rows TEXT,
    reason TEXT,
    decided_by INTEGER NOT NULL REFERENCES users(id),
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (review_id, user_id)
);

CREATE TABLE access_review_reminders (
    review_id INTEGER NOT NULL REFERENCES access_reviews(id),
    reminder TEXT NOT NULL,
    at INTEGER NOT NULL,
    emailed INTEGER NOT NULL,
    PRIMARY KEY (review_id, reminder)
);
