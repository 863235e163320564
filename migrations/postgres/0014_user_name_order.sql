-- The plan's name-order version (see docs/decisions.md, "User search at a million users"). Keep
-- in step with the other database's migration of the same name.
--
-- On SQLite, triggers bump it whenever a user of the plan is added, removed or renamed, and the
-- plan-wide search keeps the plan's users in name order in memory while it is current. The
-- PostgreSQL search does not use it (a counter row updated by every insert of a plan's users
-- would serialize concurrent writers), so here it stays 0.
ALTER TABLE plans ADD COLUMN search_version BIGINT NOT NULL DEFAULT 0;
