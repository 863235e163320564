-- A plan's second-factor policy (issue 19). Keep in step with the other database's migration of
-- the same number.
--
-- Which factors people may add (text codes are always allowed: every account's phone is the
-- baseline), and who must sign in with an authenticator app or a passkey: plan staff (on by
-- default) and active practice administrators (off by default). 0/1.
ALTER TABLE plans ADD COLUMN voice_allowed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN app_allowed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN passkeys_allowed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN staff_strong_factor INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN admin_strong_factor INTEGER NOT NULL DEFAULT 0;
