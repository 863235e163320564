-- Back-channel logout (issue 18; OpenID Connect Back-Channel Logout 1.0). Keep in step with the
-- other database's migration of the same number.
--
-- When a Gatehouse session ends, by whatever path (sign-out, ending it from the sessions page,
-- deactivation, a password reset, the help desk, a reused refresh token, RP-initiated logout),
-- every application that was given a code in that session and registered a back-channel logout
-- URI is owed a logout token. The trigger below writes one notice per application in the same
-- transaction as the session's end; the delivery worker signs and posts it after commit, with
-- retries and leases like the outbox.
CREATE TABLE oidc_logout_notices (
    id INTEGER PRIMARY KEY NOT NULL,
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    application_id INTEGER NOT NULL REFERENCES applications(id),
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until INTEGER,
    delivered_at INTEGER,
    -- Set when the notice is given up (too many failures, or the application gone).
    abandoned_at INTEGER,
    last_error TEXT,
    UNIQUE (session_id, application_id)
);
CREATE INDEX oidc_logout_notices_due ON oidc_logout_notices (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;

CREATE TRIGGER sessions_end_notifies_clients AFTER UPDATE OF ended_at ON sessions
WHEN old.ended_at IS NULL AND new.ended_at IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO oidc_logout_notices (plan_id, application_id, session_id, user_id, created_at, next_attempt_at)
        SELECT DISTINCT c.plan_id, c.application_id, c.session_id, c.user_id, new.ended_at, new.ended_at
        FROM oidc_codes c JOIN applications a ON a.id = c.application_id
        WHERE c.session_id = new.id AND a.backchannel_logout_uri IS NOT NULL AND a.revoked_at IS NULL;
END;
