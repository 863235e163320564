//! A practice administrator in headless Chromium: a mistyped email (of the person being added,
//! then of a row of the list) is shown beside its field and sends nothing; then two people are
//! invited in one list, the pending invitations are managed (resend one, cancel the other), the
//! remaining one signs up from the emailed link, and the administrator changes their user type
//! and provider association and deactivates them. Every page gets the accessibility checks and a
//! screenshot of `browser.rs` (`target/screenshots/practice-<backend>-<step>.png`).

use crate::browser::{
    Browser, Journey, backend_name, click, code_from_outbox, css, sign_in_with_code, type_into, wait_h1,
};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use fantoccini::{Client, Locator};

const ADMIN_PHONE: &str = "+12065551001";
const ANN_PASSWORD: &str = "Harbor willow lantern 77";

async fn add_person(c: &Client, first: &str, last: &str, email: &str) {
    type_into(c, "#first_name", first).await;
    type_into(c, "#last_name", last).await;
    type_into(c, "#email", email).await;
    type_into(c, "#email_confirm", email).await;
    css(c, "#user_type").await.select_by_label("Billing Staff").await.expect("user type");
    click(c, "//main", "Add to List").await;
    wait_h1(c, "Invite New User").await;
}

/// The field is marked invalid and its message, beside it, is the one it is described by.
async fn assert_invalid(c: &Client, selector: &str, message: &str) {
    let error = css(c, &format!("{selector}-error")).await;
    assert!(error.is_displayed().await.expect("displayed"), "{selector}'s message is visible");
    assert_eq!(error.text().await.expect("text").trim(), message);
    let field = css(c, selector).await;
    assert_eq!(field.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"), "{selector}");
    let id = error.attr("id").await.expect("attr").unwrap_or_default();
    let described = field.attr("aria-describedby").await.expect("attr").unwrap_or_default();
    assert!(described.split_whitespace().any(|d| d == id), "{selector} is described by {id}: {described}");
}

async fn invite_manage_and_deactivate(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    app.seed_practice("825671892", "Lakeside Family Medicine").await;
    app.seed_provider("825671892", "P1", "Richard", "Kim").await;
    app.seed_provider("825671892", "P2", "Amara", "Okafor").await;
    app.seed_affiliation(dana, "825671892", "office_manager", true).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "practice", backend: backend_name(backend), step: 0 };

    sign_in_with_code(c, &base, "dana", TEST_PASSWORD, ADMIN_PHONE).await;
    wait_h1(c, "Welcome, Dana Reyes").await;
    c.goto(&format!("{base}/practice/users")).await.expect("open users");
    wait_h1(c, "User Management").await;
    j.page("directory").await;

    // ---- Invite two people in one list ----
    click(c, "//main", "Invite New User").await;
    wait_h1(c, "Invite New User").await;
    j.page("invite-empty").await;
    // A mistyped email is refused beside the field, what was typed kept.
    add_person(c, "Ann", "Newhire", "ann@clinic").await;
    assert_invalid(c, "#email", "Enter an email address like name@example.com.").await;
    assert_eq!(css(c, "#first_name").await.prop("value").await.expect("value").as_deref(), Some("Ann"));
    j.page("invite-error").await;
    add_person(c, "Ann", "Newhire", "ann@clinic.example").await;
    add_person(c, "Ben", "Newhire", "ben@clinic.example").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("List (2 of at most"), "{text}");
    j.page("invite-list").await;
    // Ben's email, spoiled in the list, stops the whole list beside his row's field.
    type_into(c, "#l1_email", "ben@clinic").await;
    click(c, "//main", "Send Invitations (2)").await;
    assert_invalid(c, "#l1_email", "Enter an email address like name@example.com.").await;
    j.page("invite-list-error").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'invited'").await, 0, "nobody invited yet");
    click(
        c,
        "//div[@id='error-summary']",
        "Person 2 on the list, email: Enter an email address like name@example.com.",
    )
    .await;
    type_into(c, "#l1_email", "ben@clinic.example").await;
    click(c, "//main", "Send Invitations (2)").await;
    wait_h1(c, "Invitations: 2 of 2 sent").await;
    j.page("invite-results").await;

    // ---- Pending users: resend Ann's link, cancel Ben's ----
    click(c, "//main", "Manage Pending Users").await;
    wait_h1(c, "Manage Pending Users").await;
    j.page("pending").await;
    click(c, "//main", "Resend to Ann Newhire").await;
    wait_h1(c, "Manage Pending Users").await;
    click(c, "//main", "Cancel Ben Newhire").await;
    wait_h1(c, "Cancel invitation").await;
    j.page("cancel-confirm").await;
    click(c, "//main", "Cancel invitation").await;
    wait_h1(c, "Manage Pending Users").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("The invitation was cancelled") && !text.contains("ben@clinic.example"), "{text}");
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;

    // ---- Ann signs up from the newest link ----
    c.goto(&format!("{base}/dev/outbox")).await.expect("open outbox");
    wait_h1(c, "Development outbox").await;
    let xpath = "(//article[starts-with(normalize-space(h2), 'Email to ann@clinic.example')])[1]//a[contains(@href, '/signup?')]";
    c.find(Locator::XPath(xpath)).await.expect("Ann's link").click().await.expect("click");
    wait_h1(c, "Sign up").await;
    type_into(c, "#username", "anewhire").await;
    type_into(c, "#password", ANN_PASSWORD).await;
    type_into(c, "#confirm_password", ANN_PASSWORD).await;
    click(c, "//main", "Continue").await;
    wait_h1(c, "Set up two-step verification").await;
    type_into(c, "#phone", "206-555-0177").await;
    css(c, "#method-text").await.click().await.expect("text");
    click(c, "//main", "Send code").await;
    wait_h1(c, "Set up two-step verification").await;
    let code = code_from_outbox(c, &base, "+12065550177").await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Terms and conditions").await;
    type_into(c, "#first_name", "Ann").await;
    type_into(c, "#last_name", "Newhire").await;
    click(c, "//main", "I accept").await;
    wait_h1(c, "Welcome, Ann Newhire").await;
    click(c, "//header", "Sign out").await;
    wait_h1(c, "Sign in").await;

    // ---- The administrator changes Ann's user type and providers, then deactivates her ----
    sign_in_with_code(c, &base, "dana", TEST_PASSWORD, ADMIN_PHONE).await;
    wait_h1(c, "Welcome, Dana Reyes").await;
    c.goto(&format!("{base}/practice/users?q=newhire")).await.expect("search");
    wait_h1(c, "User Management").await;
    click(c, "//main", "Ann Newhire").await;
    wait_h1(c, "Portal User Information").await;
    j.page("member").await;
    let select = css(c, "select[name=user_type]").await;
    select.select_by_label("Clinical Staff").await.expect("choose type");
    click(c, "//main", "Save user type").await;
    wait_h1(c, "Portal User Information").await;
    assert!(css(c, "main [role=status]").await.text().await.expect("notice").contains("user type was saved"));
    click(c, "//main", "Edit Provider Association").await;
    wait_h1(c, "Edit Provider Association").await;
    css(c, "#scope-some").await.click().await.expect("some");
    c.find(Locator::XPath("//label[normalize-space()='Amara Okafor']"))
        .await
        .expect("Amara")
        .click()
        .await
        .expect("check");
    j.page("providers").await;
    click(c, "//main", "Done").await;
    wait_h1(c, "Portal User Information").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("Amara Okafor") && !text.contains("Richard Kim"), "{text}");
    click(c, "//main", "Deactivate User").await;
    wait_h1(c, "Deactivate user").await;
    click(c, "//main", "Deactivate").await;
    wait_h1(c, "Portal User Information").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("was deactivated") && text.contains("Reactivate User"), "{text}");
    j.page("deactivated").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'anewhire' AND status = 'deactivated'").await, 1);

    // Dana's own page: her information changes on My Profile, not here.
    c.goto(&format!("{base}/practice/users/{}", dana.0)).await.expect("open own page");
    wait_h1(c, "Portal User Information").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(
        text.contains("Change your own information on My Profile") && !text.contains("Edit user information"),
        "{text}"
    );
    j.page("own-page").await;

    browser.close().await;
    app.stop().await;
}
crate::both!(invite_manage_and_deactivate);

/// Issue 14's least-privilege steps as a practice administrator takes them: adding a Tax ID asks
/// for the providers before anything is granted (7), Make Admin asks first (8), and removing a
/// user's last Tax ID ends on a page saying what happened, not an error (1).
async fn narrow_access_and_confirmations(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    let ann = app.user("ann", "Ann", "Newhire", 1002, None).await;
    for (tin, name) in [("825671892", "Lakeside Family Medicine"), ("914407731", "Cedar Valley Pediatrics")] {
        app.seed_practice(tin, name).await;
    }
    for (tin, id, last) in [("825671892", "P1", "Kim"), ("914407731", "Q1", "Quinn"), ("914407731", "Q2", "Quade")] {
        app.seed_provider(tin, id, "Pat", last).await;
    }
    app.seed_affiliation(dana, "825671892", "office_manager", true).await;
    app.seed_affiliation(dana, "914407731", "office_manager", true).await;
    app.seed_affiliation(ann, "825671892", "billing_staff", false).await;
    let held = format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", ann.0);
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "least-privilege", backend: backend_name(backend), step: 0 };
    sign_in_with_code(c, &base, "dana", TEST_PASSWORD, ADMIN_PHONE).await;
    wait_h1(c, "Welcome, Dana Reyes").await;
    c.goto(&format!("{base}/practice/users/{}", ann.0)).await.expect("open Ann");
    wait_h1(c, "Portal User Information").await;

    // 7. Choosing a Tax ID grants nothing; the providers come first, then one confirming button.
    let add = "//main//details[summary/h2[normalize-space()='Add New Tax ID Affiliation']]";
    c.find(Locator::XPath(&format!("{add}/summary"))).await.expect("summary").click().await.expect("open it");
    css(c, "#add-practice").await.select_by_label("914407731 – Cedar Valley Pediatrics").await.expect("Tax ID");
    css(c, "#add-type").await.select_by_label("Billing Staff").await.expect("user type");
    click(c, add, "Next").await;
    wait_h1(c, "Add New Tax ID Affiliation").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("Nothing changes until you select Add Tax ID"), "{text}");
    j.page("add-tax-id-providers").await;
    assert_eq!(app.count(&held).await, 1, "choosing the Tax ID granted nothing");
    css(c, "#scope-some").await.click().await.expect("some");
    c.find(Locator::XPath("//label[normalize-space()='Pat Quinn']"))
        .await
        .expect("Quinn")
        .click()
        .await
        .expect("check");
    click(c, "//main", "Add Tax ID").await;
    wait_h1(c, "Portal User Information").await;
    // Ann has an account of her own: Cedar is offered, and added only once she accepts.
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("We asked the user to accept this Tax ID"), "{text}");
    j.page("offered").await;
    assert_eq!(app.count(&held).await, 1, "nothing attached before she accepts");
    let ann_browser = app.signed_in_browser("ann", 1002).await;
    let offer = app.count(&format!("SELECT id FROM affiliation_offers WHERE user_id = {}", ann.0)).await;
    let (s, _, _) = app.post_form(&ann_browser, "/offers", &format!("/offers/{offer}/accept"), &[]).await;
    assert_eq!(s, reqwest::StatusCode::SEE_OTHER);
    c.goto(&format!("{base}/practice/users/{}", ann.0)).await.expect("open Ann again");
    wait_h1(c, "Portal User Information").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(
        text.contains("Cedar Valley Pediatrics") && text.contains("Pat Quinn") && !text.contains("Pat Quade"),
        "{text}"
    );
    j.page("added-narrow").await;
    assert_eq!(app.count(&held).await, 2);

    // 8. Make Admin asks first, naming what the person will be able to do.
    c.find(Locator::XPath("(//main//a[normalize-space()='Make Admin'])[1]"))
        .await
        .expect("Make Admin")
        .click()
        .await
        .expect("click");
    wait_h1(c, "Make administrator").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(
        text.contains("Make Ann Newhire an administrator of") && text.contains("invite, change and deactivate users"),
        "{text}"
    );
    j.page("make-admin-confirm").await;
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND is_admin = 1", ann.0)).await,
        0
    );
    click(c, "//main", "Make administrator").await;
    wait_h1(c, "Portal User Information").await;
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND is_admin = 1", ann.0)).await,
        1
    );

    // 1. Removing one Tax ID comes back to the user; removing the last says what happened.
    for _ in 0..2 {
        c.find(Locator::XPath("(//main//a[normalize-space()='Remove Tax ID Affiliation'])[1]"))
            .await
            .expect("Remove Tax ID Affiliation")
            .click()
            .await
            .expect("click");
        wait_h1(c, "Remove Tax ID affiliation").await;
        click(c, "//main", "Remove").await;
        if app.count(&held).await == 1 {
            wait_h1(c, "Portal User Information").await;
        }
    }
    wait_h1(c, "Tax ID affiliation removed").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("Ann Newhire was removed from") && text.contains("effective immediately"), "{text}");
    j.page("last-tax-id-removed").await;
    assert_eq!(app.count(&held).await, 0);

    browser.close().await;
    app.stop().await;
}
crate::both!(narrow_access_and_confirmations);
