-- The sign-in before the latest one, shown on the home page ("Previous sign-in").
ALTER TABLE users ADD COLUMN previous_signin_at INTEGER;
