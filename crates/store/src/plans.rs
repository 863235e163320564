//! Plans (tenants) and their settings.

use crate::{Conn, StoreError};
use gatehouse_domain::factor_policy::FactorPolicy;
use gatehouse_domain::{PlanId, PlanTimeZone};
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
    pub brand_color: String,
    pub access_review_days: i64,
    /// Days without a sign-in before an account is flagged as idle.
    pub idle_flag_days: i64,
    /// Days without a sign-in before a portal account is deactivated.
    pub idle_deactivate_days: i64,
    /// `plain` or `email`.
    pub username_format: String,
    pub reactivation_days: i64,
    /// `YYYY-MM-DD`, or "" for none.
    pub legacy_deadline: String,
    /// Whether imported accounts prove their email before their first password and phone.
    pub legacy_email_proof: bool,
    /// The zone its dates and times are shown in. A stored name the time zone database no
    /// longer knows reads as the default zone.
    pub time_zone: PlanTimeZone,
    /// The stated response time of secure messages, in business days.
    pub message_response_days: i64,
    /// Files per secure message.
    pub message_max_files: i64,
    /// Largest file of a secure message, in MB.
    pub message_max_file_mb: i64,
    /// Where notices of new secure messages go (the team's address); "" for each agent.
    pub mailbox_email: String,
    /// Which second factors are offered and who must use a strong one (migration 0038).
    pub factors: FactorPolicy,
    /// Whether a logo was uploaded (read-only; set with [`set_logo`]).
    pub has_logo: bool,
}

const COLUMNS: &str = "id, slug, name, host, support_phone, support_hours, terms_version, terms_text, \
    password_min, password_max, code_length, code_lifetime_secs, code_max_tries, \
    code_max_sends_per_hour, session_idle_secs, session_absolute_secs, brand_color, access_review_days, \
    username_format, reactivation_days, legacy_deadline, legacy_email_proof, time_zone, \
    message_response_days, message_max_files, message_max_file_mb, mailbox_email, idle_flag_days, idle_deactivate_days, \
    voice_allowed, app_allowed, passkeys_allowed, staff_strong_factor, admin_strong_factor, \
    (SELECT COUNT(*) FROM plan_logos l WHERE l.plan_id = plans.id) AS logo_count";

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
        brand_color: r.try_get("brand_color")?,
        access_review_days: r.try_get("access_review_days")?,
        idle_flag_days: r.try_get("idle_flag_days")?,
        idle_deactivate_days: r.try_get("idle_deactivate_days")?,
        username_format: r.try_get("username_format")?,
        reactivation_days: r.try_get("reactivation_days")?,
        legacy_deadline: r.try_get("legacy_deadline")?,
        legacy_email_proof: r.try_get::<i64, _>("legacy_email_proof")? != 0,
        time_zone: PlanTimeZone::parse(&r.try_get::<String, _>("time_zone")?).unwrap_or_default(),
        message_response_days: r.try_get("message_response_days")?,
        message_max_files: r.try_get("message_max_files")?,
        message_max_file_mb: r.try_get("message_max_file_mb")?,
        mailbox_email: r.try_get("mailbox_email")?,
        factors: FactorPolicy {
            voice_allowed: r.try_get::<i64, _>("voice_allowed")? != 0,
            app_allowed: r.try_get::<i64, _>("app_allowed")? != 0,
            passkeys_allowed: r.try_get::<i64, _>("passkeys_allowed")? != 0,
            staff_strong_factor: r.try_get::<i64, _>("staff_strong_factor")? != 0,
            admin_strong_factor: r.try_get::<i64, _>("admin_strong_factor")? != 0,
        },
        has_logo: r.try_get::<i64, _>("logo_count")? > 0,
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

/// Saves the editable settings of a plan (everything but its id, slug, host and terms).
pub async fn update_settings(conn: &mut Conn, p: &PlanRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE plans SET name = $2, support_phone = $3, support_hours = $4, password_min = $5, password_max = $6, \
         code_length = $7, code_lifetime_secs = $8, code_max_tries = $9, code_max_sends_per_hour = $10, \
         session_idle_secs = $11, session_absolute_secs = $12, brand_color = $13, access_review_days = $14, \
         username_format = $15, reactivation_days = $16, legacy_deadline = $17, \
         legacy_email_proof = $18, time_zone = $19, message_response_days = $20, message_max_files = $21, \
         message_max_file_mb = $22, mailbox_email = $23, idle_flag_days = $24, idle_deactivate_days = $25, \
         voice_allowed = $26, app_allowed = $27, passkeys_allowed = $28, staff_strong_factor = $29, \
         admin_strong_factor = $30 WHERE id = $1",
    )
    .bind(p.id.0)
    .bind(&p.name)
    .bind(&p.support_phone)
    .bind(&p.support_hours)
    .bind(p.password_min)
    .bind(p.password_max)
    .bind(p.code_length)
    .bind(p.code_lifetime_secs)
    .bind(p.code_max_tries)
    .bind(p.code_max_sends_per_hour)
    .bind(p.session_idle_secs)
    .bind(p.session_absolute_secs)
    .bind(&p.brand_color)
    .bind(p.access_review_days)
    .bind(&p.username_format)
    .bind(p.reactivation_days)
    .bind(&p.legacy_deadline)
    .bind(i64::from(p.legacy_email_proof))
    .bind(p.time_zone.name())
    .bind(p.message_response_days)
    .bind(p.message_max_files)
    .bind(p.message_max_file_mb)
    .bind(&p.mailbox_email)
    .bind(p.idle_flag_days)
    .bind(p.idle_deactivate_days)
    .bind(i64::from(p.factors.voice_allowed))
    .bind(i64::from(p.factors.app_allowed))
    .bind(i64::from(p.factors.passkeys_allowed))
    .bind(i64::from(p.factors.staff_strong_factor))
    .bind(i64::from(p.factors.admin_strong_factor))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores the plan's logo.
pub async fn set_logo(
    conn: &mut Conn,
    plan: PlanId,
    content_type: &str,
    bytes: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO plan_logos (plan_id, content_type, bytes, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plan_id) DO UPDATE SET content_type = $2, bytes = $3, updated_at = $4",
    )
    .bind(plan.0)
    .bind(content_type)
    .bind(bytes)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The plan's logo: content type and bytes.
pub async fn logo(conn: &mut Conn, plan: PlanId) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let row = sqlx::query("SELECT content_type, bytes FROM plan_logos WHERE plan_id = $1")
        .bind(plan.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| -> Result<(String, Vec<u8>), StoreError> { Ok((r.try_get("content_type")?, r.try_get("bytes")?)) })
        .transpose()
}

/// Whether the plan has a logo.
pub async fn has_logo(conn: &mut Conn, plan: PlanId) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plan_logos WHERE plan_id = $1")
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Serializes this transaction with every other that locks the same plan: a row lock on
/// PostgreSQL (held until commit); on SQLite the write transaction already excludes all others.
/// Used by checks such as "the plan keeps at least one administrator" that read then write.
pub async fn lock(conn: &mut Conn, plan: PlanId) -> Result<(), StoreError> {
    sqlx::query("UPDATE plans SET id = id WHERE id = $1").bind(plan.0).execute(&mut *conn).await?;
    Ok(())
}
