//! The help desk: find any user of the plan, see their account, and help them — reset two-step,
//! unlock, deactivate or reactivate, resend an invitation. Every action needs a reason and is
//! audited; deactivating or resetting ends the user's sessions at once.

use crate::audit::{self};
use crate::invitations::LINK_LIFETIME;
use crate::messages::{self, InvitationV1Text};
use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::staff::{Rank, StaffPermission, StaffRole};
use gatehouse_domain::{UserId, UserStatus};
use gatehouse_store::roster::practices;
pub use gatehouse_store::search::{COUNT_CAP, Total};
use gatehouse_store::users::UserRow;
use gatehouse_store::{affiliations, invitations, throttle, users};
use serde_json::json;
use thiserror::Error;

/// Results per page of a user search.
pub const PAGE_SIZE: i64 = 25;

/// Why a help-desk action was refused.
#[derive(Debug, Error)]
pub enum SupportError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("That user was not found.")]
    NotFound,
    #[error("Give a reason (at most 500 characters); it is kept in the audit log.")]
    Reason,
    #[error("{0}")]
    NotApplicable(&'static str),
    /// The account holds a role at or above the actor's (see `Rank::may_act_on`).
    #[error("This account holds a role above yours: only a plan administrator can change it.")]
    AboveYourRole,
    /// Staff do not deactivate their own account (another plan administrator does).
    #[error("You cannot deactivate your own account.")]
    OwnAccount,
    /// Deactivating would leave a practice with active users and no active administrator.
    #[error(
        "{0} must keep at least one active administrator while it has active users. Make someone else its administrator first."
    )]
    LastPracticeAdmin(String),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SupportError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A help-desk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportAction {
    ResetTwoStep,
    Unlock,
    Deactivate,
    Reactivate,
    ResendInvitation,
    /// Emails a single-use link (72 hours) to choose a new password.
    SendPasswordReset,
}

impl SupportAction {
    /// The path segment and form value.
    pub fn slug(self) -> &'static str {
        match self {
            Self::ResetTwoStep => "reset-two-step",
            Self::Unlock => "unlock",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::ResendInvitation => "resend-invitation",
            Self::SendPasswordReset => "send-password-reset",
        }
    }

    /// Parses the path segment.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ResetTwoStep,
            Self::Unlock,
            Self::Deactivate,
            Self::Reactivate,
            Self::ResendInvitation,
            Self::SendPasswordReset,
        ]
        .into_iter()
        .find(|a| a.slug() == s)
    }

    /// The button label.
    pub fn label(self) -> &'static str {
        match self {
            Self::ResetTwoStep => "Reset two-step verification",
            Self::Unlock => "Unlock sign-in",
            Self::Deactivate => "Deactivate account",
            Self::Reactivate => "Reactivate account",
            Self::ResendInvitation => "Resend invitation",
            Self::SendPasswordReset => "Send password reset link",
        }
    }

    /// What the confirmation page says will happen.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::ResetTwoStep => {
                "The user's two-step phone, authenticator app, recovery codes and passkeys are removed, all their sessions end, and they are told by email. At their next sign-in, after their password, they set up a new phone."
            }
            Self::Unlock => {
                "Failed sign-in attempts and wrong codes are forgotten, and any lock on this account ends now."
            }
            Self::Deactivate => "The user is signed out everywhere at once and cannot sign in until reactivated.",
            Self::Reactivate => "The user can sign in again with their username, password and two-step phone.",
            Self::ResendInvitation => "A new sign-up link (valid 72 hours) is emailed; the old link stops working.",
            Self::SendPasswordReset => {
                "A link to choose a new password (single use, valid 72 hours) is emailed to the user's address on record; an earlier link stops working. The current password keeps working until the link is used. After it, the user signs in with two-step verification as usual."
            }
        }
    }

    fn event(self) -> &'static str {
        match self {
            Self::ResetTwoStep => "support.two_step_reset",
            Self::Unlock => "support.unlocked",
            Self::Deactivate => "support.deactivated",
            Self::Reactivate => "support.reactivated",
            Self::ResendInvitation => "support.invitation_resent",
            Self::SendPasswordReset => "support.password_reset_link_sent",
        }
    }
}

/// A user as the help desk sees them.
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub row: UserRow,
    /// The masked two-step phone.
    pub phone: Option<String>,
    /// Until when sign-in is locked, if it is.
    pub locked_until: Option<i64>,
    /// The practices the user acts for: (Tax ID, practice name, user type, administrator).
    pub affiliations: Vec<(String, String, String, bool)>,
    /// Whether the account is flagged as idle (no sign-in for the plan's idle threshold).
    pub idle: bool,
}

impl UserSummary {
    /// The actions that apply to this user now.
    pub fn actions(&self) -> Vec<SupportAction> {
        let mut a = Vec::new();
        match self.row.status {
            UserStatus::Invited => a.push(SupportAction::ResendInvitation),
            UserStatus::Active => {
                if self.row.two_step_phone.is_some() {
                    a.push(SupportAction::ResetTwoStep);
                }
                if self.locked_until.is_some() {
                    a.push(SupportAction::Unlock);
                }
                if self.row.username.is_some() {
                    a.push(SupportAction::SendPasswordReset);
                }
                a.push(SupportAction::Deactivate);
            }
            UserStatus::Deactivated => a.push(SupportAction::Reactivate),
        }
        a
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Services {
    async fn summary(
        &self,
        conn: &mut gatehouse_store::Conn,
        plan: &Plan,
        row: UserRow,
    ) -> Result<UserSummary, SupportError> {
        let now = self.now();
        let by_name = match &row.username {
            Some(u) => {
                throttle::locked_until(conn, plan.id(), &format!("u:{}", u.to_lowercase())).await?.filter(|t| *t > now)
            }
            None => None,
        };
        // Codes paused or closed after wrong answers in a row lock the account too.
        let codes = match crate::two_step::Purpose::SignIn.wrong_answers_key(row.id) {
            Some(key) => throttle::get(conn, plan.id(), &key).await?.and_then(|c| c.locked_until).filter(|t| *t > now),
            None => None,
        };
        let locked_until = by_name.max(codes);
        let affiliations = gatehouse_store::users::affiliations_of(conn, row.id).await?;
        Ok(UserSummary {
            phone: row.two_step_phone.as_deref().map(gatehouse_domain::phone::mask_digits),
            locked_until,
            affiliations,
            idle: crate::idle::flagged(plan, row.status, row.idle_since, row.staff_role.is_some(), now),
            row,
        })
    }

    /// Searches every user of the plan by name, username, email or phone, or by the Tax ID or
    /// NPI of a practice they act for. Returns a page and the total.
    pub async fn search_users(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        query: &str,
        page: i64,
    ) -> Result<(Vec<UserSummary>, Total), SupportError> {
        grant.require(plan.id(), StaffPermission::UserSearch)?;
        let q = query.trim().to_lowercase();
        let mut conn = self.db.acquire().await?;
        let d = digits(&q);
        let rows = if d.len() == q.len() && (q.len() == 9 || q.len() == 10) {
            // Nine digits: a Tax ID; ten: an NPI (or a phone number).
            let (tin, npi) = if q.len() == 9 { (Some(q.as_str()), None) } else { (None, Some(q.as_str())) };
            let mut found = users::by_practice_key(&mut conn, plan.id(), tin, npi).await?;
            let (by_phone, _) = self.user_search_page(&mut conn, plan.id(), &q, &d, 200, 0).await?;
            for u in by_phone {
                if !found.iter().any(|f| f.id == u.id) {
                    found.push(u);
                }
            }
            let total = Total::Exact(found.len() as i64);
            (found.into_iter().skip(((page.max(1) - 1) * PAGE_SIZE) as usize).take(PAGE_SIZE as usize).collect(), total)
        } else {
            let offset = (page.max(1) - 1) * PAGE_SIZE;
            self.user_search_page(&mut conn, plan.id(), &q, &d, PAGE_SIZE, offset).await?
        };
        // Two queries for the whole page, not two per user.
        let now = self.now();
        let locked = throttle::locked_keys(&mut conn, plan.id(), now).await?;
        let ids: Vec<UserId> = rows.0.iter().map(|r| r.id).collect();
        let mut practices = users::affiliations_of_many(&mut conn, &ids).await?;
        let out = rows
            .0
            .into_iter()
            .map(|row| {
                let by_name = row.username.as_deref().and_then(|u| {
                    let key = format!("u:{}", u.to_lowercase());
                    let prefix = format!("{key}|");
                    locked.iter().filter(|(k, _)| *k == key || k.starts_with(&prefix)).map(|(_, t)| *t).max()
                });
                // Codes paused or closed after wrong answers in a row lock the account too.
                let codes = crate::two_step::Purpose::SignIn
                    .wrong_answers_key(row.id)
                    .and_then(|key| locked.iter().filter(|(k, _)| *k == key).map(|(_, t)| *t).max());
                let locked_until = by_name.max(codes);
                let (mine, rest): (Vec<_>, Vec<_>) = practices.drain(..).partition(|(u, _)| *u == row.id);
                practices = rest;
                UserSummary {
                    phone: row.two_step_phone.as_deref().map(gatehouse_domain::phone::mask_digits),
                    locked_until,
                    affiliations: mine.into_iter().map(|(_, a)| a).collect(),
                    idle: crate::idle::flagged(plan, row.status, row.idle_since, row.staff_role.is_some(), now),
                    row,
                }
            })
            .collect();
        Ok((out, rows.1))
    }

    /// One user of the plan.
    pub async fn user_summary(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        user: UserId,
    ) -> Result<UserSummary, SupportError> {
        grant.require(plan.id(), StaffPermission::UserSearch)?;
        let mut conn = self.db.acquire().await?;
        let row = users::get(&mut conn, plan.id(), user).await?.ok_or(SupportError::NotFound)?;
        self.summary(&mut conn, plan, row).await
    }

    /// Refuses unless the grant's holder may act on this user at all (help-desk permission, the
    /// user in the plan and not above the holder's role): for the confirmation pages.
    pub async fn may_support(&self, grant: &StaffGrant, plan: &Plan, user: UserId) -> Result<(), SupportError> {
        grant.require(plan.id(), StaffPermission::UserSupport)?;
        let mut conn = self.db.acquire().await?;
        let row = users::get(&mut conn, plan.id(), user).await?.ok_or(SupportError::NotFound)?;
        check_rank(&mut conn, grant, &row).await
    }

    /// Performs a help-desk action on a user of the plan, with a reason for the audit log.
    pub async fn support_action(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        user: UserId,
        action: SupportAction,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<(), SupportError> {
        grant.require(plan.id(), StaffPermission::UserSupport)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let row = users::get(&mut tx, plan.id(), user).await?.ok_or(SupportError::NotFound)?;
        if Some(user) == grant.actor() && action == SupportAction::Deactivate {
            return Err(SupportError::OwnAccount);
        }
        check_rank(&mut tx, grant, &row).await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(SupportError::Reason);
        }
        let mut detail = json!({"reason": reason});
        match action {
            SupportAction::ResetTwoStep => {
                if row.status != UserStatus::Active || row.two_step_phone.is_none() {
                    return Err(SupportError::NotApplicable("This user has no two-step phone to reset."));
                }
                users::clear_two_step(&mut tx, plan.id(), user, now).await?;
                // Every second factor goes: the phone, the app, the recovery codes and the passkeys.
                let (app, codes) = crate::authenticator_app::remove_all(&mut tx, plan.id(), user).await?;
                let passkeys = gatehouse_store::passkeys::delete_all(&mut tx, plan.id(), user).await?;
                detail["passkeys_removed"] = json!(passkeys);
                let ended = crate::sessions::end_everything(&mut tx, user, now).await?;
                crate::two_step::forget_wrong_answers(&mut tx, plan, user).await?;
                detail["sessions_ended"] = json!(ended);
                detail["authenticator_app_removed"] = json!(app);
                detail["recovery_codes_removed"] = json!(codes);
                let when = plan.when(gatehouse_domain::Timestamp(now));
                let msg = crate::messages::factors::FactorNoticeV1 {
                    first_name: &row.first_name,
                    username: row.username.as_deref().unwrap_or_default(),
                    plan_name: &plan.row.name,
                    when: &when,
                    event: crate::messages::factors::FactorEvent::TwoStepReset,
                    support_phone: &plan.row.support_phone,
                    support_hours: &plan.row.support_hours,
                }
                .render_to(&row.email)?;
                crate::messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
            }
            SupportAction::Unlock => {
                let name =
                    row.username.as_deref().ok_or(SupportError::NotApplicable("This user has not signed up yet."))?;
                throttle::clear_prefix(&mut tx, plan.id(), &format!("u:{}", name.to_lowercase())).await?;
                crate::two_step::forget_wrong_answers(&mut tx, plan, user).await?;
            }
            SupportAction::Deactivate => {
                if row.status != UserStatus::Active {
                    return Err(SupportError::NotApplicable("Only an active account can be deactivated."));
                }
                if Some(user) == grant.actor() {
                    return Err(SupportError::NotApplicable("You cannot deactivate your own account."));
                }
                if row.staff_role.as_deref() == Some(StaffRole::PlanAdmin.as_str())
                    && users::count_active_staff_role(&mut tx, plan.id(), StaffRole::PlanAdmin.as_str(), user).await?
                        == 0
                {
                    return Err(SupportError::NotApplicable(
                        "The plan must keep at least one active plan administrator.",
                    ));
                }
                // Lock the practices they administer (in id order, so two deactivations cannot
                // deadlock), then check each still has an administrator after the change.
                let mut administered: Vec<_> =
                    affiliations::of_user(&mut tx, user).await?.into_iter().filter(|a| a.is_admin).collect();
                administered.sort_by_key(|a| a.practice_id);
                for a in &administered {
                    practices::lock(&mut tx, a.practice_id).await?;
                }
                users::set_status(&mut tx, plan.id(), user, UserStatus::Deactivated, now).await?;
                // Only plan staff can lift a deactivation made by plan staff.
                users::set_deactivated_by(&mut tx, plan.id(), user, "staff").await?;
                for a in &administered {
                    if crate::affiliations::ensure_admin_remains(&mut tx, a.practice_id).await.is_err() {
                        return Err(SupportError::LastPracticeAdmin(a.practice_name.clone()));
                    }
                }
                let ended = crate::sessions::end_everything(&mut tx, user, now).await?;
                detail["sessions_ended"] = json!(ended);
            }
            SupportAction::Reactivate => {
                if row.status != UserStatus::Deactivated {
                    return Err(SupportError::NotApplicable("Only a deactivated account can be reactivated."));
                }
                let status = if row.password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
                users::set_status(&mut tx, plan.id(), user, status, now).await?;
            }
            SupportAction::SendPasswordReset => {
                if crate::self_service::check_link_applies(&row).is_err() {
                    return Err(SupportError::NotApplicable(
                        "Only an active, signed-up account can get a password reset link.",
                    ));
                }
                self.issue_reset_link(&mut tx, plan, &row, grant.actor(), now).await?;
            }
            SupportAction::ResendInvitation => {
                if row.status != UserStatus::Invited {
                    return Err(SupportError::NotApplicable("This user has already signed up."));
                }
                invitations::cancel_open(&mut tx, user, now).await?;
                let token = new_token();
                let link = self.signup_link(plan, &token);
                invitations::insert(
                    &mut tx,
                    plan.id(),
                    user,
                    grant.actor(),
                    &hash_token(&token),
                    now,
                    now + LINK_LIFETIME.as_secs(),
                )
                .await?;
                let msg = InvitationV1Text {
                    first_name: &row.first_name,
                    invited_by: None,
                    plan_name: &plan.row.name,
                    link: &link,
                    hours: LINK_LIFETIME.as_secs() / 3600,
                    support_phone: &plan.row.support_phone,
                    support_hours: &plan.row.support_hours,
                }
                .render_to(&row.email)?;
                messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
            }
        }
        audit::record(&mut tx, now, plan.id(), meta, grant.event(action.event()).on(user).detail(detail)).await?;
        let access = matches!(action, SupportAction::Deactivate | SupportAction::Reactivate);
        if access {
            gatehouse_store::access_changes::record(&mut tx, plan.id(), Some(user), now).await?;
        }
        gatehouse_store::commit(tx).await?;
        if access {
            self.access_changed(plan.id(), Some(user)).await;
        }
        Ok(())
    }
}

/// Nobody acts on an account above their own role (the operator at the command line is the
/// plan's administrator).
async fn check_rank(conn: &mut gatehouse_store::Conn, grant: &StaffGrant, row: &UserRow) -> Result<(), SupportError> {
    let actor_rank = Rank::of_account(Some(grant.role()), false);
    if grant.actor().is_some() && !actor_rank.may_act_on(crate::staff::rank_of(conn, row).await?) {
        return Err(SupportError::AboveYourRole);
    }
    Ok(())
}
