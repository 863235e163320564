-- When someone other than the account's owner (a practice administrator's edit) last set the
-- account's email address without its owner proving it; NULL once the owner proves an address
-- (sign-up through a link, a confirmed change of address, a first sign-in's proof).
-- Such an address never routes an invitation or a registration's approval to the account: it
-- says nothing about who reads that mailbox. Accounts whose address an administrator changed
-- and nobody proved since are marked so. Keep in step with the other database's migration of
-- the same name.
ALTER TABLE users ADD COLUMN email_set_by_other_at INTEGER;
UPDATE users SET email_set_by_other_at = updated_at
 WHERE email_verified_at IS NULL
   AND id IN (SELECT subject_user_id FROM audit_events
               WHERE action = 'user.information_edited' AND subject_user_id IS NOT NULL
                 AND detail LIKE '%"email":{%');

-- The address an offer was emailed to (the account's address when it was made). The offer is
-- void if the account's address changes before the person answers, and the administrator's
-- list shows this address rather than the account's current one. NULL for offers made before.
ALTER TABLE affiliation_offers ADD COLUMN sent_to TEXT;
