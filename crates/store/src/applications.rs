//! Portal applications: the clients that ask the permission check API and sign people in with
//! OpenID Connect. Only the SHA-256 of a confidential application's secret is stored (a public
//! one stores an empty text, which no hash equals); redirect URIs are JSON arrays kept exactly as
//! registered.

use crate::{Conn, StoreError};
use gatehouse_domain::client_registration::{ClientType, IdTokenAlg, Registration};
use gatehouse_domain::redirect_uri::RedirectUri;
use gatehouse_domain::scopes::ScopeSet;
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub name: String,
    pub client_id: String,
    /// Hex SHA-256 of the secret; empty for a public client.
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    pub revoked_at: Option<i64>,
    /// The OpenID Connect registration.
    pub registration: Registration,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, plan_id, name, client_id, secret_hash, created_at, created_by, revoked_at, \
     client_type, redirect_uris, post_logout_redirect_uris, allowed_scopes, first_party, id_token_alg, \
     backchannel_logout_uri, updated_at";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("application {what} {value:?}"))
}

fn uris(r: &AnyRow, column: &str) -> Result<Vec<RedirectUri>, StoreError> {
    let text: String = r.try_get(column)?;
    let list: Vec<String> = serde_json::from_str(&text).map_err(|_| corrupt(column, &text))?;
    list.iter().map(|u| RedirectUri::parse(u).map_err(|_| corrupt(column, u))).collect()
}

/// The JSON text of a URI list.
fn uris_json(list: &[RedirectUri]) -> String {
    serde_json::Value::from(list.iter().map(|u| u.as_str()).collect::<Vec<_>>()).to_string()
}

fn from_row(r: &AnyRow) -> Result<ApplicationRow, StoreError> {
    let client_type: String = r.try_get("client_type")?;
    let scopes: String = r.try_get("allowed_scopes")?;
    let alg: String = r.try_get("id_token_alg")?;
    let backchannel: Option<String> = r.try_get("backchannel_logout_uri")?;
    let registration = Registration {
        client_type: ClientType::parse(&client_type).ok_or_else(|| corrupt("client type", &client_type))?,
        redirect_uris: uris(r, "redirect_uris")?,
        post_logout_redirect_uris: uris(r, "post_logout_redirect_uris")?,
        scopes: ScopeSet::parse(&scopes).map_err(|_| corrupt("scopes", &scopes))?,
        first_party: r.try_get::<i64, _>("first_party")? != 0,
        id_token_alg: IdTokenAlg::parse(&alg).ok_or_else(|| corrupt("ID token algorithm", &alg))?,
        backchannel_logout_uri: backchannel
            .map(|u| RedirectUri::parse(&u).map_err(|_| corrupt("back-channel logout URI", &u)))
            .transpose()?,
    };
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        name: r.try_get("name")?,
        client_id: r.try_get("client_id")?,
        secret_hash: r.try_get("secret_hash")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        revoked_at: r.try_get("revoked_at")?,
        registration,
        updated_at: r.try_get("updated_at")?,
    })
}

/// An application to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication<'a> {
    pub plan_id: PlanId,
    pub name: &'a str,
    pub client_id: &'a str,
    /// Empty for a public client.
    pub secret_hash: &'a str,
    pub created_by: Option<UserId>,
    pub registration: &'a Registration,
}

/// Stores an application; returns its id.
pub async fn insert(conn: &mut Conn, a: &NewApplication<'_>, now: i64) -> Result<i64, StoreError> {
    let r = a.registration;
    Ok(sqlx::query_scalar(
        "INSERT INTO applications (plan_id, name, client_id, secret_hash, created_at, created_by, client_type, \
         redirect_uris, post_logout_redirect_uris, allowed_scopes, first_party, id_token_alg, \
         backchannel_logout_uri, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $5) RETURNING id",
    )
    .bind(a.plan_id.0)
    .bind(a.name)
    .bind(a.client_id)
    .bind(a.secret_hash)
    .bind(now)
    .bind(a.created_by.map(|u| u.0))
    .bind(r.client_type.as_str())
    .bind(uris_json(&r.redirect_uris))
    .bind(uris_json(&r.post_logout_redirect_uris))
    .bind(r.scopes.canonical())
    .bind(i64::from(r.first_party))
    .bind(r.id_token_alg.as_str())
    .bind(r.backchannel_logout_uri.as_ref().map(|u| u.as_str().to_owned()))
    .fetch_one(&mut *conn)
    .await?)
}

/// The plan's applications, newest first (revoked ones too).
pub async fn list(conn: &mut Conn, plan: PlanId) -> Result<Vec<ApplicationRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE plan_id = $1 ORDER BY id DESC"))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// One application of the plan (revoked or not), or `None`.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The plan's live application with this client id, or `None`.
pub async fn active_by_client_id(
    conn: &mut Conn,
    plan: PlanId,
    client_id: &str,
) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM applications WHERE plan_id = $1 AND client_id = $2 AND revoked_at IS NULL"
    ))
    .bind(plan.0)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every plan's applications that are not revoked (what an instance authenticates against).
pub async fn all_active(conn: &mut Conn) -> Result<Vec<ApplicationRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE revoked_at IS NULL"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces a live application's name and registration (its client type stays). Returns the new
/// row, or `None` when the plan has no such live application.
pub async fn update_registration(
    conn: &mut Conn,
    plan: PlanId,
    id: i64,
    name: &str,
    r: &Registration,
    now: i64,
) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE applications SET name = $3, redirect_uris = $4, post_logout_redirect_uris = $5, \
         allowed_scopes = $6, first_party = $7, id_token_alg = $8, backchannel_logout_uri = $9, updated_at = $10 \
         WHERE plan_id = $1 AND id = $2 AND revoked_at IS NULL AND client_type = $11 RETURNING {COLUMNS}"
    ))
    .bind(plan.0)
    .bind(id)
    .bind(name)
    .bind(uris_json(&r.redirect_uris))
    .bind(uris_json(&r.post_logout_redirect_uris))
    .bind(r.scopes.canonical())
    .bind(i64::from(r.first_party))
    .bind(r.id_token_alg.as_str())
    .bind(r.backchannel_logout_uri.as_ref().map(|u| u.as_str().to_owned()))
    .bind(now)
    .bind(r.client_type.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Replaces a live confidential application's secret hash. Returns the new row, or `None` when
/// the plan has no such live confidential application.
pub async fn replace_secret(
    conn: &mut Conn,
    plan: PlanId,
    id: i64,
    secret_hash: &str,
    now: i64,
) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE applications SET secret_hash = $3, updated_at = $4 \
         WHERE plan_id = $1 AND id = $2 AND revoked_at IS NULL AND client_type = 'confidential' RETURNING {COLUMNS}"
    ))
    .bind(plan.0)
    .bind(id)
    .bind(secret_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Revokes an application of the plan. Returns the row as it was, or `None` when the plan has
/// no such application or it was already revoked.
pub async fn revoke(conn: &mut Conn, plan: PlanId, id: i64, now: i64) -> Result<Option<ApplicationRow>, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE applications SET revoked_at = $3 WHERE plan_id = $1 AND id = $2 AND revoked_at IS NULL \
         RETURNING {COLUMNS}"
    ))
    .bind(plan.0)
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}
