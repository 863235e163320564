//! The pages over HTTP, as a browser without JavaScript would use them: forms, cookies, CSRF.

use crate::both;
use crate::support::{Backend, TestApp, csrf, path_of};
use gatehouse_domain::Duration;
use reqwest::{Client, StatusCode};

const PASSWORD: &str = "maple orbit lantern";
const PHONE_E164: &str = "+12065550143";

/// Walks invitation → sign-up → two-step set-up → terms → home; returns the signed-in client.
pub async fn sign_up_through_pages(app: &TestApp, email: &str, username: &str) -> Client {
    let link = path_of(&app.invite("Maria", "Lopez", email).await);
    // Invited into a practice, so the home page is hers (not "associate your account").
    app.affiliate_email(email).await;
    let c = app.browser();
    let (status, html, _) = app.visit(&c, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Welcome, Maria Lopez"));
    let token = link.split("token=").nth(1).expect("token");
    let (status, _, loc) = app
        .post_form(
            &c,
            &link,
            "/signup",
            &[("token", token), ("username", username), ("password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/two-step/setup"));
    let (status, html, _) = app
        .post_form(
            &c,
            "/two-step/setup",
            "/two-step/setup",
            &[("action", "send"), ("country_code", "1"), ("phone", "206-555-0143"), ("method", "text")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("XXX-XXX-0143"));
    let code = app.last_code(PHONE_E164).await;
    let (status, _, loc) =
        app.post_form(&c, "/two-step/setup", "/two-step/setup", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/terms"));
    let (status, _, loc) = app
        .post_form(&c, "/terms", "/terms", &[("version", "1"), ("first_name", "maria"), ("last_name", "LOPEZ")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/"));
    let (status, html, _) = app.visit(&c, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Welcome, Maria Lopez"), "{html}");
    c
}

async fn invitation_to_home_and_back(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = sign_up_through_pages(&app, "maria@clinic.example.org", "mlopez").await;
    assert!(app.visit(&c, "/").await.1.contains("This is your first sign-in"));
    // Sign out, then (two hours later) sign in again: password, then a code to the phone on record.
    let (status, _, loc) = app.post_form(&c, "/", "/signout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/signin?signed_out=1"));
    app.advance(Duration::hours(2));
    let (_, _, loc) = app.visit(&c, "/").await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    let (status, _, loc) =
        app.post_form(&c, "/signin", "/signin", &[("username", "MLopez"), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/two-step/code"));
    let (_, html, _) = app.visit(&c, "/two-step/code").await;
    assert!(html.contains("XXX-XXX-0143"));
    // The home page is not reachable before the code.
    let (_, _, loc) = app.visit(&c, "/").await;
    assert_eq!(loc.as_deref(), Some("/two-step/code"));
    let code = app.last_code(PHONE_E164).await;
    let (status, _, loc) =
        app.post_form(&c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/"), "terms already signed: straight home");
    let (_, html, _) = app.visit(&c, "/").await;
    assert!(html.contains("Welcome, Maria Lopez"));
    // "Previous sign-in" is the sign-up's, two hours ago, not this one: in the plan's zone.
    assert!(html.contains("Jan 15, 2027 3:00 AM EST") && !html.contains("UTC"), "{html}");
    assert!(app.running.services.verify_audit_chain(app.plan.id()).await.expect("verify").eq(
        &gatehouse_services::audit::ChainReport::Intact {
            events: app.count("SELECT COUNT(*) FROM audit_events").await
        }
    ));
    app.stop().await;
}
both!(invitation_to_home_and_back);

async fn forms_without_csrf_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = app.browser();
    let _ = app.visit(&c, "/signin").await;
    for body in [
        vec![("username", "x"), ("password", "y")],
        vec![("csrf_token", "forged-token-forged-token-forged-token"), ("username", "x"), ("password", "y")],
    ] {
        let r = c.post(app.url("/signin")).form(&body).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("body").contains("This form has expired"));
    }
    // Nothing was attempted: no sign-in event was audited.
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password'").await, 0);
    app.stop().await;
}
both!(forms_without_csrf_are_refused);

/// A page on a sibling subdomain can set a `gh_csrf` cookie it knows for the whole site, and the
/// session cookie goes along with a same-site post; the browser's `Sec-Fetch-Site` and `Origin`
/// still say where the form came from.
async fn forms_from_another_origin_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = app.browser();
    let (_, page) = app.page(&c, "/signin").await;
    let token = csrf(&page);
    let host = app.url("/").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let form = [("csrf_token", token.as_str()), ("username", "x"), ("password", "wrong password here")];
    let own_origin = format!("http://{host}");
    for (name, value) in
        [("sec-fetch-site", "same-site"), ("sec-fetch-site", "cross-site"), ("origin", "https://www.plan.example")]
    {
        let r = c.post(app.url("/signin")).header(name, value).form(&form).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(r.text().await.expect("body").contains("This form has expired"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.password'").await, 0);
    // The same form from our own page is taken (and refused for its wrong password).
    for (name, value) in [("sec-fetch-site", "same-origin"), ("origin", own_origin.as_str()), ("origin", "null")] {
        let r = c.post(app.url("/signin")).header(name, value).form(&form).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}: {value}");
    }
    app.stop().await;
}
both!(forms_from_another_origin_are_refused);

async fn signup_form_shows_errors_beside_fields(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let link = path_of(&app.invite("Ana", "Ruiz", "ana@clinic.example.org").await);
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let c = app.browser();
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("", PASSWORD, PASSWORD, "username-error", "Enter a username."),
        ("ana ruiz", PASSWORD, PASSWORD, "username-error", "cannot contain spaces"),
        ("ana;ruiz", PASSWORD, PASSWORD, "username-error", "cannot contain the character ;"),
        (&"a".repeat(65), PASSWORD, PASSWORD, "username-error", "at most 64"),
        ("aruiz", "short", "short", "password-error", "at least 12"),
        ("aruiz", "password1234", "password1234", "password-error", "too common"),
        ("aruiz", "aruiz-maple-orbit", "aruiz-maple-orbit", "password-error", "cannot contain your username"),
        ("aruiz", PASSWORD, "maple orbit lanterns", "confirm_password-error", "do not match"),
    ];
    for (username, pw, confirm, field, text) in cases {
        let (status, html, _) = app
            .post_form(
                &c,
                &link,
                "/signup",
                &[("token", &token), ("username", username), ("password", pw), ("confirm_password", confirm)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{username} {pw}");
        assert!(html.contains(&format!("id=\"{field}\"")), "{field} missing for {username}/{pw}");
        assert!(html.contains(text) || html.contains(&text.replace(';', "&#59;")), "{text} missing: {html}");
    }
    // Nothing changed: the invitation still works and the account is still only invited.
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'invited'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE used_at IS NULL").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    app.stop().await;
}
both!(signup_form_shows_errors_beside_fields);

async fn sessions_time_out_and_can_be_ended(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = sign_up_through_pages(&app, "maria@clinic.example.org", "mlopez").await;
    // Idle for 14 minutes: still signed in (and the visit counts as activity).
    app.advance(Duration::minutes(14));
    assert_eq!(app.visit(&c, "/").await.0, StatusCode::OK);
    // 15 minutes without activity: signed out.
    app.advance(Duration::minutes(15));
    let (_, _, loc) = app.visit(&c, "/").await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'session.timed_out'").await, 1);

    // Absolute limit: active every 10 minutes, still out after 12 hours.
    let c = app.browser();
    let (status, _, _) =
        app.post_form(&c, "/signin", "/signin", &[("username", "mlopez"), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = app.last_code(PHONE_E164).await;
    app.post_form(&c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    for _ in 0..71 {
        app.advance(Duration::minutes(10));
        assert_eq!(app.visit(&c, "/").await.0, StatusCode::OK);
    }
    app.advance(Duration::minutes(10));
    let (_, _, loc) = app.visit(&c, "/").await;
    assert_eq!(loc.as_deref(), Some("/signin"), "12 hours after sign-in the session ends");
    app.stop().await;
}
both!(sessions_time_out_and_can_be_ended);

async fn end_another_session_from_the_sessions_page(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let first = sign_up_through_pages(&app, "maria@clinic.example.org", "mlopez").await;
    let second = app.browser();
    app.post_form(&second, "/signin", "/signin", &[("username", "mlopez"), ("password", PASSWORD)]).await;
    let code = app.last_code(PHONE_E164).await;
    app.post_form(&second, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    let (_, html, _) = app.visit(&first, "/sessions").await;
    assert!(html.contains("This session"));
    let other: i64 = html
        .split("href=\"/sessions/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .expect("another session listed");
    let (status, html, _) = app.visit(&first, &format!("/sessions/{other}/end")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign out that session?"));
    let (status, html, _) = app.post_form(&first, "/sessions", &format!("/sessions/{other}/end"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("That session was signed out."));
    let (_, _, loc) = app.visit(&second, "/").await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    assert_eq!(app.visit(&first, "/").await.0, StatusCode::OK);
    // Someone else's session id (or an ended one) is refused.
    let (status, _, _) = app.post_form(&first, "/sessions", &format!("/sessions/{other}/end"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(end_another_session_from_the_sessions_page);

async fn new_terms_version_is_signed_at_next_sign_in(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let c = sign_up_through_pages(&app, "maria@clinic.example.org", "mlopez").await;
    app.post_form(&c, "/", "/signout", &[]).await;
    let svc = &app.running.services;
    let v = svc
        .publish_new_terms(
            &svc.operator_grant(&app.plan),
            &app.plan,
            "New terms: version 2.",
            &gatehouse_services::RequestMeta::cli(),
        )
        .await
        .expect("publish");
    assert_eq!(v, 2);
    app.post_form(&c, "/signin", "/signin", &[("username", "mlopez"), ("password", PASSWORD)]).await;
    let code = app.last_code(PHONE_E164).await;
    let (_, _, loc) =
        app.post_form(&c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(loc.as_deref(), Some("/terms"));
    let (_, html, _) = app.visit(&c, "/terms").await;
    assert!(html.contains("New terms: version 2."));
    // A form showing the old version (new terms published while it was open) signs nothing: the
    // page shows the new version, and the step stays.
    let (status, html, _) = app
        .post_form(&c, "/terms", "/terms", &[("version", "1"), ("first_name", "Maria"), ("last_name", "Lopez")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("The terms changed while you were reading") && html.contains("New terms: version 2."));
    assert!(html.contains(r#"name="version" value="2""#), "{html}");
    assert_eq!(app.count("SELECT terms_version_signed FROM users WHERE username = 'mlopez'").await, 1);
    let (status, html, _) = app
        .post_form(&c, "/terms", "/terms", &[("version", "2"), ("first_name", "Maria"), ("last_name", "Smith")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("exactly as they appear on your account"));
    let (_, _, loc) = app
        .post_form(&c, "/terms", "/terms", &[("version", "2"), ("first_name", "Maria"), ("last_name", "Lopez")])
        .await;
    assert_eq!(loc.as_deref(), Some("/"));
    assert_eq!(app.count("SELECT terms_version_signed FROM users WHERE username = 'mlopez'").await, 2);
    app.stop().await;
}
both!(new_terms_version_is_signed_at_next_sign_in);

async fn dev_outbox_lists_messages_with_links(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let link = app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let c = app.browser();
    let (status, html, _) = app.visit(&c, "/dev/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("<a href=\"{}\">", link.replace('&', "&#38;")))
            || html.contains(&format!("<a href=\"{link}\">")),
        "{html}"
    );
    assert!(html.contains("Email to ana@clinic.example.org"));
    app.stop().await;
}
both!(dev_outbox_lists_messages_with_links);
