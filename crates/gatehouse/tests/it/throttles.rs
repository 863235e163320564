//! Throttles that cannot be turned on their owner: the sign-in lock across addresses decays,
//! the client address is the one a trusted proxy vouches for, reset codes have their own send
//! budget, wrong codes are counted atomically, and every sign-in path costs one Argon2id verify.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PHONE: &str = "+12065559975";

async fn sign_in(app: &TestApp, username: &str, password: &str, xff: &str) -> (StatusCode, Value) {
    app.call_from(xff, "POST", "/api/v1/signin", None, Some(json!({"username": username, "password": password}))).await
}

async fn spread_out_failures_do_not_keep_an_account_locked(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // 100 failures from 100 addresses lock the name everywhere, the owner's address too.
    for i in 0..100 {
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &format!("198.51.100.{}", i + 1)).await;
        let want = if i < 99 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "failure {}", i + 1);
    }
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("locked")));
    // An unknown name gets the same lock after the same failures: nothing tells them apart.
    for i in 0..100 {
        sign_in(&app, "nobody.here", "wrong guess", &format!("198.51.100.{}", i + 1)).await;
    }
    let (s2, v2) = sign_in(&app, "nobody.here", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s2, &v2), (s, &v));
    // Then one failure every quarter of an hour, from ever new addresses: the old failures have
    // left the window, so none of them locks the name again and the owner always gets in.
    for round in 0..4 {
        app.advance(Duration::seconds(15 * 60 + 1));
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &format!("192.0.2.{}", round + 1)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "round {round}: a single failure does not lock");
        app.advance(Duration::minutes(1));
        let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
        assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")), "round {round}: {v}");
    }
    app.stop().await;
}
both!(spread_out_failures_do_not_keep_an_account_locked);

async fn sign_in_on(app: &TestApp, username: &str, password: &str, xff: &str, device: &str) -> (StatusCode, Value) {
    let body = json!({"username": username, "password": password, "device_token": device});
    app.call_from(xff, "POST", "/api/v1/signin", None, Some(body)).await
}

/// Whoever has a hundred networks can keep a username locked everywhere (the lock above), and
/// so keep the plan administrator out. A browser that has passed that username's password before
/// holds a token for it (OWASP's device cookies): with it, the lock others put on the name does
/// not apply, and its own wrong passwords lock it alone. The token is the username's and the
/// plan's: it opens no other name's lock, and a token altered or from elsewhere is ignored.
async fn a_known_browser_signs_in_through_a_lock_set_from_many_networks(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    app.user("padmin", "Pat", "Adams", 9975, Some("plan_admin")).await;
    app.user("jpatel", "Jay", "Patel", 9976, None).await;
    let (s, v) = sign_in(&app, "padmin", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["device_token"].as_str().expect("a device token").to_owned();
    assert_eq!(token.len(), 54, "one username's token");
    // A wrong password earns no token.
    let (s, v) = sign_in(&app, "jpatel", "wrong guess", "203.0.113.5").await;
    assert_eq!((s, v.get("device_token")), (StatusCode::UNAUTHORIZED, None));

    for name in ["padmin", "jpatel"] {
        for i in 0..100 {
            sign_in(&app, name, "wrong guess", &format!("198.51.100.{}", i + 1)).await;
        }
    }
    // Locked everywhere for a browser without the token, the administrator's address too.
    let (s, _) = sign_in(&app, "padmin", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // The administrator's own browser signs in, from anywhere, and its token is renewed.
    let (s, v) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", &token).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")), "{v}");
    let renewed = v["device_token"].as_str().expect("renewed").to_owned();
    assert_ne!(renewed, token);
    // That did not lift the lock for anyone else.
    let (s, _) = sign_in(&app, "padmin", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "still locked for browsers without the token");
    // The token opens no other username's lock: Jay's stays, and the browser now holds both
    // names' tokens only once Jay's own password passes.
    let (s, _) = sign_in_on(&app, "jpatel", TEST_PASSWORD, "192.0.2.77", &renewed).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "another username's lock");
    // An altered token, or one from another plan's host, is ignored.
    let mut altered = renewed.clone().into_bytes();
    altered[30] = if altered[30] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("text");
    let (s, _) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", &altered).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "an altered token");

    // Wrong passwords typed in the known browser lock that browser alone, as an address would be.
    for i in 0..5 {
        let (s, v) = sign_in_on(&app, "padmin", "wrong guess", "192.0.2.77", &renewed).await;
        let want = if i < 4 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "failure {}: {v}", i + 1);
    }
    let (s, _) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", &renewed).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "the browser's own lock");
    let known = "SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password' AND outcome = 'failure' \
                 AND ip = '192.0.2.77' AND detail LIKE '%\"known_browser\":true%'";
    assert_eq!(app.count(known).await, 5, "its failures are audited as the known browser's");
    // The lock ends like any other, and a later success forgets the browser's failures.
    app.advance(Duration::minutes(2));
    let (s, v) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", &renewed).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let own = "SELECT COUNT(*) FROM signin_throttle WHERE throttle_key LIKE 'u:padmin|dev:%'";
    assert_eq!(app.count(own).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:padmin'").await, 1);

    // Too long a token is refused as such; junk of a permitted length is ignored.
    let (s, v) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", &"A".repeat(400)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_device_token")));
    let (s, _) = sign_in_on(&app, "padmin", TEST_PASSWORD, "192.0.2.77", "not.a.token").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}
both!(a_known_browser_signs_in_through_a_lock_set_from_many_networks);

/// The same through the pages: the sign-in sets the `gh_device` cookie (HttpOnly, sent to this
/// site only, kept for 180 days), and the browser that holds it signs in through the lock.
async fn the_sign_in_page_remembers_the_browser(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    app.user("padmin", "Pat", "Adams", 9975, Some("plan_admin")).await;
    let post = |c: reqwest::Client, password: &'static str| {
        let app = &app;
        async move {
            let (_, page) = app.page(&c, "/signin").await;
            let form = [("csrf_token", csrf(&page)), ("username", "padmin".into()), ("password", password.into())];
            c.post(app.url("/signin")).form(&form).send().await.expect("post")
        }
    };
    let known = app.browser();
    let r = post(known.clone(), TEST_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gh_device="))
        .expect("the device cookie")
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=15552000", "Path=/"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    // Signing out ends the session and keeps the browser's token.
    let (s, _, _) = app.post_form(&known, "/two-step/code", "/signout", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    for i in 0..100 {
        sign_in(&app, "padmin", "wrong guess", &format!("198.51.100.{}", i + 1)).await;
    }
    let r = post(app.browser(), TEST_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "a new browser is held by the lock");
    let r = post(known.clone(), TEST_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the known browser is not");
    assert_eq!(crate::support::location(&r).as_deref(), Some("/two-step/code"));
    app.stop().await;
}
both!(the_sign_in_page_remembers_the_browser);

async fn reset_codes_have_their_own_send_budget(backend: Backend) {
    let Some(running) = TestApp::start(backend).await else { return };
    let app = &running;
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let lookup = |username: &'static str, email: &'static str| {
        let body = json!({"username": username, "email": email});
        async move { app.call("POST", "/api/v1/password-reset", None, Some(body)).await }
    };
    // Someone who knows the username and email spends the whole reset budget: each lookup sends a
    // code, and lookups of a username stop at the hour's budget...
    for i in 0..5 {
        let (s, v) = lookup("jpatel", "jpatel@example.org").await;
        assert_eq!(s, StatusCode::ACCEPTED, "reset code {}: {v}", i + 1);
    }
    let (s, v) = lookup("jpatel", "jpatel@example.org").await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("throttled")));
    // (refused exactly like a username that matches nothing)
    for _ in 0..5 {
        lookup("nobody.here", "jpatel@example.org").await;
    }
    assert_eq!(lookup("nobody.here", "jpatel@example.org").await, (s, v));
    let texts = app.outbox().await.into_iter().filter(|m| m.recipient == PHONE).count();
    assert_eq!(texts, 5);
    // ...and the owner still gets a sign-in code, which works.
    let (s, v) = sign_in(app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")));
    let texts_after = app.outbox().await.into_iter().filter(|m| m.recipient == PHONE).count();
    assert_eq!(texts_after, 6, "a sign-in code was sent");
    let session = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&session), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The sign-in budget is its own too: four more sign-in codes may be sent this hour, not more.
    let (_, v) = sign_in(app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    let session = v["session_token"].as_str().expect("token").to_owned();
    for _ in 0..3 {
        let (s, _) = app.call("POST", "/api/v1/two-step/resend", Some(&session), Some(json!({}))).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = app.call("POST", "/api/v1/two-step/resend", Some(&session), Some(json!({}))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    running.stop().await;
}
both!(reset_codes_have_their_own_send_budget);

async fn concurrent_wrong_codes_are_each_counted(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!(s, StatusCode::OK);
    let session = v["session_token"].as_str().expect("token").to_owned();
    let right = app.last_code(PHONE).await;
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let mut tries = Vec::new();
    for _ in 0..50 {
        let (app_url, session) = (app.url("/api/v1/two-step/verify"), session.clone());
        let client = app.api();
        tries.push(tokio::spawn(async move {
            let r = client.post(app_url).bearer_auth(session).json(&json!({"code": wrong})).send().await.expect("post");
            let s = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (s, v["error"]["code"].as_str().unwrap_or("").to_owned())
        }));
    }
    let mut judged_wrong = 0;
    for t in tries {
        match t.await.expect("task") {
            (StatusCode::UNPROCESSABLE_ENTITY, c) if c == "wrong_code" => judged_wrong += 1,
            (StatusCode::GONE, c) if c == "code_unusable" => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // Five tries: four answer "wrong, n left", the fifth and every later one "too many tries".
    assert_eq!(judged_wrong, 4);
    let counted = app.count("SELECT MAX(tries) FROM verification_codes").await;
    assert_eq!(counted, 5, "no more tries are counted than the limit");
    let audited = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.verify' AND detail LIKE '%\"wrong\"%'")
        .await;
    assert_eq!(audited, 4);
    // The code is dead, even typed right.
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&session), Some(json!({"code": right}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("code_unusable")), "{v}");
    app.stop().await;
}
both!(concurrent_wrong_codes_are_each_counted);

async fn the_vouched_address_is_throttled_and_audited(backend: Backend) {
    let proxies = gatehouse_domain::client_address::TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
    let Some(app) = TestApp::start_with(backend, |c| c.trusted_proxies = proxies).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // The client forges a new left-most entry each time; our proxies (10.0.0.2, then the peer
    // 127.0.0.1) vouch for 203.0.113.7, so every failure counts on that one address.
    for i in 0..5 {
        let xff = format!("6.6.6.{i}, 203.0.113.7, 10.0.0.2");
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &xff).await;
        let want = if i < 4 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "failure {}", i + 1);
    }
    let (s, _) = sign_in(&app, "jpatel", TEST_PASSWORD, "6.6.6.99, 203.0.113.7").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "a forged left entry does not escape the address's lock");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:jpatel|ip:203.0.113.7'").await,
        1
    );
    // Another address is not locked, and the audit log names the addresses the proxies vouched for.
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "6.6.6.6, 203.0.113.8").await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")));
    let at = |ip: &str| format!("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password' AND ip = '{ip}'");
    // Five failures; the refusal of the locked name changed nothing and is not written down.
    assert_eq!(app.count(&at("203.0.113.7")).await, 5);
    assert_eq!(app.count(&at("203.0.113.8")).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE ip LIKE '6.6.6.%'").await, 0);
    app.stop().await;
}
both!(the_vouched_address_is_throttled_and_audited);

/// Every address of one IPv6 /64 counts as one: a machine cannot fail a username from a fresh
/// address each time to escape the per-address lock (and, with enough of them, keep the name
/// locked everywhere). Another /64 is not locked; the audit log keeps the full addresses.
async fn an_ipv6_network_counts_as_one_address(backend: Backend) {
    let proxies = gatehouse_domain::client_address::TrustedProxies::parse(["127.0.0.1"]).unwrap();
    let Some(app) = TestApp::start_with(backend, |c| c.trusted_proxies = proxies).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    for i in 0..5 {
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &format!("2001:db8:7:7::{:x}", i + 1)).await;
        let want = if i < 4 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "failure {}", i + 1);
    }
    let (s, _) = sign_in(&app, "jpatel", TEST_PASSWORD, "2001:db8:7:7:ffff::99").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "a new address of the same /64 is locked too");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:jpatel|ip:2001:db8:7:7::/64'").await,
        1
    );
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "2001:db8:7:8::1").await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")), "another /64 is not");
    let at = "SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password' AND ip = '2001:db8:7:7::3'";
    assert_eq!(app.count(at).await, 1, "the audit log keeps the whole address");
    app.stop().await;
}
both!(an_ipv6_network_counts_as_one_address);

async fn every_sign_in_path_costs_one_argon2id_verification(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // An imported account not migrated yet: salted SHA-256 of "NaCl" + "copper kettle meadow".
    app.user("old.timer", "Olga", "Timer", 9976, None).await;
    app.sql("UPDATE users SET password_hash = NULL, legacy_hash = 'sha256-prefix$4e61436c$ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0' WHERE username = 'old.timer'").await;
    let hasher = &app.running.services.hasher;
    let cases = [
        ("nobody.here", TEST_PASSWORD, StatusCode::UNAUTHORIZED, "unknown user"),
        ("jpatel", "wrong guess", StatusCode::UNAUTHORIZED, "wrong password"),
        ("old.timer", "copper kettle meadows", StatusCode::UNAUTHORIZED, "legacy, wrong password"),
        ("old.timer", "copper kettle meadow", StatusCode::OK, "legacy, right password"),
        ("jpatel", TEST_PASSWORD, StatusCode::OK, "right password"),
    ];
    for (i, (username, password, status, what)) in cases.into_iter().enumerate() {
        let before = hasher.argon2_verifications();
        let (s, v) = sign_in(&app, username, password, &format!("203.0.113.{}", i + 1)).await;
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(hasher.argon2_verifications() - before, 1, "{what}: exactly one Argon2id verification");
    }
    app.stop().await;
}
both!(every_sign_in_path_costs_one_argon2id_verification);

async fn the_sixth_sign_in_of_the_hour_says_no_code_was_sent_and_when_one_can_be(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let texts = || async { app.outbox().await.into_iter().filter(|m| m.recipient == PHONE).count() };
    // Five sign-ins in the hour, a code each: the hour's sign-in codes are used up.
    for i in 0..5 {
        let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
        assert_eq!(
            (s, v["next"].as_str(), v["code_sent"].as_bool()),
            (StatusCode::OK, Some("two_step_code"), Some(true)),
            "sign-in {}: {v}",
            i + 1
        );
        assert!(v.get("next_code_at").is_none(), "{v}");
        app.advance(Duration::minutes(1));
    }
    assert_eq!(texts().await, 5);
    let first = app.count("SELECT MIN(created_at) FROM verification_codes").await;
    // The sixth, in the browser: the code page says plainly that nothing was sent, and when.
    let c = app.browser();
    let (s, _, loc) =
        app.post_form(&c, "/signin", "/signin", &[("username", "jpatel"), ("password", TEST_PASSWORD)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/code")));
    let (s, page) = app.page(&c, "/two-step/code").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("No code was sent."), "{page}");
    assert!(!page.contains("Enter the code we sent"), "{page}");
    assert!(page.contains("You can ask for a new code after"), "{page}");
    assert!(page.contains("still works") && page.contains("1-800-555-0199"), "{page}");
    assert_eq!(texts().await, 5, "nothing was sent");
    // The same fact over the API, with the time the next code can be sent.
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!(
        (s, v["next"].as_str(), v["code_sent"].as_bool()),
        (StatusCode::OK, Some("two_step_code"), Some(false)),
        "{v}"
    );
    assert_eq!(v["next_code_at"].as_i64(), Some(first + 3600), "{v}");
    assert_eq!(texts().await, 5, "nothing was sent");
    // A code received a few minutes ago still works.
    let session = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&session), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Once the first code is an hour old, a sign-in sends a code again.
    app.advance(Duration::minutes(56));
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s, v["code_sent"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
    assert_eq!(texts().await, 6);
    app.stop().await;
}
both!(the_sixth_sign_in_of_the_hour_says_no_code_was_sent_and_when_one_can_be);

/// The public forms' limits per address count an IPv6 /64 as one address, as the sign-in lock
/// does: a machine given a /64 cannot send a registration (two emails of its choosing) or a
/// username look-up from a fresh address each time. Another /64 is counted apart.
async fn public_forms_count_an_ipv6_network_as_one_address(backend: Backend) {
    use crate::registration::{NOT_ON_ROSTER, PRIMARY, SECONDARY, fields};
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    let registration: Value = fields(NOT_ON_ROSTER, PRIMARY, SECONDARY)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    for i in 1..=5 {
        let (s, v) = app
            .call_from(&format!("2001:db8:5:5::{i}"), "POST", "/api/v1/registrations", None, Some(registration.clone()))
            .await;
        assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "request {i}: {v}");
    }
    let (s, v) =
        app.call_from("2001:db8:5:5:abcd::1", "POST", "/api/v1/registrations", None, Some(registration.clone())).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("throttled")), "{v}");
    let (s, v) = app.call_from("2001:db8:5:6::1", "POST", "/api/v1/registrations", None, Some(registration)).await;
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "another /64: {v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations").await, 1, "one pending request per Tax ID");

    for i in 1..=20 {
        let body = json!({"email": format!("person{i}@example.org")});
        let (s, v) =
            app.call_from(&format!("2001:db8:9:9::{i:x}"), "POST", "/api/v1/forgot-username", None, Some(body)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "look-up {i}: {v}");
    }
    let body = json!({"email": "another@example.org"});
    let (s, _) = app.call_from("2001:db8:9:9:1::1", "POST", "/api/v1/forgot-username", None, Some(body.clone())).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let (s, _) = app.call_from("2001:db8:9:a::1", "POST", "/api/v1/forgot-username", None, Some(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "another /64");
    app.stop().await;
}
both!(public_forms_count_an_ipv6_network_as_one_address);

/// Someone who has the password but not the phone can ask for new codes a few times an hour and
/// guess each five times. Wrong answers in a row are counted for the account across codes and
/// sessions: after ten, answers pause (a minute, doubling with each further one), the owner is
/// emailed once, and a right answer after the pause forgets them; after a hundred no answer is
/// taken until the password is reset or the help desk resets two-step.
async fn wrong_codes_in_a_row_pause_the_second_step(backend: Backend) {
    use gatehouse_services::support::SupportAction;
    let Some(running) = TestApp::start(backend).await else { return };
    let app = &running;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let key = format!("second_step|u:{}", jay.0);
    let counter = format!("SELECT COALESCE(MAX(failures), 0) FROM signin_throttle WHERE throttle_key = '{key}'");
    let verify = |token: String, code: String| async move {
        app.call("POST", "/api/v1/two-step/verify", Some(&token), Some(json!({"code": code}))).await
    };
    let wrong_for = |right: &str| if right == "000000" { "111111".to_owned() } else { "000000".to_owned() };
    for round in 0..2 {
        let (s, v) = sign_in(app, "jpatel", TEST_PASSWORD, "192.0.2.10").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let token = v["session_token"].as_str().expect("token").to_owned();
        let wrong = wrong_for(&app.last_code(PHONE).await);
        for i in 0..5 {
            let (s, v) = verify(token.clone(), wrong.clone()).await;
            let n = round * 5 + i + 1;
            assert!(matches!(s, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::GONE), "wrong answer {n}: {s} {v}");
        }
    }
    assert_eq!(app.count(&counter).await, 10);
    let told = "SELECT COUNT(*) FROM outbox WHERE kind = 'wrong_codes.v1' AND recipient = 'jpatel@example.org'";
    assert_eq!(app.count(told).await, 1, "the owner is told once");
    // Paused: even the right code is not taken for a minute, and takes none of the code's tries.
    let (_, v) = sign_in(app, "jpatel", TEST_PASSWORD, "192.0.2.10").await;
    let token = v["session_token"].as_str().expect("token").to_owned();
    let right = app.last_code(PHONE).await;
    let (s, v) = verify(token.clone(), right.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_wrong_codes")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("Wait 1 minute,"), "{v}");
    let r = app
        .api()
        .post(app.url("/api/v1/two-step/verify"))
        .bearer_auth(&token)
        .json(&json!({"code": right}))
        .send()
        .await
        .expect("post");
    let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!((r.status(), wait.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("60")), "the API says how long");
    app.advance(Duration::seconds(61));
    let (s, v) = verify(token, right).await;
    assert_eq!(s, StatusCode::OK, "after the pause the right code signs in: {v}");
    assert_eq!(app.count(&counter).await, 0, "a right answer forgets the wrong ones");

    // At a hundred in a row nothing is taken, until the help desk resets two-step.
    app.sql(&format!(
        "INSERT INTO signin_throttle (plan_id, throttle_key, failures, updated_at) VALUES ({}, '{key}', 99, 0)",
        app.plan.id().0
    ))
    .await;
    app.advance(Duration::hours(1));
    let (_, v) = sign_in(app, "jpatel", TEST_PASSWORD, "192.0.2.10").await;
    let token = v["session_token"].as_str().expect("token").to_owned();
    let right = app.last_code(PHONE).await;
    let (s, _) = verify(token.clone(), wrong_for(&right)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = verify(token, right).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("no longer taken"), "{v}");
    // The help desk sees the account locked, and "Unlock" (or "Reset two-step") ends it.
    let svc = &app.running.services;
    let (operator, meta) = (svc.operator_grant(&app.plan), gatehouse_services::RequestMeta::cli());
    let summary = svc.user_summary(&operator, &app.plan, jay).await.expect("summary");
    assert!(summary.locked_until.is_some() && summary.actions().contains(&SupportAction::Unlock), "{summary:?}");
    svc.support_action(&operator, &app.plan, jay, SupportAction::Unlock, "Called in", &meta).await.expect("unlock");
    assert_eq!(app.count(&counter).await, 0);
    app.sql(&format!(
        "INSERT INTO signin_throttle (plan_id, throttle_key, failures, updated_at) VALUES ({}, '{key}', 100, 0)",
        app.plan.id().0
    ))
    .await;
    svc.support_action(&operator, &app.plan, jay, SupportAction::ResetTwoStep, "Lost phone", &meta)
        .await
        .expect("reset two-step");
    assert_eq!(app.count(&counter).await, 0);
    running.stop().await;
}
both!(wrong_codes_in_a_row_pause_the_second_step);

/// The hour's limit of codes holds when the asks come at once: twenty resends and twenty
/// sign-ins sent together send no more than the limit (on PostgreSQL each transaction would
/// otherwise count the hour's codes without seeing the others').
async fn concurrent_asks_send_no_more_codes_than_the_limit(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "192.0.2.10").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["session_token"].as_str().expect("token").to_owned();
    let resends =
        (0..20).map(|_| app.call("POST", "/api/v1/two-step/resend", Some(&token), Some(json!({"method": "text"}))));
    let signins = (0..20).map(|_| sign_in(&app, "jpatel", TEST_PASSWORD, "192.0.2.10"));
    let (resent, signed) =
        futures::future::join(futures::future::join_all(resends), futures::future::join_all(signins)).await;
    assert!(resent.iter().any(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS), "{resent:?}");
    assert!(signed.iter().all(|(s, _)| *s == StatusCode::OK), "{signed:?}");
    let codes = format!("SELECT COUNT(*) FROM verification_codes WHERE user_id = {} AND method = 'text'", jay.0);
    assert_eq!(app.count(&codes).await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await, 5);
    app.stop().await;
}
both!(concurrent_asks_send_no_more_codes_than_the_limit);
