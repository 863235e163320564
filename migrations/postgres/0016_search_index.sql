-- The user searches' in-memory index (see docs/decisions.md, "User search index in memory").
-- Keep in step with the other database's migration of the same name.
--
-- Every added or removed user, and every change to what the searches read (name, username,
-- email, two-step phone, plan), is written here with the database's clock (the transaction's
-- start). An instance's index of a plan's users, read at some time, is then current once it
-- treats the users changed since (less a margin for transactions still open when it was read)
-- as unknown and asks SQL about them. Rows older than an hour are pruned when an index is read.
-- Inserts and deletes are logged once a statement (a bulk import is one `INSERT … SELECT`);
-- updates row by row, only when a searched column really changed.
CREATE TABLE user_search_changes (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX user_search_changes_plan ON user_search_changes (plan_id, changed_at);

ALTER TABLE plans DROP COLUMN search_version;

CREATE FUNCTION user_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    SELECT plan_id, id, extract(epoch FROM now())::bigint FROM added_users;
    RETURN NULL;
END
$$;

CREATE FUNCTION user_search_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    SELECT plan_id, id, extract(epoch FROM now())::bigint FROM removed_users;
    RETURN NULL;
END
$$;

CREATE FUNCTION user_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_search_changes (plan_id, user_id, changed_at)
    VALUES (new.plan_id, new.id, extract(epoch FROM now())::bigint);
    IF old.plan_id <> new.plan_id THEN
        INSERT INTO user_search_changes (plan_id, user_id, changed_at)
        VALUES (old.plan_id, old.id, extract(epoch FROM now())::bigint);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_search_changes_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added_users FOR EACH STATEMENT EXECUTE FUNCTION user_search_inserted();
CREATE TRIGGER users_search_changes_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed_users FOR EACH STATEMENT EXECUTE FUNCTION user_search_deleted();
CREATE TRIGGER users_search_changes_update
    AFTER UPDATE OF plan_id, first_name, last_name, username_lower, email_lower, two_step_phone ON users
    FOR EACH ROW
    WHEN (old.plan_id IS DISTINCT FROM new.plan_id OR old.first_name IS DISTINCT FROM new.first_name
          OR old.last_name IS DISTINCT FROM new.last_name OR old.username_lower IS DISTINCT FROM new.username_lower
          OR old.email_lower IS DISTINCT FROM new.email_lower OR old.two_step_phone IS DISTINCT FROM new.two_step_phone)
    EXECUTE FUNCTION user_search_updated();

-- The trigram indexes of 0011 answered the searches' `LIKE`s before the index in memory did; a
-- large plan's searches no longer reach them, a small plan's scan its users faster than the
-- indexes cost: each took about 5 µs of every user written (half the time of a bulk import).
DROP INDEX users_search_name;
DROP INDEX users_search_username;
DROP INDEX users_search_email;
DROP INDEX users_search_phone;

-- The directory's candidates are a practice's user ids: read from the index alone.
DROP INDEX affiliations_practice;
CREATE INDEX affiliations_practice ON affiliations (practice_id, user_id);
