//! Administrator registration (seed 000): the public request form, the plan staff's queue with
//! the roster match, approval (the approval email is the invitation) and denial. The rules
//! (validation, one pending request per Tax ID, throttle, concurrency, permissions, tenancy) are
//! in `rules`.

mod rules;

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, link_in, path_of};
use gatehouse_domain::roster::{ProviderKind, Zip};
use gatehouse_domain::{Npi, TaxId};
use gatehouse_store::roster::{self, NewPractice, NewProvider};
use reqwest::{Client, StatusCode};
use serde_json::json;

/// A Tax ID on the test roster, and one that is not.
pub const ON_ROSTER: &str = "825671892";
pub const NOT_ON_ROSTER: &str = "912345678";
pub const PRIMARY: &str = "maria.lopez@clinic.example.org";
pub const SECONDARY: &str = "sam.okafor@clinic.example.org";

/// The fields of a good request.
pub fn fields(tax_id: &str, primary: &str, secondary: &str) -> Vec<(&'static str, String)> {
    [
        ("primary_first_name", "Maria"),
        ("primary_last_name", "Lopez"),
        ("primary_phone", "206-555-0143"),
        ("primary_email", primary),
        ("primary_email_confirm", primary),
        ("secondary_first_name", "Sam"),
        ("secondary_last_name", "Okafor"),
        ("secondary_phone", "206-555-0188"),
        ("secondary_email", secondary),
        ("secondary_email_confirm", secondary),
        ("practice_name", "Lakeside Family Medicine"),
        ("address1", "1200 Lakeview Ave"),
        ("address2", ""),
        ("city", "Seattle"),
        ("state", "WA"),
        ("zip", "98101"),
        ("phone", "206-555-0100"),
        ("fax", ""),
        ("tax_id", tax_id),
        ("tax_id_confirm", tax_id),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// `fields` with some values replaced.
pub fn with(mut f: Vec<(&'static str, String)>, changes: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    for (k, v) in changes {
        if let Some(slot) = f.iter_mut().find(|(name, _)| name == k) {
            slot.1 = (*v).to_owned();
        }
    }
    f
}

/// Submits the form at `prefix` ("" or "/p/slug") as a fresh visitor.
pub async fn submit_at(app: &TestApp, prefix: &str, f: &[(&'static str, String)]) -> (StatusCode, String) {
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.submit(&app.browser(), &format!("{prefix}/register"), &format!("{prefix}/register"), &refs).await
}

/// Submits the form as a fresh visitor.
pub async fn submit(app: &TestApp, f: &[(&'static str, String)]) -> (StatusCode, String) {
    submit_at(app, "", f).await
}

/// The id of the newest request for `tax_id`.
pub async fn request_id(app: &TestApp, tax_id: &str) -> i64 {
    app.count(&format!("SELECT MAX(id) FROM registrations WHERE tax_id = '{tax_id}'")).await
}

/// Puts a practice with a group and a practitioner on the plan's roster.
pub async fn roster_practice(app: &TestApp, tax_id: &str) -> i64 {
    let svc = &app.running.services;
    let mut tx = svc.db.begin().await.expect("tx");
    let (tax, zip) = (TaxId::parse(tax_id).expect("tax id"), Zip::parse("98101").expect("zip"));
    let practice = NewPractice {
        plan_id: app.plan.id(),
        tax_id: &tax,
        name: "Lakeside Family Medicine",
        address1: "1200 Lakeview Ave",
        address2: "",
        city: "Seattle",
        state: "WA",
        zip: &zip,
        phone: "+12065550100",
    };
    let id = roster::insert_practice(&mut tx, &practice, svc.now()).await.expect("practice");
    for (pid, npi, kind, first, last, org) in [
        ("G100", "1234567893", ProviderKind::Group, "", "", "Lakeside Family Medicine"),
        ("P200", "1245319599", ProviderKind::Practitioner, "Richard", "Kim", ""),
    ] {
        let npi = Npi::parse(npi).expect("npi");
        let p = NewProvider {
            plan_id: app.plan.id(),
            practice_id: id,
            provider_id: pid,
            npi: &npi,
            kind,
            first_name: first,
            last_name: last,
            org_name: org,
            address1: "1200 Lakeview Ave",
            city: "Seattle",
            state: "WA",
            zip: &zip,
            group_provider_id: None,
        };
        roster::insert_provider(&mut tx, &p, svc.now()).await.expect("provider");
    }
    gatehouse_store::commit(tx).await.expect("commit");
    id
}

/// A help desk agent signed in through the pages.
pub async fn agent(app: &TestApp) -> Client {
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    app.signed_in_browser("hdesk", 1002).await
}

/// Approves request `id` through the confirmation page.
pub async fn approve(app: &TestApp, c: &Client, id: i64) -> (StatusCode, String) {
    let page = format!("/admin/registrations/{id}/approve");
    app.submit(c, &page, &page, &[]).await
}

/// The newest email of `kind` to `to`.
pub async fn email(app: &TestApp, kind: &str, to: &str) -> Option<gatehouse_store::outbox::MessageRow> {
    app.outbox().await.into_iter().find(|m| m.kind == kind && m.recipient == to)
}

async fn request_to_signed_up_administrator(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let practice_id = roster_practice(&app, ON_ROSTER).await;
    // The sign-in page leads to the form.
    let (_, signin) = app.page(&app.browser(), "/signin").await;
    assert!(
        signin.contains("New practice?") && signin.contains("/register\">Request administrator access</a>"),
        "{signin}"
    );
    let (s, form) = app.page(&app.browser(), "/register").await;
    assert_eq!(s, StatusCode::OK);
    assert!(form.contains("<h1>Provider OnLine Account Request</h1>"));
    assert!(form.contains("No spaces, dashes, or letters."));
    assert!(form.contains("This Tax ID may be associated with additional practice locations. Only one practice address needs to be entered for each Tax ID."));

    // The practice submits; both administrators are told it was received.
    let (s, done) = submit(&app, &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert!(done.contains("Request received") && done.contains("We will email you when it is reviewed"));
    for to in [PRIMARY, SECONDARY] {
        let m = email(&app, "registration_received.v1", to).await.expect("received email");
        assert!(m.body_text.contains("Primary: Maria Lopez (maria.lopez@clinic.example.org)"), "{}", m.body_text);
        assert!(!m.body_text.to_lowercase().contains("roster"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'registration.requested'").await, 1);
    let id = request_id(&app, ON_ROSTER).await;

    // The agent sees it in the queue, matched against the roster.
    let desk = agent(&app).await;
    let (s, queue) = app.page(&desk, "/admin/registrations").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        queue.contains("Lakeside Family Medicine") && queue.contains(&format!("/admin/registrations/{id}\">Review"))
    );
    let (s, detail) = app.page(&desk, &format!("/admin/registrations/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        detail.contains(&format!("Tax ID {ON_ROSTER} is on the roster as <strong>Lakeside Family Medicine</strong>")),
        "{detail}"
    );
    assert!(detail.contains("Richard Kim") && detail.contains("G100") && detail.contains("1245319599"));
    assert!(detail.contains("None: this Tax ID has no administrator yet."));
    assert!(detail.contains("206-555-0143") && detail.contains(SECONDARY));

    // Approve, after the confirmation page.
    let (s, confirm) = app.page(&desk, &format!("/admin/registrations/{id}/approve")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(confirm.contains("Approve and send the emails") && confirm.contains("on the roster"));
    let (s, after) = approve(&app, &desk, id).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert!(after.contains("Approved. The approval emails") && after.contains("Approved by Hal Desk"), "{after}");
    assert_eq!(app.count("SELECT COUNT(*) FROM practices").await, 1, "the roster's practice is used");

    // Both get the approval email, which is their invitation: no second email.
    let mut links = Vec::new();
    for to in [PRIMARY, SECONDARY] {
        let m = email(&app, "registration_approved.v1", to).await.expect("approval email");
        for s in [
            "Primary: Maria Lopez (maria.lopez@clinic.example.org)",
            "Secondary: Sam Okafor (sam.okafor@clinic.example.org)",
            "72 hours",
            "1-800-555-0199",
        ] {
            assert!(m.body_text.contains(s), "{s} in {}", m.body_text);
        }
        assert!(m.body_html.contains(">Sign Up</a>"));
        assert!(email(&app, "invitation.v1", to).await.is_none(), "one email, not two");
        links.push(link_in(&m.body_text).expect("sign-up link"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'registration.approved'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.invited'").await, 2);
    let admins = format!(
        "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id WHERE a.practice_id = {practice_id} \
         AND a.is_admin = 1 AND a.all_providers = 1 AND a.user_type = 'office_manager'"
    );
    assert_eq!(app.count(&admins).await, 2);

    // The primary signs up from the link and is an active administrator of the Tax ID.
    let c = app.browser();
    let link = path_of(&links[0]);
    let (s, page) = app.page(&c, &link).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Welcome, Maria Lopez"));
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let form = [
        ("token", token.as_str()),
        ("username", "mlopez"),
        ("password", TEST_PASSWORD),
        ("confirm_password", TEST_PASSWORD),
    ];
    let (_, html) = app.page(&c, &link).await;
    let csrf = crate::support::csrf(&html);
    let body: Vec<(&str, &str)> = [("csrf_token", csrf.as_str())].into_iter().chain(form).collect();
    let r = c.post(app.url(link.split('?').next().expect("path"))).form(&body).send().await.expect("sign up");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let active_admin = format!(
        "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id JOIN practices p ON p.id = a.practice_id \
         WHERE u.username = 'mlopez' AND u.status = 'active' AND a.is_admin = 1 AND p.tax_id = '{ON_ROSTER}'"
    );
    assert_eq!(app.count(&active_admin).await, 1);
    // The queue now lists it among the decisions, and the practice shows its administrators.
    let (_, queue) = app.page(&desk, "/admin/registrations").await;
    assert!(queue.contains("No requests are waiting.") && queue.contains("Approved by Hal Desk"));
    app.stop().await;
}
both!(request_to_signed_up_administrator);

async fn the_answer_never_depends_on_the_roster(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    roster_practice(&app, ON_ROSTER).await;
    let (s1, on) = submit(&app, &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    let (s2, off) = submit(&app, &fields(NOT_ON_ROSTER, PRIMARY, SECONDARY)).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let strip =
        |p: &str| p.replace(|c: char| c.is_whitespace(), "").split("csrf_token").next().unwrap_or("").to_owned();
    assert_eq!(strip(&on), strip(&off), "the same page for a Tax ID on and off the roster");
    let texts: Vec<String> =
        app.outbox().await.iter().filter(|m| m.recipient == PRIMARY).map(|m| m.body_text.clone()).collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0], texts[1], "the same email too");
    // The API answers the same way.
    let body = |tax: &str| {
        let mut m = serde_json::Map::new();
        for (k, v) in fields(tax, "ana@clinic.example.org", "ben@clinic.example.org") {
            m.insert(k.into(), json!(v));
        }
        serde_json::Value::Object(m)
    };
    let api = app.api();
    app.sql(&format!("UPDATE registrations SET status = 'denied' WHERE tax_id IN ('{ON_ROSTER}', '{NOT_ON_ROSTER}')"))
        .await;
    let mut answers = Vec::new();
    for tax in [ON_ROSTER, NOT_ON_ROSTER] {
        let r = api.post(app.url("/api/v1/registrations")).json(&body(tax)).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
        answers.push(r.text().await.expect("body"));
    }
    assert_eq!(answers[0], answers[1]);

    // Approving the Tax ID that is not on the roster adds the practice from the request.
    let desk = agent(&app).await;
    let id = request_id(&app, NOT_ON_ROSTER).await;
    let (_, detail) = app.page(&desk, &format!("/admin/registrations/{id}")).await;
    assert!(detail.contains("Not on the roster"), "{detail}");
    let (s, after) = approve(&app, &desk, id).await;
    assert_eq!(s, StatusCode::OK);
    assert!(after.contains("The practice was added to the roster."));
    let practice = format!(
        "SELECT COUNT(*) FROM practices WHERE tax_id = '{NOT_ON_ROSTER}' AND name = 'Lakeside Family Medicine' AND state = 'WA'"
    );
    assert_eq!(app.count(&practice).await, 1);
    app.stop().await;
}
both!(the_answer_never_depends_on_the_roster);

async fn deny_with_a_reason(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    submit(&app, &fields(ON_ROSTER, PRIMARY, SECONDARY)).await;
    let id = request_id(&app, ON_ROSTER).await;
    let desk = agent(&app).await;
    let page = format!("/admin/registrations/{id}/deny");
    let (s, form) = app.page(&desk, &page).await;
    assert_eq!(s, StatusCode::OK);
    assert!(form.contains("<label for=\"reason\">Reason</label>"));
    // A reason is required.
    let (s, html) = app.submit(&desk, &page, &page, &[("reason", "   ")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("id=\"reason-error\"")
            && html.contains("aria-invalid=\"true\"")
            && html.contains("Enter the reason")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations WHERE status = 'pending'").await, 1);
    let reason = "We could not match this Tax ID to a contracted practice. Call provider services.";
    let (s, html) = app.submit(&desk, &page, &page, &[("reason", reason)]).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        html.contains("Denied. Both administrators were emailed the reason.") && html.contains("Denied by Hal Desk")
    );
    for to in [PRIMARY, SECONDARY] {
        let m = email(&app, "registration_denied.v1", to).await.expect("denial email");
        assert!(m.body_text.contains(&format!("Reason: {reason}")), "{}", m.body_text);
    }
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'registration.denied'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("audit event");
    assert!(detail.contains(reason) && detail.contains(&format!("\"registration_id\":{id}")), "{detail}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1, "nobody was invited");
    // Deciding again says who decided.
    let (s, html) = approve(&app, &desk, id).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(html.contains("already decided") && html.contains("Hal Desk"), "{html}");
    app.stop().await;
}
both!(deny_with_a_reason);

/// A request that names someone who already has an account attaches nothing to it: the
/// approval offers them the practice's administration, and only their acceptance makes them an
/// administrator. Otherwise anyone could register a practice naming another person's email and
/// become a co-administrator of that person's only practice, able to change their account.
async fn an_existing_account_is_offered_the_practice_not_given_it(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let olga = app.user("olga", "Olga", "Office", 1004, None).await;
    submit(&app, &fields(ON_ROSTER, "Olga@Example.org", SECONDARY)).await;
    let desk = agent(&app).await;
    let (s, page) = approve(&app, &desk, request_id(&app, ON_ROSTER).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Olga@Example.org already has an account: nothing was added"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email_lower = 'olga@example.org'").await, 1);
    let admin_of = "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id WHERE u.username = 'olga' AND a.is_admin = 1";
    assert_eq!(app.count(admin_of).await, 0, "nothing attached before she accepts");
    let m = email(&app, "registration_approved.v1", "Olga@Example.org").await.expect("approval email");
    assert!(m.body_text.contains("nothing was added to it yet") && m.body_text.contains("/offers"), "{}", m.body_text);
    // The secondary, unknown before, is invited with the approval email.
    assert!(
        email(&app, "registration_approved.v1", SECONDARY).await.expect("email").body_text.contains("Sign Up: http")
    );
    // Olga signs in, sees the offer of the practice's administration, and accepts it.
    let c = app.signed_in_browser("olga", 1004).await;
    let (s, offers) = app.page(&c, "/offers").await;
    assert_eq!(s, StatusCode::OK);
    assert!(offers.contains("Administrator of this practice") && offers.contains("Hal Desk"), "{offers}");
    let id = app
        .count(&format!("SELECT id FROM affiliation_offers WHERE user_id = {} AND registration_id IS NOT NULL", olga.0))
        .await;
    let (s, _, loc) = app.post_form(&c, "/offers", &format!("/offers/{id}/accept"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{loc:?}");
    assert_eq!(app.count(admin_of).await, 1, "an administrator once she accepted");
    app.stop().await;
}
both!(an_existing_account_is_offered_the_practice_not_given_it);

/// A request that names a plan staff member's email cannot be approved: staff are never given a
/// practice. Nothing changes; the request stays pending for a denial.
async fn a_request_naming_plan_staff_is_not_approved(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("pat", "Pat", "Admin", 1001, Some("plan_admin")).await;
    submit(&app, &fields(ON_ROSTER, PRIMARY, "pat@example.org")).await;
    let desk = agent(&app).await;
    let (s, page) = approve(&app, &desk, request_id(&app, ON_ROSTER).await).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("belongs to a plan staff account"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations WHERE status = 'pending'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliations").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers").await, 0);
    assert!(email(&app, "registration_approved.v1", PRIMARY).await.is_none(), "nobody was emailed");
    app.stop().await;
}
both!(a_request_naming_plan_staff_is_not_approved);

async fn the_api_takes_requests_too(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let api = app.api();
    let body = |f: Vec<(&'static str, String)>| {
        serde_json::Value::Object(f.into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect())
    };
    let r = api
        .post(app.url("/api/v1/registrations"))
        .json(&body(fields(ON_ROSTER, PRIMARY, SECONDARY)))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v, json!({"status": "pending", "emails": [PRIMARY, SECONDARY]}));
    let bad = with(fields(NOT_ON_ROSTER, PRIMARY, SECONDARY), &[("tax_id_confirm", "912345679")]);
    let r = api.post(app.url("/api/v1/registrations")).json(&body(bad)).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"]["field"], "tax_id_confirm");
    let r = api.post(app.url("/api/v1/registrations")).json(&json!({"tax_id": "1"})).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "missing fields get the same error body");
    assert_eq!(r.json::<serde_json::Value>().await.expect("json")["error"]["field"], "primary_first_name");
    let r = api
        .post(app.url("/api/v1/registrations"))
        .json(&body(fields(ON_ROSTER, "a@b.example.org", "c@d.example.org")))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<serde_json::Value>().await.expect("json")["error"]["code"], "already_pending");
    let doc: serde_json::Value =
        api.get(app.url("/api/v1/openapi.json")).send().await.expect("get").json().await.expect("json");
    assert!(doc["paths"]["/api/v1/registrations"]["post"].is_object());
    app.stop().await;
}
both!(the_api_takes_requests_too);

/// Over the API, `address2` and `fax` may be left out or `null` (as the document says); every
/// other field is required, and a request without one is refused naming it.
async fn the_api_reads_optional_fields_as_empty(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let api = app.api();
    let object = |f: Vec<(&'static str, String)>| {
        serde_json::Map::from_iter(f.into_iter().map(|(k, v)| (k.to_owned(), json!(v))))
    };
    let mut left_out = object(fields(ON_ROSTER, PRIMARY, SECONDARY));
    left_out.remove("address2");
    left_out.remove("fax");
    let mut nulls = object(fields(NOT_ON_ROSTER, "ana@clinic.example.org", "ben@clinic.example.org"));
    nulls.insert("address2".into(), serde_json::Value::Null);
    nulls.insert("fax".into(), serde_json::Value::Null);
    for body in [left_out, nulls] {
        let r = api.post(app.url("/api/v1/registrations")).json(&body).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let mut no_city = object(fields(ON_ROSTER, PRIMARY, SECONDARY));
    no_city.remove("city");
    let r = api.post(app.url("/api/v1/registrations")).json(&no_city).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!((v["error"]["code"].as_str(), v["error"]["field"].as_str()), (Some("invalid_body"), Some("city")));
    assert_eq!(app.count("SELECT COUNT(*) FROM registrations").await, 2);
    app.stop().await;
}
both!(the_api_reads_optional_fields_as_empty);
