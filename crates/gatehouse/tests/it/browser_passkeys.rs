//! Passkeys in headless Chromium with ChromeDriver's virtual authenticator (the W3C WebAuthn
//! WebDriver extension): confirm it's you, add a passkey on the Passkeys page, sign out, then
//! sign in with the passkey alone from the sign-in page; and the passkey offered at two-step
//! after the password; then "confirm it's you" on My profile with the passkey, and new recovery
//! codes from My profile. Every page gets the accessibility checks and a screenshot
//! (`target/screenshots/passkeys-<backend>-<step>.png`).

use crate::both;
use crate::browser::{
    Browser, Journey, backend_name, click, confirm_its_you, css, sign_in_with_code, type_into, wait_h1,
};
use crate::support::{Backend, TEST_PASSWORD, TestApp};

async fn add_a_passkey_then_sign_in_with_it(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let authenticator = browser.add_virtual_authenticator().await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "passkeys", backend: backend_name(backend), step: 0 };

    sign_in_with_code(c, &base, "jpatel", TEST_PASSWORD, "+12065559975").await;
    wait_h1(c, "Welcome, Jay Patel").await;

    // My profile links to the passkeys; adding one needs the usual confirmation first.
    click(c, "//header", "My profile").await;
    wait_h1(c, "My profile").await;
    click(c, "//main", "See and manage your passkeys").await;
    wait_h1(c, "Passkeys").await;
    j.page("locked").await;
    let xpath = r#"//main//a[normalize-space()="confirm it's you on My profile"]"#;
    c.find(fantoccini::Locator::XPath(xpath)).await.expect("the link to confirm").click().await.expect("click");
    confirm_its_you(c, &base, "jpatel", TEST_PASSWORD, "+12065559975").await;
    c.goto(&format!("{base}/profile/passkeys")).await.expect("passkeys");
    wait_h1(c, "Passkeys").await;
    // The script found WebAuthn and showed the form.
    css(c, "form[data-passkey='register']:not([hidden]) #name").await;
    j.page("add").await;
    type_into(c, "#name", "Front desk PC").await;
    click(c, "//main", "Add a passkey").await;
    let notice = css(c, ".notice").await.text().await.expect("notice");
    assert!(notice.contains("Your passkey was added"), "{notice}");
    j.page("added").await;
    let cell = css(c, "main table tbody td").await.text().await.expect("name");
    assert_eq!(cell, "Front desk PC");
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "the key is held by the authenticator");
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);

    // Sign out, then sign in with the passkey alone.
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;
    css(c, "form[data-passkey='signin']:not([hidden])").await;
    j.page("signin").await;
    click(c, "//main", "Sign in with a passkey").await;
    wait_h1(c, "Welcome, Jay Patel").await;
    j.page("signed-in").await;
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'hwk user' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1);

    // After the password, the passkey instead of the code.
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;
    type_into(c, "#username", "jpatel").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    css(c, "form[data-passkey='second-step']:not([hidden])").await;
    j.page("second-step").await;
    click(c, "//main", "Use a passkey").await;
    wait_h1(c, "Welcome, Jay Patel").await;
    let q = "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd hwk user' AND ended_at IS NULL";
    assert_eq!(app.count(q).await, 1);

    // Confirm it's you on My profile: the password, then the passkey; nothing is texted.
    let texts = app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await;
    click(c, "//header", "My profile").await;
    wait_h1(c, "My profile").await;
    type_into(c, "#username", "jpatel").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Next").await;
    css(c, "form[data-passkey='reauth']:not([hidden])").await;
    j.page("confirm-with-passkey").await;
    click(c, "//main", "Use your passkey").await;
    css(c, "#city").await;
    j.page("profile-open").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = '+12065559975'").await, texts);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'profile.unlocked' AND detail LIKE '%\"factor\":\"passkey\"%'";
    assert_eq!(app.count(q).await, 1);

    // New recovery codes, shown once on their own page.
    click(c, "//main", "Make new recovery codes").await;
    wait_h1(c, "Your new recovery codes").await;
    let shown = c.find_all(fantoccini::Locator::Css("#recovery-codes li code")).await.expect("codes");
    assert_eq!(shown.len(), 10);
    j.page("new-recovery-codes").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'recovery_codes.regenerated'").await, 1);
    browser.close().await;
    app.stop().await;
}
both!(add_a_passkey_then_sign_in_with_it);
