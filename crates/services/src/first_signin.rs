//! An imported account's first sign-in proves the email address on record before anything can
//! be enrolled. The old portal's password may have leaked with it; on its own it must not let
//! anyone choose the account's new password or two-step phone.
//!
//! After the old password is accepted ([`crate::signin`]), the session waits at
//! [`SessionStage::EmailProof`] and a single-use link (72 hours, only its SHA-256 stored, for
//! this purpose and this user only) goes to the address on record. Redeeming the link starts a
//! new session at the new-password step **in the browser that opened it**, and ends the user's
//! sessions still waiting for the link: someone who only knows the old password is left with a
//! session that can do nothing. A plan whose imported addresses were verified turns the step
//! off (`plans.legacy_email_proof`).

use crate::audit::{self, Event};
use crate::messages::{self, first_signin::EmailProofV1};
use crate::plans::Plan;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::email_proof::{self as rules, LinkVerdict};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{Timestamp, UserStatus};
use gatehouse_store::users::UserRow;
use gatehouse_store::{Conn, email_proofs, sessions as session_store, users};
use serde_json::json;
use thiserror::Error;

/// The purpose stored with these links; other purposes' links never match.
const PURPOSE: &str = "first_signin";

/// Why an email-proof step was refused.
#[derive(Debug, Error)]
pub enum EmailProofError {
    #[error(
        "This link is not valid. Check that you opened the whole link from the email, or sign in again to get a new one."
    )]
    Invalid,
    #[error(
        "This link was already used (or a newer one was sent), and works only once. Sign in again with your username and old password to get a new link, or with your new password if you already chose one."
    )]
    Used,
    #[error(
        "This link has expired (links work for 72 hours). Sign in again with your username and old password to get a new one."
    )]
    Expired,
    #[error("Too many links were sent to this account. Use the newest one, or wait an hour and ask again.")]
    Throttled,
    #[error("This step is not available now. Start again from sign in.")]
    WrongStep,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for EmailProofError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// The session waiting for the link: where the link went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProofPending {
    /// The address on record, masked (`j***@example.org`).
    pub masked_email: String,
}

/// Whom a link is for, as its confirmation page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProofView {
    pub username: String,
}

/// Sends a new link to the user's address on record (the older links stop working), in the
/// caller's transaction. Refused past the send limit, counted from the links themselves.
pub(crate) async fn send_link(
    svc: &Services,
    conn: &mut Conn,
    plan: &Plan,
    user: &UserRow,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), EmailProofError> {
    let since = Timestamp(now).minus(rules::SEND_WINDOW).as_secs();
    gatehouse_store::users::lock(conn, user.id).await?;
    if !rules::may_send(email_proofs::sent_since(conn, user.id, PURPOSE, since).await?) {
        let e = Event::new("signin.email_proof_sent")
            .by_self(user.id)
            .outcome(Outcome::Denied)
            .detail(json!({"reason": "send_limit"}));
        audit::record(conn, now, plan.id(), meta, e).await?;
        return Err(EmailProofError::Throttled);
    }
    let token = new_token();
    let expires_at = Timestamp(now).plus(rules::LINK_LIFETIME).as_secs();
    email_proofs::replace(conn, plan.id(), user.id, PURPOSE, &hash_token(&token), expires_at, now).await?;
    let link = format!("{}/first-signin/confirm?token={token}", svc.plan_url(plan));
    let msg = EmailProofV1 {
        first_name: &user.first_name,
        username: user.username.as_deref().unwrap_or_default(),
        plan_name: &plan.row.name,
        link: &link,
        hours: rules::LINK_LIFETIME.as_secs() / 3600,
        support_phone: &plan.row.support_phone,
        support_hours: &plan.row.support_hours,
    }
    .render_to(&user.email)?;
    messages::enqueue(conn, plan.id(), &msg, now).await?;
    let e = Event::new("signin.email_proof_sent")
        .by_self(user.id)
        .detail(json!({"to": gatehouse_domain::email::mask(&user.email)}));
    audit::record(conn, now, plan.id(), meta, e).await?;
    Ok(())
}

impl Services {
    /// Where the link of a session waiting for it went.
    pub async fn email_proof_pending(
        &self,
        plan: &Plan,
        session: &SessionInfo,
    ) -> Result<EmailProofPending, EmailProofError> {
        if session.stage != SessionStage::EmailProof || session.plan_id != plan.id() {
            return Err(EmailProofError::WrongStep);
        }
        let mut conn = self.db.acquire().await?;
        let user = users::get(&mut conn, plan.id(), session.user_id).await?.ok_or(EmailProofError::WrongStep)?;
        Ok(EmailProofPending { masked_email: gatehouse_domain::email::mask(&user.email) })
    }

    /// Sends a new link for a session waiting for one (the older links stop working).
    pub async fn resend_email_proof(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<EmailProofPending, EmailProofError> {
        if session.stage != SessionStage::EmailProof || session.plan_id != plan.id() {
            return Err(EmailProofError::WrongStep);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(EmailProofError::WrongStep)?;
        if user.legacy_hash.is_none() || user.status != UserStatus::Active {
            return Err(EmailProofError::WrongStep);
        }
        let sent = send_link(self, &mut tx, plan, &user, meta, now).await;
        // A refusal is audited too.
        gatehouse_store::commit(tx).await?;
        sent?;
        Ok(EmailProofPending { masked_email: gatehouse_domain::email::mask(&user.email) })
    }

    /// Whom a link is for, without using it (mail scanners open links).
    pub async fn email_proof_view(&self, plan: &Plan, token: &str) -> Result<EmailProofView, EmailProofError> {
        let mut conn = self.db.acquire().await?;
        let (_, user) = live_link(&mut conn, plan, token, self.now()).await?;
        Ok(EmailProofView { username: user.username.unwrap_or_default() })
    }

    /// Uses a link: the address on record is proven, and a new session starts at the
    /// new-password step for whoever opened it. The user's sessions still waiting for a link end.
    /// Works once, even when submitted twice at the same moment.
    pub async fn redeem_email_proof(
        &self,
        plan: &Plan,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<(SessionToken, SessionStage), EmailProofError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (row, user) = match live_link(&mut tx, plan, token, now).await {
            Ok(x) => x,
            Err(e) => {
                drop(tx);
                return Err(self.audit_refusal(plan, token, &e, meta, now).await?);
            }
        };
        if !email_proofs::use_once(&mut tx, row.id, now).await? {
            drop(tx);
            return Err(self.audit_refusal(plan, token, &EmailProofError::Used, meta, now).await?);
        }
        // The link went to the address on record: it is proven.
        users::mark_email_verified(&mut tx, plan.id(), user.id, now).await?;
        let waiting = session_store::list_live(&mut tx, user.id).await?;
        for s in waiting.iter().filter(|s| s.stage == SessionStage::EmailProof) {
            session_store::end(&mut tx, user.id, s.id, now).await?;
        }
        let stage = SessionStage::NewPassword;
        let session = sessions::start(&mut tx, plan.id(), user.id, stage, meta, now).await?;
        let e = Event::new("signin.email_proved")
            .by_self(user.id)
            .detail(json!({"to": gatehouse_domain::email::mask(&user.email), "next": stage.as_str()}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok((session, stage))
    }

    async fn audit_refusal(
        &self,
        plan: &Plan,
        token: &str,
        e: &EmailProofError,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<EmailProofError, EmailProofError> {
        let reason = match e {
            EmailProofError::Invalid => "invalid",
            EmailProofError::Used => "used",
            EmailProofError::Expired => "expired",
            _ => "not_applicable",
        };
        let mut tx = self.db.begin().await?;
        let subject = email_proofs::by_token_hash(&mut tx, plan.id(), PURPOSE, &hash_token(token)).await?;
        let mut ev = Event::new("signin.email_proved").outcome(Outcome::Failure).detail(json!({"reason": reason}));
        if let Some(r) = subject {
            ev = ev.on(r.user_id);
        }
        audit::record(&mut tx, now, plan.id(), meta, ev).await?;
        gatehouse_store::commit(tx).await?;
        Ok(match e {
            EmailProofError::Invalid => EmailProofError::Invalid,
            EmailProofError::Used => EmailProofError::Used,
            EmailProofError::Expired => EmailProofError::Expired,
            _ => EmailProofError::WrongStep,
        })
    }
}

/// The link for `token` with its user, if it can still be used: this plan, this purpose,
/// unused, in time, and the account still an active imported one that has not chosen a password.
async fn live_link(
    conn: &mut Conn,
    plan: &Plan,
    token: &str,
    now: i64,
) -> Result<(email_proofs::EmailProofRow, UserRow), EmailProofError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 100 {
        return Err(EmailProofError::Invalid);
    }
    let row = email_proofs::by_token_hash(conn, plan.id(), PURPOSE, &hash_token(token))
        .await?
        .ok_or(EmailProofError::Invalid)?;
    match rules::judge(Timestamp(row.expires_at), row.used_at.map(Timestamp), Timestamp(now)) {
        LinkVerdict::Usable => {}
        LinkVerdict::Used => return Err(EmailProofError::Used),
        LinkVerdict::Expired => return Err(EmailProofError::Expired),
    }
    let user = users::get(conn, plan.id(), row.user_id).await?.ok_or(EmailProofError::Invalid)?;
    if user.status != UserStatus::Active || user.legacy_hash.is_none() || user.password_hash.is_some() {
        // Deactivated since, or a password was chosen another way (a reset link): nothing to continue.
        return Err(EmailProofError::Used);
    }
    Ok((row, user))
}
