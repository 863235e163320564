//! `gatehouse demo` data: a plan, a roster, active accounts that can sign in, and a pending
//! invitation in the outbox.

use crate::both;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn demo_data_is_complete_and_usable(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    assert_eq!(app.plan.row.name, "Chorus Community Health Plan");
    assert_eq!(app.count("SELECT COUNT(*) FROM practices").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'active'").await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE staff_role = 'plan_admin'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliations WHERE is_admin = 1").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'invited'").await, 1);
    assert!(app.last_message_to("maria.lopez@lakeside-family.example.org").await.is_some());
    // Loading twice keeps the data as it is.
    let (_, fresh) = gatehouse::demo::load(&app.running.services).await.expect("reload");
    assert!(!fresh);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 6);
    // A demo account signs in with the printed password; its code goes to its phone.
    let acc = &gatehouse::demo::ACCOUNTS[0];
    let r = app
        .api()
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": acc.username, "password": acc.password}))
        .send()
        .await
        .expect("signin");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.last_message_to(acc.phone).await.is_some());
    app.stop().await;
}
both!(demo_data_is_complete_and_usable);
