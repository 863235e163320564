-- The audit chain's head takes the hash of the event at its sequence number as that event is
-- inserted, so that appending events is two statements (reserve the numbers, insert the events)
-- instead of three. Only the last event of an append has the head's number; the others match
-- nothing.
CREATE TRIGGER audit_events_move_head AFTER INSERT ON audit_events BEGIN
    UPDATE audit_heads SET hash = new.hash WHERE plan_id = new.plan_id AND seq = new.seq;
END;
