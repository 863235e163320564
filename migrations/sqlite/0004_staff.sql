-- Plan staff: a user may hold one staff role in their plan.
ALTER TABLE users ADD COLUMN staff_role TEXT;
