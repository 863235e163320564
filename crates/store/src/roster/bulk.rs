//! The roster as an import sees it, and bulk writes for imports: multi-row `INSERT … VALUES
//! (…), (…)` batches (the same SQL on both databases), and one `UPDATE` per row that really
//! changed. Loading is in [`super::load`].
//!
//! Batch sizes differ by database, not the SQL. SQLite treats `$n` as a *named* parameter and
//! finds each one's name by walking a list, so binding a statement of n parameters costs
//! O(n²): measured on 100,000 providers, 1,000-row batches (16,000 parameters) took 18 s where
//! 16-row batches took 2 s. PostgreSQL has no such cost and gains from fewer round trips.

use crate::{Conn, DbKind, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// Bound parameters one statement may never exceed: SQLite's limit is 32,766 (PostgreSQL's
/// 65,535).
pub const MAX_PARAMS: usize = 32_000;

/// Bound parameters per statement on SQLite (see the module documentation).
const SQLITE_PARAMS: usize = 256;

/// Bound parameters per statement on PostgreSQL.
const POSTGRES_PARAMS: usize = 8_000;

/// A practice's values that an import keeps current.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PracticeValues {
    pub name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
}

/// A practice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeRecord {
    pub id: i64,
    pub tax_id: String,
    pub values: PracticeValues,
}

/// A provider's values as an import writes and compares them (its practice aside).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderValues {
    pub provider_id: String,
    pub npi: String,
    pub kind: String,
    pub first_name: String,
    pub last_name: String,
    pub org_name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
    pub vendor_id: Option<String>,
    pub office_id: Option<String>,
    pub group_provider_id: Option<String>,
}

/// A provider as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub id: i64,
    pub practice_id: i64,
    pub values: ProviderValues,
    /// When an import found it missing; `None` while it is on the roster.
    pub end_dated_at: Option<i64>,
}

/// Writes the placeholders of `rows` rows of `per_row` parameters each, numbered from `$3`,
/// with `$1` (the plan) first and `$2` (now) last in every row: `($1, $3, $4, $2), ($1, $5, $6, $2)`.
fn values_rows(rows: usize, per_row: usize, now_columns: usize) -> String {
    let mut sql = String::with_capacity(rows * per_row * 6);
    let mut n = 3;
    for r in 0..rows {
        sql.push_str(if r == 0 { "($1" } else { ", ($1" });
        for _ in 0..per_row {
            sql.push_str(", $");
            sql.push_str(&n.to_string());
            n += 1;
        }
        for _ in 0..now_columns {
            sql.push_str(", $2");
        }
        sql.push(')');
    }
    sql
}

/// Rows per statement for `per_row` parameters each, on this connection's database.
fn batch_rows(conn: &Conn, per_row: usize) -> usize {
    let params = match DbKind::of(conn) {
        DbKind::Sqlite => SQLITE_PARAMS,
        DbKind::Postgres => POSTGRES_PARAMS,
    };
    ((params.min(MAX_PARAMS) - 2) / per_row.max(1)).max(1)
}

/// Takes the plan's import lock for the rest of the transaction, so that two imports of one
/// plan run one after the other.
pub async fn lock_for_import(conn: &mut Conn, plan: PlanId, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO roster_import_locks (plan_id, locked_at) VALUES ($1, $2) \
         ON CONFLICT (plan_id) DO UPDATE SET locked_at = excluded.locked_at",
    )
    .bind(plan.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores new practices and returns each one's `(tax_id, id)`.
pub async fn insert_practices(
    conn: &mut Conn,
    plan: PlanId,
    practices: &[(&str, &PracticeValues)],
    now: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    const PER_ROW: usize = 8;
    let mut ids = Vec::with_capacity(practices.len());
    for batch in practices.chunks(batch_rows(conn, PER_ROW)) {
        let sql = format!(
            "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, \
             created_at, updated_at) VALUES {} RETURNING tax_id, id",
            values_rows(batch.len(), PER_ROW, 2)
        );
        let mut q = sqlx::query(&sql).bind(plan.0).bind(now);
        for (tax_id, v) in batch {
            q = q.bind(*tax_id).bind(&v.name).bind(&v.address1).bind(&v.address2).bind(&v.city);
            q = q.bind(&v.state).bind(&v.zip).bind(&v.phone);
        }
        for r in q.fetch_all(&mut *conn).await? {
            ids.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    Ok(ids)
}

/// Replaces a practice's values.
pub async fn update_practice(conn: &mut Conn, id: i64, v: &PracticeValues, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE practices SET name = $2, address1 = $3, address2 = $4, city = $5, state = $6, zip = $7, \
         phone = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(id)
    .bind(&v.name)
    .bind(&v.address1)
    .bind(&v.address2)
    .bind(&v.city)
    .bind(&v.state)
    .bind(&v.zip)
    .bind(&v.phone)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores new providers, each with the id of its practice.
pub async fn insert_providers(
    conn: &mut Conn,
    plan: PlanId,
    providers: &[(i64, &ProviderValues)],
    now: i64,
) -> Result<(), StoreError> {
    const PER_ROW: usize = 16;
    for batch in providers.chunks(batch_rows(conn, PER_ROW)) {
        let sql = format!(
            "INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, \
             address1, address2, city, state, zip, phone, vendor_id, office_id, group_provider_id, created_at, \
             updated_at) VALUES {}",
            values_rows(batch.len(), PER_ROW, 2)
        );
        let mut q = sqlx::query(&sql).bind(plan.0).bind(now);
        for (practice_id, v) in batch {
            q = q.bind(*practice_id).bind(&v.provider_id).bind(&v.npi).bind(&v.kind).bind(&v.first_name);
            q = q.bind(&v.last_name).bind(&v.org_name).bind(&v.address1).bind(&v.address2).bind(&v.city);
            q = q.bind(&v.state).bind(&v.zip).bind(&v.phone).bind(&v.vendor_id).bind(&v.office_id);
            q = q.bind(&v.group_provider_id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces a provider's values and practice, and clears its end date.
pub async fn update_provider(
    conn: &mut Conn,
    id: i64,
    practice_id: i64,
    v: &ProviderValues,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE providers SET practice_id = $2, npi = $3, kind = $4, first_name = $5, last_name = $6, \
         org_name = $7, address1 = $8, address2 = $9, city = $10, state = $11, zip = $12, phone = $13, \
         vendor_id = $14, office_id = $15, group_provider_id = $16, end_dated_at = NULL, updated_at = $17 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(practice_id)
    .bind(&v.npi)
    .bind(&v.kind)
    .bind(&v.first_name)
    .bind(&v.last_name)
    .bind(&v.org_name)
    .bind(&v.address1)
    .bind(&v.address2)
    .bind(&v.city)
    .bind(&v.state)
    .bind(&v.zip)
    .bind(&v.phone)
    .bind(&v.vendor_id)
    .bind(&v.office_id)
    .bind(&v.group_provider_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// End-dates providers (by row id) that are not end-dated yet.
pub async fn end_date_providers(conn: &mut Conn, plan: PlanId, ids: &[i64], now: i64) -> Result<(), StoreError> {
    for batch in ids.chunks(batch_rows(conn, 1)) {
        let list = (0..batch.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE providers SET end_dated_at = $2, updated_at = $2 \
             WHERE plan_id = $1 AND end_dated_at IS NULL AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql).bind(plan.0).bind(now);
        for id in batch {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_share_plan_and_time() {
        assert_eq!(values_rows(2, 2, 1), "($1, $3, $4, $2), ($1, $5, $6, $2)");
        assert_eq!(values_rows(1, 1, 2), "($1, $3, $2, $2)");
    }

    #[test]
    fn batches_stay_under_the_sqlite_limit() {
        for params in [SQLITE_PARAMS, POSTGRES_PARAMS] {
            assert!(params <= MAX_PARAMS && MAX_PARAMS < 32_766);
        }
    }
}
