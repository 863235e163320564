-- Failed sign-ins of a username from all addresses together, one row each, so that the lock
-- across addresses counts only the failures of a sliding window (older ones are forgotten and
-- deleted) instead of a counter that never decays. Keyed like `signin_throttle` (the username
-- as typed), so a lock never tells whether an account exists.
CREATE TABLE signin_failures (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    throttle_key TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (plan_id, throttle_key, failed_at);
