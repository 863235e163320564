//! Administrator registration in headless Chromium: a practice fills in the request form (first
//! with a mistake), a help desk agent signs in and approves it from the control panel, both
//! approval emails appear on the development outbox, and the primary administrator signs up from
//! the emailed link through two-step set-up and terms. Every page gets the accessibility checks
//! and a screenshot of `browser.rs` (`target/screenshots/registration-<backend>-<step>.png`).

use crate::browser::{Browser, Journey, backend_name, click, code_from_outbox, css, type_into, wait_h1};
use crate::registration::{ON_ROSTER, PRIMARY, SECONDARY, fields, roster_practice};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use fantoccini::Locator;

const AGENT_PHONE: &str = "+12065551002";
const PRIMARY_PHONE: &str = "+12065550143";
const USERNAME: &str = "mlopez";
const PASSWORD: &str = "Riverbend lantern orchard 42";

/// The approval email's sign-up link to `to`, as shown on the outbox page.
async fn signup_link_for(c: &fantoccini::Client, to: &str) -> fantoccini::elements::Element {
    let xpath = format!(
        "(//article[starts-with(normalize-space(h2), 'Email to {to}: Your')])[1]//a[contains(@href, '/signup?')]"
    );
    c.find(Locator::XPath(&xpath)).await.unwrap_or_else(|e| panic!("no sign-up link emailed to {to}: {e}"))
}

async fn request_approve_and_sign_up(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    roster_practice(&app, ON_ROSTER).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "registration", backend: backend_name(backend), step: 0 };

    // ---- The practice asks for access, from the sign-in page ----
    c.goto(&format!("{base}/signin")).await.expect("open sign-in");
    wait_h1(c, "Sign in").await;
    click(c, "//main", "Request administrator access").await;
    wait_h1(c, "Provider OnLine Account Request").await;
    j.page("form").await;
    let typed = fields(ON_ROSTER, PRIMARY, SECONDARY);
    for (name, value) in &typed {
        if !value.is_empty() {
            type_into(c, &format!("#{name}"), if *name == "tax_id_confirm" { "825671893" } else { value }).await;
        }
    }
    click(c, "//main", "Submit request").await;
    wait_h1(c, "Provider OnLine Account Request").await;
    let error = css(c, "#tax_id_confirm-error").await;
    assert_eq!(error.text().await.expect("text").trim(), "The two Tax IDs do not match.");
    let field = css(c, "#tax_id_confirm").await;
    assert_eq!(field.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"));
    let described = field.attr("aria-describedby").await.expect("attr").unwrap_or_default();
    assert!(described.split_whitespace().any(|id| id == "tax_id_confirm-error"), "{described:?}");
    assert_eq!(
        css(c, "#practice_name").await.prop("value").await.expect("value").as_deref(),
        Some("Lakeside Family Medicine")
    );
    j.page("form-error").await;
    type_into(c, "#tax_id_confirm", ON_ROSTER).await;
    click(c, "//main", "Submit request").await;
    wait_h1(c, "Request received").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(
        text.contains(PRIMARY) && text.contains(SECONDARY) && text.contains("We will email you when it is reviewed")
    );
    j.page("received").await;

    // ---- A help desk agent signs in and approves it ----
    c.goto(&format!("{base}/signin")).await.expect("open sign-in");
    wait_h1(c, "Sign in").await;
    type_into(c, "#username", "hdesk").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let code = code_from_outbox(c, &base, AGENT_PHONE).await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Welcome, Hal Desk").await;
    click(c, "//header", "Control panel").await;
    wait_h1(c, "Control panel").await;
    click(c, "//main", "Registration requests").await;
    wait_h1(c, "Registration requests").await;
    j.page("queue").await;
    click(c, "//main", "Review the request of Lakeside Family Medicine").await;
    wait_h1(c, "Registration request: Lakeside Family Medicine").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("is on the roster as Lakeside Family Medicine") && text.contains("Richard Kim"), "{text}");
    j.page("review").await;
    click(c, "//main", "Approve").await;
    wait_h1(c, "Approve the request of Lakeside Family Medicine?").await;
    j.page("approve-confirm").await;
    click(c, "//main", "Approve and send the emails").await;
    wait_h1(c, "Registration request: Lakeside Family Medicine").await;
    let notice = css(c, "main [role=status]").await.text().await.expect("notice");
    assert!(notice.starts_with("Approved."), "{notice}");
    j.page("approved").await;
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;

    // ---- Both approval emails are in the outbox; the primary signs up from theirs ----
    c.goto(&format!("{base}/dev/outbox")).await.expect("open outbox");
    wait_h1(c, "Development outbox").await;
    signup_link_for(c, SECONDARY).await;
    j.page("outbox").await;
    signup_link_for(c, PRIMARY).await.click().await.expect("click the sign-up link");
    wait_h1(c, "Sign up").await;
    j.page("signup").await;
    type_into(c, "#username", USERNAME).await;
    type_into(c, "#password", PASSWORD).await;
    type_into(c, "#confirm_password", PASSWORD).await;
    click(c, "//main", "Continue").await;
    wait_h1(c, "Set up two-step verification").await;
    type_into(c, "#phone", "206-555-0143").await;
    css(c, "#method-text").await.click().await.expect("choose text");
    click(c, "//main", "Send code").await;
    wait_h1(c, "Set up two-step verification").await;
    let code = code_from_outbox(c, &base, PRIMARY_PHONE).await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Terms and conditions").await;
    type_into(c, "#first_name", "Maria").await;
    type_into(c, "#last_name", "Lopez").await;
    click(c, "//main", "I accept").await;
    wait_h1(c, "Welcome, Maria Lopez").await;
    j.page("home").await;
    let q = format!(
        "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id JOIN practices p ON p.id = a.practice_id \
         WHERE u.username = '{USERNAME}' AND u.status = 'active' AND a.is_admin = 1 AND p.tax_id = '{ON_ROSTER}'"
    );
    assert_eq!(app.count(&q).await, 1, "the primary administers the Tax ID");

    browser.close().await;
    app.stop().await;
}
crate::both!(request_approve_and_sign_up);
