-- The username an account was imported under (lower case), so that a later import's line joins
-- only the account it made: an account renamed since (by its practice administrator, say) no
-- longer takes the affiliations of a line with its new name. Existing imported accounts are
-- taken to still hold the name they were imported under. Keep in step with the other
-- database's migration of the same name.
ALTER TABLE users ADD COLUMN legacy_username_lower TEXT;
UPDATE users SET legacy_username_lower = username_lower WHERE legacy_imported_at IS NOT NULL;
