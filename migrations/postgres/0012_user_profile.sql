-- A user's contact details and office address, edited by their practice administrator. Keep in
-- step with the other database's migration of the same name.
ALTER TABLE users ADD COLUMN mobile_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN office_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN fax TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN street TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN zip TEXT NOT NULL DEFAULT '';
