//! Deactivating and reactivating a user's account as their practice administrator: only for a
//! user all of whose Tax IDs the administrator administers, never one's own account, and a
//! deactivation made by plan staff is lifted only by plan staff.

use super::members::reachable_locked;
use super::{PracticeError, PracticeGrant};
use crate::affiliations::ensure_admin_remains;
use crate::audit::Event;
use crate::plans::Plan;
use crate::{RequestMeta, Services};
use gatehouse_domain::{UserId, UserStatus};
use gatehouse_store::users;
use serde_json::json;

/// Who made a deactivation, as stored in `users.deactivated_by`.
const BY_PRACTICE: &str = "practice";
const BY_STAFF: &str = "staff";

impl Services {
    /// Deactivates the account: every session ends at once and every permission check denies.
    pub async fn deactivate_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        self.member_status(grant, plan, user, false, meta).await
    }

    /// Reactivates an account the administrator deactivated (or could have), within the plan's
    /// reactivation window.
    pub async fn reactivate_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        self.member_status(grant, plan, user, true, meta).await
    }

    async fn member_status(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        active: bool,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(t) = reachable_locked(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        t.require_whole_account(if active { "reactivate their account" } else { "deactivate their account" })?;
        if user == grant.actor() {
            return Err(invalid("You cannot deactivate your own account. Hand over the administrator role first."));
        }
        let mine = t.mine;
        let row = t.row;
        let (action, ended) = if active {
            if row.status != UserStatus::Deactivated {
                return Err(invalid("Only a deactivated user can be reactivated."));
            }
            let (at, by) = users::deactivation(&mut tx, plan.id(), user).await?;
            if by.as_deref() == Some(BY_STAFF) {
                return Err(PracticeError::Invalid(format!(
                    "Provider services deactivated this account, so only they can reactivate it: call them at {}.",
                    plan.row.support_phone
                )));
            }
            let window = gatehouse_domain::Duration::days(plan.row.reactivation_days).as_secs();
            if at.is_some_and(|at| now >= at + window) {
                return Err(PracticeError::Invalid(format!(
                    "This account was deactivated more than {} days ago, so only provider services can reactivate it: call them at {}.",
                    plan.row.reactivation_days, plan.row.support_phone
                )));
            }
            let status = if row.password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
            users::set_status(&mut tx, plan.id(), user, status, now).await?;
            ("user.reactivated", 0)
        } else {
            if row.status == UserStatus::Deactivated {
                return Err(invalid("This user is already deactivated."));
            }
            users::set_status(&mut tx, plan.id(), user, UserStatus::Deactivated, now).await?;
            users::set_deactivated_by(&mut tx, plan.id(), user, BY_PRACTICE).await?;
            for a in &mine {
                ensure_admin_remains(&mut tx, a.practice_id).await?;
            }
            ("user.deactivated", crate::sessions::end_everything(&mut tx, user, now).await?)
        };
        let detail = json!({"sessions_ended": ended});
        self.finish(tx, plan, meta, Event::new(action).by(grant.actor()).on(user).detail(detail), now, user).await
    }
}

fn invalid(m: &str) -> PracticeError {
    PracticeError::Invalid(m.to_owned())
}
