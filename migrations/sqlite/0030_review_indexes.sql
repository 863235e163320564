-- Indexes for access reviews at scale (issue 17, `gatehouse bench reviews`: 10,000 practices,
-- 1,000,000 users). Keep in step with the other database's migration of the same number.

-- Plan staff's Reviews page and the daily job read the plan's open reviews in due order; the
-- signed ones (one more per practice each quarter) are not in this index, so neither walks
-- past them.
CREATE INDEX access_reviews_open_due ON access_reviews (plan_id, due_at, id) WHERE signed_at IS NULL;

-- A practice's administrators (a review's page, its reminders, the last-administrator checks)
-- without reading every affiliation of a 20,000-user practice, and the daily job's search for
-- practices without an open review over the plan's administrators only.
CREATE INDEX affiliations_admins ON affiliations (practice_id, user_id) WHERE is_admin = 1;
CREATE INDEX affiliations_plan_admins ON affiliations (plan_id, practice_id, created_at) WHERE is_admin = 1;

-- The users a review covers are a practice's affiliations joined to their users: 20,000 of them
-- for a hospital system. This index holds what the counts and the undecided names read, so each
-- user is one lookup in a narrow index; without it PostgreSQL judged 20,000 lookups dearer than
-- reading the whole users table (measured: 0.55 s against 0.045 s for the counts).
CREATE INDEX users_subject ON users (id, status, last_name, first_name);
