//! Plans (tenants) and their settings.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// A plan and the settings its rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub id: PlanId,
    pub slug: String,
    pub name: String,
    pub host: Option<String>,
    pub support_phone: String,
    pub support_hours: String,
    pub terms_version: i64,
    pub terms_text: String,
    pub password_min: i64,
    pub password_max: i64,
    pub code_length: i64,
    pub code_lifetime_secs: i64,
    pub code_max_tries: i64,
    pub code_max_sends_per_hour: i64,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
}

const COLUMNS: &str = "id, slug, name, host, support_phone, support_hours, terms_version, terms_text, \
    password_min, password_max, code_length, code_lifetime_secs, code_max_tries, \
    code_max_sends_per_hour, session_idle_secs, session_absolute_secs";

fn from_row(r: &sqlx::any::AnyRow) -> Result<PlanRow, sqlx::Error> {
    Ok(PlanRow {
        id: PlanId(r.try_get("id")?),
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        host: r.try_get("host")?,
        support_phone: r.try_get("support_phone")?,
        support_hours: r.try_get("support_hours")?,
        terms_version: r.try_get("terms_version")?,
        terms_text: r.try_get("terms_text")?,
        password_min: r.try_get("password_min")?,
        password_max: r.try_get("password_max")?,
        code_length: r.try_get("code_length")?,
        code_lifetime_secs: r.try_get("code_lifetime_secs")?,
        code_max_tries: r.try_get("code_max_tries")?,
        code_max_sends_per_hour: r.try_get("code_max_sends_per_hour")?,
        session_idle_secs: r.try_get("session_idle_secs")?,
        session_absolute_secs: r.try_get("session_absolute_secs")?,
    })
}

/// Inserts a plan; its `id` is ignored and the new one returned.
pub async fn insert(conn: &mut Conn, p: &PlanRow, now: i64) -> Result<PlanId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO plans (slug, name, host, support_phone, support_hours, terms_version, terms_text, \
         password_min, password_max, code_length, code_lifetime_secs, code_max_tries, \
         code_max_sends_per_hour, session_idle_secs, session_absolute_secs, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(&p.slug)
    .bind(&p.name)
    .bind(&p.host)
    .bind(&p.support_phone)
    .bind(&p.support_hours)
    .bind(p.terms_version)
    .bind(&p.terms_text)
    .bind(p.password_min)
    .bind(p.password_max)
    .bind(p.code_length)
    .bind(p.code_lifetime_secs)
    .bind(p.code_max_tries)
    .bind(p.code_max_sends_per_hour)
    .bind(p.session_idle_secs)
    .bind(p.session_absolute_secs)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    crate::audit::init_chain(conn, PlanId(id)).await?;
    Ok(PlanId(id))
}

/// The plan with this id.
pub async fn get(conn: &mut Conn, id: PlanId) -> Result<Option<PlanRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM plans WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The plan served at host name `host`, if one is configured for it.
pub async fn by_host(conn: &mut Conn, host: &str) -> Result<Option<PlanRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM plans WHERE host = $1"))
        .bind(host)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The plan with this slug.
pub async fn by_slug(conn: &mut Conn, slug: &str) -> Result<Option<PlanRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM plans WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// All plans, oldest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<PlanRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM plans ORDER BY id")).fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Publishes a new terms version.
pub async fn set_terms(conn: &mut Conn, id: PlanId, version: i64, text: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE plans SET terms_version = $1, terms_text = $2 WHERE id = $3")
        .bind(version)
        .bind(text)
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
