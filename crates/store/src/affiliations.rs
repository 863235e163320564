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
