//! Affiliations: which practices (Tax IDs) a user acts for, in what user type, whether as the
//! practice's administrator, and whether for all of its providers.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId, UserStatus};
use sqlx::Row;

/// An affiliation to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAffiliation<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub practice_id: i64,
    /// The user type's stored name, e.g. `office_manager`.
    pub user_type: &'a str,
    pub is_admin: bool,
    pub all_providers: bool,
}

/// Stores an affiliation. Returns false, changing nothing, if the user is already affiliated
/// with the practice.
pub async fn insert(conn: &mut Conn, a: &NewAffiliation<'_>, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, practice_id) DO NOTHING",
    )
    .bind(a.plan_id.0)
    .bind(a.user_id.0)
    .bind(a.practice_id)
    .bind(a.user_type)
    .bind(i64::from(a.is_admin))
    .bind(i64::from(a.all_providers))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Makes an existing affiliation an administrator's, for all of the practice's providers.
pub async fn make_admin(conn: &mut Conn, plan: PlanId, user: UserId, practice_id: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE affiliations SET is_admin = 1, all_providers = 1 WHERE plan_id = $1 AND user_id = $2 AND practice_id = $3",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(practice_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How many active users administer the practice.
pub async fn count_active_admins(conn: &mut Conn, practice_id: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.practice_id = $1 AND a.is_admin = 1 AND u.status = 'active'",
    )
    .bind(practice_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// An administrator of a practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeAdmin {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub status: UserStatus,
}

/// The practice's administrators who are active or invited (not yet signed up), by last name.
pub async fn admins_of(conn: &mut Conn, practice_id: i64) -> Result<Vec<PracticeAdmin>, StoreError> {
    let rows = sqlx::query(
        "SELECT u.id, u.first_name, u.last_name, u.email, u.status FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.practice_id = $1 AND a.is_admin = 1 AND u.status IN ('active', 'invited') \
         ORDER BY u.last_name, u.first_name, u.id",
    )
    .bind(practice_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            Ok(PracticeAdmin {
                user_id: UserId(r.try_get("id")?),
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                email: r.try_get("email")?,
                status: UserStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("user status {status:?}")))?,
            })
        })
        .collect()
}

/// An affiliation with its practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffiliationRow {
    pub id: i64,
    pub user_id: UserId,
    pub practice_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    pub created_at: i64,
}

const SELECT: &str = "SELECT a.id, a.user_id, a.practice_id, p.tax_id, p.name AS practice_name, a.user_type, \
     a.is_admin, a.all_providers, a.created_at FROM affiliations a JOIN practices p ON p.id = a.practice_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<AffiliationRow, StoreError> {
    Ok(AffiliationRow {
        id: r.try_get("id")?,
        user_id: UserId(r.try_get("user_id")?),
        practice_id: r.try_get("practice_id")?,
        tax_id: r.try_get("tax_id")?,
        practice_name: r.try_get("practice_name")?,
        user_type: r.try_get("user_type")?,
        is_admin: r.try_get::<i64, _>("is_admin")? != 0,
        all_providers: r.try_get::<i64, _>("all_providers")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

/// The user's affiliations, by practice name.
pub async fn of_user(conn: &mut Conn, user: UserId) -> Result<Vec<AffiliationRow>, StoreError> {
    let rows = sqlx::query(&format!("{SELECT} WHERE a.user_id = $1 ORDER BY p.name, a.id"))
        .bind(user.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The affiliation `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<AffiliationRow>, StoreError> {
    let row = sqlx::query(&format!("{SELECT} WHERE a.plan_id = $1 AND a.id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user's affiliation with the practice.
pub async fn of_user_at(conn: &mut Conn, user: UserId, practice_id: i64) -> Result<Option<AffiliationRow>, StoreError> {
    let row = sqlx::query(&format!("{SELECT} WHERE a.user_id = $1 AND a.practice_id = $2"))
        .bind(user.0)
        .bind(practice_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Sets or clears the administrator flag; false if the affiliation is gone.
pub async fn set_admin(conn: &mut Conn, id: i64, admin: bool) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE affiliations SET is_admin = $1 WHERE id = $2")
        .bind(i64::from(admin))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Covers all of the practice's providers, or only the listed ones (the list is replaced).
pub async fn set_scope(conn: &mut Conn, id: i64, all: bool, providers: &[i64]) -> Result<(), StoreError> {
    sqlx::query("UPDATE affiliations SET all_providers = $1 WHERE id = $2")
        .bind(i64::from(all))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM affiliation_providers WHERE affiliation_id = $1").bind(id).execute(&mut *conn).await?;
    if !all {
        for p in providers {
            add_provider(conn, id, *p).await?;
        }
    }
    Ok(())
}

/// Adds one provider to an affiliation's list; false if it was already there.
pub async fn add_provider(conn: &mut Conn, id: i64, provider_row: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO affiliation_providers (affiliation_id, provider_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(provider_row)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes an affiliation and its provider list.
pub async fn delete(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM affiliation_providers WHERE affiliation_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("UPDATE sessions SET active_affiliation_id = NULL WHERE active_affiliation_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let r = sqlx::query("DELETE FROM affiliations WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

/// A provider an affiliation covers: (row id, provider ID, NPI, name).
pub type ScopedProvider = (i64, String, String, String);

/// The providers listed for an affiliation (empty when it covers all), by provider ID.
pub async fn providers_of(conn: &mut Conn, id: i64) -> Result<Vec<ScopedProvider>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.id, v.provider_id, v.npi, v.first_name, v.last_name, v.org_name FROM affiliation_providers s \
         JOIN providers v ON v.id = s.provider_id WHERE s.affiliation_id = $1 ORDER BY v.provider_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let org: String = r.try_get("org_name")?;
            let name = if org.is_empty() {
                format!("{} {}", r.try_get::<String, _>("first_name")?, r.try_get::<String, _>("last_name")?)
                    .trim()
                    .to_owned()
            } else {
                org
            };
            Ok((r.try_get("id")?, r.try_get("provider_id")?, r.try_get("npi")?, name))
        })
        .collect()
}

/// How many active users are affiliated with the practice.
pub async fn count_active_members(conn: &mut Conn, practice_id: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.practice_id = $1 AND u.status = 'active'",
    )
    .bind(practice_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Changes an affiliation's user type.
pub async fn set_user_type(conn: &mut Conn, id: i64, user_type: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE affiliations SET user_type = $1 WHERE id = $2")
        .bind(user_type)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the user administers at least one practice.
pub async fn administers_any(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM affiliations WHERE plan_id = $1 AND user_id = $2 AND is_admin = 1")
            .bind(plan.0)
            .bind(user.0)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}
