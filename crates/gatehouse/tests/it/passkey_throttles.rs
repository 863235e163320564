//! Passkey sign-in held to the rules of the other anonymous sign-in paths: the options (a stored
//! ceremony for anyone who asks) are limited per client address in a sliding window, answered
//! 429 with `Retry-After`; and a failed passkey of a known user counts toward the same lock as a
//! wrong password, alone or as the second step, on the API and the pages.

use crate::both;
use crate::passkeys::{ANN_PHONE, call_at, options_by_form, register, unlock};
use crate::support::authenticator::TestPasskey;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use gatehouse_domain::Duration;
use gatehouse_domain::passkey::{SIGNIN_OPTIONS_PER_ADDRESS, SIGNIN_OPTIONS_WINDOW};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Asks for passkey sign-in options through the API from `forwarded_for` (the server trusts
/// its proxy), returning the status, `Retry-After` and body.
async fn options_from(app: &TestApp, forwarded_for: &str) -> (StatusCode, Option<i64>, Value) {
    let r = app
        .api()
        .post(app.url("/api/v1/signin/passkey/options"))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .expect("options");
    let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (r.status(), wait, r.json().await.unwrap_or(Value::Null))
}

async fn passkey_signin_options_are_limited_per_address(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    let limit = SIGNIN_OPTIONS_PER_ADDRESS;
    let window = SIGNIN_OPTIONS_WINDOW.as_secs();
    // Half the address's allowance now, half five minutes later.
    for i in 0..limit {
        if i == limit / 2 {
            app.advance(Duration::minutes(5));
        }
        let (s, _, v) = options_from(&app, "198.51.100.7").await;
        assert_eq!(s, StatusCode::OK, "request {}: {v}", i + 1);
    }
    let ceremonies = app.count("SELECT COUNT(*) FROM passkey_ceremonies").await;
    assert_eq!(ceremonies, limit);

    // One more is refused, saying when the oldest request leaves the window; nothing is stored.
    let (s, wait, v) = options_from(&app, "198.51.100.7").await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("throttled")), "{v}");
    assert_eq!(wait, Some(window - 5 * 60 + 1), "Retry-After: until the first half leaves the window");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Too many passkey sign-ins were started from your network."), "{message}");
    assert!(message.contains("Wait 6 minute(s)") && message.contains("username and password"), "{message}");
    assert_eq!(app.count("SELECT COUNT(*) FROM passkey_ceremonies").await, ceremonies, "nothing stored");
    // The page's options route is the same command: refused for the same address.
    let c = app.browser();
    let (_, page) = app.page(&c, "/signin").await;
    let r = c
        .post(app.url("/signin/passkey/options"))
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[("csrf_token", crate::support::csrf(&page))])
        .send()
        .await
        .expect("page options");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("301"));
    let v: Value = r.json().await.expect("the script's JSON");
    assert_eq!(v["message"].as_str(), Some(message), "{v}");

    // Another address is not held back by this one.
    let (s, _, v) = options_from(&app, "203.0.113.20").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The window slides: once the first half has left it, that many may ask again, not more.
    app.advance(Duration::seconds(window - 5 * 60 + 1));
    for i in 0..limit / 2 {
        let (s, _, v) = options_from(&app, "198.51.100.7").await;
        assert_eq!(s, StatusCode::OK, "request {} after the wait: {v}", i + 1);
    }
    let (s, wait, _) = options_from(&app, "198.51.100.7").await;
    assert_eq!((s, wait), (StatusCode::TOO_MANY_REQUESTS, Some(5 * 60)));
    app.stop().await;
}
both!(passkey_signin_options_are_limited_per_address);

/// A sign-in with a passkey alone; `origin` is where the browser says it was (another origin
/// makes an answer that does not verify, as a relaying look-alike site's would).
async fn passkey_alone(app: &TestApp, key: &mut TestPasskey, origin: &str) -> (StatusCode, Value) {
    let (s, o) = call_at(app, None, "/api/v1/signin/passkey/options", None, None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], origin);
    call_at(app, None, "/api/v1/signin/passkey", None, Some(json!({"ceremony": o["ceremony"], "credential": answer})))
        .await
}

async fn password(app: &TestApp, password: &str) -> (StatusCode, Value) {
    app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": password}))).await
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

async fn failed_passkeys_count_toward_the_password_lock(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(&app, &token, "ann", ANN_PHONE).await;
    let mut key = TestPasskey::new();
    register(&app, &mut key, &token, "Laptop").await;
    let evil = "http://evil.example";

    // Four wrong passwords and one failed passkey make the five failures that lock a username.
    for i in 0..4 {
        let (s, v) = password(&app, "a wrong guess").await;
        assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")), "password {i}: {v}");
    }
    let (s, v) = passkey_alone(&app, &mut key, evil).await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, Some("locked")), "{v}");
    let locked = v["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(locked.starts_with("Too many unsuccessful sign-in attempts. Wait 1 minute(s)"), "{locked}");
    // Locked for the password and for the passkey alike, with the same message.
    let (s, v) = password(&app, TEST_PASSWORD).await;
    assert_eq!((s, v["error"]["message"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some(locked.as_str())), "{v}");
    let sessions = app.count("SELECT COUNT(*) FROM sessions").await;
    let (s, v) = passkey_alone(&app, &mut key, &app.base.clone()).await;
    assert_eq!((s, v["error"]["message"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some(locked.as_str())), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, sessions, "no session while locked");
    // The sign-in page says so too, with the same status as a wrong password's lock.
    let b = app.browser();
    let (s, o) = options_by_form(&app, &b, "/signin", "/signin/passkey/options", &[]).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    let (s, page, _) = app.post_form(&b, "/signin", "/signin/passkey", &fields).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many unsuccessful sign-in attempts."), "{page}");
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'signin.passkey' AND outcome = 'failure' AND detail LIKE '%locked%'";
    assert_eq!(app.count(q).await, 2, "the refusals while locked are audited");

    // The lock ends as a password's does; the failures still count (the next one locks longer),
    // until the owner's passkey signs in and clears them, as a right password would.
    app.advance(Duration::seconds(61));
    let (s, v) = passkey_alone(&app, &mut key, evil).await;
    assert_eq!(
        (s, v["error"]["message"].as_str().map(|m| m.contains("Wait 2 minute(s)"))),
        (StatusCode::TOO_MANY_REQUESTS, Some(true)),
        "{v}"
    );
    app.advance(Duration::seconds(121));
    let (s, v) = passkey_alone(&app, &mut key, &app.base.clone()).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    // Its address's count, that is: the failures within the window across addresses decay alone.
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key LIKE 'u:ann|ip:%'").await, 0);
    let (s, v) = password(&app, "a wrong guess").await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")), "counting from zero: {v}");

    // As the second step after the right password (which clears the count): five failed
    // passkeys lock the username, and the password is refused with them.
    let (s, v) = password(&app, TEST_PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let pending = v["session_token"].as_str().expect("token").to_owned();
    for i in 0..5 {
        let (s, o) = call_at(&app, None, "/api/v1/two-step/passkey/options", Some(&pending), None).await;
        assert_eq!(s, StatusCode::OK, "{o}");
        let answer = key.sign_in(&o["options"], evil);
        let body = json!({"ceremony": o["ceremony"], "credential": answer});
        let (s, v) = call_at(&app, None, "/api/v1/two-step/passkey", Some(&pending), Some(body)).await;
        let want = if i < 4 {
            (StatusCode::UNAUTHORIZED, "passkey_refused")
        } else {
            (StatusCode::TOO_MANY_REQUESTS, "locked")
        };
        assert_eq!((s, code(&v)), (want.0, Some(want.1)), "second step {i}: {v}");
    }
    let (s, v) = password(&app, TEST_PASSWORD).await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, Some("locked")), "{v}");
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.passkey' AND outcome = 'failure' AND detail LIKE '%verification%'";
    assert_eq!(app.count(q).await, 5);
    app.stop().await;
}
both!(failed_passkeys_count_toward_the_password_lock);

/// Whoever fails a username from a hundred networks locks it everywhere for passwords, but a
/// passkey cannot be guessed: its holder still signs in with it, alone or as the second step
/// (the lock from the holder's own address would still hold it, as above).
async fn a_lock_set_from_many_networks_does_not_hold_a_passkey(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(&app, &token, "ann", ANN_PHONE).await;
    let mut key = TestPasskey::new();
    register(&app, &mut key, &token, "Laptop").await;
    for i in 0..100 {
        let body = json!({"username": "ann", "password": "a wrong guess"});
        app.call_from(&format!("198.51.100.{}", i + 1), "POST", "/api/v1/signin", None, Some(body)).await;
    }
    let (s, v) = password(&app, TEST_PASSWORD).await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, Some("locked")), "{v}");
    let (s, v) = passkey_alone(&app, &mut key, &app.base.clone()).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    // Confirming it is them from the signed-in session is not held either.
    let t = v["session_token"].as_str().expect("token").to_owned();
    let confirm = json!({"username": "ann", "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(&t), Some(confirm)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The lock still holds a password from anywhere else.
    let (s, v) = password(&app, TEST_PASSWORD).await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, Some("locked")), "{v}");
    app.stop().await;
}
both!(a_lock_set_from_many_networks_does_not_hold_a_passkey);
