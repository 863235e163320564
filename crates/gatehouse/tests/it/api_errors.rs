//! Issue 15, "Errors are uniform": whatever is wrong with a request to the API (its body, its
//! content type, its size, its path or query, the path or method itself), the answer is the
//! documented error body `{"error": {"code", "message", "field"}}` with the right status, never
//! axum's plain text, and nothing is written.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TIN: &str = "825671892";

/// A request built by hand: any method, content type (or none) and bytes.
async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut r = app.api().request(method, app.url(path)).body(body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| json!({ "not_json": text })))
}

/// The answer is the documented error body with this status, code and field.
#[track_caller]
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, field: Option<&str>) {
    let (s, v) = answer;
    assert_eq!(*s, status, "{v}");
    let e = &v["error"];
    assert_eq!(e["code"], code, "{v}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {v}");
    assert_eq!(e["field"].as_str(), field, "{v}");
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "only `error`: {v}");
    assert_eq!(e.as_object().map(|o| o.len()), Some(3), "code, message, field: {v}");
}

/// Ann administers a practice; her API session.
async fn admin(app: &TestApp) -> String {
    let ann = app.user("ann", "Ann", "Carter", 1001, None).await;
    app.seed_practice(TIN, "Lakeside Family Medicine").await;
    app.seed_affiliation(ann, TIN, "office_manager", true).await;
    app.api_session("ann", TEST_PASSWORD, "+12065551001").await
}

async fn sign_in_bodies_are_refused_uniformly(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("bob", "Bob", "Stone", 1002, None).await;
    let rows = "SELECT (SELECT COUNT(*) FROM sessions) + (SELECT COUNT(*) FROM signin_failures) \
                + (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM outbox)";
    let before = app.count(rows).await;
    let json = Some("application/json");
    let good = json!({"username": "bob", "password": TEST_PASSWORD}).to_string();

    let a = raw(&app, "POST", "/api/v1/signin", None, json, "{\"username\": \"bob\",\n \"password\": ").await;
    assert_error(&a, StatusCode::BAD_REQUEST, "malformed_json", None);
    assert!(a.1["error"]["message"].as_str().is_some_and(|m| m.contains("line 2 column")), "{}", a.1);
    let a = raw(&app, "POST", "/api/v1/signin", None, json, format!("{good} {good}")).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "malformed_json", None);

    let a = raw(&app, "POST", "/api/v1/signin", None, Some("text/plain"), good.clone()).await;
    assert_error(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None);
    let a = raw(&app, "POST", "/api/v1/signin", None, None, good.clone()).await;
    assert_error(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None);

    let extra = json!({"username": "bob", "password": TEST_PASSWORD, "remember_me": true});
    let a = raw(&app, "POST", "/api/v1/signin", None, json, extra.to_string()).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("remember_me"));
    let a = raw(&app, "POST", "/api/v1/signin", None, json, json!({"username": 7, "password": "x"}).to_string()).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("username"));
    let a = raw(&app, "POST", "/api/v1/signin", None, json, json!({"username": "bob"}).to_string()).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("password"));

    // Over the API's body limit (axum's default, 2 MiB).
    let big = json!({"username": "bob", "password": "x".repeat(3 * 1024 * 1024)}).to_string();
    let a = raw(&app, "POST", "/api/v1/signin", None, json, big).await;
    assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);

    assert_eq!(app.count(rows).await, before, "no session, failure, audit event or message");
    // The same body, well formed, signs in.
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "bob", "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.stop().await;
}
both!(sign_in_bodies_are_refused_uniformly);

async fn an_invitation_list_names_the_field_at_fault(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let token = admin(&app).await;
    let rows = "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM invitations) \
                + (SELECT COUNT(*) FROM affiliations) + (SELECT COUNT(*) FROM outbox)";
    let before = app.count(rows).await;
    let row = |extra: Value| {
        let mut r = json!({"first_name": "Cy", "last_name": "Doe", "email": "cy@example.org",
            "email_confirm": "cy@example.org", "user_type": "billing_staff"});
        if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        r
    };
    let invite = |body: Value| app.call("POST", "/api/v1/practice/invitations", Some(&token), Some(body));

    let a =
        invite(json!({"rows": [row(json!({})), row(json!({"all_providers": false, "providers": [1, "P1"]}))]})).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("rows[1].providers[1]"));
    let a = invite(json!({"rows": [row(json!({"nickname": "C"}))]})).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("rows[0].nickname"));
    let a = invite(json!({"rows": [row(json!({}))], "notify": true})).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("notify"));
    let a = invite(json!({"rows": [{"first_name": "Cy"}]})).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some("rows[0].last_name"));
    let a = raw(&app, "POST", "/api/v1/practice/invitations", Some(&token), Some("application/json"), "{\"rows\": [}")
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "malformed_json", None);

    // A caller without a session is refused for that, before the body is looked at.
    let a = raw(&app, "POST", "/api/v1/practice/invitations", None, Some("text/plain"), "{").await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthenticated", None);

    assert_eq!(app.count(rows).await, before, "nobody invited");
    let (s, v) = invite(json!({"rows": [row(json!({"all_providers": true}))]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["ok"], true, "{v}");
    app.stop().await;
}
both!(an_invitation_list_names_the_field_at_fault);

async fn paths_queries_and_methods_are_refused_uniformly(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let token = admin(&app).await;
    let t = Some(token.as_str());

    let a = app.call("GET", "/api/v1/practice/users/abc", t, None).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "invalid_path", Some("id"));
    let a = app.call("DELETE", "/api/v1/practice/invitations/9x", t, None).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "invalid_path", Some("user"));
    let a = app.call("GET", "/api/v1/practice/users?page=two", t, None).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "invalid_query", Some("page"));
    let (s, v) = app.call("GET", "/api/v1/practice/users?page=1", t, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    for path in ["/api/v1/no-such-thing", "/api/v1/practice/users/1/nothing", "/api/v1"] {
        let a = app.call("GET", path, t, None).await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found", None);
    }
    let a = app.call("DELETE", "/api/v1/signin", None, None).await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
    let a = app.call("PUT", "/api/v1/practice/invitations", t, Some(json!({}))).await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
    app.stop().await;
}
both!(paths_queries_and_methods_are_refused_uniformly);

async fn a_permission_check_over_the_limit_is_refused_uniformly(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let meta = gatehouse_services::RequestMeta::cli();
    let c = svc.create_application(&svc.operator_grant(&app.plan), &app.plan, "Claims portal", &meta).await.unwrap();
    let big = json!({"checks": [], "padding": "x".repeat(3 * 1024 * 1024)}).to_string();
    let resp = app
        .api()
        .post(app.url("/api/v1/authz/check-batch"))
        .basic_auth(&c.row.client_id, Some(&c.secret))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).unwrap_or(Value::Null);
    assert_error(&(status, v), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
    app.stop().await;
}
both!(a_permission_check_over_the_limit_is_refused_uniformly);
