//! Access requests: a user whose association matched a practice that already has an
//! administrator asks that administrator for access; the administrator approves (choosing the
//! user type and providers) or declines.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Declined,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Declined].into_iter().find(|o| o.as_str() == s)
    }
}

/// A request with what its administrator needs to decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequestRow {
    pub id: i64,
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub username: Option<String>,
    pub practice_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    /// The provider (row id, provider ID, name) the requester matched, for a practitioner.
    pub provider: Option<(i64, String, String)>,
    pub status: Status,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

const SELECT: &str = "SELECT r.id, r.user_id, u.first_name, u.last_name, u.email, u.username, r.practice_id, \
     p.tax_id, p.name AS practice_name, r.provider_id AS provider_row, v.provider_id AS provider_code, \
     v.first_name AS provider_first, v.last_name AS provider_last, v.org_name AS provider_org, \
     r.status, r.created_at, r.decided_at \
     FROM access_requests r JOIN users u ON u.id = r.user_id JOIN practices p ON p.id = r.practice_id \
     LEFT JOIN providers v ON v.id = r.provider_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<AccessRequestRow, StoreError> {
    let status: String = r.try_get("status")?;
    let provider_row: Option<i64> = r.try_get("provider_row")?;
    let provider = match provider_row {
        Some(id) => {
            let org: Option<String> = r.try_get("provider_org")?;
            let first: Option<String> = r.try_get("provider_first")?;
            let last: Option<String> = r.try_get("provider_last")?;
            let org = org.unwrap_or_default();
            let name = if org.is_empty() {
                format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default()).trim().to_owned()
            } else {
                org
            };
            Some((id, r.try_get::<Option<String>, _>("provider_code")?.unwrap_or_default(), name))
        }
        None => None,
    };
    Ok(AccessRequestRow {
        id: r.try_get("id")?,
        user_id: UserId(r.try_get("user_id")?),
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        email: r.try_get("email")?,
        username: r.try_get("username")?,
        practice_id: r.try_get("practice_id")?,
        tax_id: r.try_get("tax_id")?,
        practice_name: r.try_get("practice_name")?,
        provider,
        status: Status::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("access request status {status:?}")))?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// Stores a pending request; `None` if the user already has one pending for the practice.
pub async fn insert(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    practice_id: i64,
    provider_id: Option<i64>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let r = sqlx::query_scalar(
        "INSERT INTO access_requests (plan_id, user_id, practice_id, provider_id, status, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(practice_id)
    .bind(provider_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(r)
}

/// The request `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<AccessRequestRow>, StoreError> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.plan_id = $1 AND r.id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The pending requests for the practices `admin` administers, oldest first.
pub async fn pending_for_admin(conn: &mut Conn, admin: UserId) -> Result<Vec<AccessRequestRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE r.status = 'pending' AND r.practice_id IN \
         (SELECT a.practice_id FROM affiliations a WHERE a.user_id = $1 AND a.is_admin = 1) \
         ORDER BY r.created_at, r.id"
    ))
    .bind(admin.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The user's own requests, newest first.
pub async fn of_user(conn: &mut Conn, user: UserId) -> Result<Vec<AccessRequestRow>, StoreError> {
    let rows = sqlx::query(&format!("{SELECT} WHERE r.user_id = $1 ORDER BY r.created_at DESC, r.id DESC"))
        .bind(user.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Decides a pending request; false if it was no longer pending (decided by someone else).
pub async fn decide(
    conn: &mut Conn,
    id: i64,
    status: Status,
    by: UserId,
    user_type: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3, user_type = $4 \
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(by.0)
    .bind(now)
    .bind(user_type)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
