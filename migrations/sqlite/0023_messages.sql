-- Secure messages between practice users and the plan's staff (issue 16): threads sent for a
-- practice (Tax ID), their messages (replies and the staff's internal notes), attachments kept
-- in the database so every instance serves them, and each reader's place in a thread. Keep in
-- step with the other database's migration of the same name.
ALTER TABLE plans ADD COLUMN message_response_days INTEGER NOT NULL DEFAULT 3;
ALTER TABLE plans ADD COLUMN message_max_files INTEGER NOT NULL DEFAULT 5;
ALTER TABLE plans ADD COLUMN message_max_file_mb INTEGER NOT NULL DEFAULT 10;
ALTER TABLE plans ADD COLUMN mailbox_email TEXT NOT NULL DEFAULT '';

CREATE TABLE message_threads (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    assigned_to INTEGER REFERENCES users(id),
    member_id TEXT,
    claim_number TEXT,
    authorization_number TEXT,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    last_public_at INTEGER NOT NULL,
    waiting_since INTEGER
);
CREATE INDEX message_threads_mailbox ON message_threads (plan_id, last_activity_at, id);
CREATE INDEX message_threads_practice ON message_threads (practice_id, last_public_at, id);
CREATE INDEX message_threads_author ON message_threads (author_id, last_public_at, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    thread_id INTEGER NOT NULL REFERENCES message_threads(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    from_plan INTEGER NOT NULL,
    internal INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_thread ON messages (thread_id, id);

CREATE TABLE message_attachments (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    message_id INTEGER NOT NULL REFERENCES messages(id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX message_attachments_message ON message_attachments (message_id);

CREATE TABLE message_reads (
    thread_id INTEGER NOT NULL REFERENCES message_threads(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    read_at INTEGER,
    notified_at INTEGER,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, user_id)
);
CREATE INDEX message_reads_user ON message_reads (user_id);
