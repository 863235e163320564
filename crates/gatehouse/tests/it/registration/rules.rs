//! The rules of registration: every field checked and shown beside itself with nothing stored,
//! one pending request per Tax ID, the throttle, one winner of two concurrent decisions, who may
//! decide, and plans kept apart.

use super::{
    NOT_ON_ROSTER, ON_ROSTER, PRIMARY, SECONDARY, agent, approve, fields, request_id, submit, submit_at, with,
};
use crate::both;
use crate::support::{Backend, TestApp, csrf};
use gatehouse_domain::Duration;
use gatehouse_services::plans::NewPlan;
use reqwest::StatusCode;

/// Nothing of a refused request was kept: no request, no attempt, no email, no audit event.
async fn nothing_stored(app: &TestApp) {
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM registration_attempts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'registration.%'").await, 0);
}

/// Asserts that `field` is marked invalid and described by its error, which says `text`.
fn error_beside(page: &str, field: &str, text: &str) {
    let input = page
        .split("<input ")
        .find(|i| i.contains(&format!("id=\"{field}\"")))
        .unwrap_or_else(|| panic!("no input {field}"));
    let input = input.split('>').next().unwrap_or_default();
    assert!(input.contains("aria-invalid=\"true\""), "{field} is not marked invalid: {input}");
    assert!(input.contains(&format!("{field}-error")), "{field} is not described by its error: {input}");
    let error = page
        .split(&format!("<p class=\"field-error\" id=\"{field}-error\">"))
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no error beside {field}"));
    assert!(error.contains(text), "{field}: {error:?} should say {text:?}");
    assert!(page.contains(&format!("<a href=\"#{field}\">")), "the summary links to {field}");
}

async fn bad_input_is_shown_beside_each_field(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let good = || fields(ON_ROSTER, PRIMARY, SECONDARY);
    /// The fields changed, the field that must show the error, and what the error says.
    type Case = (Vec<(&'static str, &'static str)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (vec![("tax_id_confirm", "825671893")], "tax_id_confirm", "The two Tax IDs do not match."),
        (vec![("tax_id", "82567189A"), ("tax_id_confirm", "82567189A")], "tax_id", "no spaces, dashes or letters"),
        (vec![("tax_id", "82-5671892"), ("tax_id_confirm", "82-5671892")], "tax_id", "exactly 9 digits"),
        (vec![("primary_email_confirm", "maria@other.example.org")], "primary_email_confirm", "do not match"),
        (
            vec![("secondary_email", "nobody"), ("secondary_email_confirm", "nobody")],
            "secondary_email",
            "like name@example.com",
        ),
        (
            vec![("secondary_email", PRIMARY), ("secondary_email_confirm", PRIMARY)],
            "secondary_email",
            "different person",
        ),
        (vec![("state", "ZZ")], "state", "two letters"),
        (vec![("zip", "981")], "zip", "5-digit ZIP"),
        (vec![("primary_phone", "12")], "primary_phone", "valid US phone number"),
    ];
    for (changes, field, text) in cases {
        let (s, page) = submit(&app, &with(good(), &changes)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{changes:?}");
        error_beside(&page, field, text);
        assert!(page.contains("Please correct 1 field"), "{changes:?}");
    }
    // Everything missing: every required field has its own error; the optional ones do not.
    let (s, page) = submit(&app, &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for (field, text) in [
        ("primary_first_name", "Enter the first name."),
        ("primary_last_name", "Enter the last name."),
        ("primary_phone", "Enter a phone number."),
        ("primary_email", "Enter an email address."),
        ("secondary_first_name", "Enter the first name."),
        ("secondary_email", "Enter an email address."),
        ("practice_name", "Enter the practice name."),
        ("address1", "Enter the street address."),
        ("city", "Enter the city."),
        ("state", "Enter the state"),
        ("zip", "Enter the ZIP code."),
        ("phone", "phone number."),
        ("tax_id", "Enter the 9-digit Tax ID."),
    ] {
        error_beside(&page, field, text);
    }
    assert!(!page.contains("id=\"address2-error\"") && !page.contains("id=\"fax-error\""));
    // What was typed is kept.
    let (_, page) = submit(&app, &with(good(), &[("tax_id_confirm", "1")])).await;
    assert!(page.contains("value=\"Lakeside Family Medicine\"") && page.contains(&format!("value=\"{PRIMARY}\"")));
    nothing_stored(&app).await;
    app.stop().await;
}
both!(bad_input_is_shown_beside_each_field);

async fn one_pending_request_per_tax_id(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (s, _) = submit(&app, &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, page) = submit(&app, &fields(ON_ROSTER, "ana@clinic.example.org", "ben@clinic.example.org")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    error_beside(&page, "tax_id", "A request for this Tax ID is already waiting for review");
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations").await, 1);
    assert!(app.outbox().await.iter().all(|m| !m.recipient.starts_with("ana@")), "no email for the refused one");
    // Once the first is decided, a new request is taken.
    let desk = agent(&app).await;
    let page = format!("/admin/registrations/{}/deny", request_id(&app, ON_ROSTER).await);
    app.submit(&desk, &page, &page, &[("reason", "Wrong administrators.")]).await;
    let (s, _) = submit(&app, &fields(ON_ROSTER, "ana@clinic.example.org", "ben@clinic.example.org")).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(one_pending_request_per_tax_id);

async fn requests_are_throttled_per_address(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let tax = |i: u32| format!("80000000{i}");
    for i in 0..5 {
        let (s, _) = submit(&app, &fields(&tax(i), PRIMARY, SECONDARY)).await;
        assert_eq!(s, StatusCode::OK, "request {i}");
    }
    let (s, page) = submit(&app, &fields(&tax(5), PRIMARY, SECONDARY)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many requests have been sent from your network in the last hour"), "{page}");
    assert!(page.contains("value=\"Lakeside Family Medicine\""), "the form is kept");
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations").await, 5);
    // The API shares the count.
    let body: serde_json::Value = fields(&tax(6), PRIMARY, SECONDARY)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
        .collect();
    let r = app.api().post(app.url("/api/v1/registrations")).json(&body).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // An hour later the address may send again.
    app.advance(Duration::minutes(61));
    let (s, _) = submit(&app, &fields(&tax(5), PRIMARY, SECONDARY)).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(requests_are_throttled_per_address);

async fn two_approvals_at_once_make_one(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    submit(&app, &fields(NOT_ON_ROSTER, PRIMARY, SECONDARY)).await;
    let id = request_id(&app, NOT_ON_ROSTER).await;
    let desk = agent(&app).await;
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let admin = app.signed_in_browser("padmin", 1001).await;
    let page = format!("/admin/registrations/{id}/approve");
    let t1 = csrf(&app.page(&desk, &page).await.1);
    let t2 = csrf(&app.page(&admin, &page).await.1);
    let (a, b) = tokio::join!(
        desk.post(app.url(&page)).form(&[("csrf_token", t1.as_str())]).send(),
        admin.post(app.url(&page)).form(&[("csrf_token", t2.as_str())]).send()
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    let mut statuses = [a.status(), b.status()];
    let bodies = [a.text().await.expect("body"), b.text().await.expect("body")];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "exactly one wins");
    let loser = bodies.iter().find(|b| b.contains("already decided")).expect("the loser is told");
    assert!(loser.contains("Hal Desk") || loser.contains("Pat Admin"), "and by whom: {loser}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'registration.approved'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'registration_approved.v1'").await, 2);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM users WHERE email_lower IN ('{PRIMARY}', '{SECONDARY}')")).await,
        2
    );
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM practices WHERE tax_id = '{NOT_ON_ROSTER}'")).await, 1);
    // A deny racing nothing now also loses.
    let deny = format!("/admin/registrations/{id}/deny");
    let (s, _) = app.submit(&desk, &format!("/admin/registrations/{id}"), &deny, &[("reason", "Late")]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    app.stop().await;
}
both!(two_approvals_at_once_make_one);

async fn help_desk_may_decide_an_auditor_may_not(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    submit(&app, &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    let id = request_id(&app, ON_ROSTER).await;
    app.user("audit", "Ada", "Auditor", 1003, Some("auditor")).await;
    let auditor = app.signed_in_browser("audit", 1003).await;
    for path in [
        "/admin/registrations".to_owned(),
        format!("/admin/registrations/{id}"),
        format!("/admin/registrations/{id}/approve"),
    ] {
        assert_eq!(app.page(&auditor, &path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app.submit(&auditor, "/admin", &format!("/admin/registrations/{id}/approve"), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.submit(&auditor, "/admin", &format!("/admin/registrations/{id}/deny"), &[("reason", "No")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations WHERE status = 'pending'").await, 1);
    // A portal user with no staff role gets no control panel at all.
    app.user("olga", "Olga", "Office", 1004, None).await;
    let office = app.signed_in_browser("olga", 1004).await;
    assert_eq!(app.page(&office, "/admin/registrations").await.0, StatusCode::FORBIDDEN);
    let desk = agent(&app).await;
    let (s, _) = approve(&app, &desk, id).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(help_desk_may_decide_an_auditor_may_not);

async fn another_plans_request_is_not_found(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.running
        .services
        .create_plan(NewPlan {
            slug: "northwind".into(),
            name: "Northwind Health".into(),
            host: None,
            support_phone: "1-800-555-0111".into(),
            support_hours: "9-5".into(),
            terms_text: "Other terms.".into(),
        })
        .await
        .expect("plan B");
    let (s, _) = submit_at(&app, "/p/northwind", &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    assert_eq!(s, StatusCode::OK);
    let id = request_id(&app, ON_ROSTER).await;
    let desk = agent(&app).await;
    let (_, queue) = app.page(&desk, "/p/test/admin/registrations").await;
    assert!(queue.contains("No requests are waiting."), "plan A's queue does not show plan B's request");
    for path in [
        format!("/p/test/admin/registrations/{id}"),
        format!("/p/test/admin/registrations/{id}/approve"),
        format!("/p/test/admin/registrations/{id}/deny"),
    ] {
        assert_eq!(app.page(&desk, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = app.submit(&desk, "/p/test/admin", &format!("/p/test/admin/registrations/{id}/approve"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .submit(&desk, "/p/test/admin", &format!("/p/test/admin/registrations/{id}/deny"), &[("reason", "Not ours")])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations WHERE status = 'pending'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1, "only the agent");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE kind LIKE 'registration_approved%' OR kind LIKE 'registration_denied%'"
        )
        .await,
        0
    );
    app.stop().await;
}
both!(another_plans_request_is_not_found);
