//! Past roster imports and their change reports.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How many provider lines an import added, changed, end-dated, left alone and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportCounts {
    pub lines: i64,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// An import to record.
#[derive(Debug, Clone)]
pub struct NewImport<'a> {
    pub plan_id: PlanId,
    pub at: i64,
    pub actor: Option<UserId>,
    pub file_name: &'a str,
    pub file_sha256: &'a str,
    /// `imported` or `refused`.
    pub outcome: &'a str,
    pub counts: ImportCounts,
    /// The change report, as JSON.
    pub report: &'a str,
}

/// A recorded import, without its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub id: i64,
    pub at: i64,
    pub actor: Option<UserId>,
    pub file_name: String,
    pub file_sha256: String,
    pub outcome: String,
    pub counts: ImportCounts,
}

const COLUMNS: &str =
    "id, at, actor_user_id, file_name, file_sha256, outcome, lines, added, changed, removed, unchanged, rejected";

fn from_row(r: &AnyRow) -> Result<ImportRow, StoreError> {
    Ok(ImportRow {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        actor: r.try_get::<Option<i64>, _>(2)?.map(UserId),
        file_name: r.try_get(3)?,
        file_sha256: r.try_get(4)?,
        outcome: r.try_get(5)?,
        counts: ImportCounts {
            lines: r.try_get(6)?,
            added: r.try_get(7)?,
            changed: r.try_get(8)?,
            removed: r.try_get(9)?,
            unchanged: r.try_get(10)?,
            rejected: r.try_get(11)?,
        },
    })
}

/// Records an import and returns its id.
pub async fn insert(conn: &mut Conn, i: &NewImport<'_>) -> Result<i64, StoreError> {
    let c = i.counts;
    Ok(sqlx::query_scalar(
        "INSERT INTO roster_imports (plan_id, at, actor_user_id, file_name, file_sha256, outcome, lines, added, \
         changed, removed, unchanged, rejected, report) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(i.plan_id.0)
    .bind(i.at)
    .bind(i.actor.map(|u| u.0))
    .bind(i.file_name)
    .bind(i.file_sha256)
    .bind(i.outcome)
    .bind(c.lines)
    .bind(c.added)
    .bind(c.changed)
    .bind(c.removed)
    .bind(c.unchanged)
    .bind(c.rejected)
    .bind(i.report)
    .fetch_one(&mut *conn)
    .await?)
}

/// A plan's newest imports first.
pub async fn recent(conn: &mut Conn, plan: PlanId, limit: i64) -> Result<Vec<ImportRow>, StoreError> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM roster_imports WHERE plan_id = $1 ORDER BY id DESC LIMIT $2"))
            .bind(plan.0)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// One import of a plan with its report (JSON).
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<(ImportRow, String)>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS}, report FROM roster_imports WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(Some((from_row(&r)?, r.try_get(12)?))),
        None => Ok(None),
    }
}
