//! Self-service tools over HTTP (pages and API): forgot username, reset password through two-step,
//! and the reset link sent by the help desk. Answers must not tell whether an account exists.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, code_in, csrf, link_in, path_of};
use gatehouse_domain::Duration;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "copper kettle meadow";

async fn emails_to(app: &TestApp, to: &str) -> usize {
    app.outbox().await.iter().filter(|m| m.recipient == to).count()
}

/// Asks for a password reset on the "Forgot password" page.
async fn forgot_password(
    app: &TestApp,
    c: &Client,
    username: &str,
    email: &str,
) -> (StatusCode, String, Option<String>) {
    app.post_form(c, "/forgot-password", "/forgot-password", &[("username", username), ("email", email)]).await
}

/// Submits "Create a new password" with `password` and its confirmation.
async fn new_password(
    app: &TestApp,
    c: &Client,
    password: &str,
    confirm: &str,
) -> (StatusCode, String, Option<String>) {
    let fields = [("password", password), ("confirm_password", confirm)];
    app.post_form(c, "/forgot-password/new", "/forgot-password/new", &fields).await
}

async fn forgot_username_answers_the_same_and_emails_every_username(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("mlopez", "Maria", "Lopez", 143, None).await;
    app.user("mlopez2", "Maria", "Lopez", 144, None).await;
    app.sql(
        "UPDATE users SET email = 'mlopez@example.org', email_lower = 'mlopez@example.org' WHERE username = 'mlopez2'",
    )
    .await;
    let c = app.browser();
    let (s, page) = app.page(&c, "/signin").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("/forgot-username") && page.contains("/forgot-password"), "sign-in links to both tools");
    let (known_status, known_body, _) =
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "MLopez@example.org")]).await;
    let (unknown_status, unknown_body, _) =
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "nobody@example.org")]).await;
    assert_eq!(known_status, StatusCode::OK);
    assert_eq!((known_status, &known_body), (unknown_status, &unknown_body), "same answer for known and unknown");
    assert!(known_body.contains("Email sent"));
    let m = app.last_message_to("mlopez@example.org").await.expect("reminder");
    assert_eq!(m.kind, "username_reminder.v1");
    assert!(m.body_text.contains("  mlopez\n") && m.body_text.contains("  mlopez2\n"), "{}", m.body_text);
    assert_eq!(emails_to(&app, "nobody@example.org").await, 0);
    // A malformed address is told so beside the field.
    let (s, page, _) = app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "not an email")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"email-error\""));
    // Five lookups per address an hour, known or not: the sixth is refused the same way.
    for _ in 0..4 {
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "mlopez@example.org")]).await;
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "nobody@example.org")]).await;
    }
    let (a, a_body, _) =
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "mlopez@example.org")]).await;
    let (b, b_body, _) =
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "nobody@example.org")]).await;
    assert_eq!(a, StatusCode::TOO_MANY_REQUESTS);
    // Identical apart from the address echoed back into the field.
    assert_eq!((a, a_body.replace("mlopez@example.org", "@")), (b, b_body.replace("nobody@example.org", "@")));
    assert_eq!(emails_to(&app, "mlopez@example.org").await, 5);
    // An hour later the address may ask again.
    app.advance(Duration::minutes(61));
    let (s, _, _) = app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "mlopez@example.org")]).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(forgot_username_answers_the_same_and_emails_every_username);

async fn forgot_username_is_throttled_per_address(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = app.browser();
    for i in 0..20 {
        let email = format!("person{i}@example.org");
        let (s, _, _) = app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", &email)]).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, page, _) =
        app.post_form(&c, "/forgot-username", "/forgot-username", &[("email", "other@example.org")]).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many requests"));
    app.stop().await;
}
both!(forgot_username_is_throttled_per_address);

/// A browser that already holds `cookie` (`name=value`), to replay another browser's state.
fn browser_with_cookie(app: &TestApp, cookie: &str) -> Client {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&format!("{cookie}; Path=/"), &app.url("/").parse().expect("url"));
    Client::builder().cookie_provider(jar).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Lookup → code → new password through the pages. Returns the code used and the reset cookie
/// (`gh_reset=…`) of the new-password step.
async fn reset_through_pages(app: &TestApp, c: &Client) -> (String, String) {
    let (s, _, loc) = forgot_password(app, c, "JPatel", "jpatel@example.org").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/forgot-password/verify"));
    let (s, page) = app.page(c, "/forgot-password/verify").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("If the username and email you entered match an account"), "{page}");
    assert!(!page.contains("XXX-XXX"), "no masked phone: it would tell that they matched");
    // The lookup sent the code, the way two-step was set up (text).
    let code = app.last_code("+12065559975").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, page, _) = app
        .post_form(c, "/forgot-password/verify", "/forgot-password/verify", &[("action", "verify"), ("code", wrong)])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"code-error\"") && page.contains("not correct"));
    let (_, html) = app.page(c, "/forgot-password/verify").await;
    let r = c
        .post(app.url("/forgot-password/verify"))
        .form(&[("csrf_token", csrf(&html).as_str()), ("action", "verify"), ("code", code.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/forgot-password/new"));
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gh_reset="))
        .and_then(|v| v.split(';').next())
        .expect("a new reset cookie")
        .to_owned();
    let (s, page) = app.page(c, "/forgot-password/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Create a new password") && page.contains("jpatel"));
    let (s, page, _) = new_password(app, c, NEW_PASSWORD, "copper kettle meadoW").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"confirm_password-error\""));
    let (s, page, _) = new_password(app, c, "short", "short").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"password-error\""));
    let (s, _, loc) = new_password(app, c, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/signin?password_changed=1"));
    (code, cookie)
}

async fn sign_in_status(app: &TestApp, username: &str, password: &str) -> Value {
    let r = app
        .api()
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("signin");
    r.json().await.expect("json")
}

async fn reset_password_through_two_step(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let elsewhere = app.signed_in_browser("jpatel", 9975).await;
    assert_eq!(app.page(&elsewhere, "/").await.0, StatusCode::OK);
    let c = app.browser();
    let (code, reset_cookie) = reset_through_pages(&app, &c).await;
    // The other session ended; the user was told by email; the change is audited.
    let r = elsewhere.get(app.url("/")).send().await.expect("get");
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/signin"));
    let notice = app.last_message_to("jpatel@example.org").await.expect("notice");
    assert_eq!(notice.kind, "password_changed.v1");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'password.changed'").await, 1);
    let (_, page) = app.page(&c, "/signin?password_changed=1").await;
    assert!(page.contains("Your password was changed"));
    // The new password works (and still asks for two-step); the old one does not.
    assert_eq!(sign_in_status(&app, "jpatel", NEW_PASSWORD).await["next"], "two_step_code");
    assert_eq!(sign_in_status(&app, "jpatel", TEST_PASSWORD).await["error"]["code"], "invalid_credentials");
    // Replays: the finished reset cannot set another password, and its code cannot be reused.
    let replay = browser_with_cookie(&app, &reset_cookie);
    let (s, page, _) = app
        .post_form(
            &replay,
            "/forgot-password",
            "/forgot-password/new",
            &[("password", "another fine password"), ("confirm_password", "another fine password")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used"), "{page}");
    let (s, _, _) = forgot_password(&app, &c, "jpatel", "jpatel@example.org").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, page, _) = app
        .post_form(&c, "/forgot-password/verify", "/forgot-password/verify", &[("action", "verify"), ("code", &code)])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("not correct"), "replayed code: {page}");
    app.stop().await;
}
both!(reset_password_through_two_step);

/// A reset that already passed the code texted to the old phone ends when the help desk resets
/// two-step (the phone may be lost or stolen) or the user changes password: whoever holds the
/// old phone cannot finish it afterwards.
async fn a_reset_in_progress_ends_with_a_two_step_reset(backend: Backend) {
    use gatehouse_services::RequestMeta;
    use gatehouse_services::support::SupportAction;
    let Some(app) = TestApp::start(backend).await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let c = app.browser();
    let (s, _, _) = forgot_password(&app, &c, "jpatel", "jpatel@example.org").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let code = app.last_code("+12065559975").await;
    let (s, _, loc) = app
        .post_form(&c, "/forgot-password/verify", "/forgot-password/verify", &[("action", "verify"), ("code", &code)])
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/forgot-password/new")));
    let svc = &app.running.services;
    let desk = svc.operator_grant(&app.plan);
    svc.support_action(&desk, &app.plan, jay, SupportAction::ResetTwoStep, "Phone stolen", &RequestMeta::cli())
        .await
        .expect("two-step reset");
    let (s, page) = app.page(&c, "/forgot-password/new").await;
    assert!(!page.contains("Create a new password"), "{s}: {page}");
    let fields = [("password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)];
    let (s, page, _) = app.post_form(&c, "/forgot-password", "/forgot-password/new", &fields).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(sign_in_status(&app, "jpatel", NEW_PASSWORD).await["error"]["code"], "invalid_credentials");
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets WHERE used_at IS NULL").await, 0);
    app.stop().await;
}
both!(a_reset_in_progress_ends_with_a_two_step_reset);

/// A page with its CSRF token taken out, to compare two browsers' pages.
fn without_csrf(page: &str) -> String {
    page.replace(&csrf(page), "")
}

async fn reset_answers_a_mismatch_exactly_like_a_match_and_sends_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let (matched, other, nobody) = (app.browser(), app.browser(), app.browser());
    let (s1, b1, l1) = forgot_password(&app, &matched, "jpatel", "jpatel@example.org").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1, "the match got its code");
    let (s2, b2, l2) = forgot_password(&app, &other, "jpatel", "someone@example.org").await;
    let (s3, b3, l3) = forgot_password(&app, &nobody, "nobody", "jpatel@example.org").await;
    assert_eq!((s1, l1.as_deref()), (StatusCode::SEE_OTHER, Some("/forgot-password/verify")));
    assert_eq!((s1, &b1, &l1), (s2, &b2, &l2));
    assert_eq!((s1, &b1, &l1), (s3, &b3, &l3));
    // The code page is the same page, with no masked phone.
    let (s, page) = app.page(&matched, "/forgot-password/verify").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("If the username and email you entered match an account"), "{page}");
    assert!(!page.contains("XXX-XXX") && !page.contains("find that account"), "{page}");
    for c in [&other, &nobody] {
        let (s2, page2) = app.page(c, "/forgot-password/verify").await;
        assert_eq!((s2, without_csrf(&page2)), (s, without_csrf(&page)));
    }
    // A wrong code fails the same way, tries counting down alike.
    let code = app.last_code("+12065559975").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        let mut answers = Vec::new();
        for c in [&matched, &other, &nobody] {
            let (s, page, loc) =
                app.post_form(c, "/forgot-password/verify", "/forgot-password/verify", &[("code", wrong)]).await;
            answers.push((s, without_csrf(&page), loc));
        }
        assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
        let more = if left == 1 { "1 more try.".to_owned() } else { format!("{left} more tries.") };
        assert!(answers[0].1.contains(&format!("You have {more}")), "{}", answers[0].1);
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0], answers[2]);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1, "nothing is sent for a mismatch");
    assert_eq!(app.count("SELECT COUNT(*) FROM verification_codes").await, 1);
    // The matched pair's code still works (one try left).
    let (s, _, loc) =
        app.post_form(&matched, "/forgot-password/verify", "/forgot-password/verify", &[("code", &code)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/forgot-password/new")));
    // Lookups of a username are limited (five an hour), matched or not, and refused alike.
    for _ in 0..3 {
        forgot_password(&app, &other, "jpatel", "x@example.org").await;
    }
    let (a, a_body, _) = forgot_password(&app, &other, "jpatel", "jpatel@example.org").await;
    let (b, b_body, _) = forgot_password(&app, &other, "jpatel", "someone@example.org").await;
    assert_eq!(a, StatusCode::TOO_MANY_REQUESTS);
    assert!(a_body.contains("Too many requests"));
    assert_eq!(
        (a, without_csrf(&a_body).replace("jpatel@example.org", "@")),
        (b, without_csrf(&b_body).replace("someone@example.org", "@"))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
    app.stop().await;
}
both!(reset_answers_a_mismatch_exactly_like_a_match_and_sends_nothing);

async fn reset_without_two_step_looks_the_same_and_sends_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.sql("UPDATE users SET two_step_phone = NULL, two_step_method = NULL").await;
    let c = app.browser();
    let (s, _, loc) = forgot_password(&app, &c, "jpatel", "jpatel@example.org").await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/forgot-password/verify")));
    let (s, page) = app.page(&c, "/forgot-password/verify").await;
    assert_eq!(s, StatusCode::OK);
    // The same page as for anyone: it names the other ways in.
    assert!(page.contains("If the username and email you entered match an account"), "{page}");
    assert!(page.contains("practice administrator") && page.contains("1-800-555-0199"), "{page}");
    let (s, page, _) =
        app.post_form(&c, "/forgot-password/verify", "/forgot-password/verify", &[("code", "123456")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("not correct"), "{page}");
    let (s, _) = app.page(&c, "/forgot-password/new").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    app.stop().await;
}
both!(reset_without_two_step_looks_the_same_and_sends_nothing);

async fn help_desk_reset_link_works_once_and_expires(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let staff = app.signed_in_browser("hdesk", 1002).await;
    let action = format!("/admin/users/{}/send-password-reset", jay.0);
    let (s, page) = app.page(&staff, &format!("/admin/users/{}", jay.0)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Send password reset link"), "offered on the user's page");
    let (s, page) = app.submit(&staff, &action, &action, &[("reason", "")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("Give a reason"));
    let (s, _) = app.submit(&staff, &action, &action, &[("reason", "Caller verified by date of birth")]).await;
    assert_eq!(s, StatusCode::OK);
    let m = app.last_message_to("jpatel@example.org").await.expect("link email");
    assert_eq!(m.kind, "password_reset_link.v1");
    let link = path_of(&link_in(&m.body_text).expect("link"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'support.password_reset_link_sent' AND detail LIKE '%date of birth%'").await, 1);
    // The link lands on "Create a new password"; afterwards the user signs in with two-step.
    let c = app.browser();
    let r = c.get(app.url(&link)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(to.ends_with("/forgot-password/new"), "{to}");
    let (s, _, loc) = new_password(&app, &c, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin?password_changed=1")));
    assert_eq!(sign_in_status(&app, "jpatel", NEW_PASSWORD).await["next"], "two_step_code");
    // Replayed link: refused, clearly.
    let (s, page) = app.page(&app.browser(), &link).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used"), "{page}");
    // A second link, opened after 72 hours: expired. A third makes the second one dead.
    app.submit(&staff, &action, &action, &[("reason", "Asked again")]).await;
    let second =
        path_of(&link_in(&app.last_message_to("jpatel@example.org").await.expect("email").body_text).expect("link"));
    app.submit(&staff, &action, &action, &[("reason", "Asked a third time")]).await;
    let third =
        path_of(&link_in(&app.last_message_to("jpatel@example.org").await.expect("email").body_text).expect("link"));
    let (s, page) = app.page(&app.browser(), &second).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used") || page.contains("not valid"), "{page}");
    app.advance(Duration::hours(72));
    let (s, page) = app.page(&app.browser(), &third).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired"), "{page}");
    app.stop().await;
}
both!(help_desk_reset_link_works_once_and_expires);

async fn api_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.call("POST", path, None, Some(body)).await
}

async fn self_service_over_the_api(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let known = api_post(&app, "/api/v1/forgot-username", json!({"email": "jpatel@example.org"})).await;
    let unknown = api_post(&app, "/api/v1/forgot-username", json!({"email": "who@example.org"})).await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown);
    assert!(app.last_message_to("jpatel@example.org").await.expect("reminder").body_text.contains("jpatel"));
    // A mismatch gets the same answers as a match, all the way to a wrong code; nothing is sent.
    let (s, v) =
        api_post(&app, "/api/v1/password-reset", json!({"username": "jpatel", "email": "who@example.org"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await, 0);
    let bad = v["reset_token"].as_str().expect("token").to_owned();
    let (s2, v2) =
        api_post(&app, "/api/v1/password-reset", json!({"username": "jpatel", "email": "jpatel@example.org"})).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await, 1, "the code");
    let token = v2["reset_token"].as_str().expect("token").to_owned();
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!((s, keys(&v)), (s2, keys(&v2)), "same status and shape");
    let bad_status = api_post(&app, "/api/v1/password-reset/status", json!({"reset_token": bad})).await;
    let status = api_post(&app, "/api/v1/password-reset/status", json!({"reset_token": token})).await;
    assert_eq!(status, (StatusCode::OK, json!({"step": "code"})));
    assert_eq!(bad_status, status);
    let code = code_in(&app.last_message_to("+12065559975").await.expect("code").body_text).expect("code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad_try = api_post(&app, "/api/v1/password-reset/verify", json!({"reset_token": bad, "code": wrong})).await;
    let good_try = api_post(&app, "/api/v1/password-reset/verify", json!({"reset_token": token, "code": wrong})).await;
    assert_eq!(good_try.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_try, good_try);
    let (s, _) = api_post(&app, "/api/v1/password-reset/send-code", json!({"reset_token": bad})).await;
    assert!(s.is_client_error(), "codes are sent by the lookup only: {s}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await, 1);
    let (s, v) = api_post(&app, "/api/v1/password-reset/verify", json!({"reset_token": token, "code": code})).await;
    assert_eq!(s, StatusCode::OK);
    let next = v["reset_token"].as_str().expect("token").to_owned();
    assert_ne!(next, token, "the token changes at the code step");
    // Replayed code (with the old token): refused; the old token is dead.
    let (s, _) = api_post(&app, "/api/v1/password-reset/verify", json!({"reset_token": token, "code": code})).await;
    assert_eq!(s, StatusCode::GONE);
    let (s, v) = api_post(
        &app,
        "/api/v1/password-reset/complete",
        json!({"reset_token": next, "password": "jpatel rocks 2026", "confirm_password": "jpatel rocks 2026"}),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let (s, v) = api_post(
        &app,
        "/api/v1/password-reset/complete",
        json!({"reset_token": next, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!((s, v["username"].as_str()), (StatusCode::OK, Some("jpatel")));
    let (s, v) = api_post(
        &app,
        "/api/v1/password-reset/complete",
        json!({"reset_token": next, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("reset_unusable")));
    assert_eq!(sign_in_status(&app, "jpatel", NEW_PASSWORD).await["next"], "two_step_code");
    app.stop().await;
}
both!(self_service_over_the_api);

/// A fully signed-in session of a demo account, through the API.
async fn demo_session(app: &TestApp, i: usize) -> gatehouse_services::SessionInfo {
    let acc = &gatehouse::demo::ACCOUNTS[i];
    let (_, v) = api_post(app, "/api/v1/signin", json!({"username": acc.username, "password": acc.password})).await;
    let token = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(acc.phone).await;
    let r = app.api().post(app.url("/api/v1/two-step/verify")).bearer_auth(&token).json(&json!({"code": code}));
    let v: Value = r.send().await.expect("post").json().await.expect("json");
    assert_eq!(v["next"], "complete", "{v}");
    let token = v["session_token"].as_str().expect("token");
    app.running.services.authenticate(&app.plan, token).await.expect("auth").expect("live session")
}

async fn practice_administrator_sends_a_reset_link(backend: Backend) {
    use gatehouse_services::practice::PracticeError;
    use gatehouse_services::support::{SupportAction, SupportError};
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let admin = demo_session(&app, 0).await;
    let staff_member = demo_session(&app, 1).await;
    let pool = svc.db.pool().clone();
    let id = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT id FROM users WHERE username = '{name}'"))
                .fetch_one(&pool)
                .await
                .map(gatehouse_domain::UserId)
                .expect("user")
        }
    };
    let meta = gatehouse_services::RequestMeta::cli();
    let grant = svc.practice_grant(&app.plan, &admin).await.expect("ocarter administers Lakeside");
    svc.send_member_reset_link(&grant, &app.plan, id("jpatel").await, &meta).await.expect("sent");
    let m = app.last_message_to(&svc_email(&app, "jpatel").await).await.expect("email");
    assert_eq!(m.kind, "password_reset_link.v1");
    // Another practice's user reads as not found; a non-administrator gets no grant.
    let r = svc.send_member_reset_link(&grant, &app.plan, id("tnguyen").await, &meta).await;
    assert!(matches!(r, Err(PracticeError::NotFound)), "{r:?}");
    let r = svc.practice_grant(&app.plan, &staff_member).await;
    assert!(matches!(r, Err(PracticeError::NotAdmin)), "{r:?}");
    // Plan staff use the help-desk action, with a reason.
    let staff = svc.operator_grant(&app.plan);
    let link = SupportAction::SendPasswordReset;
    let r = svc.support_action(&staff, &app.plan, id("tnguyen").await, link, " ", &meta).await;
    assert!(matches!(r, Err(SupportError::Reason)), "{r:?}");
    svc.support_action(&staff, &app.plan, id("tnguyen").await, link, "Call", &meta).await.expect("sent");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action IN ('user.password_reset_link_sent', 'support.password_reset_link_sent')").await,
        2
    );
    app.stop().await;
}
both!(practice_administrator_sends_a_reset_link);

async fn svc_email(app: &TestApp, username: &str) -> String {
    sqlx::query_scalar(&format!("SELECT email FROM users WHERE username = '{username}'"))
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("email")
}
