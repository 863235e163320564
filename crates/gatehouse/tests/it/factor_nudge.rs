//! Issue 19's remainder, on both databases: the suggestion to add an authenticator app or a
//! passkey after a sign-in with a texted or spoken code (home page and `GET /api/v1/me`, one
//! session a week, "Not now" audited); recovery codes made with the first passkey, shown once;
//! the emails when a passkey is added or removed; the profile's notice when the app's code is
//! asked for; and the home page with the suggestion in headless Chromium.

use crate::authenticator_app::{app_from, code_now};
use crate::both;
use crate::browser::{Browser, Journey, backend_name, click, code_from_outbox, css, type_into, wait_h1};
use crate::support::authenticator::TestPasskey;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
use gatehouse_domain::Duration;
use gatehouse_domain::totp::Authenticator;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;

const HEADING: &str = "Protect your account better";

fn phone(tail: u16) -> String {
    format!("+1206555{tail:04}")
}

/// Whether the API's `me` suggests a stronger factor to this session.
async fn suggested(app: &TestApp, token: &str) -> bool {
    let (s, v) = app.call("GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["suggest_strong_factor"].as_bool().expect("suggest_strong_factor")
}

/// Opens the profile of an API session (password, then the texted code or the app's).
async fn unlock(app: &TestApp, token: &str, username: &str, tail: u16, auth: Option<&Authenticator>) -> Value {
    let body = json!({"username": username, "password": TEST_PASSWORD});
    let (s, asked) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{asked}");
    let code = match auth {
        Some(a) => code_now(app, a),
        None => app.last_code(&phone(tail)).await,
    };
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(token), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    asked
}

/// Registers a passkey through the API (the profile must be open); returns the answer.
async fn register(app: &TestApp, key: &mut TestPasskey, token: &str, name: &str) -> Value {
    let (s, o) = app.call("POST", "/api/v1/me/passkeys/options", Some(token), Some(json!({"name": name}))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.register(&o["options"], &app.base);
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/me/passkeys",
            Some(token),
            Some(json!({"ceremony": o["ceremony"], "credential": answer})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Adds an authenticator app through the API (the profile must be open); returns it.
async fn enrol_app(app: &TestApp, token: &str) -> Authenticator {
    let (s, v) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let auth = app_from(v["secret"].as_str().expect("secret"));
    let body = json!({"code": code_now(app, &auth)});
    let (s, v) = app.call("POST", "/api/v1/me/authenticator/confirm", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    auth
}

/// An API session signed in with the password, then a code by voice call.
async fn voice_session(app: &TestApp, username: &str, tail: u16) -> String {
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": username, "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let (s, v) = app.call("POST", "/api/v1/two-step/resend", Some(&t), Some(json!({"method": "voice"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code(&phone(tail)).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    v["session_token"].as_str().expect("token").to_owned()
}

async fn dismissals(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'factor_nudge.dismissed'").await
}

async fn shown_after_a_text_code_once_a_week_until_not_now(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ann = app.user("ann", "Ann", "Lee", 143, None).await;
    app.affiliate(ann).await;

    // Signed in with a texted code, no app, no passkey: the home page suggests one.
    let c = app.signed_in_browser("ann", 143).await;
    let (s, home) = app.page(&c, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(home.contains(HEADING), "{home}");
    assert!(home.contains(r#"<section class="nudge" aria-labelledby="nudge-heading">"#), "a region with a heading");
    assert!(home.contains(r#"href="/profile/authenticator">Add an authenticator app</a>"#), "{home}");
    assert!(home.contains(r#"href="/profile/passkeys">Add a passkey</a>"#), "{home}");
    assert!(home.contains(r#"action="/factor-nudge/dismiss""#) && home.contains(">Not now</button>"), "{home}");
    // Every visit of this session shows it again.
    let (_, home) = app.page(&c, "/").await;
    assert!(home.contains(HEADING));
    // Another session in the same week: not again.
    let token = app.api_session("ann", TEST_PASSWORD, &phone(143)).await;
    assert!(!suggested(&app, &token).await, "one session a week");

    // "Not now" (a plain form post): hidden at once, audited.
    let (s, _, loc) = app.post_form(&c, "/", "/factor-nudge/dismiss", &[]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (_, home) = app.page(&c, "/").await;
    assert!(!home.contains(HEADING), "hidden after Not now");
    assert_eq!(dismissals(&app).await, 1);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'factor_nudge.dismissed' AND detail LIKE '%\"shown_here\":true%'";
    assert_eq!(app.count(q).await, 1);
    // Without the CSRF token the post is refused and nothing is recorded.
    let r = c.post(app.url("/factor-nudge/dismiss")).form(&[("x", "1")]).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(dismissals(&app).await, 1);
    // Not signed in: to the sign-in page, nothing recorded.
    let r = app.browser().post(app.url("/factor-nudge/dismiss")).send().await.expect("post");
    assert!(r.status().is_redirection() || r.status() == StatusCode::FORBIDDEN, "{}", r.status());
    assert_eq!(dismissals(&app).await, 1);

    // Six days later: still quiet.
    app.advance(Duration::days(6));
    let token = app.api_session("ann", TEST_PASSWORD, &phone(143)).await;
    assert!(!suggested(&app, &token).await);
    // A week after "Not now": a session by voice call is shown it, over the API too.
    app.advance(Duration::days(1));
    let token = voice_session(&app, "ann", 143).await;
    assert!(suggested(&app, &token).await, "again after 7 days, after a voice code");
    assert!(suggested(&app, &token).await, "the same session keeps it");
    let c2 = app.signed_in_browser("ann", 143).await;
    let (_, home) = app.page(&c2, "/").await;
    assert!(!home.contains(HEADING), "only the one session this week");
    // The API's "Not now".
    let (s, _) = app.call("POST", "/api/v1/me/factor-nudge/dismiss", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!suggested(&app, &token).await);
    assert_eq!(dismissals(&app).await, 2);
    let (s, _) = app.call("POST", "/api/v1/me/factor-nudge/dismiss", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(dismissals(&app).await, 2);

    app.advance(Duration::days(7));
    let c3 = app.signed_in_browser("ann", 143).await;
    let (_, home) = app.page(&c3, "/").await;
    assert!(home.contains(HEADING), "a week after the API's Not now");
    app.stop().await;
}
both!(shown_after_a_text_code_once_a_week_until_not_now);

async fn not_after_the_app_nor_for_a_strong_factor(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ann = app.user("ann", "Ann", "Lee", 143, None).await;
    app.affiliate(ann).await;
    let bob = app.user("bob", "Bob", "Ray", 144, None).await;
    app.affiliate(bob).await;
    // Plan staff land on the same home page.
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;

    // Ann adds an app; signed in with it, she is not asked; with a text instead, neither (she
    // has a strong factor).
    let token = app.api_session("ann", TEST_PASSWORD, &phone(143)).await;
    assert!(suggested(&app, &token).await);
    unlock(&app, &token, "ann", 143, None).await;
    let auth = enrol_app(&app, &token).await;
    assert!(!suggested(&app, &token).await, "gone once she has an app");
    app.advance(Duration::days(8));
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": TEST_PASSWORD}))).await;
    assert_eq!((s, v["app_code"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
    let t = v["session_token"].as_str().expect("token");
    let (s, v) =
        app.call("POST", "/api/v1/two-step/verify", Some(t), Some(json!({"code": code_now(&app, &auth)}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let app_session = v["session_token"].as_str().expect("token").to_owned();
    assert!(!suggested(&app, &app_session).await, "not after the app's code");
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    app.call("POST", "/api/v1/two-step/resend", Some(&t), Some(json!({"method": "text"}))).await;
    let code = app.last_code(&phone(143)).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let texted = v["session_token"].as_str().expect("token").to_owned();
    assert!(!suggested(&app, &texted).await, "not with an app, even after a text");

    // Bob has a passkey: a texted sign-in is not followed by the suggestion, on the page either.
    let token = app.api_session("bob", TEST_PASSWORD, &phone(144)).await;
    unlock(&app, &token, "bob", 144, None).await;
    register(&app, &mut TestPasskey::new(), &token, "Laptop").await;
    let c = app.signed_in_browser("bob", 144).await;
    let (_, home) = app.page(&c, "/").await;
    assert!(home.contains("Welcome, Bob Ray") && !home.contains(HEADING), "{home}");

    // Plan staff signed in by text are shown it on their landing page.
    let c = app.signed_in_browser("hdesk", 1002).await;
    let (_, home) = app.page(&c, "/").await;
    assert!(home.contains("Open the control panel") && home.contains(HEADING), "{home}");
    assert_eq!(dismissals(&app).await, 0);
    app.stop().await;
}
both!(not_after_the_app_nor_for_a_strong_factor);

async fn first_passkey_brings_recovery_codes_and_emails(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ann = app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, &phone(143)).await;
    unlock(&app, &token, "ann", 143, None).await;
    let mut key = TestPasskey::new();

    // The first strong factor: ten codes, in this answer only, stored hashed.
    let first = register(&app, &mut key, &token, "Office <laptop>").await;
    let codes: Vec<String> = first["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{first}");
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    assert_eq!(first["name"], "Office <laptop>");
    assert!(first["id"].is_i64(), "{first}");
    let unused = format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = {} AND used_at IS NULL", ann.0);
    assert_eq!(app.count(&unused).await, 10);
    for c in &codes {
        let q = format!("SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '%{}%'", c.replace('-', ""));
        assert_eq!(app.count(&q).await, 0, "stored hashed");
    }
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'passkey.registered' AND detail LIKE '%\"recovery_codes_made\":true%'";
    assert_eq!(app.count(q).await, 1);
    // The second passkey: no new codes; the first set still works.
    let second = register(&app, &mut key, &token, "Phone").await;
    assert_eq!(second["recovery_codes"], Value::Null, "{second}");
    assert_eq!(app.count(&unused).await, 10);

    // An email for each, through the outbox: what, when, and whom to call.
    let added: Vec<_> = app.outbox().await.into_iter().filter(|m| m.kind == "passkey_added.v1").collect();
    assert_eq!(added.len(), 2);
    let mail = added.iter().find(|m| m.body_text.contains("Office <laptop>")).expect("the first passkey's email");
    assert_eq!(mail.recipient, "ann@example.org");
    assert!(mail.subject.contains("A passkey was added"), "{}", mail.subject);
    assert!(
        mail.body_text.contains("was added to your") && mail.body_text.contains("If it was not you"),
        "{}",
        mail.body_text
    );
    assert!(!mail.body_html.contains("<laptop>"), "escaped in HTML: {}", mail.body_html);
    let when = app.plan.when(gatehouse_domain::Timestamp(app.running.services.now()));
    assert!(mail.body_text.contains(&format!("on {when}")), "{when}: {}", mail.body_text);

    // A recovery code works at the code step of a passkey holder, whose code page offers it.
    let c = app.browser();
    let (s, _, _) = app.post_form(&c, "/signin", "/signin", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&c, "/two-step/code").await;
    assert!(page.contains("Or enter one of your recovery codes"), "{page}");
    let (s, _, loc) = app
        .post_form(&c, "/two-step/code", "/two-step/code", &[("action", "recovery"), ("recovery_code", &codes[0])])
        .await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_eq!(app.count(&unused).await, 9);

    // Removing one: an email; the codes stay while a passkey remains. Removing the last: the
    // codes go with it (the phone remains), and an email again.
    let (s, _) = app.call("DELETE", &format!("/api/v1/me/passkeys/{}", first["id"]), Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let mail = app.last_message_to("ann@example.org").await.expect("email");
    assert_eq!(mail.kind, "passkey_removed.v1");
    assert!(mail.body_text.contains("\u{201c}Office <laptop>\u{201d} was removed"), "{}", mail.body_text);
    assert!(mail.body_text.contains("If it was not you, call provider services"), "{}", mail.body_text);
    assert_eq!(app.count(&unused).await, 9);
    let (s, _) = app.call("DELETE", &format!("/api/v1/me/passkeys/{}", second["id"]), Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.count(&unused).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'passkey_removed.v1'").await, 2);
    // A refused removal sends nothing.
    let (s, _) = app.call("DELETE", "/api/v1/me/passkeys/999999", Some(&token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'passkey_removed.v1'").await, 2);

    // With an app (and its codes) first, a passkey brings no new codes, and removing the app
    // keeps the codes while the passkey remains.
    enrol_app(&app, &token).await;
    assert_eq!(app.count(&unused).await, 10);
    let before: Vec<i64> = app.ids("SELECT id FROM recovery_codes WHERE used_at IS NULL ORDER BY id").await;
    let third = register(&app, &mut key, &token, "Key").await;
    assert_eq!(third["recovery_codes"], Value::Null);
    assert_eq!(app.ids("SELECT id FROM recovery_codes WHERE used_at IS NULL ORDER BY id").await, before);
    let (s, _) = app.call("DELETE", "/api/v1/me/authenticator", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.count(&unused).await, 10, "kept for the passkey");
    let (s, v) = app.call("POST", "/api/v1/me/recovery-codes", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "a passkey holder may make new codes: {v}");
    app.stop().await;
}
both!(first_passkey_brings_recovery_codes_and_emails);

/// Adds a passkey through the Passkeys page's form (the profile must be open): status, body and
/// `Location` of the answer's post.
async fn add_by_page(
    app: &TestApp,
    c: &reqwest::Client,
    key: &mut TestPasskey,
    name: &str,
) -> (StatusCode, String, Option<String>) {
    let (_, html) = app.page(c, "/profile/passkeys").await;
    let token = csrf(&html);
    let r = c
        .post(app.url("/profile/passkeys/options"))
        .form(&[("csrf_token", token.as_str()), ("name", name)])
        .send()
        .await
        .expect("options");
    let o: Value = r.json().await.expect("json");
    let answer = key.register(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    app.post_form(c, "/profile/passkeys", "/profile/passkeys", &fields).await
}

async fn first_passkey_codes_shown_once_on_the_page(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let c = app.signed_in_browser("ann", 143).await;
    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let code = app.last_code(&phone(143)).await;
    app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    let mut key = TestPasskey::new();
    let (s, page, _) = add_by_page(&app, &c, &mut key, "Front desk PC").await;
    assert_eq!(s, StatusCode::OK, "shown on the answer itself");
    assert!(page.contains("Your recovery codes") && page.contains("We will not show them again"), "{page}");
    assert_eq!(page.matches("<li><code>").count(), 10, "{page}");
    assert!(page.contains("Front desk PC"), "{page}");
    // Not on the next visit; the second passkey brings none.
    let (_, page) = app.page(&c, "/profile/passkeys").await;
    assert!(!page.contains("Your recovery codes"), "{page}");
    let (s, _, loc) = add_by_page(&app, &c, &mut key, "Phone").await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/profile/passkeys?added=1")));
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 10);
    app.stop().await;
}
both!(first_passkey_codes_shown_once_on_the_page);

async fn profile_says_which_code_it_asks_for(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("bob", "Bob", "Ray", 144, None).await;

    // Without an app: the code was sent.
    let c = app.signed_in_browser("bob", 144).await;
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "bob"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("We sent a code to XXX-XXX-0144"), "{page}");

    // With an app: nothing was sent, and the page says to use the app.
    let c = app.signed_in_browser("ann", 143).await;
    let token = app.api_session("ann", TEST_PASSWORD, &phone(143)).await;
    unlock(&app, &token, "ann", 143, None).await;
    let auth = enrol_app(&app, &token).await;
    let texts = app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065550143'").await;
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Enter the code from your authenticator app"), "{page}");
    assert!(!page.contains("We sent a code"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065550143'").await, texts);
    // The app's code opens the profile.
    app.advance(Duration::seconds(31));
    let (s, page) =
        app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code_now(&app, &auth))]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("You can now change your profile"), "{page}");
    // The API says so too.
    app.advance(Duration::seconds(31));
    let asked = unlock(&app, &token, "ann", 143, Some(&auth)).await;
    assert_eq!(asked["code_from_app"], true, "{asked}");
    let token = app.api_session("bob", TEST_PASSWORD, &phone(144)).await;
    let asked = unlock(&app, &token, "bob", 144, None).await;
    assert_eq!((asked["code_from_app"].as_bool(), asked["masked_phone"].as_str()), (Some(false), Some("XXX-XXX-0144")));
    app.stop().await;
}
both!(profile_says_which_code_it_asks_for);

async fn home_page_suggestion_in_chromium(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "nudge", backend: backend_name(backend), step: 0 };

    c.goto(&format!("{base}/signin")).await.expect("open sign-in");
    wait_h1(c, "Sign in").await;
    type_into(c, "#username", "jpatel").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let code = code_from_outbox(c, &base, "+12065559975").await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Welcome, Jay Patel").await;
    let region = css(c, "section.nudge[aria-labelledby='nudge-heading'] h2#nudge-heading").await;
    assert_eq!(region.text().await.expect("heading"), HEADING);
    j.page("home").await;
    let shot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../target/screenshots/nudge-{}-01-home.png", backend_name(backend)));
    assert!(shot.exists(), "{}", shot.display());

    // "Not now" works as a plain form post and hides it.
    click(c, "//main", "Not now").await;
    wait_h1(c, "Welcome, Jay Patel").await;
    assert!(c.find(fantoccini::Locator::Css("section.nudge")).await.is_err(), "hidden after Not now");
    j.page("dismissed").await;
    browser.close().await;
    app.stop().await;
}
both!(home_page_suggestion_in_chromium);
