//! The suggestion to add an authenticator app or a passkey (issue 19), shown on the home page and
//! answered by `GET /api/v1/me` after a sign-in completed with a code sent by text or voice, to a
//! person with neither. The rule (one session a week, "Not now" hides it at once) is
//! `gatehouse_domain::factor_nudge`; what it reads is one statement, and it writes only when a
//! new session takes the suggestion (a conditional update, so of two sessions at once one shows
//! it) or when it is dismissed (audited).

use crate::account::Me;
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::Timestamp;
use gatehouse_domain::factor_nudge::{Nudge, NudgeRecord, decide, due_if_recorded_by};
use gatehouse_domain::session::AuthMethods;
use gatehouse_store::factor_nudges;
use serde_json::json;

/// The signed-in person, as the home page and the API's `me` show them.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub me: Me,
    /// Suggest adding an authenticator app or a passkey (with a "Not now").
    pub suggest_strong_factor: bool,
}

impl Services {
    /// The signed-in person and whether to suggest a stronger factor to this session. The first
    /// session in a week to be shown the suggestion is recorded as the one that shows it.
    pub async fn welcome(&self, plan: &Plan, session: &SessionInfo) -> Result<Welcome, Internal> {
        let me = self.me(plan, session).await?;
        let suggest_strong_factor = self.factor_nudge(plan, session).await?;
        Ok(Welcome { me, suggest_strong_factor })
    }

    /// Whether this session shows the suggestion (recording it when it is the first to).
    async fn factor_nudge(&self, plan: &Plan, session: &SessionInfo) -> Result<bool, Internal> {
        if !session.is_signed_in_to(plan.id()) {
            return Ok(false);
        }
        let now = Timestamp(self.now());
        let facts = {
            let mut conn = self.db.acquire().await?;
            factor_nudges::facts(&mut conn, plan.id(), session.user_id, session.id).await?
        };
        let Some(f) = facts else { return Ok(false) };
        let amr = f.amr.as_deref().and_then(AuthMethods::parse);
        let record = NudgeRecord { at: f.at.map(Timestamp), session: f.session };
        match decide(amr.as_ref(), f.has_strong_factor, record, session.id, now) {
            Nudge::Hide => Ok(false),
            Nudge::ShowAgain => Ok(true),
            Nudge::ShowFirst => {
                let mut tx = self.db.begin().await?;
                let due_by = due_if_recorded_by(now).0;
                let mine = factor_nudges::claim(&mut tx, session.user_id, session.id, due_by, now.0).await?;
                gatehouse_store::commit(tx).await?;
                Ok(mine)
            }
        }
    }

    /// "Not now": hides the suggestion at once, and from every session for a week. Audited
    /// (`factor_nudge.dismissed`). A session not fully signed in changes nothing.
    pub async fn dismiss_factor_nudge(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<(), Internal> {
        if !session.is_signed_in_to(plan.id()) {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let shown = factor_nudges::dismiss(&mut tx, plan.id(), session.user_id, session.id, now).await?;
        let e = Event::new("factor_nudge.dismissed").by_self(session.user_id).detail(json!({"shown_here": shown}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
