//! An authenticator app in headless Chromium: a person signs in with a texted code, opens My
//! profile → Authenticator app, confirms it is them, reads the key on the page (as they would
//! type it into their app), turns the app on with its first code, sees the recovery codes once,
//! signs out, and signs in with the password and the app's code. The app is totp-rs itself, not
//! Gatehouse's own code, computing codes for the server's (test) clock. Every page gets the
//! accessibility checks and a screenshot (`target/screenshots/totp-<backend>-<step>.png`).

use crate::both;
use crate::browser::{
    Browser, Journey, backend_name, click, confirm_its_you, css, sign_in_with_code, turn_on_the_app, type_into, wait_h1,
};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use gatehouse_domain::Duration;
use totp_rs::{Algorithm, Secret};

/// The app on the person's phone, set up from the key shown on the page (base32, in groups).
fn phone_app(shown_key: &str) -> totp_rs::Totp {
    let typed: String = shown_key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = Secret::try_from_base32(&typed).unwrap_or_else(|_| panic!("the page's key {shown_key:?} is base32"));
    assert!(secret.as_bytes().len() * 8 >= 160, "a key of at least 160 bits");
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name("jpatel")
        .build()
        .expect("an RFC 6238 app")
}

/// The code the app shows now, by the server's clock.
fn code_now(app: &TestApp, phone: &totp_rs::Totp) -> String {
    let now = u64::try_from(app.running.services.now()).expect("a time after 1970");
    phone.generate(now).to_string()
}

async fn add_an_authenticator_app_then_sign_in_with_it(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "totp", backend: backend_name(backend), step: 0 };

    sign_in_with_code(c, &base, "jpatel", TEST_PASSWORD, "+12065559975").await;
    wait_h1(c, "Welcome, Jay Patel").await;

    // My profile → Authenticator app: nothing changes before confirming it is you.
    click(c, "//header", "My profile").await;
    wait_h1(c, "My profile").await;
    click(c, "//main", "Authenticator app and recovery codes").await;
    wait_h1(c, "Authenticator app").await;
    j.page("locked").await;
    let xpath = r#"//main//a[normalize-space()="confirm it's you on My profile"]"#;
    c.find(fantoccini::Locator::XPath(xpath)).await.expect("the link to confirm").click().await.expect("click");
    confirm_its_you(c, &base, "jpatel", TEST_PASSWORD, "+12065559975").await;
    click(c, "//main", "Authenticator app and recovery codes").await;
    wait_h1(c, "Authenticator app").await;
    click(c, "//main", "Add an authenticator app").await;

    // The QR code and, for typing, the key: the person reads it off the page.
    let key = css(c, "#totp-secret").await.text().await.expect("the key");
    css(c, ".qr[role='img'] svg").await;
    j.page("enrol").await;
    let shot = format!("target/screenshots/totp-{}-{:02}-enrol.png", backend_name(backend), j.step);
    assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(&shot).exists(), "{shot}");
    let phone = phone_app(&key);
    // A wrong code first, then the app's: the recovery codes, once.
    turn_on_the_app(&mut j, &app, &code_now(&app, &phone)).await;

    // Sign out; sign in with the password, then the app's code (a later step: a code is used
    // once).
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;
    app.advance(Duration::seconds(30));
    type_into(c, "#username", "jpatel").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let label = css(c, "label[for='code']").await.text().await.expect("label");
    assert_eq!(label, "Enter the 6-digit code your authenticator app shows");
    j.page("app-code").await;
    type_into(c, "#code", &code_now(&app, &phone)).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Welcome, Jay Patel").await;
    j.page("signed-in").await;
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd otp' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1, "the session records the app");
    browser.close().await;
    app.stop().await;
}
both!(add_an_authenticator_app_then_sign_in_with_it);
