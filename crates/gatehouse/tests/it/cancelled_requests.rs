//! A request cancelled halfway (its client hung up, so the server drops the request's future
//! wherever it waits) must leave nothing half-done behind: above all no transaction left open
//! on the one connection SQLite writes through, after which every later write would fail.

use crate::both;
use crate::support::{Backend, TestApp};
use std::time::Duration;

/// `Db::begin` dropped after every number of polls, with the database's threads given time to
/// answer in between: the next write transaction still begins, and the dropped one left no
/// transaction open (the last begin would otherwise be refused as nested, or wait forever).
async fn a_begin_dropped_at_any_point_leaves_writes_working(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let db = &app.running.services.db;
    for polls in 0..8 {
        for pause_us in [0u64, 300, 3_000] {
            {
                let mut begin = std::pin::pin!(db.begin());
                for _ in 0..polls {
                    if futures::poll!(begin.as_mut()).is_ready() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_micros(pause_us)).await;
                }
            }
            let mut tx = tokio::time::timeout(Duration::from_secs(20), db.begin())
                .await
                .unwrap_or_else(|_| panic!("no write transaction began after one dropped at poll {polls}"))
                .unwrap_or_else(|e| panic!("after a begin dropped at poll {polls} ({pause_us} µs apart): {e}"));
            let plans: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM plans").fetch_one(&mut *tx).await.expect("a read");
            assert!(plans > 0, "the test plan is there");
            gatehouse_store::commit(tx).await.expect("the transaction commits");
        }
    }
}
both!(a_begin_dropped_at_any_point_leaves_writes_working);

/// The first plan's name, read outside any transaction.
async fn first_plan_name(app: &TestApp) -> String {
    let mut conn = app.running.services.db.acquire().await.expect("a connection");
    sqlx::query_scalar("SELECT name FROM plans ORDER BY id LIMIT 1").fetch_one(&mut *conn).await.expect("a plan")
}

/// A write transaction dropped without a commit (a request cancelled or failed halfway) leaves
/// nothing of its writes, and the next one begins, writes and commits.
async fn a_transaction_dropped_uncommitted_leaves_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let db = &app.running.services.db;
    let before = first_plan_name(&app).await;
    for round in 0..3 {
        let mut tx = db.begin().await.expect("a write transaction");
        sqlx::query("UPDATE plans SET name = 'Dropped halfway' WHERE id = (SELECT MIN(id) FROM plans)")
            .execute(&mut *tx)
            .await
            .expect("the write");
        drop(tx);
        assert_eq!(first_plan_name(&app).await, before, "round {round}: the dropped write is not seen");
    }
    let mut tx = tokio::time::timeout(Duration::from_secs(20), db.begin())
        .await
        .expect("a write transaction begins after dropped ones")
        .expect("a write transaction");
    sqlx::query("UPDATE plans SET name = 'Committed' WHERE id = (SELECT MIN(id) FROM plans)")
        .execute(&mut *tx)
        .await
        .expect("the write");
    gatehouse_store::commit(tx).await.expect("the commit");
    assert_eq!(first_plan_name(&app).await, "Committed");
}
both!(a_transaction_dropped_uncommitted_leaves_nothing);

/// A commit dropped after any number of polls: its write is either wholly there or wholly
/// gone, and the next write transaction begins and commits.
async fn a_commit_dropped_at_any_point_leaves_writes_working(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let db = &app.running.services.db;
    for polls in 0..6 {
        for pause_us in [0u64, 300, 3_000] {
            let name = format!("Commit dropped at poll {polls}, {pause_us} µs");
            let before = first_plan_name(&app).await;
            let mut tx = db.begin().await.expect("a write transaction");
            sqlx::query("UPDATE plans SET name = $1 WHERE id = (SELECT MIN(id) FROM plans)")
                .bind(&name)
                .execute(&mut *tx)
                .await
                .expect("the write");
            {
                let mut commit = std::pin::pin!(gatehouse_store::commit(tx));
                for _ in 0..polls {
                    if futures::poll!(commit.as_mut()).is_ready() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_micros(pause_us)).await;
                }
            }
            let tx = tokio::time::timeout(Duration::from_secs(20), db.begin())
                .await
                .unwrap_or_else(|_| panic!("no write transaction began after a commit dropped at poll {polls}"))
                .unwrap_or_else(|e| panic!("after a commit dropped at poll {polls} ({pause_us} µs apart): {e}"));
            gatehouse_store::commit(tx).await.expect("the next transaction commits");
            let seen = first_plan_name(&app).await;
            assert!(seen == name || seen == before, "poll {polls}: {seen:?}, neither the new name nor the old");
        }
    }
}
both!(a_commit_dropped_at_any_point_leaves_writes_working);

/// A read transaction dropped at any point (its request cancelled between or during its
/// statements) leaves no snapshot behind: the connection is lent again at once (on SQLite the
/// one used last is lent first, without a round trip on its return), and what it reads next
/// includes a write committed after the drop.
async fn a_read_dropped_halfway_leaves_no_old_snapshot(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let db = &app.running.services.db;
    for polls in 0..4 {
        for pause_us in [0u64, 300] {
            {
                let mut conn = db.acquire().await.expect("a connection");
                let mut read = gatehouse_store::begin_read(&mut conn).await.expect("a read transaction");
                let _: String = sqlx::query_scalar("SELECT name FROM plans ORDER BY id LIMIT 1")
                    .fetch_one(&mut *read)
                    .await
                    .expect("a first read in the snapshot");
                let mut second =
                    std::pin::pin!(sqlx::query_scalar::<_, String>("SELECT name FROM plans").fetch_all(&mut *read));
                for _ in 0..polls {
                    if futures::poll!(second.as_mut()).is_ready() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_micros(pause_us)).await;
                }
            }
            let name = format!("Renamed after a read dropped at poll {polls}, {pause_us} µs");
            let mut tx = tokio::time::timeout(Duration::from_secs(20), db.begin())
                .await
                .expect("a write transaction begins beside the dropped read")
                .expect("a write transaction");
            sqlx::query("UPDATE plans SET name = $1 WHERE id = (SELECT MIN(id) FROM plans)")
                .bind(&name)
                .execute(&mut *tx)
                .await
                .expect("the write");
            gatehouse_store::commit(tx).await.expect("the commit");
            assert_eq!(first_plan_name(&app).await, name, "poll {polls}: the next read sees the committed write");
        }
    }
}
both!(a_read_dropped_halfway_leaves_no_old_snapshot);
