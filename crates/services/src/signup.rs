//! Sign-up from an invitation link: choose a username and a password. The link works once, even
//! when two browsers submit it at the same moment, and only within its 72 hours.

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::{self, SessionToken};
use crate::tokens::hash_token;
use crate::{HashError, Internal, RequestMeta, Services};
use gatehouse_domain::Username;
use gatehouse_domain::password::PasswordProblem;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::username::UsernameError;
use gatehouse_store::invitations::{self as store, InvitationRow};
use gatehouse_store::{throttle, users};
use serde_json::json;
use thiserror::Error;

/// Why an invitation link cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkProblem {
    #[error("This sign-up link is not valid. Check that you copied the whole link from your email.")]
    Invalid,
    #[error("This sign-up link has expired. Ask your administrator to send you a new invitation.")]
    Expired,
    #[error("This sign-up link has already been used. Sign in with the username you chose.")]
    Used,
    #[error("This invitation was cancelled. Ask your administrator to send you a new one.")]
    Cancelled,
    /// A newer link was sent to the same address ("Resend"), which ended this one.
    /// `sent_on` is the day in the plan's time zone, like `Dec 3, 2026`.
    #[error(
        "A newer sign-up link was sent to the same email address on {sent_on}, so this one no longer works. Open the newest invitation email and use its link."
    )]
    Replaced { sent_on: String },
}

/// Why sign-up was refused. Field errors name the field at fault.
/// "This username is taken" answers one sign-up link gives; after them the link answers nothing
/// more about names (a new link starts again). Without a limit, anyone holding an unused link
/// could ask whether any username, or email, is in the plan.
pub const TAKEN_NAME_ANSWERS_PER_LINK: i64 = 10;

#[derive(Debug, Error)]
pub enum SignUpError {
    #[error(transparent)]
    Link(#[from] LinkProblem),
    #[error(transparent)]
    Username(#[from] UsernameError),
    #[error("This username is taken. Choose another.")]
    UsernameTaken,
    #[error(
        "Too many usernames that are already taken were tried with this link. Ask whoever invited you to send a new link."
    )]
    TooManyTakenNames,
    #[error(transparent)]
    Password(#[from] PasswordProblem),
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SignUpError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<HashError> for SignUpError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Busy,
            other => Self::Internal(other.into()),
        }
    }
}

impl SignUpError {
    /// The form field the error belongs beside, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Username(_) | Self::UsernameTaken => Some("username"),
            Self::Password(PasswordProblem::Mismatch) => Some("confirm_password"),
            Self::Password(_) => Some("password"),
            _ => None,
        }
    }
}

/// Who an invitation is for, shown on the sign-up page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

fn usable(inv: &InvitationRow, now: i64) -> Result<(), LinkProblem> {
    if inv.used_at.is_some() {
        Err(LinkProblem::Used)
    } else if inv.cancelled_at.is_some() {
        Err(LinkProblem::Cancelled)
    } else if now >= inv.expires_at {
        Err(LinkProblem::Expired)
    } else {
        Ok(())
    }
}

impl Services {
    async fn find_invitation(&self, plan: &Plan, token: &str) -> Result<InvitationRow, SignUpError> {
        if token.is_empty() || token.len() > 100 {
            return Err(LinkProblem::Invalid.into());
        }
        let mut conn = self.db.acquire().await?;
        let inv = store::by_token_hash(&mut conn, plan.id(), &hash_token(token)).await?.ok_or(LinkProblem::Invalid)?;
        match usable(&inv, self.now()) {
            Ok(()) => Ok(inv),
            // Cancelled because a newer link replaced it: say so, and when the newer one was sent.
            Err(LinkProblem::Cancelled) => match store::latest_for_user(&mut conn, inv.user_id).await? {
                Some(newer) if newer.id > inv.id && newer.cancelled_at.is_none() && newer.used_at.is_none() => {
                    let sent_on = gatehouse_domain::Timestamp(newer.sent_at).day_for_people(plan.time_zone());
                    Err(LinkProblem::Replaced { sent_on }.into())
                }
                _ => Err(LinkProblem::Cancelled.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a sign-up link and says whom it is for.
    pub async fn invitation(&self, plan: &Plan, token: &str) -> Result<Invitee, SignUpError> {
        let inv = self.find_invitation(plan, token).await?;
        let mut conn = self.db.acquire().await?;
        let u = users::get(&mut conn, plan.id(), inv.user_id).await?.ok_or(LinkProblem::Invalid)?;
        Ok(Invitee { first_name: u.first_name, last_name: u.last_name, email: u.email })
    }

    /// Whether `username` is free, counting each "taken" answer against the link (at most
    /// [`TAKEN_NAME_ANSWERS_PER_LINK`]; one link's tries one at a time).
    async fn check_name_free(
        &self,
        plan: &Plan,
        inv: &InvitationRow,
        username: &Username,
        now: i64,
    ) -> Result<(), SignUpError> {
        let key = format!("signup|invitation:{}", inv.id.0);
        let mut tx = self.db.begin().await?;
        users::lock(&mut tx, inv.user_id).await?;
        let answered = throttle::get(&mut tx, plan.id(), &key).await?.map_or(0, |c| c.failures);
        if answered >= TAKEN_NAME_ANSWERS_PER_LINK {
            return Err(SignUpError::TooManyTakenNames);
        }
        if users::name_taken(&mut tx, plan.id(), &username.normalized(), inv.user_id).await? {
            throttle::add_failure(&mut tx, plan.id(), &key, now).await?;
            gatehouse_store::commit(tx).await?;
            return Err(SignUpError::UsernameTaken);
        }
        Ok(())
    }

    /// Completes sign-up and starts a session at the two-step set-up stage.
    pub async fn sign_up(
        &self,
        plan: &Plan,
        token: &str,
        username: &str,
        password: &str,
        confirm: &str,
        meta: &RequestMeta,
    ) -> Result<SessionToken, SignUpError> {
        let inv = self.find_invitation(plan, token).await?;
        let username = Username::parse_as(username, plan.username_format())?;
        plan.password_policy().check(password, confirm, Some(username.as_str()))?;
        let now = self.now();
        self.check_name_free(plan, &inv, &username, now).await?;
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.db.begin().await?;
        if !store::consume(&mut tx, inv.id, now).await? {
            // Another submit of the same link won, or it expired meanwhile.
            let fresh =
                store::by_token_hash(&mut tx, plan.id(), &hash_token(token)).await?.ok_or(LinkProblem::Invalid)?;
            return Err(usable(&fresh, now).err().unwrap_or(LinkProblem::Used).into());
        }
        if users::name_taken(&mut tx, plan.id(), &username.normalized(), inv.user_id).await? {
            return Err(SignUpError::UsernameTaken);
        }
        match users::complete_signup(&mut tx, inv.user_id, username.as_str(), &hash, now).await {
            Ok(true) => {}
            Ok(false) => return Err(LinkProblem::Used.into()),
            Err(e) if e.is_unique_violation() => return Err(SignUpError::UsernameTaken),
            Err(e) => return Err(e.into()),
        }
        let session = sessions::start(&mut tx, plan.id(), inv.user_id, SessionStage::TwoStepSetup, meta, now).await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("user.signed_up").by_self(inv.user_id).detail(json!({"username": username.as_str()})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(session)
    }
}
