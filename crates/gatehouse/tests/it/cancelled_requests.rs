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
