-- The audit chain's head takes the hash of the event at its sequence number as that event is
-- inserted, so that appending events is two statements (reserve the numbers, insert the events)
-- instead of three. Only the last event of an append has the head's number; the others match
-- nothing. Once per statement, over the rows it inserted.
CREATE FUNCTION audit_events_move_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_heads h SET hash = e.hash FROM added_events e WHERE h.plan_id = e.plan_id AND h.seq = e.seq;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS added_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_move_head();
