//! An access review in headless Chromium (issue 17): the demo's Olivia Carter reviews the users of
//! Lakeside Family Medicine — keeps three, changes one, deactivates one (her own access recorded
//! as the only administrator's) — and signs with her name; then the plan administrator finds the
//! signed review on the control panel and exports the evidence PDF, whose first page is rendered
//! to PNG beside the screenshots (`target/screenshots/reviews-<backend>-evidence-1.png`) to be
//! looked at. Every page gets the accessibility checks and a screenshot.

use crate::browser::{Browser, Journey, backend_name, click, css, sign_in_with_code, type_into, wait_h1};
use crate::support::{Backend, TestApp};
use fantoccini::Client;
use std::path::Path;

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

/// The row of `name` on the review page.
async fn row(c: &Client, name: &str) -> String {
    let xpath = format!("//main//tr[.//strong[normalize-space()='{name}']]");
    c.find(fantoccini::Locator::XPath(&xpath)).await.expect("row").text().await.expect("row text")
}

async fn review_five_users_and_sign(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "reviews", backend: backend_name(backend), step: 0 };
    let account = |name: &str| gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == name).expect("demo account");
    let (olivia, priya) = (account("ocarter"), account("pshah"));

    // ---- Olivia reviews her practice's users ----
    sign_in_with_code(c, &base, olivia.username, olivia.password, olivia.phone).await;
    click(c, "//header", "Review users").await;
    wait_h1(c, "Review users: Lakeside Family Medicine").await;
    assert!(text(c, "main").await.contains("only administrator"), "Olivia is the practice's only administrator");
    j.page("review").await;
    for name in ["Jay Patel", "Maria Lopez", "Dana Brooks"] {
        click(c, "//main", &format!("Keep {name}")).await;
        wait_h1(c, "Review users: Lakeside Family Medicine").await;
        assert!(row(c, name).await.contains("Keep"), "{name} kept");
    }
    click(c, "//main", "Change Luis Romero…").await;
    wait_h1(c, "Change access: Luis Romero").await;
    css(c, "#user_type option[value='clinical_staff']").await.click().await.expect("choose clinical staff");
    type_into(c, "#reason", "Moved to the clinic floor").await;
    j.page("change").await;
    click(c, "//main", "Save the change").await;
    wait_h1(c, "Review users: Lakeside Family Medicine").await;
    assert!(row(c, "Luis Romero").await.contains("user type to Clinical Staff"));
    // Ruth left: a reason, then Deactivate.
    let ruth = app.ids("SELECT id FROM users WHERE username = 'radams'").await[0];
    type_into(c, &format!("#reason-{ruth}"), "Left the practice in October").await;
    click(c, "//main", "Deactivate Ruth Adams").await;
    wait_h1(c, "Review users: Lakeside Family Medicine").await;
    assert!(row(c, "Ruth Adams").await.contains("Left the practice in October"));
    j.page("decided").await;
    // A wrong name is refused; her own signs.
    type_into(c, "#first_name", "Jay").await;
    type_into(c, "#last_name", "Patel").await;
    click(c, "//main", "Sign the review").await;
    wait_h1(c, "Review users: Lakeside Family Medicine").await;
    assert!(text(c, "main [role=alert]").await.contains("exactly as on your account"));
    type_into(c, "#first_name", "Olivia").await;
    type_into(c, "#last_name", "Carter").await;
    click(c, "//main", "Sign the review").await;
    wait_h1(c, "Review users: Lakeside Family Medicine").await;
    let signed = text(c, "main").await;
    assert!(signed.contains("Signed by Olivia Carter") && signed.contains("SHA-256"), "{signed}");
    j.page("signed").await;
    click(c, "//header", "Sign out").await;
    let ruth_status =
        app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {ruth} AND status = 'deactivated'")).await;
    assert_eq!(ruth_status, 1, "Ruth's account is deactivated with the signature");

    // ---- The plan administrator finds it and exports the evidence ----
    sign_in_with_code(c, &base, priya.username, priya.password, priya.phone).await;
    c.goto(&format!("{base}/admin/reviews")).await.expect("open reviews");
    wait_h1(c, "Access reviews").await;
    j.page("overview").await;
    let staff = app.signed_in_as(priya.username, priya.password, priya.phone).await;
    let today = gatehouse_domain::Timestamp(app.running.services.now()).iso_day(&app.plan.row.time_zone);
    let url = app.url(&format!("/admin/reviews/export?format=pdf&tax_id=825671892&from={today}&to={today}"));
    let r = staff.get(url).send().await.expect("export");
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().await.expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let file = dir.join(format!("reviews-{}-evidence.pdf", backend_name(backend)));
    std::fs::write(&file, &pdf).expect("write the PDF");
    let png_stem = dir.join(format!("reviews-{}-evidence", backend_name(backend)));
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(&png_stem)
        .status();
    match rendered {
        Ok(s) => {
            assert!(s.success(), "pdftoppm failed");
            let png = std::fs::read(png_stem.with_extension("png")).expect("the rendered page");
            assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real page, {} bytes", png.len());
        }
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "pdftoppm (poppler-utils) is needed in CI: {e}")
        }
    }
    browser.close().await;
    app.stop().await;
}

crate::both!(review_five_users_and_sign);
