//! Practice administrators managing their own staff (seeds 000–002, 004). An administrator sees
//! and changes only the Tax IDs they administer: every function takes a [`PracticeGrant`], made
//! only here from a signed-in session, and checks the target against it; inside each changing
//! transaction the actor's administrator flag is checked again with the practice locked, so a
//! grant cannot outlive a revocation. A refusal because the target belongs to another practice is
//! audited (`practice.access_denied`) and reads as "not found".

pub mod access;
pub mod account_status;
pub mod directory;
pub mod invites;
pub mod members;
pub mod offers;

use crate::affiliations::{AffiliationError, active_id, signed_in};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::{PlanId, PracticeId, UserId};
use gatehouse_store::affiliations;
use serde_json::json;
use thiserror::Error;

/// A practice the grant's holder administers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdministeredPractice {
    pub id: PracticeId,
    pub tax_id: String,
    pub name: String,
}

/// Proof that a signed-in user administers at least one practice, and which.
#[derive(Debug, Clone)]
pub struct PracticeGrant {
    plan_id: PlanId,
    actor: UserId,
    practices: Vec<AdministeredPractice>,
    /// The practice of the session's active affiliation, when the holder administers it.
    active: Option<PracticeId>,
}

impl PracticeGrant {
    /// The administrator.
    pub fn actor(&self) -> UserId {
        self.actor
    }

    /// The practices administered, by name.
    pub fn practices(&self) -> &[AdministeredPractice] {
        &self.practices
    }

    /// Whether the holder administers the practice.
    pub fn administers(&self, practice_id: PracticeId) -> bool {
        self.practices.iter().any(|p| p.id == practice_id)
    }

    /// The ids of the practices administered.
    pub fn practice_ids(&self) -> Vec<PracticeId> {
        self.practices.iter().map(|p| p.id).collect()
    }

    /// The practice the session acts for (its active affiliation), when it is one administered.
    pub fn active_practice(&self) -> Option<PracticeId> {
        self.active
    }
}

/// Why a practice administrator's action was refused.
#[derive(Debug, Error)]
pub enum PracticeError {
    #[error("Sign in first.")]
    NotSignedIn,
    #[error("Only a practice administrator can manage users.")]
    NotAdmin,
    /// The target is not in a practice the administrator administers (or does not exist).
    #[error("That user, Tax ID or provider was not found among the practices you administer.")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    /// The user is reachable but this change is not the administrator's to make (the account
    /// is shared with practices they do not administer).
    #[error("{0}")]
    NotYours(String),
    #[error(
        "{practice} must keep at least one active administrator while it has active users. Make someone else an administrator first."
    )]
    LastAdmin { practice: String },
    /// One's own account's information and password change on My Profile, after confirming it
    /// is them, not through User Management.
    #[error("Change your own information and password on My Profile.")]
    OwnAccount,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for PracticeError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<AffiliationError> for PracticeError {
    fn from(e: AffiliationError) -> Self {
        match e {
            AffiliationError::NotSignedIn => Self::NotSignedIn,
            AffiliationError::NotAdmin => Self::NotAdmin,
            AffiliationError::NotFound => Self::NotFound,
            AffiliationError::LastAdmin { practice } => Self::LastAdmin { practice },
            AffiliationError::NotApplicable(m) => Self::Invalid(m.to_owned()),
            AffiliationError::Internal(i) => Self::Internal(i),
        }
    }
}

impl Services {
    /// The practice grant of a signed-in session whose user administers at least one practice.
    pub async fn practice_grant(&self, plan: &Plan, s: &SessionInfo) -> Result<PracticeGrant, PracticeError> {
        let actor = signed_in(plan, s)?;
        let mut conn = self.db.acquire().await?;
        let rows = affiliations::of_user(&mut conn, actor).await?;
        let active_row = active_id(&rows, s.active_affiliation);
        let active = rows
            .iter()
            .find(|a| Some(gatehouse_domain::AffiliationId(a.id)) == active_row && a.is_admin)
            .map(|a| PracticeId(a.practice_id));
        let practices: Vec<_> = rows
            .into_iter()
            .filter(|a| a.is_admin)
            .map(|a| AdministeredPractice { id: PracticeId(a.practice_id), tax_id: a.tax_id, name: a.practice_name })
            .collect();
        if practices.is_empty() {
            return Err(PracticeError::NotAdmin);
        }
        Ok(PracticeGrant { plan_id: plan.id(), actor, practices, active })
    }

    /// Audits a refused attempt to reach outside the administrator's practices, and returns the
    /// refusal to give.
    pub(crate) async fn practice_denied(
        &self,
        grant: &PracticeGrant,
        meta: &RequestMeta,
        what: serde_json::Value,
    ) -> PracticeError {
        let now = self.now();
        let event = Event::new("practice.access_denied").by(grant.actor).detail(json!({"target": what}));
        let recorded = async {
            let mut tx = self.db.begin().await?;
            audit::record(&mut tx, now, grant.plan_id, meta, event).await?;
            gatehouse_store::commit(tx).await?;
            Ok::<_, Internal>(())
        };
        match recorded.await {
            Ok(()) => PracticeError::NotFound,
            Err(e) => PracticeError::Internal(e),
        }
    }
}
