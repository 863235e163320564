//! Portal applications: the clients of the permission check API and of OpenID Connect sign-in.
//! Plan administrators register one (see [`registration`]: a confidential one's secret is shown
//! once and stored as a SHA-256), edit its registration, replace its secret and revoke it; all
//! audited. An application authenticates with its client id and secret against an in-memory
//! copy, refreshed through the access change log, so no request reads the database to
//! authenticate (see [`clients`] for the OpenID Connect flows' look-up).

use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::tokens::{hash_token, same};
use crate::{Internal, RequestMeta, Services, audit};
use gatehouse_domain::client_registration::{Registration, RegistrationErrors};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{ApplicationId, PlanId, UserId};
use gatehouse_store::access_changes;
use gatehouse_store::applications;
use serde_json::json;
use thiserror::Error;

/// Longest application name.
pub const MAX_NAME: usize = 80;

pub mod clients;
pub mod registration;

pub use gatehouse_store::applications::ApplicationRow;
pub use registration::{ApplicationForm, RegisteredApplication};

/// Why an application change was refused.
#[derive(Debug, Error)]
pub enum ApplicationError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("Enter a name of 1 to 80 characters.")]
    BadName,
    /// Mistakes in the form, field by field (the name's too).
    #[error(transparent)]
    Invalid(#[from] RegistrationErrors),
    #[error("This plan has no such application, or it is already revoked.")]
    NotFound,
    #[error("A public client has no secret: it signs people in with PKCE alone.")]
    PublicClient,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for ApplicationError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A newly registered application and its secret, which is never shown again.
#[derive(Debug, Clone)]
pub struct CreatedApplication {
    pub row: ApplicationRow,
    pub secret: String,
}

/// An authenticated application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCaller {
    pub id: i64,
    pub plan_id: PlanId,
    pub name: String,
}

/// Why an application was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AppAuthError {
    /// Unknown client id (another plan's reads as unknown), wrong secret, or a revoked
    /// application.
    #[error("Unknown application or wrong secret.")]
    BadCredentials,
}

/// The name as kept: runs of white space made one space; 1 to [`MAX_NAME`] characters.
pub(crate) fn clean_name(name: &str) -> Option<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty() && name.chars().count() <= MAX_NAME).then_some(name)
}

impl Services {
    /// Registers a confidential application that only asks the permission check API (no
    /// redirect URI yet); the secret in the answer is shown once. Plan administrators.
    pub async fn create_application(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<CreatedApplication, ApplicationError> {
        let name = clean_name(name).ok_or(ApplicationError::BadName)?;
        let r = self.register_checked(grant, plan, &name, &Registration::api_only(), meta).await?;
        let secret = r.secret.ok_or_else(|| Internal::Other("confidential application without a secret".into()))?;
        Ok(CreatedApplication { row: r.row, secret })
    }

    /// The plan's applications, newest first, revoked ones included. Plan administrators.
    pub async fn list_applications(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
    ) -> Result<Vec<ApplicationRow>, ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let mut conn = self.db.acquire().await?;
        Ok(applications::list(&mut conn, plan.id()).await?)
    }

    /// Revokes an application: its secret stops working at once here, within a second on other
    /// instances, and every grant people gave it ends (its access and refresh tokens with them).
    /// Plan administrators.
    pub async fn revoke_application(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: ApplicationId,
        meta: &RequestMeta,
    ) -> Result<ApplicationRow, ApplicationError> {
        let id = id.0;
        grant.require(plan.id(), StaffPermission::Applications)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = applications::revoke(&mut tx, plan.id(), id, now).await?.ok_or(ApplicationError::NotFound)?;
        // What it was given ends with it: its access tokens read nothing more at userinfo.
        let grants = gatehouse_store::oidc_grants::revoke_grants_of(&mut tx, plan.id(), id, now).await?;
        let detail =
            json!({"application_id": id, "name": row.name, "client_id": row.client_id, "grants_revoked": grants});
        audit::record(&mut tx, now, plan.id(), meta, grant.event("application.revoked").detail(detail)).await?;
        access_changes::record(&mut tx, plan.id(), None, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), None).await;
        Ok(row)
    }

    /// Authenticates an application of `plan` by client id and secret, from memory.
    pub fn authenticate_application(
        &self,
        plan: PlanId,
        client_id: &str,
        secret: &str,
    ) -> Result<AppCaller, AppAuthError> {
        let presented = hash_token(secret);
        let apps = self.access.apps.read().map_err(|_| AppAuthError::BadCredentials)?;
        // Another plan's application is unknown here, as any other plan's thing is.
        let app = apps.get(client_id).filter(|a| a.plan_id == plan).ok_or(AppAuthError::BadCredentials)?;
        if !same(&presented, &app.secret_hash) {
            return Err(AppAuthError::BadCredentials);
        }
        Ok(AppCaller { id: app.id, plan_id: app.plan_id, name: app.name.clone() })
    }
}

/// A user's access as the access listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    pub user_id: UserId,
    pub username: Option<String>,
    pub status: gatehouse_domain::UserStatus,
    pub affiliations: Vec<AffiliationAccess>,
}

/// One affiliation of a user, with what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffiliationAccess {
    pub id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type_key: String,
    /// The user type's name (empty when the type is unknown).
    pub user_type_name: String,
    pub is_admin: bool,
    pub permissions: gatehouse_domain::permissions::PermissionSet,
    /// `None`: all of the practice's providers; else (provider ID, NPI) of those listed.
    pub providers: Option<Vec<(String, String)>>,
}

impl Services {
    /// The user's affiliations and what each allows, read from the database (`None`: no such
    /// user in the plan).
    pub async fn user_access(&self, plan: PlanId, user: UserId) -> Result<Option<UserAccess>, Internal> {
        use gatehouse_domain::permissions::{Permission, default_user_types};
        use gatehouse_store::{access_index, user_types, users};
        let mut conn = self.db.acquire().await?;
        let Some(u) = users::get(&mut conn, plan, user).await? else { return Ok(None) };
        let rows = access_index::access_of(&mut conn, plan, user).await?;
        let scopes = access_index::scope_of(&mut conn, plan, user).await?;
        let mut types: Vec<(String, String, gatehouse_domain::permissions::PermissionSet)> =
            user_types::list(&mut conn, plan)
                .await?
                .into_iter()
                .map(|t| (t.key.as_str().to_owned(), t.name, t.permissions))
                .collect();
        if types.is_empty() {
            types = default_user_types().into_iter().map(|t| (t.key.into(), t.name.into(), t.permissions)).collect();
        }
        let affiliations = rows
            .into_iter()
            .map(|r| {
                let (name, mut permissions) =
                    types.iter().find(|t| t.0 == r.user_type).map(|t| (t.1.clone(), t.2)).unwrap_or_default();
                if r.is_admin {
                    permissions.insert(Permission::UsersManage);
                }
                let providers = (!r.all_providers).then(|| {
                    scopes.iter().filter(|s| s.0 == r.affiliation_id).map(|s| (s.1.clone(), s.2.clone())).collect()
                });
                AffiliationAccess {
                    id: r.affiliation_id,
                    tax_id: r.tax_id,
                    practice_name: r.practice_name,
                    user_type_key: r.user_type,
                    user_type_name: name,
                    is_admin: r.is_admin,
                    permissions,
                    providers,
                }
            })
            .collect();
        Ok(Some(UserAccess { user_id: u.id, username: u.username, status: u.status, affiliations }))
    }
}
