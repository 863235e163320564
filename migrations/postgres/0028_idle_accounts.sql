-- Idle accounts and the daily job (issue 17). Keep in step with the other database's migration
-- of the same number.
--
-- The plan's thresholds: an account without a sign-in for `idle_flag_days` is flagged; it is
-- warned by email 14 days before `idle_deactivate_days`, and deactivated then.
ALTER TABLE plans ADD COLUMN idle_flag_days BIGINT NOT NULL DEFAULT 90;
ALTER TABLE plans ADD COLUMN idle_deactivate_days BIGINT NOT NULL DEFAULT 180;

-- Where the current idle period of an active account starts: its last sign-in, or when it became
-- active (sign-up, import, reactivation) if that is later. Set by every path that makes an
-- account active or signs it in; NULL for accounts that are not active.
ALTER TABLE users ADD COLUMN idle_since BIGINT;
-- The `idle_since` the inactivity warning was sent for, and when: a new idle period (after a
-- sign-in or a reactivation) has another `idle_since`, so it is warned again; a re-run is not.
-- An account is deactivated only once its period was warned at least 14 days before.
ALTER TABLE users ADD COLUMN idle_warned_for BIGINT;
ALTER TABLE users ADD COLUMN idle_warned_at BIGINT;
UPDATE users SET idle_since = GREATEST(COALESCE(last_signin_at, created_at), COALESCE(deactivated_at, 0))
    WHERE status = 'active';
-- The daily job reads a plan's idle accounts as one range of this index.
CREATE INDEX users_idle ON users (plan_id, status, idle_since);

-- Leases of scheduled jobs, so that one instance runs a job while others skip it (taken with a
-- conditional UPDATE: `lease_until` passed, or the holder is the one asking), and the last day a
-- job ran: row `daily` is the daily job's lease, rows `daily:plan:<id>` its last run per plan
-- (`last_run_on`, the plan's local date as YYYY-MM-DD).
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_run_on TEXT
);
