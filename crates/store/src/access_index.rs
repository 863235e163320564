//! What the permission index is built from: a plan's (or one user's) affiliations with their
//! provider scope, the users who hold them, the practices' Tax IDs and the providers. A few
//! set-based queries per plan; the services build the in-memory index from the rows.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// A user who holds at least one affiliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexUser {
    pub id: i64,
    /// The username in lower case (`None` until the user has signed up).
    pub username_lower: Option<String>,
    /// Whether the user's status is `active`.
    pub active: bool,
}

/// An affiliation as the index needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAffiliation {
    pub id: i64,
    pub user_id: i64,
    pub practice_id: i64,
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
}

/// A practice and its Tax ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPractice {
    pub id: i64,
    pub tax_id: String,
}

/// A provider of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexProvider {
    /// The row id (`providers.id`).
    pub id: i64,
    pub practice_id: i64,
    /// The provider ID, in capitals.
    pub provider_id: String,
    pub npi: String,
    pub end_dated: bool,
}

/// Everything the index of a plan (or of one user) is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRows {
    pub users: Vec<IndexUser>,
    pub affiliations: Vec<IndexAffiliation>,
    /// (affiliation id, provider row id) of affiliations that do not cover all providers.
    pub scopes: Vec<(i64, i64)>,
    pub practices: Vec<IndexPractice>,
    pub providers: Vec<IndexProvider>,
}

const USERS: &str = "SELECT u.id, u.username_lower, u.status FROM users u WHERE u.plan_id = $1 \
     AND EXISTS (SELECT 1 FROM affiliations a WHERE a.user_id = u.id)";
const AFFILIATIONS: &str =
    "SELECT id, user_id, practice_id, user_type, is_admin, all_providers FROM affiliations WHERE plan_id = $1";
const SCOPES: &str = "SELECT ap.affiliation_id, ap.provider_id FROM affiliation_providers ap \
     JOIN affiliations a ON a.id = ap.affiliation_id WHERE a.plan_id = $1 AND a.all_providers = 0";
const PRACTICES: &str = "SELECT id, tax_id FROM practices WHERE plan_id = $1";
const PROVIDERS: &str = "SELECT id, practice_id, provider_id, npi, \
     CASE WHEN end_dated_at IS NULL THEN 0 ELSE 1 END AS end_dated FROM providers WHERE plan_id = $1";

/// The whole plan: users with affiliations, affiliations, scopes, practices and providers.
pub async fn plan(conn: &mut Conn, plan: PlanId) -> Result<IndexRows, StoreError> {
    Ok(IndexRows {
        users: users(conn, USERS, plan, None).await?,
        affiliations: affiliations(conn, AFFILIATIONS, plan, None).await?,
        scopes: scopes(conn, SCOPES, plan, None).await?,
        practices: practices(conn, PRACTICES, plan, None).await?,
        providers: providers(conn, plan).await?,
    })
}

/// One user of the plan: their row (if they hold any affiliation), affiliations, scopes, and
/// the practices of those affiliations (a practice added since the plan was loaded, e.g. by a
/// registration approval, comes with them). No providers.
pub async fn user(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<IndexRows, StoreError> {
    let u = Some(user);
    Ok(IndexRows {
        users: users(conn, &format!("{USERS} AND u.id = $2"), plan, u).await?,
        affiliations: affiliations(conn, &format!("{AFFILIATIONS} AND user_id = $2"), plan, u).await?,
        scopes: scopes(conn, &format!("{SCOPES} AND a.user_id = $2"), plan, u).await?,
        practices: practices(
            conn,
            &format!("{PRACTICES} AND id IN (SELECT practice_id FROM affiliations WHERE user_id = $2)"),
            plan,
            u,
        )
        .await?,
        providers: Vec::new(),
    })
}

async fn fetch(
    conn: &mut Conn,
    sql: &str,
    plan: PlanId,
    user: Option<UserId>,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut q = sqlx::query(sql).bind(plan.0);
    if let Some(u) = user {
        q = q.bind(u.0);
    }
    Ok(q.fetch_all(&mut *conn).await?)
}

async fn users(conn: &mut Conn, sql: &str, plan: PlanId, user: Option<UserId>) -> Result<Vec<IndexUser>, StoreError> {
    fetch(conn, sql, plan, user)
        .await?
        .iter()
        .map(|r| {
            let status: String = r.try_get(2)?;
            Ok(IndexUser { id: r.try_get(0)?, username_lower: r.try_get(1)?, active: status == "active" })
        })
        .collect()
}

async fn affiliations(
    conn: &mut Conn,
    sql: &str,
    plan: PlanId,
    user: Option<UserId>,
) -> Result<Vec<IndexAffiliation>, StoreError> {
    fetch(conn, sql, plan, user)
        .await?
        .iter()
        .map(|r| {
            Ok(IndexAffiliation {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                practice_id: r.try_get(2)?,
                user_type: r.try_get(3)?,
                is_admin: r.try_get::<i64, _>(4)? != 0,
                all_providers: r.try_get::<i64, _>(5)? != 0,
            })
        })
        .collect()
}

async fn scopes(conn: &mut Conn, sql: &str, plan: PlanId, user: Option<UserId>) -> Result<Vec<(i64, i64)>, StoreError> {
    fetch(conn, sql, plan, user).await?.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

async fn practices(
    conn: &mut Conn,
    sql: &str,
    plan: PlanId,
    user: Option<UserId>,
) -> Result<Vec<IndexPractice>, StoreError> {
    fetch(conn, sql, plan, user)
        .await?
        .iter()
        .map(|r| Ok(IndexPractice { id: r.try_get(0)?, tax_id: r.try_get(1)? }))
        .collect()
}

async fn providers(conn: &mut Conn, plan: PlanId) -> Result<Vec<IndexProvider>, StoreError> {
    fetch(conn, PROVIDERS, plan, None)
        .await?
        .iter()
        .map(|r| {
            Ok(IndexProvider {
                id: r.try_get(0)?,
                practice_id: r.try_get(1)?,
                provider_id: r.try_get(2)?,
                npi: r.try_get(3)?,
                end_dated: r.try_get::<i64, _>(4)? != 0,
            })
        })
        .collect()
}

/// A row of the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessChange {
    pub seq: i64,
    pub plan_id: PlanId,
    /// `None`: the whole plan.
    pub user_id: Option<UserId>,
}

/// Changes after `seq`, oldest first, at most `limit`.
pub async fn changes_after(conn: &mut Conn, seq: i64, limit: i64) -> Result<Vec<AccessChange>, StoreError> {
    let rows = sqlx::query("SELECT seq, plan_id, user_id FROM access_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(seq)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AccessChange {
                seq: r.try_get(0)?,
                plan_id: PlanId(r.try_get(1)?),
                user_id: r.try_get::<Option<i64>, _>(2)?.map(UserId),
            })
        })
        .collect()
}

/// The newest change's sequence number (0 when there is none).
pub async fn last_seq(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM access_changes")
        .fetch_one(&mut *conn)
        .await?
        .unwrap_or(0))
}

/// An affiliation as the access listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    pub affiliation_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
}

/// A provider an affiliation lists: (affiliation id, provider ID, NPI).
pub type ScopeRow = (i64, String, String);

/// The user's affiliations with their practices, by Tax ID.
pub async fn access_of(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<Vec<AccessRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id, p.tax_id, p.name, a.user_type, a.is_admin, a.all_providers FROM affiliations a \
         JOIN practices p ON p.id = a.practice_id WHERE a.plan_id = $1 AND a.user_id = $2 ORDER BY p.tax_id, a.id",
    )
    .bind(plan.0)
    .bind(user.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccessRow {
                affiliation_id: r.try_get(0)?,
                tax_id: r.try_get(1)?,
                practice_name: r.try_get(2)?,
                user_type: r.try_get(3)?,
                is_admin: r.try_get::<i64, _>(4)? != 0,
                all_providers: r.try_get::<i64, _>(5)? != 0,
            })
        })
        .collect()
}

/// The providers listed by the user's affiliations that do not cover all providers.
pub async fn scope_of(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<Vec<ScopeRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT ap.affiliation_id, pr.provider_id, pr.npi FROM affiliation_providers ap \
         JOIN affiliations a ON a.id = ap.affiliation_id JOIN providers pr ON pr.id = ap.provider_id \
         WHERE a.plan_id = $1 AND a.user_id = $2 AND a.all_providers = 0 ORDER BY ap.affiliation_id, pr.provider_id",
    )
    .bind(plan.0)
    .bind(user.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}
