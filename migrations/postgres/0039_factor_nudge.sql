-- The suggestion to add a stronger factor (issue 19). Keep in step with the other database's
-- migration of the same number.

-- When the suggestion was last shown (first shown in `factor_nudge_session_id`) or dismissed
-- ("Not now", which clears the session), so that it is shown in at most one session a week.
ALTER TABLE users ADD COLUMN factor_nudge_at BIGINT;
ALTER TABLE users ADD COLUMN factor_nudge_session_id BIGINT;
