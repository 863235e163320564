-- Who deactivated an account (issue 13): 'staff' (plan staff, lifted only by plan staff) or
-- 'practice' (a practice administrator). NULL for accounts never deactivated since this column.
-- Keep in step with the other database's migration of the same number.
ALTER TABLE users ADD COLUMN deactivated_by TEXT;
