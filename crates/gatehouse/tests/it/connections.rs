//! PostgreSQL connections the server cut while they waited in the pool (a restart of the database,
//! a network failure) are never handed to a request: a connection that waited a second or more is
//! pinged when taken, and replaced if the ping fails.

use crate::support::{drop_pg_database, fresh_pg_database};
use gatehouse_store::Db;
use std::time::Duration;

async fn read_one(conn: &mut gatehouse_store::Conn) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM plans").fetch_one(conn).await
}

#[tokio::test]
async fn connections_cut_while_idle_are_replaced_before_use() {
    let Some(url) = fresh_pg_database().await else { return };
    // A pool of its own: no server's background tasks to meet the cut connections first.
    let db = Db::connect(&url).await.expect("connected");
    db.migrate().await.expect("migrated");
    {
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(db.acquire().await.expect("a connection"));
        }
        for conn in &mut held {
            read_one(conn).await.expect("a read");
        }
    }
    // sqlx takes a connection back in a task of its own (after a ping): let it finish, so that
    // the connections wait in the pool's idle queue.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server ends every other session of this database, as a restart would.
    let mut killer = db.acquire().await.expect("a connection");
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut *killer)
    .await
    .expect("sessions ended");
    drop(killer);
    assert!(cut.len() >= 3, "the pool's other connections were cut ({} of them)", cut.len());
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // Every read, on as many connections as the pool held, is answered: the cut ones are pinged,
    // found closed and replaced, never handed out.
    let mut held = Vec::new();
    for i in 0..6 {
        let mut conn = db.acquire().await.unwrap_or_else(|e| panic!("connection {i}: {e}"));
        let plans = read_one(&mut conn).await.unwrap_or_else(|e| panic!("read {i} on a taken connection: {e}"));
        assert!(plans >= 0);
        held.push(conn);
    }
    drop(held);
    let tx = db.begin().await.expect("a write transaction on a live connection");
    gatehouse_store::commit(tx).await.expect("it commits");
    db.close().await;
    drop_pg_database(url.rsplit('/').next().unwrap_or_default()).await;
}
