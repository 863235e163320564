-- The user searches' in-memory index (see docs/decisions.md, "User search index in memory").
-- Keep in step with the other database's migration of the same name.
--
-- Every added or removed user, and every change to what the searches read (name, username,
-- email, two-step phone, plan), is written here with the database's clock. An instance's index
-- of a plan's users, read at some time, is then current once it treats the users changed since
-- (less a margin for transactions still open when it was read) as unknown and asks SQL about
-- them. Rows older than an hour are pruned when an index is read.
CREATE TABLE user_search_changes (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX user_search_changes_plan ON user_search_changes (plan_id, changed_at);

-- The name-order counter (0014) bumped the plan's row for every user added: replaced by the
-- log above.
DROP TRIGGER users_name_order_insert;
DROP TRIGGER users_name_order_delete;
DROP TRIGGER users_name_order_update;
ALTER TABLE plans DROP COLUMN search_version;

CREATE TRIGGER users_search_changes_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    VALUES (new.plan_id, new.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_search_changes_delete AFTER DELETE ON users BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    VALUES (old.plan_id, old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_search_changes_update
AFTER UPDATE OF plan_id, first_name, last_name, username_lower, email_lower, two_step_phone ON users
WHEN old.plan_id IS NOT new.plan_id OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
  OR old.username_lower IS NOT new.username_lower OR old.email_lower IS NOT new.email_lower
  OR old.two_step_phone IS NOT new.two_step_phone
BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    SELECT p, new.id, CAST(strftime('%s', 'now') AS INTEGER)
    FROM (SELECT old.plan_id AS p UNION SELECT new.plan_id);
END;

-- The directory's candidates are a practice's user ids: read from the index alone.
DROP INDEX affiliations_practice;
CREATE INDEX affiliations_practice ON affiliations (practice_id, user_id);
