//! Passkeys and the state of WebAuthn ceremonies between their two requests (migration 0037).

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, SessionId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: UserId,
    pub credential_id: String,
    pub user_handle: String,
    pub name: String,
    /// The webauthn-rs `Passkey`, as JSON.
    pub credential: String,
    pub backup_eligible: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str =
    "id, user_id, credential_id, user_handle, name, credential, backup_eligible, created_at, last_used_at";

fn passkey(r: &AnyRow) -> Result<PasskeyRow, StoreError> {
    Ok(PasskeyRow {
        id: r.try_get("id")?,
        user_id: UserId(r.try_get("user_id")?),
        credential_id: r.try_get("credential_id")?,
        user_handle: r.try_get("user_handle")?,
        name: r.try_get("name")?,
        credential: r.try_get("credential")?,
        backup_eligible: r.try_get::<i64, _>("backup_eligible")? != 0,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// A new passkey.
#[derive(Debug)]
pub struct NewPasskey<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub credential_id: &'a str,
    pub user_handle: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub backup_eligible: bool,
}

/// Stores a passkey; `None` when the plan already has one with this credential id.
pub async fn insert(conn: &mut Conn, p: &NewPasskey<'_>, now: i64) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "INSERT INTO passkeys (plan_id, user_id, credential_id, user_handle, name, credential, backup_eligible, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (plan_id, credential_id) DO NOTHING RETURNING id",
    )
    .bind(p.plan_id.0)
    .bind(p.user_id.0)
    .bind(p.credential_id)
    .bind(p.user_handle)
    .bind(p.name)
    .bind(p.credential)
    .bind(i64::from(p.backup_eligible))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("id").map_err(StoreError::from)).transpose()
}

/// The user's passkeys, oldest first.
pub async fn of_user(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<Vec<PasskeyRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM passkeys WHERE plan_id = $1 AND user_id = $2 ORDER BY id"))
        .bind(plan.0)
        .bind(user.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(passkey).collect()
}

/// The plan's passkey with this credential id.
pub async fn by_credential(
    conn: &mut Conn,
    plan: PlanId,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM passkeys WHERE plan_id = $1 AND credential_id = $2"))
        .bind(plan.0)
        .bind(credential_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(passkey).transpose()
}

/// Records a use: when, and the credential as it now is (its counter and backup flags).
pub async fn record_use(conn: &mut Conn, id: i64, credential: Option<&str>, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE passkeys SET last_used_at = $2, credential = COALESCE($3, credential) WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(credential)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes one of the user's passkeys; `None` when the user has none with this id.
pub async fn delete(conn: &mut Conn, plan: PlanId, user: UserId, id: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND plan_id = $2 AND user_id = $3 RETURNING name")
        .bind(id)
        .bind(plan.0)
        .bind(user.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| r.try_get("name").map_err(StoreError::from)).transpose()
}

/// Removes all the user's passkeys; how many there were.
pub async fn delete_all(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<u64, StoreError> {
    let r = sqlx::query("DELETE FROM passkeys WHERE plan_id = $1 AND user_id = $2")
        .bind(plan.0)
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM passkey_ceremonies WHERE plan_id = $1 AND user_id = $2")
        .bind(plan.0)
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// Whether the user has a passkey.
pub async fn any(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM passkeys WHERE plan_id = $1 AND user_id = $2")
        .bind(plan.0)
        .bind(user.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// A new ceremony.
#[derive(Debug)]
pub struct NewCeremony<'a> {
    pub plan_id: PlanId,
    pub kind: &'a str,
    pub token_hash: &'a str,
    pub session_id: Option<SessionId>,
    pub user_id: Option<UserId>,
    pub state: &'a str,
    pub expires_at: i64,
}

/// Stores a ceremony, first deleting every ceremony that can no longer be answered.
pub async fn insert_ceremony(conn: &mut Conn, c: &NewCeremony<'_>, now: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1").bind(now).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO passkey_ceremonies (plan_id, kind, token_hash, session_id, user_id, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.plan_id.0)
    .bind(c.kind)
    .bind(c.token_hash)
    .bind(c.session_id.map(|s| s.0))
    .bind(c.user_id.map(|u| u.0))
    .bind(c.state)
    .bind(now)
    .bind(c.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A ceremony taken for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRow {
    pub session_id: Option<SessionId>,
    pub user_id: Option<UserId>,
    pub state: String,
}

/// Takes a ceremony of this plan and kind, once: marks it used by one conditional update (so of
/// two answers at once only one gets it) and returns it. `None` when there is no such ceremony,
/// or it was used, or it has expired.
pub async fn take_ceremony(
    conn: &mut Conn,
    plan: PlanId,
    kind: &str,
    token_hash: &str,
    now: i64,
) -> Result<Option<CeremonyRow>, StoreError> {
    let row = sqlx::query(
        "UPDATE passkey_ceremonies SET used_at = $4 \
         WHERE token_hash = $1 AND plan_id = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $4 \
         RETURNING session_id, user_id, state",
    )
    .bind(token_hash)
    .bind(plan.0)
    .bind(kind)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(CeremonyRow {
            session_id: r.try_get::<Option<i64>, _>("session_id")?.map(SessionId),
            user_id: r.try_get::<Option<i64>, _>("user_id")?.map(UserId),
            state: r.try_get("state")?,
        })
    })
    .transpose()
}
