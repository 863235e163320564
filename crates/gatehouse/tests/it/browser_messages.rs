//! Secure messages in headless Chromium (issue 16): billing staff of the demo's Lakeside Family
//! Medicine writes to the plan with a scanned PDF, a help desk agent finds it in the mailbox,
//! takes it, adds an internal note and replies; the practice user sees the unread count in the
//! header and the reply, never the note. Every page gets the accessibility checks and a
//! screenshot of `browser.rs` (`target/screenshots/messages-<backend>-<step>.png`).

use crate::browser::{Browser, Journey, backend_name, click, css, sign_in_with_code, type_into, wait_h1};
use crate::support::{Backend, TestApp};
use fantoccini::Client;

const SUBJECT: &str = "Referral missing for the Okafor visit";
const NOTE: &str = "Internal: the referral arrived by fax on Monday.";
const REPLY: &str = "We found the referral and reprocessed the claim.";

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

async fn choose(c: &Client, select: &str, value: &str) {
    css(c, &format!("{select} option[value='{value}']")).await.click().await.expect("choose an option");
}

async fn write_ask_and_answer(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "messages", backend: backend_name(backend), step: 0 };
    let account = |name: &str| gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == name).expect("demo account");
    let (jay, hector) = (account("jpatel"), account("hdiaz"));
    let scan =
        std::env::temp_dir().join(format!("okafor-referral-{}-{}.pdf", std::process::id(), backend_name(backend)));
    std::fs::write(&scan, b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
        .expect("write the scan");

    // ---- The practice user writes, with a file ----
    sign_in_with_code(c, &base, jay.username, jay.password, jay.phone).await;
    c.goto(&format!("{base}/messages")).await.expect("open messages");
    wait_h1(c, "Secure messages").await;
    assert!(text(c, "main table").await.contains("Claim denied as a duplicate"), "the demo's conversation");
    j.page("inbox").await;
    click(c, "//main", "Write a new message").await;
    wait_h1(c, "Write to the plan").await;
    click(c, "//main", "Send message").await;
    wait_h1(c, "Write to the plan").await;
    let summary = text(c, "#error-summary").await;
    assert!(
        summary.contains("Choose what your message is about.") && summary.contains("Enter a subject."),
        "{summary}"
    );
    j.page("new-errors").await;
    choose(c, "#topic", "referrals").await;
    type_into(c, "#subject", SUBJECT).await;
    type_into(c, "#member_id", "M-88231").await;
    type_into(c, "#body", "The claim for Ada Okafor was denied for a missing referral. The referral is attached.")
        .await;
    css(c, "#files").await.send_keys(&scan.to_string_lossy()).await.expect("attach the scan");
    j.page("new-filled").await;
    click(c, "//main", "Send message").await;
    wait_h1(c, SUBJECT).await;
    assert!(text(c, "main [role=status]").await.contains("Your message was sent"));
    let scan_name = scan.file_name().and_then(|n| n.to_str()).expect("file name").to_owned();
    assert!(text(c, "ol.conversation").await.contains(&scan_name));
    j.page("sent").await;
    click(c, "//header", "Sign out").await;
    app.advance(gatehouse_domain::Duration::minutes(5));

    // ---- The agent works it from the mailbox ----
    sign_in_with_code(c, &base, hector.username, hector.password, hector.phone).await;
    c.goto(&format!("{base}/admin/messages")).await.expect("open the mailbox");
    wait_h1(c, "Mailbox").await;
    choose(c, "#topic", "referrals").await;
    click(c, "//main", "Show").await;
    wait_h1(c, "Mailbox").await;
    let table = text(c, "main table").await;
    assert!(table.contains(SUBJECT) && !table.contains("Claim denied as a duplicate"), "{table}");
    j.page("mailbox-filtered").await;
    click(c, "//main", SUBJECT).await;
    wait_h1(c, SUBJECT).await;
    click(c, "//main", "Save assignment").await;
    wait_h1(c, SUBJECT).await;
    assert!(text(c, "table.facts").await.contains("Hector Diaz"));
    type_into(c, "#body", NOTE).await;
    click(c, "//main", "Add internal note").await;
    wait_h1(c, SUBJECT).await;
    type_into(c, "#body", REPLY).await;
    click(c, "//main", "Send reply to the practice").await;
    wait_h1(c, SUBJECT).await;
    let conversation = text(c, "ol.conversation").await;
    assert!(conversation.contains(NOTE) && conversation.contains(REPLY), "{conversation}");
    j.page("agent-thread").await;
    click(c, "//header", "Sign out").await;
    app.advance(gatehouse_domain::Duration::minutes(5));

    // ---- The practice user reads the answer ----
    sign_in_with_code(c, &base, jay.username, jay.password, jay.phone).await;
    let header = text(c, "header").await;
    assert!(header.contains("Messages (1 unread)"), "{header}");
    c.goto(&format!("{base}/messages?folder=unread")).await.expect("open unread");
    wait_h1(c, "Secure messages").await;
    j.page("inbox-unread").await;
    click(c, "//main", &format!("{SUBJECT} Unread")).await;
    wait_h1(c, SUBJECT).await;
    let conversation = text(c, "ol.conversation").await;
    assert!(conversation.contains(REPLY) && !conversation.contains(NOTE), "{conversation}");
    assert!(text(c, "table.facts").await.contains("Answered"));
    j.page("reply-read").await;
    let _ = std::fs::remove_file(&scan);
    browser.close().await;
    app.stop().await;
}

crate::both!(write_ask_and_answer);

/// Add Facility (seed 003): billing staff who may act only for Dr. Kim asks for Dr. Okafor and for
/// St. Brigid's facility; the agent approves the first from the mailbox and denies the second with
/// a reason; the user reads the reply and finds Dr. Okafor on My Profile.
async fn add_facility_approved_and_denied(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    // Jay Patel acts for Dr. Richard Kim (P200451) only.
    app.sql(
        "UPDATE affiliations SET all_providers = 0 WHERE user_id = (SELECT id FROM users WHERE username = 'jpatel')",
    )
    .await;
    app.sql(
        "INSERT INTO affiliation_providers (affiliation_id, provider_id) \
         SELECT a.id, p.id FROM affiliations a, providers p \
         WHERE a.user_id = (SELECT id FROM users WHERE username = 'jpatel') AND p.provider_id = 'P200451'",
    )
    .await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "add-facility", backend: backend_name(backend), step: 0 };
    let account = |name: &str| gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == name).expect("demo account");
    let (jay, hector) = (account("jpatel"), account("hdiaz"));

    // ---- The request, from My Profile ----
    sign_in_with_code(c, &base, jay.username, jay.password, jay.phone).await;
    c.goto(&format!("{base}/profile")).await.expect("open my profile");
    wait_h1(c, "My profile").await;
    let profile = text(c, "main").await;
    assert!(profile.contains("P200451") && !profile.contains("P200452"), "{profile}");
    j.page("profile-before").await;
    click(c, "//main", "Add Facility").await;
    wait_h1(c, "Add Facility").await;
    type_into(c, "#lines", "P200452\nF400010").await;
    type_into(c, "#note", "Dr. Okafor joined our office; we also bill for St. Brigid.").await;
    j.page("request").await;
    click(c, "//main", "Send request").await;
    let heading = css(c, "h1").await.text().await.expect("heading");
    assert!(css(c, "ol.conversation").await.text().await.expect("text").contains("P200452"), "{heading}");
    j.page("request-sent").await;
    click(c, "//header", "Sign out").await;
    app.advance(gatehouse_domain::Duration::minutes(5));

    // ---- The agent decides each line ----
    sign_in_with_code(c, &base, hector.username, hector.password, hector.phone).await;
    c.goto(&format!("{base}/admin/messages?topic=provider_profile_update")).await.expect("open the mailbox");
    wait_h1(c, "Mailbox").await;
    click(c, "//main//table", &heading).await;
    wait_h1(c, &heading).await;
    click(c, "//main", "Review the requested providers").await;
    let review = text(c, "main").await;
    assert!(review.contains("Amara") && review.contains("St. Brigid"), "{review}");
    j.page("review").await;
    css(c, "#decision_1-approve").await.click().await.expect("approve line 1");
    css(c, "#decision_2-deny").await.click().await.expect("deny line 2");
    type_into(c, "#reason_2", "St. Brigid's administrator adds billing staff; ask them.").await;
    j.page("decided").await;
    click(c, "//main", "Save decisions").await;
    wait_h1(c, &heading).await;
    let facts = text(c, "table.facts").await;
    assert!(facts.contains("Resolved"), "{facts}");
    j.page("agent-resolved").await;
    click(c, "//header", "Sign out").await;
    app.advance(gatehouse_domain::Duration::minutes(5));

    // ---- The user reads the answer and has Dr. Okafor ----
    sign_in_with_code(c, &base, jay.username, jay.password, jay.phone).await;
    assert!(text(c, "header").await.contains("Messages (1 unread)"));
    c.goto(&format!("{base}/messages")).await.expect("open messages");
    wait_h1(c, "Secure messages").await;
    click(c, "//main//table", &format!("{heading} Unread")).await;
    wait_h1(c, &heading).await;
    let conversation = text(c, "ol.conversation").await;
    assert!(conversation.contains("P200452") && conversation.contains("ask them"), "{conversation}");
    j.page("reply").await;
    c.goto(&format!("{base}/profile")).await.expect("open my profile");
    wait_h1(c, "My profile").await;
    let profile = text(c, "main").await;
    assert!(profile.contains("P200452"), "{profile}");
    j.page("profile-after").await;
    browser.close().await;
    app.stop().await;
}

crate::both!(add_facility_approved_and_denied);
