-- Substring search over users (plan-wide search and the practice directory).
--
-- An FTS5 trigram index over the text the searches compare, kept in step with `users` by
-- triggers. It is an external-content table whose content is a view, so `rebuild` can fill it and
-- nothing is stored twice. The text is already lower case the way the searches compare it
-- (SQLite's `lower()` for names, the stored `*_lower` columns), and the tokenizer is case-sensitive,
-- so a match is exactly `LIKE '%needle%'` over the same text. `plan` holds `#<plan id>#` so a
-- search and its count are answered inside the index, without reading `users` rows.
-- Needles shorter than three characters have no trigram and are searched with LIKE.
CREATE VIEW users_search_source AS
SELECT id, '#' || plan_id || '#' AS plan, lower(first_name || ' ' || last_name) AS name,
       coalesce(username_lower, '') AS username, email_lower AS email, coalesce(two_step_phone, '') AS phone
FROM users;

CREATE VIRTUAL TABLE users_search USING fts5(
    plan, name, username, email, phone,
    content = 'users_search_source', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1', columnsize = 0
);
INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, plan, name, username, email, phone)
    VALUES (new.id, '#' || new.plan_id || '#', lower(new.first_name || ' ' || new.last_name),
            coalesce(new.username_lower, ''), new.email_lower, coalesce(new.two_step_phone, ''));
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, plan, name, username, email, phone)
    VALUES ('delete', old.id, '#' || old.plan_id || '#', lower(old.first_name || ' ' || old.last_name),
            coalesce(old.username_lower, ''), old.email_lower, coalesce(old.two_step_phone, ''));
END;

CREATE TRIGGER users_search_update
AFTER UPDATE OF plan_id, first_name, last_name, username_lower, email_lower, two_step_phone ON users BEGIN
    INSERT INTO users_search (users_search, rowid, plan, name, username, email, phone)
    VALUES ('delete', old.id, '#' || old.plan_id || '#', lower(old.first_name || ' ' || old.last_name),
            coalesce(old.username_lower, ''), old.email_lower, coalesce(old.two_step_phone, ''));
    INSERT INTO users_search (rowid, plan, name, username, email, phone)
    VALUES (new.id, '#' || new.plan_id || '#', lower(new.first_name || ' ' || new.last_name),
            coalesce(new.username_lower, ''), new.email_lower, coalesce(new.two_step_phone, ''));
END;

-- Pages of many matches walk the users in the searches' order and stop after the page.
CREATE INDEX users_plan_name ON users (plan_id, last_name, first_name, id);
