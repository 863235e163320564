-- An approved registration that names someone who already has an account no longer attaches
-- the practice to that account: it offers them the practice's administration, which they
-- accept or decline like any offer (an account gains a practice only when its person accepts).
-- `registration_id` marks such an offer: accepting it makes the person an administrator, and
-- `offered_by` is the staff member who approved. Keep in step with the other database's
-- migration of the same name.
ALTER TABLE affiliation_offers ADD COLUMN registration_id INTEGER REFERENCES registrations(id);
