//! Server-wide secrets, kept in the database so every instance shares them (unless the
//! configuration gives them: see `gatehouse_services::server_key`).

use crate::{Conn, StoreError};

/// Returns the secret `name`, storing `candidate` first if there is none yet. Concurrent first
/// calls agree on one value.
pub async fn get_or_insert(conn: &mut Conn, name: &str, candidate: &str) -> Result<String, StoreError> {
    sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(candidate)
        .execute(&mut *conn)
        .await?;
    let v: String =
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(&mut *conn).await?;
    Ok(v)
}

/// Whether the database holds the secret `name` (a server given its key by configuration only
/// warns that the stored copy is unused).
pub async fn exists(conn: &mut Conn, name: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM server_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}
