-- The plan's name-order version, for the plan-wide search's in-memory name order (see
-- docs/decisions.md, "User search at a million users"). Keep in step with the other database's
-- migration of the same name.
--
-- Every added, removed or renamed user bumps their plan's `search_version`, so a copy of the
-- plan's users in name order is used only while it is current.
ALTER TABLE plans ADD COLUMN search_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER users_name_order_insert AFTER INSERT ON users BEGIN
    UPDATE plans SET search_version = search_version + 1 WHERE id = new.plan_id;
END;

CREATE TRIGGER users_name_order_delete AFTER DELETE ON users BEGIN
    UPDATE plans SET search_version = search_version + 1 WHERE id = old.plan_id;
END;

CREATE TRIGGER users_name_order_update AFTER UPDATE OF plan_id, last_name, first_name ON users BEGIN
    UPDATE plans SET search_version = search_version + 1 WHERE id IN (old.plan_id, new.plan_id);
END;
