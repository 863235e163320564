-- The plan's time zone (issue 14): the IANA name every date and time on its pages and in its
-- emails is shown in, and in which the day of `legacy_deadline` ends. Keep in step with the
-- other database's migration of the same number.
ALTER TABLE plans ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'America/New_York';
