//! The strong-factor step (`/two-step/strong`) in headless Chromium: plan staff, whom the plan
//! requires to use an authenticator app or a passkey, sign in with the password and a texted
//! code (the bridge, once) and land on "Add an app or passkey". One adds a passkey with
//! ChromeDriver's virtual authenticator, sees the recovery codes once, goes on home, then signs
//! in again with no text sent and the passkey; another enrols the authenticator app by reading
//! the key off the page. Every page gets the accessibility checks and a screenshot
//! (`target/screenshots/strong-passkey-<backend>-<step>.png`, `strong-app-…`).

use crate::authenticator_app::{app_from, code_now};
use crate::both;
use crate::browser::{
    Browser, Journey, backend_name, click, css, sign_in_with_code, turn_on_the_app, type_into, wait_h1,
};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use fantoccini::Locator;

const PAT_PHONE: &str = "+12065551001";
const HAL_PHONE: &str = "+12065551002";
const STEP_HEADING: &str = "Add an app or passkey";

/// Text messages (codes) sent so far to `phone`.
async fn texts_to(app: &TestApp, phone: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{phone}'")).await
}

/// The recovery codes the page shows (the list is there once, right after the first strong factor).
async fn shown_recovery_codes(c: &fantoccini::Client) -> usize {
    css(c, "#recovery-codes").await;
    c.find_all(Locator::Css("#recovery-codes li")).await.expect("recovery codes").len()
}

async fn staff_add_a_passkey_on_the_strong_step_then_sign_in_with_it(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    app.user("pstaff", "Pat", "Staff", 1001, Some("plan_admin")).await;
    let authenticator = browser.add_virtual_authenticator().await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "strong-passkey", backend: backend_name(backend), step: 0 };

    // The texted code is the bridge, once: then the step, and nothing else before it is done.
    sign_in_with_code(c, &base, "pstaff", TEST_PASSWORD, PAT_PHONE).await;
    wait_h1(c, STEP_HEADING).await;
    let intro = css(c, "main").await.text().await.expect("text");
    assert!(intro.contains("Your plan requires an authenticator app or a passkey"), "{intro}");
    // The script found WebAuthn and showed the form.
    css(c, "form[data-passkey='register']:not([hidden]) #name").await;
    j.page("step").await;
    c.goto(&format!("{base}/profile")).await.expect("open My profile");
    wait_h1(c, STEP_HEADING).await;

    // A passkey: named, made by the (virtual) authenticator, its recovery codes shown once.
    type_into(c, "#name", "Help desk PC").await;
    click(c, "//main", "Add a passkey").await;
    let notice = css(c, ".notice").await.text().await.expect("notice");
    assert!(notice.contains("Your passkey was added"), "{notice}");
    assert_eq!(shown_recovery_codes(c).await, 10, "ten recovery codes, shown once");
    j.page("recovery-codes").await;
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "the key is held by the authenticator");
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys WHERE name = 'Help desk PC'").await, 1);

    click(c, "//main", "Continue").await;
    wait_h1(c, "Welcome, Pat Staff").await;
    j.page("home").await;
    assert!(c.find(Locator::Css("#recovery-codes")).await.is_err(), "the codes are not shown again");
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd sms' AND stage = 'complete' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1, "the session records the password and the texted code");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.strong_factor_set'").await, 1);

    // Sign out and in again: no text is sent; the passkey is offered after the password.
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;
    let texts = texts_to(&app, PAT_PHONE).await;
    type_into(c, "#username", "pstaff").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    css(c, "#strong-only").await;
    css(c, "form[data-passkey='second-step']:not([hidden])").await;
    assert!(c.find(Locator::Css("#code")).await.is_err(), "no field for a texted code");
    // The passkey is the way asked for, first; the recovery codes come after, as another way.
    let text = css(c, "main").await.text().await.expect("text");
    let (passkey, other) = (text.find("Use your passkey"), text.find("Use another way"));
    assert!(passkey.is_some() && other.is_some() && passkey < other, "the passkey first: {text}");
    j.page("second-step").await;
    assert_eq!(texts_to(&app, PAT_PHONE).await, texts, "no text was sent");
    click(c, "//main", "Use a passkey").await;
    wait_h1(c, "Welcome, Pat Staff").await;
    j.page("signed-in").await;
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd hwk user' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1, "the session records the passkey");
    assert_eq!(texts_to(&app, PAT_PHONE).await, texts, "still no text");
    browser.close().await;
    app.stop().await;
}
both!(staff_add_a_passkey_on_the_strong_step_then_sign_in_with_it);

async fn staff_add_an_authenticator_app_on_the_strong_step(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "strong-app", backend: backend_name(backend), step: 0 };

    sign_in_with_code(c, &base, "hdesk", TEST_PASSWORD, HAL_PHONE).await;
    wait_h1(c, STEP_HEADING).await;
    click(c, "//main", "Add an authenticator app").await;
    // The QR code and, for typing, the key: the person reads it off the page.
    let key = css(c, "#totp-secret").await.text().await.expect("the key");
    css(c, ".qr[role='img'] svg").await;
    j.page("enrol").await;
    let phone = app_from(&key);

    // A wrong code first, then the app's: the recovery codes, once.
    turn_on_the_app(&mut j, &app, &code_now(&app, &phone)).await;

    click(c, "//main", "Continue").await;
    wait_h1(c, "Welcome, Hal Desk").await;
    j.page("home").await;
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd sms' AND stage = 'complete' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1, "the session records the password and the texted code");
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps WHERE confirmed_at IS NOT NULL").await, 1);
    browser.close().await;
    app.stop().await;
}
both!(staff_add_an_authenticator_app_on_the_strong_step);
