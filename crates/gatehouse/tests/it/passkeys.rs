//! Passkeys (issue 19) over HTTP, pages and API, with a software authenticator: registered from
//! the open profile, used alone to sign in (discoverable) and as the second step after the
//! password; single-use ceremonies, the plan's own origin and relying-party id, another user's
//! passkey not found, and the help desk's reset removing them.

use crate::both;
use crate::support::authenticator::TestPasskey;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf, location};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) const ANN_PHONE: &str = "+12065550143";

/// Calls the API at the plan served at `host` (the default plan when `None`).
pub(crate) async fn call_at(
    app: &TestApp,
    host: Option<&str>,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.api().post(app.url(path));
    if let Some(h) = host {
        r = r.header("host", h);
    }
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.json(&body.unwrap_or(json!({}))).send().await.expect("request");
    let s = r.status();
    (s, serde_json::from_str(&r.text().await.expect("body")).unwrap_or(Value::Null))
}

/// Opens the profile of an API session (password, then the code to the current phone).
pub(crate) async fn unlock(app: &TestApp, token: &str, username: &str, phone: &str) {
    let body = json!({"username": username, "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code(phone).await;
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(token), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Registers a passkey named `name` through the API (the profile must be open).
pub(crate) async fn register(app: &TestApp, key: &mut TestPasskey, token: &str, name: &str) -> Value {
    let (s, o) = app.call("POST", "/api/v1/me/passkeys/options", Some(token), Some(json!({"name": name}))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.register(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/me/passkeys", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn amr_of_newest_session(app: &TestApp) -> String {
    let q = "SELECT amr FROM sessions WHERE amr IS NOT NULL ORDER BY id DESC LIMIT 1";
    sqlx::query_scalar(q).fetch_one(app.running.services.db.pool()).await.expect("amr")
}

async fn register_then_sign_in_alone_and_as_second_step(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    let mut key = TestPasskey::new();

    // Nothing before confirming it is you.
    let (s, v) = app.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(json!({"name": "Laptop"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")), "{v}");
    unlock(&app, &token, "ann", ANN_PHONE).await;

    // Names: empty, too long, control characters.
    for bad in ["", "   ", &"x".repeat(61), "a\u{7}b"] {
        let (s, v) = app.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(json!({"name": bad}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {v}");
        assert_eq!(v["error"]["field"], "name");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM passkey_ceremonies").await, 0, "no ceremony for a bad name");

    // The options name the plan as relying party and ask for a discoverable, user-verifying key.
    let (s, o) =
        app.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(json!({"name": " Office  laptop "}))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["options"]["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(o["options"]["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let answer = key.register(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/me/passkeys", Some(&token), Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "Office laptop");
    assert_eq!(v["last_used_at"], Value::Null);
    // The same answer again: the ceremony was used.
    let (s, v) = app.call("POST", "/api/v1/me/passkeys", Some(&token), Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");
    // An answer made for another origin is refused (and uses up its ceremony).
    let (_, o) = app.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(json!({"name": "Phone"}))).await;
    let answer = TestPasskey::new().register(&o["options"], "http://evil.example");
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/me/passkeys", Some(&token), Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("passkey_refused")), "{v}");
    let (s, list) = app.call("GET", "/api/v1/me/passkeys", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // Sign in with the passkey alone: no username, no password, no code.
    let (s, o) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert!(o["options"]["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty), "{o}");
    assert!(o["options"].get("mediation").is_none(), "asked at once, not in autofill");
    let answer = key.sign_in(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = call_at(&app, None, "/api/v1/signin/passkey", None, Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete");
    assert_eq!(amr_of_newest_session(&app).await, "hwk user");
    let alone = v["session_token"].as_str().expect("token").to_owned();
    let (s, me) = app.call("GET", "/api/v1/me", Some(&alone), None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    // Replayed: refused, and no second session.
    let sessions = app.count("SELECT COUNT(*) FROM sessions").await;
    let (s, v) = call_at(&app, None, "/api/v1/signin/passkey", None, Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");
    // An old answer under a new ceremony: the challenge differs.
    let (_, o2) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let stale = key.sign_in(&o["options"], &app.base);
    let (s, v) = call_at(
        &app,
        None,
        "/api/v1/signin/passkey",
        None,
        Some(json!({"ceremony": o2["ceremony"], "credential": stale})),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("passkey_refused")), "{v}");
    // Another origin (a look-alike site relaying the options) is refused.
    let (_, o3) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let phished = key.sign_in(&o3["options"], "http://evil.example");
    let (s, _) = call_at(
        &app,
        None,
        "/api/v1/signin/passkey",
        None,
        Some(json!({"ceremony": o3["ceremony"], "credential": phished})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The same answer sent eight times at once signs in once.
    let (_, o5) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let answer = key.sign_in(&o5["options"], &app.base);
    let body = json!({"ceremony": o5["ceremony"], "credential": answer});
    let tries = (0..8).map(|_| call_at(&app, None, "/api/v1/signin/passkey", None, Some(body.clone())));
    let answers = futures::future::join_all(tries).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::OK).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::GONE), "{answers:?}");
    let sessions = sessions + 1;
    // Garbage is refused the same way.
    let (_, o4) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let (s, _) = call_at(
        &app,
        None,
        "/api/v1/signin/passkey",
        None,
        Some(json!({"ceremony": o4["ceremony"], "credential": {"id": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, sessions, "no session from a refusal");

    // The password, then the passkey instead of the code.
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": TEST_PASSWORD}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")), "{v}");
    let pending = v["session_token"].as_str().expect("token").to_owned();
    let (s, o) = call_at(&app, None, "/api/v1/two-step/passkey/options", Some(&pending), None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["options"]["publicKey"]["allowCredentials"].as_array().map(Vec::len), Some(1));
    // Another session cannot answer this one's ceremony.
    let answer = key.sign_in(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = call_at(&app, None, "/api/v1/two-step/passkey", Some(&alone), Some(body.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("wrong_stage")), "{v}");
    let (s, v) = call_at(&app, None, "/api/v1/two-step/passkey", Some(&pending), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete");
    assert_eq!(amr_of_newest_session(&app).await, "pwd hwk user");

    let (_, list) = app.call("GET", "/api/v1/me/passkeys", Some(&token), None).await;
    assert!(list[0]["last_used_at"].is_i64(), "{list}");
    for (action, outcome, n) in [
        ("passkey.registered", "success", 1),
        ("passkey.register", "failure", 2),
        ("signin.passkey", "success", 2),
        ("signin.passkey", "failure", 11),
        ("two_step.passkey", "success", 1),
    ] {
        let q = format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND outcome = '{outcome}'");
        assert_eq!(app.count(&q).await, n, "{action} {outcome}");
    }
    app.stop().await;
}
both!(register_then_sign_in_alone_and_as_second_step);

async fn a_passkey_of_one_plan_is_refused_at_another(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(&app, &token, "ann", ANN_PHONE).await;
    let mut key = TestPasskey::new();
    register(&app, &mut key, &token, "Laptop").await;
    let anns = key.keys[0].clone();

    // Plan 2 at its own host: its relying party is that host, and Ann's key is not its.
    app.other_plan("two", Some("two.example")).await;
    let (s, o) = call_at(&app, Some("two.example"), "/api/v1/signin/passkey/options", None, None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["options"]["publicKey"]["rpId"], "two.example");
    let answer = key.sign_in_with(&anns, &o["options"], "http://two.example");
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = call_at(&app, Some("two.example"), "/api/v1/signin/passkey", None, Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("passkey_refused")), "{v}");
    // Plan 1's ceremony and answer, carried to plan 2: the ceremony is not plan 2's.
    let (_, o1) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let answer = key.sign_in(&o1["options"], &app.base);
    let body = json!({"ceremony": o1["ceremony"], "credential": answer});
    let (s, v) = call_at(&app, Some("two.example"), "/api/v1/signin/passkey", None, Some(body.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");

    // Plan 3 under /p/three shares the host name, so the same relying-party id: the key is still
    // not found among plan 3's.
    app.other_plan("three", None).await;
    let (_, o3) = call_at(&app, None, "/p/three/api/v1/signin/passkey/options", None, None).await;
    assert_eq!(o3["options"]["publicKey"]["rpId"], "localhost");
    let answer = key.sign_in_with(&anns, &o3["options"], &app.base);
    let body3 = json!({"ceremony": o3["ceremony"], "credential": answer});
    let (s, v) = call_at(&app, None, "/p/three/api/v1/signin/passkey", None, Some(body3)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("passkey_refused")), "{v}");

    // At its own plan it works (the plan-1 ceremony was not used up by plan 2's refusal).
    let (s, v) = call_at(&app, None, "/api/v1/signin/passkey", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.stop().await;
}
both!(a_passkey_of_one_plan_is_refused_at_another);

async fn removing_passkeys_and_the_help_desk_reset(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let bob = app.user("bob", "Bob", "Ray", 144, None).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let ann_token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    let bob_token = app.api_session("bob", TEST_PASSWORD, "+12065550144").await;
    unlock(&app, &ann_token, "ann", ANN_PHONE).await;
    unlock(&app, &bob_token, "bob", "+12065550144").await;
    let mut anns_key = TestPasskey::new();
    let first = register(&app, &mut anns_key, &ann_token, "Laptop").await;
    register(&app, &mut anns_key, &ann_token, "Phone").await;
    let mut bobs_key = TestPasskey::new();
    let bobs = register(&app, &mut bobs_key, &bob_token, "Bob's key").await;

    // Bob's passkey is not found for Ann, and nothing is removed.
    let (s, v) = app.call("DELETE", &format!("/api/v1/me/passkeys/{}", bobs["id"]), Some(&ann_token), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    let (s, _) = app.call("DELETE", "/api/v1/me/passkeys/999999", Some(&ann_token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call("DELETE", "/api/v1/me/passkeys/abc", Some(&ann_token), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 3);
    // Ann removes her first one; it no longer signs in.
    let (s, _) = app.call("DELETE", &format!("/api/v1/me/passkeys/{}", first["id"]), Some(&ann_token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let removed = anns_key.keys[0].clone();
    let (_, o) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let answer = anns_key.sign_in_with(&removed, &o["options"], &app.base);
    let (s, _) = call_at(
        &app,
        None,
        "/api/v1/signin/passkey",
        None,
        Some(json!({"ceremony": o["ceremony"], "credential": answer})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Once the profile closes, removing asks to confirm it is you again.
    app.advance(gatehouse_domain::Duration::minutes(16));
    let bob_token = app.api_session("bob", TEST_PASSWORD, "+12065550144").await;
    let (s, v) = app.call("DELETE", &format!("/api/v1/me/passkeys/{}", bobs["id"]), Some(&bob_token), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")), "{v}");

    // The help desk's reset of two-step removes Bob's passkeys too; Ann's stay.
    let c = app.signed_in_browser("hdesk", 1002).await;
    let action = format!("/admin/users/{}/reset-two-step", bob.0);
    let (s, page) = app.submit(&c, &action, &action, &[("reason", "Caller verified; lost phone")]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM passkeys WHERE user_id = {}", bob.0)).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);
    let (_, o) = call_at(&app, None, "/api/v1/signin/passkey/options", None, None).await;
    let answer = bobs_key.sign_in(&o["options"], &app.base);
    let (s, _) = call_at(
        &app,
        None,
        "/api/v1/signin/passkey",
        None,
        Some(json!({"ceremony": o["ceremony"], "credential": answer})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'support.two_step_reset' AND detail LIKE '%\"passkeys_removed\":1%'";
    assert_eq!(app.count(q).await, 1);
    app.stop().await;
}
both!(removing_passkeys_and_the_help_desk_reset);

/// Posts a form to `action` with the CSRF token of `page` and returns the JSON answer.
pub(crate) async fn options_by_form(
    app: &TestApp,
    c: &reqwest::Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (_, html) = app.page(c, page).await;
    let token = csrf(&html);
    let mut body: Vec<(&str, &str)> = vec![("csrf_token", &token)];
    body.extend_from_slice(fields);
    let r = c.post(app.url(action)).form(&body).send().await.expect("post");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn passkey_pages(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let c = app.signed_in_browser("ann", 143).await;

    // The script is served from the portal itself, and the pages allow only their own scripts.
    let r = c.get(app.url("/assets/passkeys.js")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/javascript")));
    let r = c.get(app.url("/profile/passkeys")).send().await.expect("get");
    let csp = r.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline'; script"), "{csp}");
    let page = r.text().await.expect("text");
    assert!(page.contains("You have no passkeys yet."), "{page}");
    assert!(page.contains("confirm it&#39;s you") || page.contains("confirm it's you"), "{page}");
    assert!(!page.contains("data-passkey=\"register\""), "no form before confirming");

    // Confirm it is you, then add a passkey through the page's form.
    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let code = app.last_code(ANN_PHONE).await;
    app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    let (_, page) = app.page(&c, "/profile/passkeys").await;
    assert!(page.contains("data-passkey=\"register\"") && page.contains("<noscript>"), "{page}");
    let (s, v) = options_by_form(&app, &c, "/profile/passkeys", "/profile/passkeys/options", &[("name", "")]).await;
    assert_eq!((s, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("name")), "{v}");
    let (s, o) =
        options_by_form(&app, &c, "/profile/passkeys", "/profile/passkeys/options", &[("name", "Front desk PC")]).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let mut key = TestPasskey::new();
    let answer = key.register(&o["options"], &app.base).to_string();
    let ceremony = o["ceremony"].as_str().expect("ceremony");
    let fields = [("ceremony", ceremony), ("credential", answer.as_str())];
    // The first strong factor: the answer is the page itself, with the recovery codes shown once.
    let (s, page, _) = app.post_form(&c, "/profile/passkeys", "/profile/passkeys", &fields).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Front desk PC") && page.contains("Your passkey was added."), "{page}");
    assert!(page.contains("Your recovery codes"), "{page}");
    // Replayed form: refused on the page.
    let (s, page, _) = app.post_form(&c, "/profile/passkeys", "/profile/passkeys", &fields).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired or was already used"), "{page}");

    // Remove needs its confirmation page; another id is not found.
    let id = app.count("SELECT MAX(id) FROM passkeys").await;
    let (s, _) = app.page(&c, &format!("/profile/passkeys/{}/remove", id + 1)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, page) = app.page(&c, &format!("/profile/passkeys/{id}/remove")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Remove the passkey"), "{page}");

    // A new browser signs in with the passkey from the sign-in page.
    let b = app.browser();
    let (_, page) = app.page(&b, "/signin").await;
    assert!(page.contains("Sign in with a passkey") && page.contains("/assets/passkeys.js"), "{page}");
    let (s, o) = options_by_form(&app, &b, "/signin", "/signin/passkey/options", &[]).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    let (s, _, loc) = app.post_form(&b, "/signin", "/signin/passkey", &fields).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let r = b.get(app.url("/profile/passkeys")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK, "signed in: {:?}", location(&r));
    // Replayed from the page: the sign-in page says why.
    let (s, page, _) = app.post_form(&app.browser(), "/signin", "/signin/passkey", &fields).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(page.contains("expired or was already used"), "{page}");

    // After the password, the code page offers the passkey, which completes the sign-in.
    let d = app.browser();
    let (s, _, loc) =
        app.post_form(&d, "/signin", "/signin", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/code")));
    let (_, page) = app.page(&d, "/two-step/code").await;
    assert!(page.contains("Use a passkey instead"), "{page}");
    let (s, o) = options_by_form(&app, &d, "/two-step/code", "/two-step/passkey/options", &[]).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    let (s, _, loc) = app.post_form(&d, "/two-step/code", "/two-step/passkey", &fields).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    app.stop().await;
}
both!(passkey_pages);
