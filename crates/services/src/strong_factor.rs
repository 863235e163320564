//! The plan's factor policy applied to people (issue 19): who must sign in with a strong factor
//! (an authenticator app or a passkey), and the sign-in stage where someone required who has
//! neither adds one before going on (`strong_factor_setup`, after the phone's code, the bridge).
//!
//! The rule itself is `gatehouse_domain::factor_policy`; this module reads who the person is
//! (a staff role; an active account administering a practice) and what factors they hold, and
//! is the one place the sign-in, the two-step and the factor commands ask.

use crate::audit::{self, Event};
use crate::authenticator_app::{self, AppEnrolment};
use crate::plans::Plan;
use crate::profile::ProfileError;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::factor_policy::FactorHolder;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{UserStatus, terms};
use gatehouse_store::users::UserRow;
use gatehouse_store::{Conn, affiliations, authenticator_apps, passkeys, plans, recovery_codes, users};
use serde_json::json;
use thiserror::Error;

/// The `method` of a sign-in challenge for someone who must use a strong factor and holds only
/// passkeys: nothing is sent; a passkey or a recovery code answers it.
pub(crate) const PASSKEY_METHOD: &str = "passkey";

/// Why the strong-factor step refused.
#[derive(Debug, Error)]
pub enum StrongFactorError {
    #[error("Add an authenticator app or a passkey first.")]
    NoneYet,
    #[error("This step is not available now. Start again from sign in.")]
    WrongStage,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for StrongFactorError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// Who `user` is, as the factor policy asks.
pub(crate) async fn holder(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<FactorHolder, Internal> {
    let staff = user.staff_role.is_some();
    // Only read when the answer can matter.
    let active_practice_admin = plan.factor_policy().admin_strong_factor
        && user.status == UserStatus::Active
        && affiliations::administers_any(conn, plan.id(), user.id).await?;
    Ok(FactorHolder { staff, active_practice_admin })
}

/// Whether the plan could require `user` to sign in with an app or a passkey, read from the
/// plan's policy and the user alone: when not, [`required`] is false without reading anything.
pub(crate) fn may_be_required(plan: &Plan, user: &UserRow) -> bool {
    let holder =
        FactorHolder { staff: user.staff_role.is_some(), active_practice_admin: user.status == UserStatus::Active };
    plan.factor_policy().requires_strong(holder)
}

/// Whether the plan requires `user` to sign in with an app or a passkey.
pub(crate) async fn required(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<bool, Internal> {
    let policy = plan.factor_policy();
    if !policy.staff_strong_factor && !policy.admin_strong_factor {
        return Ok(false);
    }
    Ok(policy.requires_strong(holder(conn, plan, user).await?))
}

/// The strong factors the user holds: a confirmed app, and how many passkeys.
pub(crate) async fn held(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<(bool, usize), Internal> {
    let app = authenticator_app::has_app(conn, plan.id(), user.id).await?;
    let keys = passkeys::of_user(conn, plan.id(), user.id).await?.len();
    Ok((app, keys))
}

/// Whether the user holds an app or a passkey.
pub(crate) async fn has_strong(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<bool, Internal> {
    let (app, keys) = held(conn, plan, user).await?;
    Ok(app || keys > 0)
}

/// Whether the user must answer with a strong factor at sign-in: required and holding one. Text
/// and voice codes are then neither sent nor accepted.
pub(crate) async fn strong_only(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<bool, Internal> {
    Ok(required(conn, plan, user).await? && has_strong(conn, plan, user).await?)
}

/// Where a session goes once its user has proven both factors: the strong factor's set-up when
/// the plan requires one and they hold none, else the terms when they must be signed, else home.
pub(crate) async fn stage_after_factors(
    conn: &mut Conn,
    plan: &Plan,
    user: &UserRow,
) -> Result<SessionStage, Internal> {
    if required(conn, plan, user).await? && !has_strong(conn, plan, user).await? {
        return Ok(SessionStage::StrongFactorSetup);
    }
    stage_after_strong(conn, plan, user).await
}

/// The terms when they must be signed, else home.
async fn stage_after_strong(conn: &mut Conn, plan: &Plan, user: &UserRow) -> Result<SessionStage, Internal> {
    let current = plans::get(conn, plan.id()).await?.map_or(plan.row.terms_version, |p| p.terms_version);
    Ok(if terms::must_sign(user.terms_version_signed, current) { SessionStage::Terms } else { SessionStage::Complete })
}

/// What the strong-factor step shows.
#[derive(Debug, Clone)]
pub struct StrongSetup {
    /// Authenticator apps may be added.
    pub app_allowed: bool,
    /// Passkeys may be added.
    pub passkeys_allowed: bool,
    /// An app waiting for its first code.
    pub enrolment: Option<AppEnrolment>,
    /// A confirmed app.
    pub has_app: bool,
    /// Passkeys registered.
    pub passkeys: usize,
}

impl StrongSetup {
    /// One is held: the step can be completed.
    pub fn done(&self) -> bool {
        self.has_app || self.passkeys > 0
    }
}

/// The session after the strong-factor step.
#[derive(Debug)]
pub struct StrongSetupDone {
    pub session: SessionToken,
    pub stage: SessionStage,
    /// Ten recovery codes made now (the first strong factor was a passkey), shown this once.
    pub recovery_codes: Option<Vec<String>>,
}

impl Services {
    /// The owner of a factor being added: at the strong-factor step the session's user (they
    /// just proved the password and the phone), otherwise the user of a signed-in session with
    /// the profile open (they confirmed it is them).
    pub(crate) async fn factor_owner(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<UserRow, ProfileError> {
        if session.stage == SessionStage::StrongFactorSetup {
            if session.plan_id != plan.id() {
                return Err(ProfileError::NotUnlocked);
            }
            return users::get(conn, plan.id(), session.user_id)
                .await?
                .filter(|u| u.status == UserStatus::Active && u.two_step_phone.is_some())
                .ok_or(ProfileError::NotUnlocked);
        }
        self.open_profile(conn, plan, session, now).await.map(|(u, _)| u)
    }

    /// The strong-factor step: what may be added and what is held.
    pub async fn strong_setup(&self, plan: &Plan, session: &SessionInfo) -> Result<StrongSetup, StrongFactorError> {
        if session.stage != SessionStage::StrongFactorSetup || session.plan_id != plan.id() {
            return Err(StrongFactorError::WrongStage);
        }
        let mut conn = self.db.acquire().await?;
        let user = users::get(&mut conn, plan.id(), session.user_id).await?.ok_or(StrongFactorError::WrongStage)?;
        let (has_app, passkeys) = held(&mut conn, plan, &user).await?;
        let enrolment = match authenticator_apps::get(&mut conn, plan.id(), user.id).await? {
            Some(row) if row.confirmed_at.is_none() => Some(authenticator_app::enrolment_for(self, plan, &user, &row)?),
            _ => None,
        };
        let policy = plan.factor_policy();
        Ok(StrongSetup {
            app_allowed: policy.app_allowed,
            passkeys_allowed: policy.passkeys_allowed,
            enrolment,
            has_app,
            passkeys,
        })
    }

    /// Leaves the strong-factor step once an app or a passkey is held: the session goes on to the
    /// terms or home under a new token. When the user has no unused recovery codes (their first
    /// strong factor was a passkey), ten are made and returned, to be shown this once.
    pub async fn complete_strong_setup(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<StrongSetupDone, StrongFactorError> {
        if session.stage != SessionStage::StrongFactorSetup || session.plan_id != plan.id() {
            return Err(StrongFactorError::WrongStage);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::get(&mut tx, plan.id(), session.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or(StrongFactorError::WrongStage)?;
        let (has_app, passkeys) = held(&mut tx, plan, &user).await?;
        if !has_app && passkeys == 0 {
            return Err(StrongFactorError::NoneYet);
        }
        let recovery_codes = if recovery_codes::count_unused(&mut tx, plan.id(), user.id).await? == 0 {
            Some(authenticator_app::new_recovery_codes(self, &mut tx, plan.id(), user.id, now).await?)
        } else {
            None
        };
        let next = stage_after_strong(&mut tx, plan, &user).await?;
        let token = sessions::advance(&mut tx, session, next, now).await?.ok_or(StrongFactorError::WrongStage)?;
        if next == SessionStage::Complete {
            users::record_signin(&mut tx, user.id, now).await?;
        }
        let detail = json!({
            "app": has_app,
            "passkeys": passkeys,
            "recovery_codes_made": recovery_codes.is_some(),
            "next": next.as_str(),
        });
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("two_step.strong_factor_set").by_self(user.id).detail(detail),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(StrongSetupDone { session: token, stage: next, recovery_codes })
    }
}
