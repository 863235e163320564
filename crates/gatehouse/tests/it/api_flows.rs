//! The JSON API: every step of sign-up and sign-in, and the bad inputs that must change nothing.

use crate::both;
use crate::support::{Backend, TestApp, code_in};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "maple orbit lantern";
const PHONE: &str = "+12065550143";

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("token").to_owned()
}

/// Signs up over the API and returns a fully signed-in session token.
async fn sign_up(app: &TestApp, email: &str, username: &str) -> String {
    let link = app.invite("Maria", "Lopez", email).await;
    let (s, v) = app.call("POST", "/api/v1/invitations/check", None, Some(json!({"token": token_of(&link)}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["email"], email);
    let (s, v) = app.call("POST",
        "/api/v1/signup",
        None,
        Some(
            json!({"token": token_of(&link), "username": username, "password": PASSWORD, "confirm_password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["next"], "two_step_setup");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let (s, v) = app
        .call("POST", "/api/v1/two-step/setup", Some(&t), Some(json!({"phone": "206 555 0143", "method": "voice"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["masked_phone"], "XXX-XXX-0143");
    let voice = app.last_message_to(PHONE).await.expect("call");
    assert_eq!(voice.channel, "voice");
    let code = code_in(&voice.body_text).expect("spoken code");
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "terms");
    let t2 = v["session_token"].as_str().expect("token").to_owned();
    // The new account's owner is told a two-step phone was set up.
    let notice = app.last_message_to(email).await.expect("phone-set email");
    assert_eq!((notice.kind.as_str(), notice.channel.as_str()), ("two_step_phone_set.v1", "email"));
    assert!(
        notice.body_text.contains("XXX-XXX-0143") && notice.body_text.contains("voice call"),
        "{}",
        notice.body_text
    );
    // The old token died when the session moved on.
    assert_eq!(app.call("GET", "/api/v1/me", Some(&t), None).await.0, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/terms/sign",
            Some(&t2),
            Some(json!({"version": 1, "first_name": "Maria", "last_name": "Lopez"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["session_token"].as_str().expect("token").to_owned()
}

async fn sign_in(app: &TestApp, username: &str) -> String {
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": username, "password": PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "two_step_code");
    assert_eq!(v["masked_phone"], "XXX-XXX-0143");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete");
    v["session_token"].as_str().expect("token").to_owned()
}

async fn api_journey_and_sessions(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let t = sign_up(&app, "maria@clinic.example.org", "mlopez").await;
    let (s, me) = app.call("GET", "/api/v1/me", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["username"], "mlopez");
    assert_eq!(me["two_step_phone"], "XXX-XXX-0143");
    let other = sign_in(&app, "MLOPEZ").await;
    let (_, list) = app.call("GET", "/api/v1/sessions", Some(&t), None).await;
    let list = list.as_array().expect("list").clone();
    assert_eq!(list.len(), 2);
    let other_id = list.iter().find(|s| s["current"] == false).expect("other")["id"].as_i64().expect("id");
    assert_eq!(
        app.call("DELETE", &format!("/api/v1/sessions/{other_id}"), Some(&t), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.call("GET", "/api/v1/me", Some(&other), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.call("DELETE", &format!("/api/v1/sessions/{other_id}"), Some(&t), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.call("POST", "/api/v1/signout", Some(&t), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call("GET", "/api/v1/me", Some(&t), None).await.0, StatusCode::UNAUTHORIZED);
    // A half-signed-in session is not signed in: 401, as no session.
    let (_, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "mlopez", "password": PASSWORD}))).await;
    let half = v["session_token"].as_str().expect("token").to_owned();
    assert_eq!(app.call("GET", "/api/v1/me", Some(&half), None).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(api_journey_and_sessions);

async fn invitation_links_work_once_and_for_72_hours(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let body = |token: &str, u: &str| json!({"token": token, "username": u, "password": PASSWORD, "confirm_password": PASSWORD});
    // Garbled: not a token's shape, refused as the body is read (the document's schema says so).
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(body("not-a-real-token", "x1"))).await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"), Some("token")),
        "{v}"
    );
    assert!(v["error"]["message"].as_str().expect("msg").contains("whole link"));
    // Of a token's shape but no invitation's.
    let unknown = "A".repeat(43);
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(body(&unknown, "x1"))).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(v["error"]["message"].as_str().expect("msg").contains("not valid"));
    // Expired after 72 hours.
    let old = app.invite("Old", "Link", "old@clinic.example.org").await;
    app.advance(Duration::hours(72));
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(body(&token_of(&old), "olduser"))).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(v["error"]["message"].as_str().expect("msg").contains("expired"));
    // Two browsers submit the same link at once: exactly one wins.
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let tok = token_of(&link);
    let (a, b) = tokio::join!(
        app.call("POST", "/api/v1/signup", None, Some(body(&tok, "aruiz"))),
        app.call("POST", "/api/v1/signup", None, Some(body(&tok, "ana.ruiz")))
    );
    let wins = [a.0, b.0].iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    assert!([a.0, b.0].contains(&StatusCode::GONE));
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'active'").await, 1);
    // Replayed after use.
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(body(&tok, "third"))).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(v["error"]["message"].as_str().expect("msg").contains("already been used"));
    app.stop().await;
}
both!(invitation_links_work_once_and_for_72_hours);

async fn usernames_are_unique_without_case_and_never_an_email(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    sign_up(&app, "maria@clinic.example.org", "mlopez").await;
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let before = app.count("SELECT COUNT(*) FROM outbox").await;
    for taken in ["MLopez", "maria@clinic.example.org"] {
        let (s, v) = app.call("POST", "/api/v1/signup", None, Some(json!({"token": token_of(&link), "username": taken, "password": PASSWORD, "confirm_password": PASSWORD}))).await;
        assert_eq!(s, StatusCode::CONFLICT, "{taken}");
        assert_eq!(v["error"]["field"], "username");
    }
    // Refusals changed nothing and sent nothing.
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE used_at IS NULL").await, 1);
    // A link answers "taken" ten times; after that it answers nothing about names, taken or
    // free (it would otherwise tell its holder which usernames and emails the plan has).
    let try_name = |name: &str| {
        let body =
            json!({"token": token_of(&link), "username": name, "password": PASSWORD, "confirm_password": PASSWORD});
        app.call("POST", "/api/v1/signup", None, Some(body))
    };
    for _ in 2..10 {
        assert_eq!(try_name("mlopez").await.0, StatusCode::CONFLICT);
    }
    for name in ["mlopez", "a.free.name"] {
        let (s, v) = try_name(name).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_taken_names")),
            "{v}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE used_at IS NULL").await, 1);
    // A new link starts again.
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let body = json!({"token": token_of(&link), "username": "a.free.name", "password": PASSWORD, "confirm_password": PASSWORD});
    assert_eq!(app.call("POST", "/api/v1/signup", None, Some(body)).await.0, StatusCode::CREATED);
    app.stop().await;
}
both!(usernames_are_unique_without_case_and_never_an_email);

async fn wrong_password_and_unknown_user_look_the_same_and_lock(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    sign_up(&app, "maria@clinic.example.org", "mlopez").await;
    let attempt = |u: &'static str, p: &'static str| {
        let app = &app;
        async move { app.call("POST", "/api/v1/signin", None, Some(json!({"username": u, "password": p}))).await }
    };
    let wrong = attempt("mlopez", "wrong password here").await;
    let unknown = attempt("nobody", "wrong password here").await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown, "same status and body for a wrong password and an unknown username");
    for _ in 0..3 {
        attempt("mlopez", "wrong password here").await;
        attempt("nobody", "wrong password here").await;
    }
    let (s1, v1) = attempt("mlopez", "wrong password here").await;
    let (s2, v2) = attempt("nobody", "wrong password here").await;
    assert_eq!(s1, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((s1, &v1), (s2, &v2), "the lock says nothing about whether the account exists");
    // Locked: even the right password is refused, without checking it.
    assert_eq!(attempt("mlopez", PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
    // The first lock is short; after it the right password works and clears the count.
    app.advance(Duration::minutes(2));
    let (s, v) = attempt("mlopez", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key LIKE 'u:mlopez%'").await, 0);
    app.stop().await;
}
both!(wrong_password_and_unknown_user_look_the_same_and_lock);

async fn two_step_codes_tries_sends_and_expiry(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let link = app.invite("Maria", "Lopez", "maria@clinic.example.org").await;
    let (_, v) = app.call("POST",
        "/api/v1/signup",
        None,
        Some(
            json!({"token": token_of(&link), "username": "mlopez", "password": PASSWORD, "confirm_password": PASSWORD}),
        ),
    )
    .await;
    let t = v["session_token"].as_str().expect("token").to_owned();
    // Invalid phone numbers.
    for bad in ["", "12", "not a phone", "206-555-01433333"] {
        let (s, v) =
            app.call("POST", "/api/v1/two-step/setup", Some(&t), Some(json!({"phone": bad, "method": "text"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["error"]["field"], "phone");
    }
    // The country chosen and the number typed disagree: refused beside the field, nothing sent.
    let body = json!({"country_code": "44", "phone": "+1 202 555 0181", "method": "text"});
    let (s, v) = app.call("POST", "/api/v1/two-step/setup", Some(&t), Some(body)).await;
    assert_eq!((s, &v["error"]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("phone")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("Choose +1, or remove +1"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM verification_codes").await, 0);
    let send =
        || app.call("POST", "/api/v1/two-step/setup", Some(&t), Some(json!({"phone": "2065550143", "method": "text"})));
    assert_eq!(send().await.0, StatusCode::OK);
    let code = app.last_code(PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Malformed codes do not count as tries.
    assert_eq!(
        app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": "12a"}))).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for left in (1..=4).rev() {
        let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": wrong}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            v["error"]["message"]
                .as_str()
                .expect("m")
                .contains(&format!("{left} more {}", if left == 1 { "try." } else { "tries." })),
            "{v}"
        );
    }
    let (s, _) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": wrong}))).await;
    assert_eq!(s, StatusCode::GONE, "fifth wrong try uses the code up");
    // The sixth try fails even with the right code.
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::GONE, "{v}");
    // A new code: expired after 10 minutes.
    assert_eq!(send().await.0, StatusCode::OK);
    let code = app.last_code(PHONE).await;
    app.advance(Duration::minutes(10));
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(v["error"]["message"].as_str().expect("m").contains("expired"));
    // Five sends an hour: the third, fourth and fifth work, the sixth is refused and sends nothing.
    for _ in 0..3 {
        assert_eq!(send().await.0, StatusCode::OK);
    }
    let before = app.count("SELECT COUNT(*) FROM outbox").await;
    let (s, v) = send().await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, before);
    // The newest code still works, once.
    let code = app.last_code(PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t2 = v["session_token"].as_str().expect("t").to_owned();
    let (s, _) = app.call("POST", "/api/v1/two-step/verify", Some(&t2), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "replayed code after the step is done");
    // After an hour, codes can be sent again.
    app.advance(Duration::hours(1));
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE two_step_phone = '+12065550143'").await, 1);
    app.stop().await;
}
both!(two_step_codes_tries_sends_and_expiry);

async fn concurrent_code_submits_succeed_once(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    sign_up(&app, "maria@clinic.example.org", "mlopez").await;
    let (_, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "mlopez", "password": PASSWORD}))).await;
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(PHONE).await;
    let body = json!({"code": code});
    let (a, b) = tokio::join!(
        app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(body.clone())),
        app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(body.clone()))
    );
    let ok = [a.0, b.0].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{a:?} {b:?}");
    app.stop().await;
}
both!(concurrent_code_submits_succeed_once);

async fn terms_signed_with_the_wrong_name_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let link = app.invite("Maria", "Lopez", "maria@clinic.example.org").await;
    let (_, v) = app.call("POST",
        "/api/v1/signup",
        None,
        Some(
            json!({"token": token_of(&link), "username": "mlopez", "password": PASSWORD, "confirm_password": PASSWORD}),
        ),
    )
    .await;
    let t = v["session_token"].as_str().expect("token").to_owned();
    // Terms cannot be signed before two-step.
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/terms/sign",
            Some(&t),
            Some(json!({"version": 1, "first_name": "Maria", "last_name": "Lopez"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    app.call("POST", "/api/v1/two-step/setup", Some(&t), Some(json!({"phone": "2065550143", "method": "text"}))).await;
    let code = app.last_code(PHONE).await;
    let (_, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    let t = v["session_token"].as_str().expect("token").to_owned();
    for (f, l) in [("Mary", "Lopez"), ("", ""), ("Lopez", "Maria")] {
        let (s, v) = app
            .call("POST", "/api/v1/terms/sign", Some(&t), Some(json!({"version": 1, "first_name": f, "last_name": l})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE terms_version_signed IS NOT NULL").await, 0);
    app.stop().await;
}
both!(terms_signed_with_the_wrong_name_are_refused);

/// No path moves a session past the second step without it, but should one ever (a bug in a
/// later step), the session is not honoured: the terms do not complete it, and a session marked
/// "complete" with no factors on record is not signed in. Simulated by moving a session that has
/// passed only the password with SQL.
async fn a_session_past_the_password_without_its_second_step_is_not_honoured(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("rkim", "Rachel", "Kim", 143, None).await;
    let signin = json!({"username": "rkim", "password": PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/signin", None, Some(signin.clone())).await;
    assert_eq!((s, &v["next"]), (StatusCode::OK, &json!("two_step_code")), "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let half = "SELECT id FROM sessions WHERE stage = 'two_step_code' AND ended_at IS NULL";
    let id = app.count(half).await;
    app.sql("UPDATE users SET terms_version_signed = NULL WHERE username = 'rkim'").await;
    app.sql(&format!("UPDATE sessions SET stage = 'terms' WHERE id = {id}")).await;
    let sign = json!({"version": 1, "first_name": "Rachel", "last_name": "Kim"});
    let (s, v) = app.call("POST", "/api/v1/terms/sign", Some(&t), Some(sign)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE terms_version_signed IS NOT NULL").await, 0);
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM sessions WHERE id = {id} AND stage = 'terms'")).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE stage = 'complete'").await, 0);

    for stage in ["complete", "strong_factor_setup"] {
        app.sql(&format!("UPDATE sessions SET stage = '{stage}' WHERE id = {id}")).await;
        assert_eq!(app.call("GET", "/api/v1/me", Some(&t), None).await.0, StatusCode::UNAUTHORIZED, "{stage}");
        // A password alone on record is not two factors either.
        app.sql(&format!("UPDATE sessions SET authenticated_at = 1, amr = 'pwd' WHERE id = {id}")).await;
        assert_eq!(app.call("GET", "/api/v1/me", Some(&t), None).await.0, StatusCode::UNAUTHORIZED, "{stage}");
        app.sql(&format!("UPDATE sessions SET authenticated_at = NULL, amr = NULL WHERE id = {id}")).await;
    }

    // The same account through its real second step: signed in, and its terms signed.
    let (_, v) = app.call("POST", "/api/v1/signin", None, Some(signin)).await;
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!((s, &v["next"]), (StatusCode::OK, &json!("terms")), "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let sign = json!({"version": 1, "first_name": "Rachel", "last_name": "Kim"});
    let (s, v) = app.call("POST", "/api/v1/terms/sign", Some(&t), Some(sign)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    assert_eq!(app.call("GET", "/api/v1/me", Some(&t), None).await.0, StatusCode::OK);
    app.stop().await;
}
both!(a_session_past_the_password_without_its_second_step_is_not_honoured);

async fn full_hashing_queue_answers_503_with_retry_after(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |cfg| {
        cfg.hash = gatehouse_services::hashing::HashConfig {
            memory_kib: 32 * 1024,
            iterations: 3,
            parallelism: 1,
            workers: 1,
            queue: 1,
        };
    })
    .await
    else {
        return;
    };
    let c = app.api();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = c.clone();
        let url = app.url("/api/v1/signin");
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"username": format!("user{i}"), "password": "some password here"}))
                .send()
                .await
                .expect("send");
            (r.status(), r.headers().get("retry-after").is_some())
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, retry_after) = t.await.expect("task");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            busy += 1;
            assert!(retry_after, "503 carries Retry-After");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert!(busy >= 1, "with one thread and one queue slot, some of 12 concurrent sign-ins are turned away");
    app.stop().await;
}
both!(full_hashing_queue_answers_503_with_retry_after);

/// Every operation the API router serves is in its OpenAPI document, under the same path and
/// method (read from the router, so a new route without its entry fails), and the document
/// names no operation the router lacks.
async fn openapi_document_describes_the_api(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (s, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let state = app.state();
    let served: std::collections::BTreeSet<(String, String)> = gatehouse_web::route_table(&state)
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
        .map(|r| (r.method.as_str().to_lowercase(), r.path))
        .collect();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| ops.as_object().expect("operations").keys().map(move |m| (m.clone(), path.clone())))
        .filter(|(m, _)| m != "parameters")
        .collect();
    assert!(served.len() > 60, "the router's API operations: {served:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in the OpenAPI document: {undocumented:#?}");
    assert!(unserved.is_empty(), "in the OpenAPI document but not served: {unserved:#?}");
    app.stop().await;
}
both!(openapi_document_describes_the_api);

/// What the OpenAPI document's schemas refuse, the API refuses with 422 before looking anything
/// up: a token of the wrong shape is never looked up (so 410 means a real-looking token that
/// matches nothing, or a used or expired one), and sign-up's username and password, a reset's
/// new password and a reset lookup's username are checked before the link or reset they come
/// with. A refused choice leaves the link usable.
async fn values_outside_the_schemas_are_refused_before_any_lookup(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let refused = |v: &serde_json::Value| {
        (v["error"]["code"].as_str().map(str::to_owned), v["error"]["field"].as_str().map(str::to_owned))
    };
    let of = |code: &str, field: &str| (Some(code.to_owned()), Some(field.to_owned()));
    let shaped = "A".repeat(43);
    for (path, body, field) in [
        ("/api/v1/invitations/check", json!({"token": "short"}), "token"),
        ("/api/v1/first-signin/email-proof", json!({"token": format!("{shaped}A")}), "token"),
        ("/api/v1/password-reset/status", json!({"reset_token": format!("{}+", &shaped[1..])}), "reset_token"),
        ("/api/v1/password-reset/verify", json!({"reset_token": "", "code": "123456"}), "reset_token"),
    ] {
        let (s, v) = app.call("POST", path, None, Some(body)).await;
        assert_eq!((s, refused(&v)), (StatusCode::UNPROCESSABLE_ENTITY, of("invalid_body", field)), "{path}: {v}");
    }
    // A reset's new password is judged before its token.
    let complete = |password: &str| json!({"reset_token": shaped, "password": password, "confirm_password": password});
    let (s, v) = app.call("POST", "/api/v1/password-reset/complete", None, Some(complete("short"))).await;
    assert_eq!((s, refused(&v)), (StatusCode::UNPROCESSABLE_ENTITY, of("invalid_input", "password")), "{v}");
    let (s, v) = app.call("POST", "/api/v1/password-reset/complete", None, Some(complete(PASSWORD))).await;
    assert_eq!((s, refused(&v)), (StatusCode::GONE, of("reset_unusable", "reset_token")), "{v}");
    // A lookup by text that cannot be a username sends nothing and starts nothing.
    let before = app.count("SELECT COUNT(*) FROM password_resets").await;
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/password-reset",
            None,
            Some(json!({"username": "j doe", "email": "jdoe@clinic.example"})),
        )
        .await;
    assert_eq!((s, refused(&v)), (StatusCode::UNPROCESSABLE_ENTITY, of("invalid_input", "username")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, before);
    // Sign-up: the choices first, and a refused one leaves the link usable.
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let sign_up = |token: &str, username: &str, password: &str| json!({"token": token, "username": username, "password": password, "confirm_password": password});
    for (token, username, password, field) in
        [(shaped.as_str(), "a b", PASSWORD, "username"), (shaped.as_str(), "aruiz", "short", "password")]
    {
        let (s, v) = app.call("POST", "/api/v1/signup", None, Some(sign_up(token, username, password))).await;
        assert_eq!((s, refused(&v)), (StatusCode::UNPROCESSABLE_ENTITY, of("invalid_input", field)), "{v}");
        let (s, v) =
            app.call("POST", "/api/v1/signup", None, Some(sign_up(&token_of(&link), username, password))).await;
        assert_eq!((s, refused(&v)), (StatusCode::UNPROCESSABLE_ENTITY, of("invalid_input", field)), "{v}");
    }
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(sign_up(&token_of(&link), "aruiz", PASSWORD))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::CREATED, Some("two_step_setup")), "{v}");
    app.stop().await;
}
both!(values_outside_the_schemas_are_refused_before_any_lookup);
