//! Association in headless Chromium: a signed-in user with no linked account is taken to
//! "Associate Your Account", makes a mistake, associates as a group through the provider
//! agreement, links a second account (a practitioner), switches with the switcher under the header, finds
//! a practice that already has an administrator and sends an access request, which that
//! administrator approves. Every page gets the accessibility checks and a screenshot of
//! `browser.rs` (`target/screenshots/association-<backend>-<step>.png`).

use crate::browser::{Browser, Journey, backend_name, click, css, sign_in_with_code, type_into, wait_h1};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use fantoccini::{Client, Locator};

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

async fn associate_link_switch_and_ask(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    app.user("nwells", "Nina", "Wells", 1001, None).await;
    app.sql(
        "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'nwells') \
         WHERE username = 'ocarter'",
    )
    .await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "association", backend: backend_name(backend), step: 0 };

    // ---- Signed in with no linked account: taken to associate ----
    sign_in_with_code(c, &base, "nwells", TEST_PASSWORD, "+12065551001").await;
    wait_h1(c, "Associate Your Account").await;
    assert!(text(c, "main [role=status]").await.contains("Before you can use the portal"));
    j.page("first-time").await;
    click(c, "//main", "Next").await;
    wait_h1(c, "Associate Your Account").await;
    assert!(text(c, "#error-summary").await.contains("Choose Practitioner or Group"));
    j.page("errors").await;

    // ---- As a group ----
    css(c, "#pt-group").await.click().await.expect("choose group");
    type_into(c, "#group_name", "St. Brigid Community Hospital").await;
    type_into(c, "#tax_id", "731190246").await;
    type_into(c, "#provider_id", "F400010").await;
    type_into(c, "#zip", "98201").await;
    click(c, "//main", "Next").await;
    wait_h1(c, "Associate Your Account").await;
    assert_eq!(text(c, ".step").await, "Step 2 of 2: Provider Agreement");
    assert!(text(c, "main table").await.contains("All providers under this Tax ID"));
    j.page("agreement").await;
    css(c, "#agree").await.click().await.expect("agree");
    click(c, "//main", "Accept and continue").await;
    wait_h1(c, "Welcome, Nina Wells").await;
    let notice = text(c, "main [role=status]").await;
    assert!(notice.contains("now linked to St. Brigid Community Hospital") && notice.contains("administrator"));
    j.page("home-linked").await;

    // ---- A second account, from "Linked accounts" ----
    click(c, "//header", "Linked accounts").await;
    wait_h1(c, "Manage linked accounts").await;
    j.page("accounts-one").await;
    click(c, "//main", "Link another account").await;
    wait_h1(c, "Associate Your Account").await;
    css(c, "#pt-practitioner").await.click().await.expect("choose practitioner");
    type_into(c, "#first_name", "Helen").await;
    type_into(c, "#last_name", "Brooks").await;
    type_into(c, "#tax_id", "914407731").await;
    type_into(c, "#provider_id", "P300118").await;
    type_into(c, "#zip", "98402").await;
    j.page("link-another").await;
    click(c, "//main", "Next").await;
    wait_h1(c, "Associate Your Account").await;
    css(c, "#agree").await.click().await.expect("agree");
    click(c, "//main", "Accept and continue").await;
    wait_h1(c, "Welcome, Nina Wells").await;
    j.page("home-two-accounts").await;

    // ---- The header's switcher ----
    let before = text(c, "main").await;
    let other = css(c, "#switch-affiliation option:not([selected])").await;
    let other_label = other.text().await.expect("label");
    other.click().await.expect("choose the other account");
    click(c, "//section[@class='context-bar']", "Switch").await;
    wait_h1(c, "Welcome, Nina Wells").await;
    let after = text(c, "main").await;
    let practice = other_label.split(" (").next().expect("practice").to_owned();
    assert!(after.contains(&format!("Acting for: {practice}")), "{after}");
    assert_ne!(before, after);
    j.page("switched").await;
    click(c, "//header", "Linked accounts").await;
    wait_h1(c, "Manage linked accounts").await;
    j.page("accounts-two").await;

    // ---- A practice with an administrator: an access request ----
    click(c, "//main", "Link another account").await;
    wait_h1(c, "Associate Your Account").await;
    css(c, "#pt-practitioner").await.click().await.expect("choose practitioner");
    type_into(c, "#first_name", "Richard").await;
    type_into(c, "#last_name", "Kim").await;
    type_into(c, "#tax_id", "825671892").await;
    type_into(c, "#provider_id", "P200451").await;
    type_into(c, "#zip", "98101").await;
    click(c, "//main", "Next").await;
    wait_h1(c, "This practice already has an administrator").await;
    assert!(text(c, "main").await.contains("Olivia Carter"));
    j.page("has-admin").await;
    click(c, "//main", "Send an access request").await;
    wait_h1(c, "Access request sent").await;
    j.page("request-sent").await;
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;

    // ---- The administrator approves it ----
    sign_in_with_code(c, &base, "ocarter", TEST_PASSWORD, "+12065550143").await;
    wait_h1(c, "Welcome, Olivia Carter").await;
    click(c, "//main", "1 access request is waiting for you").await;
    wait_h1(c, "Access requests").await;
    j.page("access-requests").await;
    let select = css(c, "select[name=user_type]").await;
    select.select_by_value("billing_staff").await.expect("choose a user type");
    c.find(Locator::XPath("//main//button[starts-with(normalize-space(), 'Approve')]"))
        .await
        .expect("approve button")
        .click()
        .await
        .expect("approve");
    wait_h1(c, "Access requests").await;
    assert!(text(c, "main [role=status]").await.starts_with("Approved."));
    j.page("approved").await;
    let q = "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id \
             WHERE u.username = 'nwells' AND a.user_type = 'billing_staff'";
    assert_eq!(app.count(q).await, 1);

    browser.close().await;
    app.stop().await;
}
crate::both!(associate_link_switch_and_ask);
