//! Plans are tenants: one plan's users, links and sessions never work at another plan's address.

use crate::both;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn plans_are_isolated(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.other_plan("northwind", Some("portal.northwind.example")).await;
    let c = app.api();
    // Plan A's invitation link carries its prefix; its token means nothing to plan B.
    let link = app.invite("Maria", "Lopez", "maria@clinic.example.org").await;
    assert!(link.contains("/p/test/signup?token="), "{link}");
    let token = link.split("token=").nth(1).expect("token");
    let body = json!({"token": token, "username": "mlopez", "password": "maple orbit lantern", "confirm_password": "maple orbit lantern"});
    let r = c.post(app.url("/p/northwind/api/v1/signup")).json(&body).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::GONE);
    let r = c
        .post(app.url("/api/v1/signup"))
        .header("host", "portal.northwind.example")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::GONE);
    // At its own plan it works.
    let r = c.post(app.url("/p/test/api/v1/signup")).json(&body).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let session: serde_json::Value = r.json().await.expect("json");
    let t = session["session_token"].as_str().expect("token");
    // Plan A's session is unknown at plan B; plan A's user cannot sign in at plan B.
    let r = c
        .post(app.url("/p/northwind/api/v1/two-step/setup"))
        .bearer_auth(t)
        .json(&json!({"phone": "2065550143", "method": "text"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .post(app.url("/p/northwind/api/v1/signin"))
        .json(&json!({"username": "mlopez", "password": "maple orbit lantern"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The pages name the plan they belong to.
    let page = c
        .get(app.url("/signin"))
        .header("host", "portal.northwind.example")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(page.contains("northwind Health Provider Portal"));
    let page = c.get(app.url("/p/test/signin")).send().await.expect("get").text().await.expect("text");
    assert!(page.contains("Chorus Test Plan Provider Portal"));
    assert!(page.contains("action=\"/p/test/signin\""), "links keep the prefix");
    // An address no plan claims shows no plan once plans have host names.
    let r = c.get(app.url("/signin")).header("host", "unknown.example").send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(plans_are_isolated);

async fn redirects_keep_the_plan_prefix(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = app.browser();
    let r = c.get(app.url("/p/test/")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/p/test/signin"));
    app.stop().await;
}
both!(redirects_keep_the_plan_prefix);
