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
        "SELECT provider_id, npi, kind, first_name, last_name, org_name FROM providers \
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
                provider_id: r.try_get("provider_id")?,
                npi: r.try_get("npi")?,
                kind: r.try_get("kind")?,
                name,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((list, total))
}
