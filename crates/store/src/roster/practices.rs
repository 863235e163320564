//! Looking up one practice of the roster by Tax ID, with its providers.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// A practice on the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeRow {
    pub id: i64,
    pub tax_id: String,
    pub name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
}

/// The practice with this Tax ID, if the roster has it.
pub async fn by_tax_id(conn: &mut Conn, plan: PlanId, tax_id: &str) -> Result<Option<PracticeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, tax_id, name, address1, address2, city, state, zip, phone FROM practices \
         WHERE plan_id = $1 AND tax_id = $2",
    )
    .bind(plan.0)
    .bind(tax_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(PracticeRow {
            id: r.try_get("id")?,
            tax_id: r.try_get("tax_id")?,
            name: r.try_get("name")?,
            address1: r.try_get("address1")?,
            address2: r.try_get("address2")?,
            city: r.try_get("city")?,
            state: r.try_get("state")?,
            zip: r.try_get("zip")?,
            phone: r.try_get("phone")?,
        })
    })
    .transpose()
}

/// A provider of a practice, briefly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderBrief {
    /// The provider's row id.
    pub id: i64,
    pub provider_id: String,
    pub npi: String,
    pub kind: String,
    /// "First Last" for a practitioner, the organization's name otherwise.
    pub name: String,
}

/// The practice's providers that are not end-dated, by provider ID (at most `limit`), and how
/// many there are in all.
pub async fn providers_of(
    conn: &mut Conn,
    practice_id: i64,
    limit: i64,
) -> Result<(Vec<ProviderBrief>, i64), StoreError> {
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE practice_id = $1 AND end_dated_at IS NULL")
            .bind(practice_id)
            .fetch_one(&mut *conn)
            .await?;
    let rows = sqlx::query(
        "SELECT id, provider_id, npi, kind, first_name, last_name, org_name FROM providers \
         WHERE practice_id = $1 AND end_dated_at IS NULL ORDER BY provider_id LIMIT $2",
    )
    .bind(practice_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let list = rows
        .iter()
        .map(|r| {
            let org: String = r.try_get("org_name")?;
            let first: String = r.try_get("first_name")?;
            let last: String = r.try_get("last_name")?;
            let name = if org.is_empty() { format!("{first} {last}").trim().to_owned() } else { org };
            Ok(ProviderBrief {
                id: r.try_get("id")?,
                provider_id: r.try_get("provider_id")?,
                npi: r.try_get("npi")?,
                kind: r.try_get("kind")?,
                name,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((list, total))
}

/// A provider of a practice as compared with an association claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCandidate {
    pub id: i64,
    pub kind: String,
    pub first_name: String,
    pub last_name: String,
    pub org_name: String,
    pub zip: String,
    pub end_dated: bool,
}

/// The practice's provider with this provider ID (in capitals), end-dated or not.
pub async fn provider_in(
    conn: &mut Conn,
    practice_id: i64,
    provider_id: &str,
) -> Result<Option<ProviderCandidate>, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, first_name, last_name, org_name, zip, end_dated_at FROM providers \
         WHERE practice_id = $1 AND provider_id = $2",
    )
    .bind(practice_id)
    .bind(provider_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(ProviderCandidate {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            org_name: r.try_get("org_name")?,
            zip: r.try_get("zip")?,
            end_dated: r.try_get::<Option<i64>, _>("end_dated_at")?.is_some(),
        })
    })
    .transpose()
}

/// Which of `ids` are current (not end-dated) providers of the practice, each once, in
/// ascending order: one statement per [`AMONG_PER_STATEMENT`] distinct ids, so a long list sent
/// by a client costs a few statements, not one each.
pub async fn current_providers_among(conn: &mut Conn, practice_id: i64, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let mut found = Vec::with_capacity(distinct.len());
    for chunk in distinct.chunks(AMONG_PER_STATEMENT) {
        // A few statement shapes, not one per length: the list is padded to the next size by
        // repeating its last id, which `IN` does not mind.
        let size = AMONG_SIZES.iter().copied().find(|n| *n >= chunk.len()).unwrap_or(AMONG_PER_STATEMENT);
        let last = chunk.last().copied().unwrap_or_default();
        let padded = chunk.iter().copied().chain(std::iter::repeat(last)).take(size);
        let marks = (0..size).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT id FROM providers WHERE practice_id = $1 AND end_dated_at IS NULL AND id IN ({marks}) ORDER BY id"
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(practice_id);
        for id in padded {
            q = q.bind(id);
        }
        found.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// Ids per statement in [`current_providers_among`] (SQLite's parameter lookup grows with the
/// count; see `legacy::params_per_statement`).
const AMONG_PER_STATEMENT: usize = 200;

/// The list sizes [`current_providers_among`] sends, the last being [`AMONG_PER_STATEMENT`].
const AMONG_SIZES: [usize; 6] = [1, 4, 16, 50, 100, AMONG_PER_STATEMENT];

/// Serializes this transaction with every other that locks the same practice (a row lock on
/// PostgreSQL, held until commit; SQLite's write transaction already excludes all others). Used
/// by "the practice keeps an active administrator", which reads then writes.
pub async fn lock(conn: &mut Conn, practice_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE practices SET id = id WHERE id = $1").bind(practice_id).execute(&mut *conn).await?;
    Ok(())
}

/// The practice `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<PracticeRow>, StoreError> {
    let row = sqlx::query("SELECT tax_id FROM practices WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => by_tax_id(conn, plan, &r.try_get::<String, _>("tax_id")?).await,
        None => Ok(None),
    }
}

/// The practice's name.
pub async fn name(conn: &mut Conn, id: i64) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT name FROM practices WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?)
}
