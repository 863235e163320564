//! Inviting a person to sign up: an invited account, a single-use link valid 72 hours (only its
//! hash stored), and the invitation email, all in one transaction.

use crate::audit::{self, Event};
use crate::messages::{self, InvitationV1Text};
use crate::plans::Plan;
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::email::EmailError;
use gatehouse_domain::names::NameError;
use gatehouse_domain::{Duration, Email, PersonName, UserId, UserStatus};
use gatehouse_store::users::UserRow;
use gatehouse_store::{Conn, invitations as store, users};
use serde_json::json;
use thiserror::Error;

/// The account an invitation or a registration's approval naming an address reaches, among
/// the plan's accounts with that address (`same`, oldest first): the oldest active one whose
/// address its owner gave or proved, else the oldest invited one (whose open links all went to
/// that address). An address a practice administrator set and nobody proved says nothing about
/// who reads that mailbox, so it reaches no one: the person then gets an invitation of their own.
pub fn account_for_address(same: &[UserRow]) -> Option<&UserRow> {
    same.iter()
        .find(|u| u.status == UserStatus::Active && u.email_set_by_other_at.is_none())
        .or_else(|| same.iter().find(|u| u.status == UserStatus::Invited))
}

/// How long an invitation link works.
pub const LINK_LIFETIME: Duration = Duration::hours(72);

/// A person to invite.
#[derive(Debug, Clone)]
pub struct InviteRequest {
    pub name: PersonName,
    pub email: Email,
}

impl InviteRequest {
    /// Parses the form fields.
    pub fn parse(first: &str, last: &str, email: &str) -> Result<Self, InviteError> {
        Ok(Self { name: PersonName::parse(first, last)?, email: Email::parse(email)? })
    }
}

/// Why an invitation was refused.
#[derive(Debug, Error)]
pub enum InviteError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for InviteError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// An invitation that was sent.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user_id: UserId,
    /// The sign-up link (also in the outbox); returned for the command line and tests.
    pub link: String,
}

impl Services {
    /// The sign-up link for a token.
    pub fn signup_link(&self, plan: &Plan, token: &str) -> String {
        format!("{}/signup?token={token}", self.plan_url(plan))
    }

    /// Invites a person: creates the invited account and its link, and queues the email.
    pub async fn invite(
        &self,
        plan: &Plan,
        by: Option<(UserId, &str)>,
        req: &InviteRequest,
        meta: &RequestMeta,
    ) -> Result<Invited, InviteError> {
        let mut tx = self.db.begin().await?;
        let invited = self.invite_in(&mut tx, plan, by, req, meta).await?;
        gatehouse_store::commit(tx).await?;
        Ok(invited)
    }

    /// [`Services::invite`] inside the caller's transaction.
    pub(crate) async fn invite_in(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        by: Option<(UserId, &str)>,
        req: &InviteRequest,
        meta: &RequestMeta,
    ) -> Result<Invited, InviteError> {
        let hours = LINK_LIFETIME.as_secs() / 3600;
        self.invite_in_with(tx, plan, by, req, meta, |link| {
            InvitationV1Text {
                first_name: req.name.first(),
                invited_by: by.map(|b| b.1),
                plan_name: &plan.row.name,
                link,
                hours,
                support_phone: &plan.row.support_phone,
                support_hours: &plan.row.support_hours,
            }
            .render_to(req.email.as_str())
        })
        .await
    }

    /// [`Services::invite_in`] sending `message(link)` in place of the invitation email (e.g. a
    /// registration approval that carries the sign-up link).
    pub(crate) async fn invite_in_with(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        by: Option<(UserId, &str)>,
        req: &InviteRequest,
        meta: &RequestMeta,
        message: impl FnOnce(&str) -> Result<messages::Rendered, Internal>,
    ) -> Result<Invited, InviteError> {
        if users::is_someones_username(tx, plan.id(), &req.email.as_str().to_lowercase(), None).await? {
            return Err(InviteError::Email(EmailError::SomeonesUsername));
        }
        let now = self.now();
        let token = new_token();
        let link = self.signup_link(plan, &token);
        let user_id = users::insert_invited(
            tx,
            &users::NewUser {
                plan_id: plan.id(),
                first_name: req.name.first(),
                middle_name: "",
                last_name: req.name.last(),
                email: req.email.as_str(),
            },
            now,
        )
        .await?;
        store::insert(tx, plan.id(), user_id, by.map(|b| b.0), &hash_token(&token), now, now + LINK_LIFETIME.as_secs())
            .await?;
        let msg = message(&link)?;
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        let mut event = Event::new("user.invited").on(user_id).detail(json!({"email": req.email.as_str()}));
        if let Some((actor, _)) = by {
            event = event.by(actor);
        }
        audit::record(tx, now, plan.id(), meta, event).await?;
        Ok(Invited { user_id, link })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, status: UserStatus, set_by_other: Option<i64>) -> UserRow {
        let mut u = crate::profile::tests::user();
        u.id = UserId(id);
        u.status = status;
        u.email_set_by_other_at = set_by_other;
        u
    }

    #[test]
    fn an_address_reaches_its_owners_account_not_one_an_administrator_pointed_at_it() {
        use UserStatus::{Active, Deactivated, Invited};
        let pick = |same: &[UserRow]| account_for_address(same).map(|u| u.id.0);
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[account(1, Active, None), account(2, Active, None)]), Some(1), "the oldest");
        assert_eq!(pick(&[account(1, Invited, None), account(2, Active, None)]), Some(2), "active first");
        // An address an administrator set, unproven: never the way to an account.
        assert_eq!(pick(&[account(1, Active, Some(5)), account(2, Active, None)]), Some(2));
        assert_eq!(pick(&[account(1, Active, Some(5))]), None);
        assert_eq!(pick(&[account(1, Active, Some(5)), account(3, Invited, Some(5))]), Some(3));
        assert_eq!(pick(&[account(1, Deactivated, None)]), None);
    }
}
