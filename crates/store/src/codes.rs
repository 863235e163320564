//! One-time verification codes (two-step). Only an HMAC of the code is stored.

use crate::{Conn, Stmt, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// A code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub id: i64,
    pub user_id: UserId,
    pub purpose: String,
    pub phone: String,
    pub method: String,
    pub code_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub tries: i64,
    pub consumed_at: Option<i64>,
}

/// A code to store.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub purpose: &'a str,
    pub phone: &'a str,
    pub method: &'a str,
    pub code_hash: &'a str,
    pub expires_at: i64,
}

/// Stores a code.
pub async fn insert(conn: &mut Conn, c: &NewCode<'_>, now: i64) -> Result<i64, StoreError> {
    let stmt = Stmt::new(
        "INSERT INTO verification_codes (plan_id, user_id, purpose, phone, method, code_hash, created_at, expires_at, tries) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0) RETURNING id",
    );
    bind_new(stmt, c, now).fetch_id(conn, "a code").await
}

/// Binds a new code's columns as `$1` to `$8`.
fn bind_new<'q>(stmt: Stmt<'q>, c: &NewCode<'q>, now: i64) -> Stmt<'q> {
    stmt.bind(c.plan_id.0)
        .bind(c.user_id.0)
        .bind(c.purpose)
        .bind(c.phone)
        .bind(c.method)
        .bind(c.code_hash)
        .bind(now)
        .bind(c.expires_at)
}

/// The statement that stores a code only if fewer than `limit` codes (of the purposes `which`
/// takes in, counted as [`count_since`] does) were sent to its user since `since`: the hour's
/// limit checked and the code stored in one statement, run alone or in a [`crate::Batch`]. It
/// returns the new code's id, or no row when the limit was reached.
pub fn insert_within_limit_stmt<'q>(c: &NewCode<'q>, now: i64, since: i64, which: Sent<'q>, limit: i64) -> Stmt<'q> {
    let (op, purpose) = which.filter();
    let stmt = Stmt::new(format!(
        "INSERT INTO verification_codes (plan_id, user_id, purpose, phone, method, code_hash, created_at, expires_at, tries) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, 0 \
         WHERE (SELECT COUNT(*) FROM verification_codes WHERE user_id = $2 AND created_at > $9 AND purpose {op} $10 \
                AND method NOT IN ('app', 'passkey')) < $11 \
         RETURNING id"
    ));
    bind_new(stmt, c, now).bind(since).bind(purpose).bind(limit)
}

/// Which codes a count of sends takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent<'a> {
    /// Codes of this purpose only.
    Only(&'a str),
    /// Codes of every purpose but this one.
    AllBut(&'a str),
}

impl<'a> Sent<'a> {
    /// The comparison on `purpose` and the purpose compared with.
    fn filter(self) -> (&'static str, &'a str) {
        match self {
            Sent::Only(p) => ("=", p),
            Sent::AllBut(p) => ("<>", p),
        }
    }
}

/// How many codes (of the purposes `which` takes in) were sent to the user since `since`.
/// Challenges for which nothing was sent (methods `app` and `passkey`) are not sends: their
/// tries are bounded by [`app_tries_since`].
pub async fn count_since(conn: &mut Conn, user: UserId, since: i64, which: Sent<'_>) -> Result<i64, StoreError> {
    let (op, purpose) = which.filter();
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM verification_codes WHERE user_id = $1 AND created_at > $2 AND purpose {op} $3 \
         AND method NOT IN ('app', 'passkey')"
    ))
    .bind(user.0)
    .bind(since)
    .bind(purpose)
    .fetch_one(&mut *conn)
    .await?)
}

/// The tries taken since `since` by the user's challenges for which nothing was sent: answered
/// with the authenticator app (method `app`) or, for someone who must use a strong factor and
/// holds only passkeys, with a recovery code (method `passkey`), every purpose together.
pub async fn app_tries_since(conn: &mut Conn, user: UserId, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(tries), 0) AS BIGINT) FROM verification_codes WHERE user_id = $1 AND created_at > $2 AND method IN ('app', 'passkey')",
    )
    .bind(user.0)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// When each code (of the purposes `which` takes in) sent to the user since `since` was sent,
/// oldest first.
pub async fn sent_since(conn: &mut Conn, user: UserId, since: i64, which: Sent<'_>) -> Result<Vec<i64>, StoreError> {
    let (op, purpose) = match which {
        Sent::Only(p) => ("=", p),
        Sent::AllBut(p) => ("<>", p),
    };
    Ok(sqlx::query_scalar(&format!(
        "SELECT created_at FROM verification_codes WHERE user_id = $1 AND created_at > $2 AND purpose {op} $3 \
         AND method NOT IN ('app', 'passkey') ORDER BY created_at, id"
    ))
    .bind(user.0)
    .bind(since)
    .bind(purpose)
    .fetch_all(&mut *conn)
    .await?)
}

/// The user's newest code for `purpose`.
pub async fn latest(conn: &mut Conn, user: UserId, purpose: &str) -> Result<Option<CodeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, purpose, phone, method, code_hash, created_at, expires_at, tries, consumed_at \
         FROM verification_codes WHERE user_id = $1 AND purpose = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(user.0)
    .bind(purpose)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> Result<CodeRow, StoreError> {
        Ok(CodeRow {
            id: r.try_get("id")?,
            user_id: UserId(r.try_get("user_id")?),
            purpose: r.try_get("purpose")?,
            phone: r.try_get("phone")?,
            method: r.try_get("method")?,
            code_hash: r.try_get("code_hash")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            tries: r.try_get("tries")?,
            consumed_at: r.try_get("consumed_at")?,
        })
    })
    .transpose()
}

/// Takes one try of a live code before it is compared: the try is counted only if the code is
/// unused, unexpired and has fewer than `max_tries`, in one conditional statement, so concurrent
/// callers each see their own count and no more than `max_tries` are ever judged. Returns the
/// tries counted, this one included, or `None` when the code cannot take another.
pub async fn claim_try(conn: &mut Conn, id: i64, max_tries: i64, now: i64) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE verification_codes SET tries = tries + 1 \
         WHERE id = $1 AND tries < $2 AND consumed_at IS NULL AND expires_at > $3 RETURNING tries",
    )
    .bind(id)
    .bind(max_tries)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Marks the code used if it was not already. Exactly one concurrent caller gets `true`.
pub async fn consume(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE verification_codes SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
