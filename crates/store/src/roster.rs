//! The provider roster: practices by Tax ID and their providers; bulk loads and writes for
//! imports, the record of past imports, and search.

pub mod bulk;
pub mod imports;
pub mod load;
pub mod practices;
pub mod search;

use crate::{Conn, StoreError};
use gatehouse_domain::roster::{ProviderKind, Zip};
use gatehouse_domain::{Npi, PlanId, TaxId};

/// A practice to store.
#[derive(Debug, Clone)]
pub struct NewPractice<'a> {
    pub plan_id: PlanId,
    pub tax_id: &'a TaxId,
    pub name: &'a str,
    pub address1: &'a str,
    pub address2: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a Zip,
    pub phone: &'a str,
}

/// Stores a practice and returns its id.
pub async fn insert_practice(conn: &mut Conn, p: &NewPractice<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(p.plan_id.0)
    .bind(p.tax_id.as_str())
    .bind(p.name)
    .bind(p.address1)
    .bind(p.address2)
    .bind(p.city)
    .bind(p.state)
    .bind(p.zip.as_str())
    .bind(p.phone)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// A provider to store.
#[derive(Debug, Clone)]
pub struct NewProvider<'a> {
    pub plan_id: PlanId,
    pub practice_id: i64,
    pub provider_id: &'a str,
    pub npi: &'a Npi,
    pub kind: ProviderKind,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub org_name: &'a str,
    pub address1: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a Zip,
    pub group_provider_id: Option<&'a str>,
}

/// Stores a provider and returns its id.
pub async fn insert_provider(conn: &mut Conn, p: &NewProvider<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, \
         address1, city, state, zip, group_provider_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(p.plan_id.0)
    .bind(p.practice_id)
    .bind(p.provider_id)
    .bind(p.npi.as_str())
    .bind(p.kind.as_str())
    .bind(p.first_name)
    .bind(p.last_name)
    .bind(p.org_name)
    .bind(p.address1)
    .bind(p.city)
    .bind(p.state)
    .bind(p.zip.as_str())
    .bind(p.group_provider_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// How many practices and providers (not end-dated) a plan's roster holds.
pub async fn counts(conn: &mut Conn, plan: PlanId) -> Result<(i64, i64), StoreError> {
    let practices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM practices WHERE plan_id = $1")
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?;
    let providers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE plan_id = $1 AND end_dated_at IS NULL")
            .bind(plan.0)
            .fetch_one(&mut *conn)
            .await?;
    Ok((practices, providers))
}
