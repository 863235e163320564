-- The secret parts of a queued message (link tokens, codes), one a line, so that they can be
-- redacted from its stored text once it has been handed to a real provider (SMTP, SMS).
ALTER TABLE outbox ADD COLUMN secrets TEXT NOT NULL DEFAULT '';
