//! The audit chain detects tampering; the outbox delivers after commit, retries, and never sends
//! for a change that rolled back; both databases have the same schema.

use crate::both;
use crate::support::{Backend, TestApp};
use axum::Json;
use axum::routing::post;
use gatehouse_services::audit::ChainReport;
use gatehouse_services::delivery::{Deliverer, DeliveryConfig};
use std::sync::{Arc, Mutex};

async fn audit_chain_detects_tampering(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    for i in 0..3 {
        app.invite("Ana", "Ruiz", &format!("ana{i}@clinic.example.org")).await;
    }
    let svc = &app.running.services;
    let n = app.count("SELECT COUNT(*) FROM audit_events").await;
    assert_eq!(svc.verify_audit_chain(app.plan.id()).await.expect("verify"), ChainReport::Intact { events: n });
    app.sql("UPDATE audit_events SET detail = '{\"email\":\"someone@else.example.org\"}' WHERE seq = 2").await;
    match svc.verify_audit_chain(app.plan.id()).await.expect("verify") {
        ChainReport::Broken { seq, .. } => assert_eq!(seq, 2),
        other => panic!("tampering not detected: {other:?}"),
    }
    app.stop().await;
}
both!(audit_chain_detects_tampering);

async fn audit_chain_detects_deleted_tail(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let n = app.count("SELECT COUNT(*) FROM audit_events").await;
    app.sql(&format!("DELETE FROM audit_events WHERE seq = {n}")).await;
    assert!(matches!(
        app.running.services.verify_audit_chain(app.plan.id()).await.expect("verify"),
        ChainReport::Broken { .. }
    ));
    app.stop().await;
}
both!(audit_chain_detects_deleted_tail);

/// The head takes the hash of the last event of every append, of one event or several (by the
/// trigger of migration 0040), and an append rolled back leaves it where it was.
async fn audit_head_follows_every_append(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id();
    let head_is_last = format!(
        "SELECT COUNT(*) FROM audit_heads h JOIN audit_events e ON e.plan_id = h.plan_id AND e.seq = h.seq \
         AND e.hash = h.hash WHERE h.plan_id = {plan} AND h.seq = (SELECT MAX(seq) FROM audit_events WHERE plan_id = {plan})"
    );
    let event = |action: &'static str| gatehouse_store::audit::NewEvent {
        plan_id: plan,
        at: 1_700_000_000,
        actor: None,
        subject: None,
        action,
        outcome: "success",
        ip: "192.0.2.1",
        user_agent: "test",
        detail: "{}",
    };
    let db = &app.running.services.db;
    for n in [1usize, 3, 1, 5] {
        let before = app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE plan_id = {plan}")).await;
        let events: Vec<_> = (0..n).map(|_| event("test.append")).collect();
        let mut tx = db.begin().await.expect("begin");
        let last = gatehouse_store::audit::append_all(&mut tx, plan, &events).await.expect("append");
        gatehouse_store::commit(tx).await.expect("commit");
        assert_eq!(last, Some(before + i64::try_from(n).expect("small")));
        assert_eq!(app.count(&head_is_last).await, 1, "the head is the last event after an append of {n}");
    }
    let head = app.count(&format!("SELECT seq FROM audit_heads WHERE plan_id = {plan}")).await;
    let mut tx = db.begin().await.expect("begin");
    gatehouse_store::audit::append_all(&mut tx, plan, &[event("test.rolled_back")]).await.expect("append");
    drop(tx);
    assert_eq!(app.count(&format!("SELECT seq FROM audit_heads WHERE plan_id = {plan}")).await, head);
    assert_eq!(app.count(&head_is_last).await, 1);
    let n = app.count("SELECT COUNT(*) FROM audit_events").await;
    assert_eq!(app.running.services.verify_audit_chain(plan).await.expect("verify"), ChainReport::Intact { events: n });
    app.stop().await;
}
both!(audit_head_follows_every_append);

/// People type passwords into the username box. A sign-in or reset refused for a name that is
/// nobody's keeps a keyed digest of it in the (permanent, exportable) log, never the text; a name
/// that is an account's is kept as typed, with the account as subject.
async fn typed_names_are_logged_only_when_they_name_an_account(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let slip = "Orchard-Lantern-Harbor-77";
    for (username, password) in
        [(slip, "whatever it was here"), (slip, "whatever it was here"), ("JPatel", "not the password")]
    {
        let body = serde_json::json!({"username": username, "password": password});
        let (s, _) = app.call("POST", "/api/v1/signin", None, Some(body)).await;
        assert_eq!(s, reqwest::StatusCode::UNAUTHORIZED);
    }
    let body = serde_json::json!({"username": slip, "email": "jay@clinic.example.org"});
    let (s, v) = app.call("POST", "/api/v1/password-reset", None, Some(body)).await;
    assert!(s.is_success(), "{s} {v}");
    let details: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail FROM audit_events WHERE action IN ('signin.password', 'self_service.password_reset_started') ORDER BY seq",
    )
    .fetch_all(app.running.services.db.pool())
    .await
    .expect("details");
    assert_eq!(details.len(), 4, "{details:?}");
    assert!(details.iter().all(|(_, d)| !d.to_lowercase().contains(&slip.to_lowercase())), "{details:?}");
    let digest = |d: &str| serde_json::from_str::<serde_json::Value>(d).expect("json")["unknown_username"].clone();
    assert!(digest(&details[0].1).as_str().is_some_and(|h| h.len() == 16), "{details:?}");
    assert_eq!(digest(&details[0].1), digest(&details[1].1), "one name reads as one");
    assert_eq!(digest(&details[0].1), digest(&details[3].1), "across sign-in and reset");
    assert!(details[2].1.contains("\"username\":\"jpatel\""), "{details:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password' AND subject_user_id IS NOT NULL")
            .await,
        1
    );
    app.stop().await;
}
both!(typed_names_are_logged_only_when_they_name_an_account);

/// A fake SMS provider on localhost: records requests, fails the first `fail_first` of them.
async fn fake_sms_provider(fail_first: usize) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/send",
        post(move |headers: axum::http::HeaderMap, Json(v): Json<serde_json::Value>| {
            let s = s.clone();
            async move {
                assert_eq!(headers.get("authorization").and_then(|h| h.to_str().ok()), Some("Bearer sms-secret"));
                let mut g = s.lock().expect("lock");
                g.push(v);
                if g.len() <= fail_first { axum::http::StatusCode::BAD_GATEWAY } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/send"), seen)
}

async fn outbox_delivers_after_commit_and_retries(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (url, seen) = fake_sms_provider(1).await;
    let deliverer = Deliverer::new(
        app.running.services.clone(),
        DeliveryConfig {
            smtp_url: None,
            mail_from: "x@example.org".into(),
            sms_url: Some(url),
            sms_token: Some("sms-secret".into()),
            dev_outbox: true,
        },
    )
    .expect("deliverer");
    let c = app.api();
    let link = app.invite("Maria", "Lopez", "maria@clinic.example.org").await;
    let token = link.split("token=").nth(1).expect("token");
    let r: serde_json::Value = c
        .post(app.url("/api/v1/signup"))
        .json(&serde_json::json!({"token": token, "username": "mlopez", "password": "maple orbit lantern", "confirm_password": "maple orbit lantern"}))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let t = r["session_token"].as_str().expect("t");
    c.post(app.url("/api/v1/two-step/setup"))
        .bearer_auth(t)
        .json(&serde_json::json!({"phone": "2065550143", "method": "text"}))
        .send()
        .await
        .expect("setup");
    // First pass: the email (dev outbox, no SMTP) is delivered; the provider fails the text.
    assert_eq!(deliverer.deliver_due().await.expect("pass"), 2);
    assert_eq!(seen.lock().expect("lock").len(), 1);
    let undelivered =
        app.count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND last_error IS NOT NULL").await;
    assert_eq!(undelivered, 1);
    // Not retried before its backoff...
    assert_eq!(deliverer.deliver_due().await.expect("pass"), 0);
    // ...then retried and delivered, exactly once more.
    app.advance(gatehouse_domain::Duration::seconds(16));
    assert_eq!(deliverer.deliver_due().await.expect("pass"), 1);
    let sent = seen.lock().expect("lock").clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["to"], "+12065550143");
    assert_eq!(sent[1]["channel"], "sms");
    assert_eq!(sent[0]["idempotency_key"], sent[1]["idempotency_key"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").await, 0);
    app.stop().await;
}
both!(outbox_delivers_after_commit_and_retries);

async fn schema(app: &TestApp) -> Vec<(String, String)> {
    let q = match app.backend {
        Backend::Sqlite => {
            // Ordinary tables only: the FTS5 search index (`virtual`) and its `shadow` tables
            // are SQLite's counterpart of PostgreSQL's trigram indexes, checked below.
            "SELECT m.name AS t, p.name AS c FROM pragma_table_list m JOIN pragma_table_info(m.name) p \
             WHERE m.schema = 'main' AND m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
             ORDER BY 1, 2"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' ORDER BY 1, 2"
        }
    };
    let rows: Vec<(String, String)> =
        sqlx::query_as(q).fetch_all(app.running.services.db.pool()).await.expect("schema");
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let Some(pg) = TestApp::start(Backend::Postgres).await else { return };
    let lite = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let (a, b) = (schema(&lite).await, schema(&pg).await);
    assert!(!a.is_empty());
    assert_eq!(a, b, "migrations/sqlite and migrations/postgres must define the same tables and columns");
    // SQLite has the index its SQL searches rely on (migration 0011).
    let fts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_list WHERE name = 'users_search' AND type = 'virtual'")
            .fetch_one(lite.running.services.db.pool())
            .await
            .expect("fts");
    assert_eq!(fts, 1, "SQLite has the FTS5 index users_search");
    // Both log the changes the search index in memory follows (migration 0016), by triggers.
    let lite_triggers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'users_search_changes_%'",
    )
    .fetch_one(lite.running.services.db.pool())
    .await
    .expect("sqlite triggers");
    let pg_triggers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'users_search_changes_%' AND NOT tgisinternal",
    )
    .fetch_one(pg.running.services.db.pool())
    .await
    .expect("postgres triggers");
    assert_eq!((lite_triggers, pg_triggers), (3, 3), "insert, delete and update are logged on both");
    lite.stop().await;
    pg.stop().await;
}
