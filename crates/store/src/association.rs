//! Association attempts (step 1 of self-service association): every attempt is kept, to throttle
//! per user and per Tax ID; a matched attempt is what step 2 or an access request uses, once.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// What an attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing on the roster matched.
    NoMatch,
    /// A provider matched and the practice has no administrator: step 2 may follow.
    Matched,
    /// A provider matched but the practice already has an administrator: an access request may follow.
    HasAdmin,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoMatch => "no_match",
            Self::Matched => "matched",
            Self::HasAdmin => "has_admin",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::NoMatch, Self::Matched, Self::HasAdmin].into_iter().find(|o| o.as_str() == s)
    }
}

/// An attempt to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub tax_id: &'a str,
    pub outcome: Outcome,
    pub practice_id: Option<i64>,
    /// The provider's row id for a practitioner; `None` for a group (all providers).
    pub provider_id: Option<i64>,
}

/// A stored attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub id: i64,
    pub user_id: UserId,
    pub outcome: Outcome,
    pub practice_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub at: i64,
    pub used_at: Option<i64>,
}

/// Stores an attempt; returns its id.
pub async fn record(conn: &mut Conn, a: &NewAttempt<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO association_attempts (plan_id, user_id, tax_id, outcome, practice_id, provider_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(a.plan_id.0)
    .bind(a.user_id.0)
    .bind(a.tax_id)
    .bind(a.outcome.as_str())
    .bind(a.practice_id)
    .bind(a.provider_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// How many attempts of the user since `since` did not match.
pub async fn count_failed_by_user(conn: &mut Conn, plan: PlanId, user: UserId, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM association_attempts WHERE plan_id = $1 AND user_id = $2 AND at >= $3 \
         AND outcome = 'no_match'",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// How many attempts named the Tax ID since `since`, by anyone, that did not match.
pub async fn count_failed_by_tax_id(
    conn: &mut Conn,
    plan: PlanId,
    tax_id: &str,
    since: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM association_attempts WHERE plan_id = $1 AND tax_id = $2 AND at >= $3 \
         AND outcome = 'no_match'",
    )
    .bind(plan.0)
    .bind(tax_id)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// The user's attempt `id`.
pub async fn get(conn: &mut Conn, plan: PlanId, user: UserId, id: i64) -> Result<Option<AttemptRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, outcome, practice_id, provider_id, at, used_at FROM association_attempts \
         WHERE plan_id = $1 AND user_id = $2 AND id = $3",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let outcome: String = r.try_get("outcome")?;
        Ok(AttemptRow {
            id: r.try_get("id")?,
            user_id: UserId(r.try_get("user_id")?),
            outcome: Outcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("association outcome {outcome:?}")))?,
            practice_id: r.try_get("practice_id")?,
            provider_id: r.try_get("provider_id")?,
            at: r.try_get("at")?,
            used_at: r.try_get("used_at")?,
        })
    })
    .transpose()
}

/// Marks the attempt used; false if it already was (a double submit).
pub async fn mark_used(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE association_attempts SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
