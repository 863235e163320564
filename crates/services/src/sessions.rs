//! Server-side sessions: started at sign-in or sign-up, advanced stage by stage under a fresh
//! token at every privilege change, ended by sign-out, by timeout, or from another session.

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::session::{AuthMethods, SessionStage};
use gatehouse_domain::{AffiliationId, PlanId, SessionId, Timestamp, UserId};
use gatehouse_store::{Batch, Conn, sessions as store};
use serde::Serialize;
use serde_json::json;
use thiserror::Error;

/// The secret a client presents (cookie or bearer). Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// A live session, as the pages and the API see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub stage: SessionStage,
    pub created_at: i64,
    /// The affiliation the session acts for, if chosen (see [`crate::affiliations`]).
    pub active_affiliation: Option<AffiliationId>,
}

impl SessionInfo {
    /// Whether the session is fully signed in (past two-step and the terms) to `plan`: what
    /// every command of a signed-in person asks before anything else.
    pub fn is_signed_in_to(&self, plan: PlanId) -> bool {
        self.stage == SessionStage::Complete && self.plan_id == plan
    }
}

/// One of a user's sessions, for the "Your sessions" page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: SessionId,
    pub current: bool,
    pub ip: String,
    pub user_agent: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
}

/// Why a session action was refused.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("That session was not found or has already ended.")]
    NotFound,
    #[error("Sign in first.")]
    NotSignedIn,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SessionError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// Activity is written at most this often per session, to spare the database.
const TOUCH_EVERY_SECS: i64 = 15;

/// At most this many timed-out sessions of a plan are ended by one sweep.
const SWEEP_BATCH: i64 = 200;

/// Starts a session in the caller's transaction.
pub(crate) async fn start(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    stage: SessionStage,
    meta: &RequestMeta,
    now: i64,
) -> Result<SessionToken, Internal> {
    let mut batch = Batch::new();
    let token = start_in(&mut batch, plan, user, stage, meta, now);
    batch.run_each(conn).await?;
    Ok(token)
}

/// Adds the start of a session to `batch`; the session exists once the batch has run.
pub(crate) fn start_in<'q>(
    batch: &mut Batch<'q>,
    plan: PlanId,
    user: UserId,
    stage: SessionStage,
    meta: &RequestMeta,
    now: i64,
) -> SessionToken {
    let token = new_token();
    let new = store::NewSession {
        plan_id: plan,
        user_id: user,
        token_hash: &hash_token(&token),
        stage,
        ip: &meta.ip,
        user_agent: &meta.user_agent,
    };
    batch.push(store::insert_stmt(&new, now));
    SessionToken(token)
}

/// Ends every session of the user and everything they have in flight: email changes, password
/// resets and first sign-in links. What a password change, a two-step reset and a deactivation
/// do, so that nothing begun before them outlives them: not a session, not a link that would move
/// the account to a new address (perhaps someone else's), and not a reset that already passed a
/// code texted to the phone the help desk just removed. Returns how many sessions ended.
pub(crate) async fn end_everything(
    conn: &mut Conn,
    user: UserId,
    now: i64,
) -> Result<u64, gatehouse_store::StoreError> {
    gatehouse_store::profile::end_email_changes(conn, user, now).await?;
    gatehouse_store::resets::end_open(conn, user, None, now).await?;
    gatehouse_store::email_proofs::end_open(conn, user, now).await?;
    store::end_all_except(conn, user, None, now).await
}

/// Whether a session's sign-in recorded two factors (its `amr`): a password and a code, or a
/// user-verifying passkey.
pub(crate) fn factors_proven(row: &store::SessionRow) -> bool {
    row.authenticated_at.is_some()
        && row.amr.as_deref().and_then(AuthMethods::parse).is_some_and(|m| m.is_multi_factor())
}

/// Moves a session to its next stage under a new token. `None` if it was no longer at `from`
/// (a concurrent request moved it first).
pub(crate) async fn advance(
    conn: &mut Conn,
    info: &SessionInfo,
    to: SessionStage,
    now: i64,
) -> Result<Option<SessionToken>, Internal> {
    let token = new_token();
    if store::advance(conn, info.id, info.stage, to, &hash_token(&token), now).await? {
        Ok(Some(SessionToken(token)))
    } else {
        Ok(None)
    }
}

impl Services {
    /// The live session for a presented token, or `None`. A session past its idle or absolute
    /// limit is ended (and audited) here.
    pub async fn authenticate(&self, plan: &Plan, token: &str) -> Result<Option<SessionInfo>, Internal> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let Some(row) = store::by_token_hash(&mut conn, plan.id(), &hash_token(token)).await? else {
            return Ok(None);
        };
        if !plan.session_policy().is_alive(Timestamp(row.created_at), Timestamp(row.last_seen_at), Timestamp(now)) {
            drop(conn);
            let mut tx = self.db.begin().await?;
            if store::end(&mut tx, row.user_id, row.id, now).await? {
                let meta = RequestMeta { ip: row.ip.clone(), user_agent: row.user_agent.clone() };
                audit::record(
                    &mut tx,
                    now,
                    plan.id(),
                    &meta,
                    Event::new("session.timed_out").by_self(row.user_id).detail(json!({"session": row.id})),
                )
                .await?;
            }
            gatehouse_store::commit(tx).await?;
            return Ok(None);
        }
        if row.stage.needs_factors_proven() && !factors_proven(&row) {
            // No path leads here: every step that grants full access records the factors first.
            // Should one ever forget, the session is not honoured rather than trusted.
            tracing::warn!(session = %row.id, stage = row.stage.as_str(), "session past sign-in without its factors");
            return Ok(None);
        }
        if now - row.last_seen_at >= TOUCH_EVERY_SECS {
            store::touch(&mut conn, row.id, now).await?;
        }
        Ok(Some(SessionInfo {
            id: row.id,
            plan_id: row.plan_id,
            user_id: row.user_id,
            stage: row.stage,
            created_at: row.created_at,
            active_affiliation: row.active_affiliation_id,
        }))
    }

    /// Ends, and audits (`session.timed_out`), the sessions past their plan's idle or absolute
    /// limit, a batch per plan. The delivery worker runs it every minute, so that a session left
    /// open ends on time even if nobody presents it again: the applications it signed in to are
    /// told (back-channel logout) and "Your sessions" lists only live ones. Several instances may
    /// sweep at once: a session is ended, and audited, by one. Returns how many ended.
    pub async fn end_timed_out_sessions(&self) -> Result<u64, Internal> {
        let plans = {
            let mut conn = self.db.acquire().await?;
            gatehouse_store::plans::list(&mut conn).await?
        };
        let mut ended = 0;
        for row in plans {
            let plan = Plan { row };
            let policy = plan.session_policy();
            let now = self.now();
            let rows = {
                let mut conn = self.db.acquire().await?;
                let (idle_before, started_before) = (now - policy.idle.as_secs(), now - policy.absolute.as_secs());
                store::timed_out(&mut conn, plan.id(), idle_before, started_before, SWEEP_BATCH).await?
            };
            if rows.is_empty() {
                continue;
            }
            let mut tx = self.db.begin().await?;
            for r in rows {
                if store::end(&mut tx, r.user_id, r.id, now).await? {
                    let meta = RequestMeta { ip: r.ip, user_agent: r.user_agent };
                    let e = Event::new("session.timed_out").by_self(r.user_id).detail(json!({"session": r.id}));
                    audit::record(&mut tx, now, plan.id(), &meta, e).await?;
                    ended += 1;
                }
            }
            gatehouse_store::commit(tx).await?;
        }
        Ok(ended)
    }

    /// Ends the session a browser held (`replaced`, the token it sent) when it has just signed in
    /// as someone else (`by`, the token it was given), audited (`session.replaced`): at a shared
    /// computer, the previous person's session and their applications end with it rather than at
    /// the idle limit. Signing in again as the same person (an application asking for a fresh
    /// sign-in) keeps both, so that the person's other applications are not signed out. Does
    /// nothing unless both are live sessions of this plan.
    pub async fn end_replaced_session(
        &self,
        plan: &Plan,
        replaced: &str,
        by: &str,
        meta: &RequestMeta,
    ) -> Result<(), Internal> {
        let bounded = |t: &str| !t.is_empty() && t.len() <= 100;
        if !bounded(replaced) || !bounded(by) || replaced == by {
            return Ok(());
        }
        let (old, new) = {
            let mut conn = self.db.acquire().await?;
            let old = store::by_token_hash(&mut conn, plan.id(), &hash_token(replaced)).await?;
            let Some(old) = old else { return Ok(()) };
            (old, store::by_token_hash(&mut conn, plan.id(), &hash_token(by)).await?)
        };
        let Some(new) = new.filter(|n| n.user_id != old.user_id) else { return Ok(()) };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if store::end(&mut tx, old.user_id, old.id, now).await? {
            let e = Event::new("session.replaced")
                .by(new.user_id)
                .on(old.user_id)
                .detail(json!({"session": old.id, "by_session": new.id}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Ends the current session.
    pub async fn sign_out(&self, info: &SessionInfo, meta: &RequestMeta) -> Result<(), Internal> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if store::end(&mut tx, info.user_id, info.id, now).await? {
            audit::record(
                &mut tx,
                now,
                info.plan_id,
                meta,
                Event::new("session.signed_out").by_self(info.user_id).detail(json!({"session": info.id})),
            )
            .await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The user's live sessions, the current one marked.
    pub async fn list_sessions(&self, plan: &Plan, info: &SessionInfo) -> Result<Vec<SessionView>, SessionError> {
        if !info.is_signed_in_to(plan.id()) {
            return Err(SessionError::NotSignedIn);
        }
        let now = Timestamp(self.now());
        let policy = plan.session_policy();
        let mut conn = self.db.acquire().await?;
        Ok(store::list_live(&mut conn, info.user_id)
            .await?
            .into_iter()
            // Past its limit, a session is over even before a sweep or its browser ends it.
            .filter(|s| policy.is_alive(Timestamp(s.created_at), Timestamp(s.last_seen_at), now))
            .map(|s| SessionView {
                id: s.id,
                current: s.id == info.id,
                ip: s.ip,
                user_agent: s.user_agent,
                signed_in_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    /// Ends another of the user's own sessions.
    pub async fn end_session(
        &self,
        plan: &Plan,
        info: &SessionInfo,
        session_id: SessionId,
        meta: &RequestMeta,
    ) -> Result<(), SessionError> {
        if !info.is_signed_in_to(plan.id()) {
            return Err(SessionError::NotSignedIn);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::end(&mut tx, info.user_id, session_id, now).await? {
            return Err(SessionError::NotFound);
        }
        audit::record(
            &mut tx,
            now,
            info.plan_id,
            meta,
            Event::new("session.ended_by_user").by_self(info.user_id).detail(json!({"session": session_id})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
