-- When the account's email address was last proven by a link sent to it (sign-up through the
-- invitation, a confirmed change of email, an imported account's first-sign-in proof). An
-- address someone else set (a practice administrator's edit) is not proven until its owner
-- proves it: NULL. It answers OpenID Connect's `email_verified`. Existing accounts keep what
-- that claim said before (signed up, not imported), except those whose address an
-- administrator changed. Keep in step with the other database's migration of the same name.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
UPDATE users SET email_verified_at = updated_at
 WHERE password_hash IS NOT NULL AND legacy_hash IS NULL
   AND id NOT IN (SELECT subject_user_id FROM audit_events
                   WHERE action = 'user.information_edited' AND subject_user_id IS NOT NULL
                     AND detail LIKE '%"email":{%');
