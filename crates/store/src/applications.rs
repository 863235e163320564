//! Portal applications: the clients that ask the permission check API. Only the SHA-256 of an
//! application's secret is stored.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub name: String,
    pub client_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, plan_id, name, client_id, secret_hash, created_at, created_by, revoked_at";

fn from_row(r: &AnyRow) -> Result<ApplicationRow, StoreError> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        name: r.try_get("name")?,
        client_id: r.try_get("client_id")?,
        secret_hash: r.try_get("secret_hash")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// An application to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication<'a> {
    pub plan_id: PlanId,
    pub name: &'a str,
    pub client_id: &'a str,
    pub secret_hash: &'a str,
    pub created_by: Option<UserId>,
}

/// Stores an application; returns its id.
pub async fn insert(conn: &mut Conn, a: &NewApplication<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO applications (plan_id, name, client_id, secret_hash, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(a.plan_id.0)
    .bind(a.name)
    .bind(a.client_id)
    .bind(a.secret_hash)
    .bind(now)
    .bind(a.created_by.map(|u| u.0))
    .fetch_one(&mut *conn)
    .await?)
}

/// The plan's applications, newest first (revoked ones too).
pub async fn list(conn: &mut Conn, plan: PlanId) -> Result<Vec<ApplicationRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE plan_id = $1 ORDER BY id DESC"))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Every plan's applications that are not revoked (what an instance authenticates against).
pub async fn all_active(conn: &mut Conn) -> Result<Vec<ApplicationRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE revoked_at IS NULL"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Revokes an application of the plan. Returns the row as it was, or `None` when the plan has
/// no such application or it was already revoked.
pub async fn revoke(conn: &mut Conn, plan: PlanId, id: i64, now: i64) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE applications SET revoked_at = $3 WHERE plan_id = $1 AND id = $2 AND revoked_at IS NULL \
         RETURNING {COLUMNS}"
    ))
    .bind(plan.0)
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}
