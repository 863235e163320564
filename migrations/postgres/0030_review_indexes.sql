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
