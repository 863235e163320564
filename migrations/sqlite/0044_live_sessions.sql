-- Live sessions by last activity and by start, for the sweep that ends sessions past their idle
-- or absolute limit (`gatehouse_store::sessions::timed_out`): only sessions not yet ended are
-- indexed, so the indexes stay the size of the sessions in use. Keep in step with the other
-- database's migration of the same name.
CREATE INDEX sessions_live_last_seen ON sessions (plan_id, last_seen_at) WHERE ended_at IS NULL;
CREATE INDEX sessions_live_created ON sessions (plan_id, created_at) WHERE ended_at IS NULL;
