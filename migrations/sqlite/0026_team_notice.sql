-- The plan's team address is told of a thread once until someone of the team reads it (issue 16):
-- when it was told, cleared when a mailbox agent reads or answers the thread. Keep in step with
-- the other database's migration of the same name.
ALTER TABLE message_threads ADD COLUMN team_notified_at BIGINT;
