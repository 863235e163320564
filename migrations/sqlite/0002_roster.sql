-- The plan's provider roster: practices (by Tax ID) and their providers. Keep in step with the
-- other database's migration of the same name.
CREATE TABLE practices (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    tax_id TEXT NOT NULL,
    name TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    zip TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (plan_id, tax_id)
);

CREATE TABLE providers (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    provider_id TEXT NOT NULL,
    npi TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    org_name TEXT NOT NULL,
    address1 TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    zip TEXT NOT NULL,
    vendor_id TEXT,
    office_id TEXT,
    group_provider_id TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (plan_id, provider_id)
);
CREATE INDEX providers_practice ON providers (practice_id);
CREATE INDEX providers_npi ON providers (plan_id, npi);
