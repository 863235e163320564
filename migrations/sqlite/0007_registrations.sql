-- Administrator registration requests from the public form, and the attempts counted to throttle
-- it per client address. Keep in step with the other database's migration of the same name.
CREATE TABLE registrations (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    status TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    practice_name TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    zip TEXT NOT NULL,
    phone TEXT NOT NULL,
    fax TEXT NOT NULL,
    primary_first_name TEXT NOT NULL,
    primary_last_name TEXT NOT NULL,
    primary_phone TEXT NOT NULL,
    primary_email TEXT NOT NULL,
    secondary_first_name TEXT NOT NULL,
    secondary_last_name TEXT NOT NULL,
    secondary_phone TEXT NOT NULL,
    secondary_email TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by INTEGER REFERENCES users(id),
    deny_reason TEXT,
    practice_id INTEGER REFERENCES practices(id)
);
CREATE INDEX registrations_queue ON registrations (plan_id, status, created_at);
-- At most one request per Tax ID waits for review (also under concurrent submits).
CREATE UNIQUE INDEX registrations_one_pending ON registrations (plan_id, tax_id) WHERE status = 'pending';

CREATE TABLE registration_attempts (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX registration_attempts_ip ON registration_attempts (plan_id, ip, at);
