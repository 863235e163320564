//! User types: per plan, each a named set of portal permissions. Every plan starts with the seeds'
//! defaults; plan administrators rename them and change their permissions (audited), but never so
//! that no user type may administer users.

use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services, audit};
use gatehouse_domain::PlanId;
use gatehouse_domain::permissions::{Permission, PermissionSet, UserTypeKey, default_user_types};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_store::Conn;
use gatehouse_store::user_types;
pub use gatehouse_store::user_types::UserTypeRow;
use serde_json::json;
use thiserror::Error;

/// Longest user type name.
pub const MAX_NAME: usize = 80;

/// Why a user type change was refused.
#[derive(Debug, Error)]
pub enum UserTypeError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("There is no such user type.")]
    NotFound,
    #[error("Enter a name of 1 to 80 characters.")]
    BadName,
    #[error(
        "At least one user type must be allowed to administer users (users.manage), or no practice could have an administrator. Give it to another user type first."
    )]
    LastAdministratorType,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for UserTypeError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTypeChange {
    pub before: UserTypeRow,
    pub after: UserTypeRow,
}

impl UserTypeChange {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.before.name != self.after.name || self.before.permissions != self.after.permissions
    }
}

/// Adds the default user types to a plan that lacks them, in the caller's transaction.
pub(crate) async fn add_defaults(conn: &mut Conn, plan: PlanId, now: i64) -> Result<u64, Internal> {
    Ok(user_types::insert_defaults(conn, plan, &default_user_types(), now).await?)
}

impl Services {
    /// The plan's user types, oldest first. A plan that has none (created before user types
    /// existed) gets the defaults first.
    pub async fn list_user_types(&self, plan: &Plan) -> Result<Vec<UserTypeRow>, Internal> {
        let mut conn = self.db.acquire().await?;
        let list = user_types::list(&mut conn, plan.id()).await?;
        if !list.is_empty() {
            return Ok(list);
        }
        drop(conn);
        let mut tx = self.db.begin().await?;
        add_defaults(&mut tx, plan.id(), self.now()).await?;
        let list = user_types::list(&mut tx, plan.id()).await?;
        gatehouse_store::commit(tx).await?;
        Ok(list)
    }

    /// One user type of the plan.
    pub async fn user_type(&self, plan: &Plan, key: &str) -> Result<Option<UserTypeRow>, Internal> {
        let Ok(key) = UserTypeKey::parse(key) else { return Ok(None) };
        Ok(self.list_user_types(plan).await?.into_iter().find(|t| t.key == key))
    }

    /// Renames a user type and sets its permissions. Refused when no user type would be left
    /// with `users.manage`. Audited (`plan.user_type_changed`) with the old and new values.
    pub async fn update_user_type(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        key: &str,
        name: &str,
        permissions: PermissionSet,
        meta: &RequestMeta,
    ) -> Result<UserTypeChange, UserTypeError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let key = UserTypeKey::parse(key).map_err(|_| UserTypeError::NotFound)?;
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(UserTypeError::BadName);
        }
        // Make sure a plan created before user types existed has its defaults.
        self.list_user_types(plan).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Serializes changes of one plan's user types, so two administrators cannot each remove
        // `users.manage` from one of the last two types that hold it.
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let all = user_types::list(&mut tx, plan.id()).await?;
        let before = all.iter().find(|t| t.key == key).cloned().ok_or(UserTypeError::NotFound)?;
        let mut after = before.clone();
        after.name = name;
        after.permissions = permissions;
        after.updated_at = now;
        let change = UserTypeChange { before, after };
        if !change.changed() {
            return Ok(change);
        }
        let admin_types_left =
            all.iter().filter(|t| t.key != key && t.permissions.contains(Permission::UsersManage)).count();
        if !permissions.contains(Permission::UsersManage) && admin_types_left == 0 {
            return Err(UserTypeError::LastAdministratorType);
        }
        user_types::upsert(&mut tx, plan.id(), &key, &change.after.name, permissions, now).await?;
        let detail = json!({
            "user_type": key.as_str(),
            "old": {"name": change.before.name, "permissions": change.before.permissions.names()},
            "new": {"name": change.after.name, "permissions": permissions.names()},
        });
        audit::record(&mut tx, now, plan.id(), meta, grant.event("plan.user_type_changed").detail(detail)).await?;
        gatehouse_store::access_changes::record(&mut tx, plan.id(), None, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), None).await;
        Ok(change)
    }
}
