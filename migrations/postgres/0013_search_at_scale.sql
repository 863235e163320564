-- User search at a million users (see docs/decisions.md, "User search at a million users").
-- Keep in step with the other database's migration of the same name.
--
-- SQLite gets a narrow index for sorting its FTS5 matches and a per-affiliation FTS5 index for
-- the practice directory. PostgreSQL's trigram indexes (0011) already answer both searches'
-- `LIKE`s; it needs no new table or column, only fresh planner statistics after bulk loads
-- (`gatehouse_store::search::after_bulk_load`).
SELECT 1;
