//! User types: per plan, each a named set of portal permissions. Permissions are stored as their
//! stable names separated by commas; `affiliations.user_type` holds the key.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use gatehouse_domain::permissions::{DefaultUserType, PermissionSet, UserTypeKey};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored user type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTypeRow {
    pub plan_id: PlanId,
    pub key: UserTypeKey,
    pub name: String,
    pub permissions: PermissionSet,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "plan_id, key, name, permissions, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<UserTypeRow, StoreError> {
    let key: String = r.try_get("key")?;
    let perms: String = r.try_get("permissions")?;
    Ok(UserTypeRow {
        plan_id: PlanId(r.try_get("plan_id")?),
        key: UserTypeKey::parse(&key).map_err(|e| StoreError::Corrupt(format!("user type key {key:?}: {e}")))?,
        name: r.try_get("name")?,
        permissions: PermissionSet::parse_names(&perms)
            .map_err(|e| StoreError::Corrupt(format!("user type {key:?}: {e}")))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The plan's user types, in the order they were created.
pub async fn list(conn: &mut Conn, plan: PlanId) -> Result<Vec<UserTypeRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM user_types WHERE plan_id = $1 ORDER BY id"))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// One user type of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, key: &UserTypeKey) -> Result<Option<UserTypeRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM user_types WHERE plan_id = $1 AND key = $2"))
        .bind(plan.0)
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Creates the user type, or replaces the name and permissions of the one with its key.
pub async fn upsert(
    conn: &mut Conn,
    plan: PlanId,
    key: &UserTypeKey,
    name: &str,
    permissions: PermissionSet,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_types (plan_id, key, name, permissions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (plan_id, key) DO UPDATE \
         SET name = excluded.name, permissions = excluded.permissions, updated_at = excluded.updated_at",
    )
    .bind(plan.0)
    .bind(key.as_str())
    .bind(name)
    .bind(permissions.to_names())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds the default user types the plan lacks (an existing type of the same key is left as it
/// is). Returns how many were added.
pub async fn insert_defaults(
    conn: &mut Conn,
    plan: PlanId,
    defaults: &[DefaultUserType],
    now: i64,
) -> Result<u64, StoreError> {
    let mut added = 0;
    for d in defaults {
        let r = sqlx::query(
            "INSERT INTO user_types (plan_id, key, name, permissions, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (plan_id, key) DO NOTHING",
        )
        .bind(plan.0)
        .bind(d.key)
        .bind(d.name)
        .bind(d.permissions.to_names())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        added += r.rows_affected();
    }
    Ok(added)
}
