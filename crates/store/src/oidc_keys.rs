//! The plans' OpenID Connect signing keys (`oidc_signing_keys`). The private key is stored sealed
//! (the services seal and open it); this module never sees it in the clear.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use gatehouse_domain::oidc_keys::{Kid, SigningAlg};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub alg: SigningAlg,
    pub generation: i64,
    pub kid: Kid,
    /// The public key as a JWK (JSON text), `kid`, `alg` and `use` included.
    pub public_jwk: String,
    /// The private key, sealed (see `gatehouse_services::sealing`).
    pub private_sealed: String,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
    pub retire_after: Option<i64>,
}

const COLUMNS: &str = "id, plan_id, alg, generation, kid, public_jwk, private_sealed, created_at, active_from, \
                       retired_at, retire_after";

fn from_row(r: &AnyRow) -> Result<SigningKeyRow, StoreError> {
    let alg: String = r.try_get("alg")?;
    let kid: String = r.try_get("kid")?;
    Ok(SigningKeyRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        alg: SigningAlg::parse(&alg).ok_or_else(|| StoreError::Corrupt(format!("signing key algorithm {alg:?}")))?,
        generation: r.try_get("generation")?,
        kid: Kid::parse(&kid).ok_or_else(|| StoreError::Corrupt(format!("signing key id {kid:?}")))?,
        public_jwk: r.try_get("public_jwk")?,
        private_sealed: r.try_get("private_sealed")?,
        created_at: r.try_get("created_at")?,
        active_from: r.try_get("active_from")?,
        retired_at: r.try_get("retired_at")?,
        retire_after: r.try_get("retire_after")?,
    })
}

/// A key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSigningKey<'a> {
    pub plan_id: PlanId,
    pub alg: SigningAlg,
    pub generation: i64,
    pub kid: &'a Kid,
    pub public_jwk: &'a str,
    pub private_sealed: &'a str,
    pub active_from: i64,
}

/// Stores a key. Fails with a unique violation ([`StoreError::is_unique_violation`]) when the
/// plan's line already has this generation: another instance made it first.
pub async fn insert(conn: &mut Conn, k: &NewSigningKey<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO oidc_signing_keys (plan_id, alg, generation, kid, public_jwk, private_sealed, created_at, \
         active_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(k.plan_id.0)
    .bind(k.alg.as_str())
    .bind(k.generation)
    .bind(k.kid.as_str())
    .bind(k.public_jwk)
    .bind(k.private_sealed)
    .bind(now)
    .bind(k.active_from)
    .fetch_one(&mut *conn)
    .await?)
}

/// The plan's keys (every algorithm, retired ones too), oldest generation first.
pub async fn list(conn: &mut Conn, plan: PlanId) -> Result<Vec<SigningKeyRow>, StoreError> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM oidc_signing_keys WHERE plan_id = $1 ORDER BY alg, generation"))
            .bind(plan.0)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// Marks the plan's key of `alg` and `generation` retired (replaced) at `now`, leaving the JWKS
/// at `retire_after`. Returns whether it was still unretired.
pub async fn retire(
    conn: &mut Conn,
    plan: PlanId,
    alg: SigningAlg,
    generation: i64,
    now: i64,
    retire_after: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oidc_signing_keys SET retired_at = $4, retire_after = $5 \
         WHERE plan_id = $1 AND alg = $2 AND generation = $3 AND retired_at IS NULL",
    )
    .bind(plan.0)
    .bind(alg.as_str())
    .bind(generation)
    .bind(now)
    .bind(retire_after)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the plan's keys whose tokens have all expired (`retire_after` at or before `now`);
/// returns their kids.
pub async fn delete_expired(conn: &mut Conn, plan: PlanId, now: i64) -> Result<Vec<String>, StoreError> {
    let kids: Vec<String> = sqlx::query_scalar(
        "DELETE FROM oidc_signing_keys WHERE plan_id = $1 AND retire_after IS NOT NULL AND retire_after <= $2 \
         RETURNING kid",
    )
    .bind(plan.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    Ok(kids)
}
