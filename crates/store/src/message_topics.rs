//! The plan's list of secure-message topics (`message_topics`, migration 0027). Every query is
//! bounded by the plan; the services decide who may change the list and check its rules.

use crate::{Conn, StoreError};
use gatehouse_domain::message_topics::{TopicCode, TopicLabel};
use gatehouse_domain::{PlanId, TopicId};
use sqlx::Row;

/// One topic of a plan's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRow {
    pub id: TopicId,
    pub code: TopicCode,
    pub label: String,
    /// Its place in the list (smallest first); not necessarily consecutive.
    pub position: i64,
    /// When it was retired, if it is.
    pub retired_at: Option<i64>,
    pub created_at: i64,
}

impl TopicRow {
    /// Whether new threads may have this topic.
    pub fn active(&self) -> bool {
        self.retired_at.is_none()
    }
}

fn row_from(r: &sqlx::any::AnyRow) -> Result<TopicRow, StoreError> {
    let code: String = r.try_get("code")?;
    Ok(TopicRow {
        id: TopicId(r.try_get("id")?),
        code: TopicCode::parse(&code).map_err(|_| StoreError::Corrupt(format!("topic code {code:?}")))?,
        label: r.try_get("label")?,
        position: r.try_get("position")?,
        retired_at: r.try_get("retired_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const COLUMNS: &str = "id, code, label, position, retired_at, created_at";

/// Every topic of the plan, retired ones included, in list order.
pub async fn list(conn: &mut Conn, plan: PlanId) -> Result<Vec<TopicRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM message_topics WHERE plan_id = $1 ORDER BY position, id"))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(row_from).collect()
}

/// The topic `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: TopicId) -> Result<Option<TopicRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM message_topics WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(row_from).transpose()
}

/// Adds `topics` (code and label) to the plan after its last topic, in order, skipping codes it
/// has already. Returns how many were added.
pub async fn insert_all(
    conn: &mut Conn,
    plan: PlanId,
    topics: &[(TopicCode, &str)],
    now: i64,
) -> Result<u64, StoreError> {
    let mut added = 0;
    for (code, label) in topics {
        let r = sqlx::query(
            "INSERT INTO message_topics (plan_id, code, label, position, created_at) \
             SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4 FROM message_topics WHERE plan_id = $1 \
             ON CONFLICT (plan_id, code) DO NOTHING",
        )
        .bind(plan.0)
        .bind(code.as_str())
        .bind(*label)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        added += r.rows_affected();
    }
    Ok(added)
}

/// Adds a topic at the end of the plan's list; returns its id.
pub async fn insert(
    conn: &mut Conn,
    plan: PlanId,
    code: &TopicCode,
    label: &TopicLabel,
    now: i64,
) -> Result<TopicId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO message_topics (plan_id, code, label, position, created_at) \
         SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4 FROM message_topics WHERE plan_id = $1 \
         RETURNING id",
    )
    .bind(plan.0)
    .bind(code.as_str())
    .bind(label.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(TopicId(id))
}

/// Gives the topic a new label.
pub async fn set_label(conn: &mut Conn, plan: PlanId, id: TopicId, label: &TopicLabel) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_topics SET label = $3 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(label.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Retires the topic (at `retired_at`) or, with `None`, restores it.
pub async fn set_retired(
    conn: &mut Conn,
    plan: PlanId,
    id: TopicId,
    retired_at: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_topics SET retired_at = $3 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(retired_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Puts the topic at `position` in the list.
pub async fn set_position(conn: &mut Conn, plan: PlanId, id: TopicId, position: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_topics SET position = $3 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(position)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
