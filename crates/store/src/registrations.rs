//! Administrator registration requests and the attempts counted to throttle the public form.
//! A request is decided once: [`decide`] changes it only while it is still pending.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for plan staff.
    Pending,
    /// Approved: the administrators were invited.
    Approved,
    /// Denied, with a reason sent to the requesters.
    Denied,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// One administrator named in a request, as stored (phone in E.164).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminValues<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: &'a str,
    pub email: &'a str,
}

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    pub plan_id: PlanId,
    pub tax_id: &'a str,
    pub practice_name: &'a str,
    pub address1: &'a str,
    pub address2: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a str,
    pub phone: &'a str,
    /// Empty when not given.
    pub fax: &'a str,
    pub primary: AdminValues<'a>,
    pub secondary: AdminValues<'a>,
    pub ip: &'a str,
}

/// An administrator named in a stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub email: String,
}

/// A request as stored, with the name of whoever decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub status: Status,
    pub tax_id: String,
    pub practice_name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
    pub fax: String,
    pub primary: AdminRow,
    pub secondary: AdminRow,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<UserId>,
    /// "First Last" of the staff member who decided.
    pub decided_by_name: Option<String>,
    pub deny_reason: Option<String>,
    pub practice_id: Option<i64>,
}

const SELECT: &str = "SELECT r.id, r.plan_id, r.status, r.tax_id, r.practice_name, r.address1, r.address2, r.city, \
    r.state, r.zip, r.phone, r.fax, r.primary_first_name, r.primary_last_name, r.primary_phone, r.primary_email, \
    r.secondary_first_name, r.secondary_last_name, r.secondary_phone, r.secondary_email, r.created_at, \
    r.decided_at, r.decided_by, u.first_name || ' ' || u.last_name AS decided_by_name, r.deny_reason, r.practice_id \
    FROM registrations r LEFT JOIN users u ON u.id = r.decided_by";

fn admin_from(r: &sqlx::any::AnyRow, prefix: &str) -> Result<AdminRow, StoreError> {
    Ok(AdminRow {
        first_name: r.try_get(format!("{prefix}_first_name").as_str())?,
        last_name: r.try_get(format!("{prefix}_last_name").as_str())?,
        phone: r.try_get(format!("{prefix}_phone").as_str())?,
        email: r.try_get(format!("{prefix}_email").as_str())?,
    })
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<RegistrationRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(RegistrationRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("registration status {status:?}")))?,
        tax_id: r.try_get("tax_id")?,
        practice_name: r.try_get("practice_name")?,
        address1: r.try_get("address1")?,
        address2: r.try_get("address2")?,
        city: r.try_get("city")?,
        state: r.try_get("state")?,
        zip: r.try_get("zip")?,
        phone: r.try_get("phone")?,
        fax: r.try_get("fax")?,
        primary: admin_from(r, "primary")?,
        secondary: admin_from(r, "secondary")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
        decided_by_name: r.try_get("decided_by_name")?,
        deny_reason: r.try_get("deny_reason")?,
        practice_id: r.try_get("practice_id")?,
    })
}

/// Stores a pending request and returns its id. Fails with a unique violation when a request
/// for the same Tax ID is already pending.
pub async fn insert(conn: &mut Conn, r: &NewRegistration<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO registrations (plan_id, status, tax_id, practice_name, address1, address2, city, state, zip, \
         phone, fax, primary_first_name, primary_last_name, primary_phone, primary_email, secondary_first_name, \
         secondary_last_name, secondary_phone, secondary_email, ip, created_at) \
         VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         RETURNING id",
    )
    .bind(r.plan_id.0)
    .bind(r.tax_id)
    .bind(r.practice_name)
    .bind(r.address1)
    .bind(r.address2)
    .bind(r.city)
    .bind(r.state)
    .bind(r.zip)
    .bind(r.phone)
    .bind(r.fax)
    .bind(r.primary.first_name)
    .bind(r.primary.last_name)
    .bind(r.primary.phone)
    .bind(r.primary.email)
    .bind(r.secondary.first_name)
    .bind(r.secondary.last_name)
    .bind(r.secondary.phone)
    .bind(r.secondary.email)
    .bind(r.ip)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// Whether a request for `tax_id` is waiting for review.
pub async fn pending_exists(conn: &mut Conn, plan: PlanId, tax_id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations WHERE plan_id = $1 AND tax_id = $2 AND status = 'pending'",
    )
    .bind(plan.0)
    .bind(tax_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// The request with this id in this plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<RegistrationRow>, StoreError> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.plan_id = $1 AND r.id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Pending requests, oldest first.
pub async fn pending(conn: &mut Conn, plan: PlanId, limit: i64) -> Result<Vec<RegistrationRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE r.plan_id = $1 AND r.status = 'pending' ORDER BY r.created_at, r.id LIMIT $2"
    ))
    .bind(plan.0)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Decided requests, most recently decided first.
pub async fn recently_decided(conn: &mut Conn, plan: PlanId, limit: i64) -> Result<Vec<RegistrationRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE r.plan_id = $1 AND r.status <> 'pending' ORDER BY r.decided_at DESC, r.id DESC LIMIT $2"
    ))
    .bind(plan.0)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Decides a request if, and only if, it is still pending. Exactly one of any number of
/// concurrent callers gets `true`.
pub async fn decide(
    conn: &mut Conn,
    plan: PlanId,
    id: i64,
    status: Status,
    by: Option<UserId>,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE registrations SET status = $3, decided_by = $4, deny_reason = $5, decided_at = $6 \
         WHERE plan_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(plan.0)
    .bind(id)
    .bind(status.as_str())
    .bind(by.map(|u| u.0))
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the practice an approved request was attached to.
pub async fn set_practice(conn: &mut Conn, id: i64, practice_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE registrations SET practice_id = $2 WHERE id = $1")
        .bind(id)
        .bind(practice_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many attempts came from `ip` at or after `since`.
pub async fn attempts_since(conn: &mut Conn, plan: PlanId, ip: &str, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM registration_attempts WHERE plan_id = $1 AND ip = $2 AND at >= $3")
        .bind(plan.0)
        .bind(ip)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?)
}

/// Records an attempt from `ip`, forgetting the plan's attempts older than `forget_before`.
pub async fn record_attempt(
    conn: &mut Conn,
    plan: PlanId,
    ip: &str,
    now: i64,
    forget_before: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM registration_attempts WHERE plan_id = $1 AND at < $2")
        .bind(plan.0)
        .bind(forget_before)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO registration_attempts (plan_id, ip, at) VALUES ($1, $2, $3)")
        .bind(plan.0)
        .bind(ip)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many requests of the plan wait for a decision.
pub async fn count_pending(conn: &mut Conn, plan: PlanId) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM registrations WHERE plan_id = $1 AND status = 'pending'")
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn statuses_round_trip() {
        for s in [Status::Pending, Status::Approved, Status::Denied] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("maybe"), None);
    }
}
