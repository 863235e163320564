//! A user's affiliations ("linked accounts"): listing them, switching the one the session acts
//! for, and the rule (used by every change of the administrator flag) that a practice with active users always keeps
//! an active administrator ([`ensure_admin_remains`], checked inside the changing transaction
//! with the practice locked, so two concurrent revocations cannot both pass).

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AffiliationId, PlanId, PracticeId, UserId};
use gatehouse_store::affiliations::{self as store, AffiliationRow};
use gatehouse_store::roster::practices;
use gatehouse_store::{Conn, access_changes, sessions, user_types};
use serde::Serialize;
use serde_json::json;
use thiserror::Error;

/// Why an affiliation action was refused.
#[derive(Debug, Error)]
pub enum AffiliationError {
    #[error("Sign in first.")]
    NotSignedIn,
    #[error("That linked account was not found.")]
    NotFound,
    #[error("Only an administrator of this practice can do that.")]
    NotAdmin,
    #[error(
        "{practice} must keep at least one active administrator while it has active users. Make someone else an administrator first."
    )]
    LastAdmin { practice: String },
    #[error("{0}")]
    NotApplicable(&'static str),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AffiliationError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// One provider an affiliation covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopedProvider {
    pub provider_id: String,
    pub npi: String,
    pub name: String,
}

/// One of the user's linked accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedAccount {
    pub id: AffiliationId,
    pub practice_id: PracticeId,
    pub practice_name: String,
    pub tax_id: String,
    /// The user type's name, e.g. "Office Manager".
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// The providers covered when not all.
    pub providers: Vec<ScopedProvider>,
    /// The session acts for this one.
    pub active: bool,
}

impl LinkedAccount {
    /// The Tax ID as pages show it: nine digits, no dash (the form people type it in).
    pub fn tax_id_display(&self) -> String {
        self.tax_id.clone()
    }
}

/// The session's user, if it is fully signed in to this plan.
pub(crate) fn signed_in(plan: &Plan, s: &SessionInfo) -> Result<UserId, AffiliationError> {
    if !s.is_signed_in_to(plan.id()) {
        return Err(AffiliationError::NotSignedIn);
    }
    Ok(s.user_id)
}

/// Refuses the change made in `tx` if it left the practice with active users and no active
/// administrator. The caller must have locked the practice ([`practices::lock`]) before changing it.
pub(crate) async fn ensure_admin_remains(tx: &mut Conn, practice_id: i64) -> Result<(), AffiliationError> {
    if has_active_admin_or_no_users(tx, practice_id).await? {
        return Ok(());
    }
    let practice = practices::name(tx, practice_id).await?.unwrap_or_else(|| "This practice".into());
    Err(AffiliationError::LastAdmin { practice })
}

/// Whether the practice keeps the rule: an active administrator, or no active users at all.
pub(crate) async fn has_active_admin_or_no_users(tx: &mut Conn, practice_id: i64) -> Result<bool, Internal> {
    Ok(store::count_active_admins(tx, practice_id).await? > 0
        || store::count_active_members(tx, practice_id).await? == 0)
}

/// Records that `user`'s access changed, in the transaction of the change.
pub(crate) async fn changed(tx: &mut Conn, plan: PlanId, user: UserId, now: i64) -> Result<(), Internal> {
    access_changes::record(tx, plan, Some(user), now).await?;
    Ok(())
}

impl Services {
    /// The user's linked accounts, the session's active one marked (the first when none is chosen).
    pub async fn linked_accounts(&self, plan: &Plan, s: &SessionInfo) -> Result<Vec<LinkedAccount>, AffiliationError> {
        let user = signed_in(plan, s)?;
        let mut conn = self.db.acquire().await?;
        let rows = store::of_user(&mut conn, user).await?;
        let types = user_types::list(&mut conn, plan.id()).await?;
        let active = active_id(&rows, s.active_affiliation);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let providers = if r.all_providers {
                Vec::new()
            } else {
                store::providers_of(&mut conn, r.id)
                    .await?
                    .into_iter()
                    .map(|(_, provider_id, npi, name)| ScopedProvider { provider_id, npi, name })
                    .collect()
            };
            let user_type = UserTypeKey::parse(&r.user_type)
                .ok()
                .and_then(|k| types.iter().find(|t| t.key == k))
                .map_or_else(|| r.user_type.clone(), |t| t.name.clone());
            out.push(LinkedAccount {
                id: AffiliationId(r.id),
                practice_id: PracticeId(r.practice_id),
                active: Some(AffiliationId(r.id)) == active,
                practice_name: r.practice_name,
                tax_id: r.tax_id,
                user_type,
                is_admin: r.is_admin,
                all_providers: r.all_providers,
                providers,
            });
        }
        Ok(out)
    }

    /// Whether the signed-in user has any affiliation (a user with none is sent to associate).
    pub async fn has_affiliation(&self, plan: &Plan, s: &SessionInfo) -> Result<bool, AffiliationError> {
        let user = signed_in(plan, s)?;
        let mut conn = self.db.acquire().await?;
        Ok(!store::of_user(&mut conn, user).await?.is_empty())
    }

    /// Makes the session act for another of the user's affiliations (audited).
    pub async fn switch_affiliation(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        affiliation: AffiliationId,
        meta: &RequestMeta,
    ) -> Result<LinkedAccount, AffiliationError> {
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = store::get(&mut tx, plan.id(), affiliation.0).await?.filter(|r| r.user_id == user);
        let row = row.ok_or(AffiliationError::NotFound)?;
        let rows = store::of_user(&mut tx, user).await?;
        let from = active_id(&rows, s.active_affiliation);
        if !sessions::set_active_affiliation(&mut tx, s.id, Some(AffiliationId(row.id))).await? {
            return Err(AffiliationError::NotSignedIn);
        }
        let event = Event::new("session.affiliation_switched").by_self(user).detail(json!({
            "session": s.id,
            "from_affiliation": from,
            "to_affiliation": row.id,
            "tax_id": row.tax_id,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        // Described as the list describes it (the user type's name, the providers covered).
        let switched = SessionInfo { active_affiliation: Some(AffiliationId(row.id)), ..s.clone() };
        self.linked_accounts(plan, &switched)
            .await?
            .into_iter()
            .find(|a| a.id.0 == row.id)
            .ok_or(AffiliationError::NotFound)
    }
}

/// The active affiliation: the session's choice if it is still the user's, else the first.
pub(crate) fn active_id(rows: &[AffiliationRow], chosen: Option<AffiliationId>) -> Option<AffiliationId> {
    let chosen = chosen.filter(|c| rows.iter().any(|r| r.id == c.0));
    chosen.or_else(|| rows.first().map(|r| AffiliationId(r.id)))
}

/// Refuses unless `user` administers the practice.
pub(crate) async fn require_admin(
    tx: &mut Conn,
    user: UserId,
    practice_id: i64,
) -> Result<AffiliationRow, AffiliationError> {
    match store::of_user_at(tx, user, practice_id).await? {
        Some(a) if a.is_admin => Ok(a),
        _ => Err(AffiliationError::NotAdmin),
    }
}
