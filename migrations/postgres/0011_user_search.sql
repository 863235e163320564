-- Substring search over users (plan-wide search and the practice directory): GIN trigram
-- indexes on exactly the expressions the searches compare with LIKE, so the planner can answer
-- `LIKE '%needle%'` (needles of three characters or more) from the index and recheck the rows.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_search_name ON users USING gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);
CREATE INDEX users_search_username ON users USING gin (username_lower gin_trgm_ops);
CREATE INDEX users_search_email ON users USING gin (email_lower gin_trgm_ops);
CREATE INDEX users_search_phone ON users USING gin (two_step_phone gin_trgm_ops);

-- Pages of many matches walk the users in the searches' order and stop after the page.
CREATE INDEX users_plan_name ON users (plan_id, last_name, first_name, id);
