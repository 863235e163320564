//! Statements sent together (`gatehouse_store::batch`): on SQLite one multi-statement command
//! with its `BEGIN` or `COMMIT`, on PostgreSQL one statement after another. Each statement's rows
//! come back in its own slot, values land where each statement numbered them, and a statement that
//! fails leaves nothing of the transaction.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_store::{Batch, Stmt};
use sqlx::Row;
use std::time::Duration;

async fn with_probe_table(backend: Backend) -> Option<TestApp> {
    let app = TestApp::start(backend).await?;
    app.sql("CREATE TABLE batch_probe (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, note TEXT)").await;
    Some(app)
}

fn insert(id: i64, name: &str, note: Option<&str>) -> Stmt<'static> {
    Stmt::new("INSERT INTO batch_probe (id, name, note) VALUES ($1, $2, $3) RETURNING id, name, note")
        .bind(id)
        .bind(name.to_owned())
        .bind(note.map(str::to_owned))
}

async fn names(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM batch_probe ORDER BY id")
        .fetch_all(app.running.services.db.pool())
        .await
        .expect("names")
}

async fn a_batch_answers_each_statement_with_its_own_rows(backend: Backend) {
    let Some(app) = with_probe_table(backend).await else { return };
    let db = &app.running.services.db;
    let mut first = Batch::new();
    let a = first.push(insert(1, "ann", None));
    // Quoted text that looks like a parameter is the statement's own, not a value.
    let b = first.push(
        Stmt::new("INSERT INTO batch_probe (id, name, note) VALUES ($1, $2, 'costs $1') RETURNING id, note")
            .bind(2)
            .bind("bob"),
    );
    let none = first.push(Stmt::new("UPDATE batch_probe SET note = $1 WHERE id = $2").bind("seen").bind(1));
    let both =
        first.push(Stmt::new("SELECT id, note FROM batch_probe WHERE id IN ($1, $2) ORDER BY id").bind(1).bind(2));
    let (tx, answers) = db.begin_with(first).await.expect("begin with a batch");

    let row = answers.first(a).expect("the first insert's row");
    assert_eq!((row.get::<i64, _>("id"), row.get::<String, _>("name")), (1, "ann".to_owned()));
    assert_eq!(row.get::<Option<String>, _>("note"), None);
    let row = answers.first(b).expect("the second insert's row");
    assert_eq!((row.get::<i64, _>("id"), row.get::<String, _>("note")), (2, "costs $1".to_owned()));
    assert!(answers.rows(none).is_empty(), "an update without RETURNING has no rows");
    let seen: Vec<(i64, Option<String>)> = answers.rows(both).iter().map(|r| (r.get("id"), r.get("note"))).collect();
    assert_eq!(seen, vec![(1, Some("seen".to_owned())), (2, Some("costs $1".to_owned()))]);

    let mut last = Batch::new();
    let c = last.push(insert(3, "cy", Some("$2 stays")));
    let answers = gatehouse_store::commit_with(tx, last).await.expect("commit with a batch");
    assert_eq!(answers.first(c).map(|r| r.get::<String, _>("note")), Some("$2 stays".to_owned()));
    assert_eq!(names(&app).await, ["ann", "bob", "cy"]);
    app.stop().await;
}
both!(a_batch_answers_each_statement_with_its_own_rows);

/// A batch whose second statement fails (the name is taken) fails as a whole, the transaction's
/// earlier writes go too, and the next write transaction begins at once.
async fn a_failed_statement_in_a_batch_leaves_nothing(backend: Backend) {
    let Some(app) = with_probe_table(backend).await else { return };
    let db = &app.running.services.db;

    let mut first = Batch::new();
    first.push(insert(10, "dup", None));
    first.push(insert(11, "dup", None));
    let failed = db.begin_with(first).await;
    assert!(failed.is_err_and(|e| e.is_unique_violation()), "the second insert broke the name's uniqueness");
    assert!(names(&app).await.is_empty(), "nothing of the failed begin stays");

    let mut tx = db.begin().await.expect("a write transaction");
    sqlx::query("INSERT INTO batch_probe (id, name) VALUES (20, 'kept until the commit fails')")
        .execute(&mut *tx)
        .await
        .expect("a write before the batch");
    let mut last = Batch::new();
    last.push(insert(21, "twice", None));
    last.push(insert(22, "twice", None));
    let failed = gatehouse_store::commit_with(tx, last).await;
    assert!(failed.is_err_and(|e| e.is_unique_violation()), "the commit's batch broke the name's uniqueness");

    let tx = tokio::time::timeout(Duration::from_secs(20), db.begin())
        .await
        .expect("the writing connection is free again")
        .expect("a write transaction after the failures");
    let mut last = Batch::new();
    last.push(insert(30, "after", None));
    gatehouse_store::commit_with(tx, last).await.expect("the next transaction commits");
    assert_eq!(names(&app).await, ["after"], "nothing of either failed transaction stays");
    app.stop().await;
}
both!(a_failed_statement_in_a_batch_leaves_nothing);

/// `Db::write`: a batch that is a transaction of its own (one command on SQLite) answers each
/// statement in its slot and commits; one whose statement fails leaves nothing, and the writing
/// connection is free at once for the next.
async fn a_batch_written_alone_commits_or_leaves_nothing(backend: Backend) {
    let Some(app) = with_probe_table(backend).await else { return };
    let db = &app.running.services.db;

    let mut ok = Batch::new();
    let a = ok.push(insert(1, "ann", Some("$1 is text")));
    ok.push(Stmt::new("UPDATE batch_probe SET note = $1 WHERE id = $2").bind("seen").bind(1));
    let read = ok.push(Stmt::new("SELECT note FROM batch_probe WHERE id = $1").bind(1));
    let answers = db.write(ok).await.expect("a batch written alone");
    assert_eq!(answers.first(a).map(|r| r.get::<String, _>("note")), Some("$1 is text".to_owned()));
    assert_eq!(answers.first(read).map(|r| r.get::<String, _>("note")), Some("seen".to_owned()));
    assert_eq!(names(&app).await, ["ann"], "committed");

    let mut failing = Batch::new();
    failing.push(insert(2, "bob", None));
    failing.push(insert(3, "ann", None));
    let failed = db.write(failing).await;
    assert!(failed.is_err_and(|e| e.is_unique_violation()), "the second insert broke the name's uniqueness");
    assert_eq!(names(&app).await, ["ann"], "nothing of the failed batch stays");

    let mut next = Batch::new();
    next.push(insert(4, "cy", None));
    tokio::time::timeout(Duration::from_secs(20), db.write(next))
        .await
        .expect("the writing connection is free again")
        .expect("the next batch commits");
    assert_eq!(names(&app).await, ["ann", "cy"]);
    app.stop().await;
}
both!(a_batch_written_alone_commits_or_leaves_nothing);
