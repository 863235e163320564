-- The mailbox and inboxes at 200,000 threads (issue 16, `gatehouse bench messages`): one index
-- per mailbox filter, each in the order the mailbox lists (newest activity first), so a filtered
-- first page reads about 26 rows instead of walking the plan's threads until 26 match; the age
-- filter (started before) is checked inside the mailbox's own index, which now carries
-- created_at after its order. Keep in step with the other database's migration of the same name.
DROP INDEX message_threads_mailbox;
CREATE INDEX message_threads_mailbox ON message_threads (plan_id, last_activity_at, id, created_at);
CREATE INDEX message_threads_mailbox_status ON message_threads (plan_id, status, last_activity_at, id);
CREATE INDEX message_threads_mailbox_agent ON message_threads (plan_id, assigned_to, last_activity_at, id);
CREATE INDEX message_threads_mailbox_practice ON message_threads (plan_id, practice_id, last_activity_at, id);
