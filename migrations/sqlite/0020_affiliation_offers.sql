-- Affiliation offers: a practice administrator who invites an email that already has an account
-- offers that person the practice; nothing is attached until the person accepts. One row per
-- person and practice; `status` is pending, accepted, declined, cancelled or expired (a pending
-- offer past `expires_at` is expired even before the row says so). The providers of a
-- "chosen providers" offer are in `affiliation_offer_providers`. Keep in step with the other
-- database's migration of the same name.
CREATE TABLE affiliation_offers (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    practice_id INTEGER NOT NULL REFERENCES practices(id),
    user_type TEXT NOT NULL,
    all_providers INTEGER NOT NULL,
    offered_by INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by INTEGER REFERENCES users(id),
    affiliation_id INTEGER
);
CREATE UNIQUE INDEX affiliation_offers_one_pending ON affiliation_offers (user_id, practice_id) WHERE status = 'pending';
CREATE INDEX affiliation_offers_user ON affiliation_offers (user_id, status);
CREATE INDEX affiliation_offers_offered_by ON affiliation_offers (offered_by, created_at);

CREATE TABLE affiliation_offer_providers (
    offer_id INTEGER NOT NULL REFERENCES affiliation_offers(id),
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    PRIMARY KEY (offer_id, provider_id)
);
