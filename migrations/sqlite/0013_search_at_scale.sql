-- User search at a million users (see docs/decisions.md, "User search at a million users").
-- Keep in step with the other database's migration of the same name.
--
-- Sorting the FTS5 index's matches by name reads each match's plan, last and first name: from
-- this narrow index (about 40 bytes an entry) instead of the wide `users` rows.
CREATE INDEX users_search_sort ON users (id, plan_id, last_name, first_name);

-- The practice directory's own trigram index: one row per affiliation, holding its practice as
-- `#<practice id>#` and its user's searched text exactly as `users_search` does, so the users of
-- a practice that match a needle are found inside the index (a hospital system's few hundred
-- matches, not the plan's tens of thousands nor the practice's twenty thousand users).
CREATE VIEW affiliations_search_source AS
SELECT a.id, '#' || a.practice_id || '#' AS practice, lower(u.first_name || ' ' || u.last_name) AS name,
       coalesce(u.username_lower, '') AS username, u.email_lower AS email, coalesce(u.two_step_phone, '') AS phone
FROM affiliations a JOIN users u ON u.id = a.user_id;

CREATE VIRTUAL TABLE affiliations_search USING fts5(
    practice, name, username, email, phone,
    content = 'affiliations_search_source', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1', columnsize = 0
);
INSERT INTO affiliations_search (affiliations_search) VALUES ('rebuild');

CREATE TRIGGER affiliations_search_insert AFTER INSERT ON affiliations BEGIN
    INSERT INTO affiliations_search (rowid, practice, name, username, email, phone)
    SELECT new.id, '#' || new.practice_id || '#', lower(u.first_name || ' ' || u.last_name),
           coalesce(u.username_lower, ''), u.email_lower, coalesce(u.two_step_phone, '')
    FROM users u WHERE u.id = new.user_id;
END;

CREATE TRIGGER affiliations_search_delete AFTER DELETE ON affiliations BEGIN
    INSERT INTO affiliations_search (affiliations_search, rowid, practice, name, username, email, phone)
    SELECT 'delete', old.id, '#' || old.practice_id || '#', lower(u.first_name || ' ' || u.last_name),
           coalesce(u.username_lower, ''), u.email_lower, coalesce(u.two_step_phone, '')
    FROM users u WHERE u.id = old.user_id;
END;

CREATE TRIGGER affiliations_search_update AFTER UPDATE OF user_id, practice_id ON affiliations BEGIN
    INSERT INTO affiliations_search (affiliations_search, rowid, practice, name, username, email, phone)
    SELECT 'delete', old.id, '#' || old.practice_id || '#', lower(u.first_name || ' ' || u.last_name),
           coalesce(u.username_lower, ''), u.email_lower, coalesce(u.two_step_phone, '')
    FROM users u WHERE u.id = old.user_id;
    INSERT INTO affiliations_search (rowid, practice, name, username, email, phone)
    SELECT new.id, '#' || new.practice_id || '#', lower(u.first_name || ' ' || u.last_name),
           coalesce(u.username_lower, ''), u.email_lower, coalesce(u.two_step_phone, '')
    FROM users u WHERE u.id = new.user_id;
END;

-- A user's new name, username, email or phone changes the rows of all their affiliations.
CREATE TRIGGER users_affiliations_search_update
AFTER UPDATE OF first_name, last_name, username_lower, email_lower, two_step_phone ON users BEGIN
    INSERT INTO affiliations_search (affiliations_search, rowid, practice, name, username, email, phone)
    SELECT 'delete', a.id, '#' || a.practice_id || '#', lower(old.first_name || ' ' || old.last_name),
           coalesce(old.username_lower, ''), old.email_lower, coalesce(old.two_step_phone, '')
    FROM affiliations a WHERE a.user_id = old.id;
    INSERT INTO affiliations_search (rowid, practice, name, username, email, phone)
    SELECT a.id, '#' || a.practice_id || '#', lower(new.first_name || ' ' || new.last_name),
           coalesce(new.username_lower, ''), new.email_lower, coalesce(new.two_step_phone, '')
    FROM affiliations a WHERE a.user_id = new.id;
END;

-- A deleted user's affiliations leave the index with them (their rows, if any remain, are
-- then skipped by the affiliations' own delete trigger, which finds no user).
CREATE TRIGGER users_affiliations_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO affiliations_search (affiliations_search, rowid, practice, name, username, email, phone)
    SELECT 'delete', a.id, '#' || a.practice_id || '#', lower(old.first_name || ' ' || old.last_name),
           coalesce(old.username_lower, ''), old.email_lower, coalesce(old.two_step_phone, '')
    FROM affiliations a WHERE a.user_id = old.id;
END;
