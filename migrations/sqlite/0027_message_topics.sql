-- The plan's own list of secure-message topics (issue 16): a stable code (what threads store in
-- message_threads.topic and the API sends), the label people read, the place in the list, and
-- when it was retired (a retired topic is offered for no new thread; its threads keep it). Every
-- existing plan gets the seven defaults; new plans get them when they are created. Keep in step
-- with the other database's migration of the same name.
CREATE TABLE message_topics (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    position INTEGER NOT NULL,
    retired_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (plan_id, code)
);

INSERT INTO message_topics (plan_id, code, label, position, created_at)
SELECT p.id, d.code, d.label, d.position, CAST(strftime('%s', 'now') AS INTEGER)
FROM plans p CROSS JOIN (
    SELECT 'eligibility' AS code, 'Eligibility' AS label, 1 AS position
    UNION ALL SELECT 'claims', 'Claims', 2
    UNION ALL SELECT 'prior_authorization', 'Prior authorization', 3
    UNION ALL SELECT 'referrals', 'Referrals', 4
    UNION ALL SELECT 'provider_profile_update', 'Provider profile update', 5
    UNION ALL SELECT 'portal_access', 'Portal access', 6
    UNION ALL SELECT 'other', 'Other', 7
) d
ORDER BY p.id, d.position;
