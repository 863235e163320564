//! Self-service association, linked accounts, the switcher and access requests, through the pages
//! and the API, on the demo data: Lakeside Family Medicine (825671892, administered by ocarter),
//! Cedar Valley Pediatrics (914407731, practitioner Helen Brooks P300118, ZIP 98402) and
//! St. Brigid Community Hospital (731190246, facility F400010, ZIP 98201), neither administered.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const NO_MATCH: &str = "does not match our provider records";

/// Gives a demo account the tests' password, so `signed_in_browser` and `api_token` work for it.
async fn known_password(app: &TestApp, username: &str) {
    app.sql(&format!(
        "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'nwells') \
         WHERE username = '{username}'"
    ))
    .await;
}

/// A fresh user with no linked account (username `nwells`, phone tail 1001), plus any others.
async fn newcomer(app: &TestApp) -> i64 {
    app.user("nwells", "Nina", "Wells", 1001, None).await.0
}

fn practitioner<'a>(
    first: &'a str,
    last: &'a str,
    tax_id: &'a str,
    id: &'a str,
    zip: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("provider_type", "practitioner"),
        ("first_name", first),
        ("last_name", last),
        ("group_name", ""),
        ("tax_id", tax_id),
        ("provider_id", id),
        ("zip", zip),
    ]
}

fn group<'a>(name: &'a str, tax_id: &'a str, id: &'a str, zip: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("provider_type", "group"),
        ("first_name", ""),
        ("last_name", ""),
        ("group_name", name),
        ("tax_id", tax_id),
        ("provider_id", id),
        ("zip", zip),
    ]
}

fn cedar() -> Vec<(&'static str, &'static str)> {
    practitioner("Helen", "Brooks", "914407731", "P300118", "98402")
}

fn brigid() -> Vec<(&'static str, &'static str)> {
    group("St. Brigid Community Hospital", "731190246", "F400010", "98201-5555")
}

/// Step 1 through the page; returns the step-2 path it redirects to.
async fn step_one(app: &TestApp, c: &Client, fields: &[(&str, &str)]) -> String {
    let (status, html, loc) = app.post_form(c, "/associate", "/associate", fields).await;
    let alert = html.split("role=\"alert\"").nth(1).unwrap_or("").split("</div>").next().unwrap_or("");
    assert_eq!(status, StatusCode::SEE_OTHER, "{fields:?}: {alert}");
    loc.expect("step 2")
}

async fn count(app: &TestApp, q: &str) -> i64 {
    app.count(q).await
}

async fn affiliations_of(app: &TestApp, user: i64) -> i64 {
    count(app, &format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {user}")).await
}

/// A fourth practice, Harbor Dermatology (Tax ID 562830419), a group G900001 at ZIP 98004.
async fn harbor(app: &TestApp) {
    let plan = app.plan.id().0;
    app.sql(&format!(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ({plan}, '562830419', 'Harbor Dermatology', '9 Bay St', '', 'Bellevue', 'WA', '98004', '', 0)"
    ))
    .await;
    app.sql(&format!(
        "INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, \
         address1, city, state, zip, created_at) SELECT {plan}, id, 'G900001', '1234567893', 'group', '', '', \
         'Harbor Dermatology', '9 Bay St', 'Bellevue', 'WA', '98004', 0 FROM practices WHERE tax_id = '562830419'"
    ))
    .await;
}

async fn pages_associate_link_and_switch(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let nina = newcomer(&app).await;
    harbor(&app).await;
    let c = app.signed_in_browser("nwells", 1001).await;

    // No linked account: the home page sends her to associate, with a first-time explanation.
    let (status, _, loc) = app.visit(&c, "/").await;
    assert_eq!((status, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/associate")));
    let (_, html, _) = app.visit(&c, "/associate").await;
    assert!(html.contains("Step 1 of 2: Provider Eligibility"), "{html}");
    assert!(html.contains("Before you can use the portal, link your account to the provider you work for"));
    assert!(html.contains("A group gives you all providers under its Tax ID."));

    // Invalid fields: errors beside them, nothing stored.
    let mut bad = cedar();
    bad[4] = ("tax_id", "91-440773");
    bad[6] = ("zip", "");
    let (status, html, _) = app.post_form(&c, "/associate", "/associate", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"tax_id-error\"") && html.contains("id=\"zip-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("value=\"Helen\""), "typed values are kept");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM association_attempts").await, 0);

    // A practitioner: step 2 shows the practice, Tax ID and provider.
    let step2 = step_one(&app, &c, &cedar()).await;
    let (status, html, _) = app.visit(&c, &step2).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Step 2 of 2: Provider Agreement"));
    assert!(html.contains("Cedar Valley Pediatrics") && html.contains("914407731"));
    assert!(html.contains("Helen Brooks (provider ID P300118)"));
    assert!(html.contains("at least every 90 days"), "the plan's review period is in the agreement");
    // Without the box checked: refused, nothing linked.
    let (status, html, _) = app.post_form(&c, &step2, &step2, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("check the box to accept the provider agreement"));
    assert_eq!(affiliations_of(&app, nina).await, 0);
    let (status, _, loc) = app.post_form(&c, &step2, &step2, &[("agree", "yes")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let home = loc.expect("home");
    assert!(home.starts_with("/?linked="), "{home}");
    let (status, html, _) = app.visit(&c, &home).await;
    assert_eq!(status, StatusCode::OK);
    let tax_id = "(Tax ID <span class=\"nowrap\">914407731</span>)";
    let linked = format!("Your account is now linked to Cedar Valley Pediatrics {tax_id}. You are its administrator.");
    assert!(html.contains(&linked), "{html}");
    assert!(html.contains(&format!("Acting for: <strong>Cedar Valley Pediatrics {tax_id}</strong>")), "{html}");
    // Replayed step 2: refused, nothing doubled.
    let (status, html, _) = app.post_form(&c, "/accounts", &step2, &[("agree", "yes")]).await;
    assert_eq!(status, StatusCode::GONE, "{html}");
    assert_eq!(affiliations_of(&app, nina).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'affiliation.associated'").await, 1);
    // One account: no switcher yet.
    assert!(!app.visit(&c, "/accounts").await.1.contains("Acting for</label>"));

    // A second account, as a group (a facility): all providers.
    let step2 = step_one(&app, &c, &brigid()).await;
    let (_, html, _) = app.visit(&c, &step2).await;
    assert!(html.contains("All providers under this Tax ID"), "{html}");
    let (_, _, loc) = app.post_form(&c, &step2, &step2, &[("agree", "yes")]).await;
    assert!(loc.expect("home").starts_with("/?linked="));
    // And a third; another user cannot use Nina's step 2 of it.
    let step2 = step_one(&app, &c, &group("Harbor Dermatology", "562830419", "g900001", "98004")).await;
    let omar = app.user("omar", "Omar", "Reyes", 1003, None).await.0;
    let other = app.signed_in_browser("omar", 1003).await;
    // Another user's step reads as not found.
    assert_eq!(app.visit(&other, &step2).await.0, StatusCode::NOT_FOUND);
    let (status, _, _) = app.post_form(&other, "/associate", &step2, &[("agree", "yes")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(affiliations_of(&app, omar).await, 0);
    app.post_form(&c, &step2, &step2, &[("agree", "yes")]).await;
    assert_eq!(affiliations_of(&app, nina).await, 3);
    // Linking one again is refused politely.
    let (status, html, _) = app.post_form(&c, "/associate", "/associate", &brigid()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("already linked to this provider at St. Brigid Community Hospital"));

    // The accounts page lists all three; the header has the switcher.
    let (_, html, _) = app.visit(&c, "/accounts").await;
    for text in
        ["Cedar Valley Pediatrics", "731190246", "Harbor Dermatology", "All providers", "Helen Brooks (P300118)"]
    {
        assert!(html.contains(text), "{text} missing: {html}");
    }
    assert_eq!(html.matches("Switch to this account").count(), 2, "every account but the active one");
    assert!(html.contains("<label for=\"switch-affiliation\">Acting for</label>"));
    let brigid_id = count(
        &app,
        &format!(
            "SELECT a.id FROM affiliations a JOIN practices p ON p.id = a.practice_id \
             WHERE a.user_id = {nina} AND p.tax_id = '731190246'"
        ),
    )
    .await;
    // Switch from the header of the sessions page: back there, the change visible.
    let (status, _, loc) = app
        .post_form(
            &c,
            "/sessions",
            "/accounts/switch",
            &[("affiliation", &brigid_id.to_string()), ("next", "/sessions")],
        )
        .await;
    assert_eq!((status, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/sessions")));
    let (_, html, _) = app.visit(&c, "/sessions").await;
    assert!(
        html.contains(&format!("<option value=\"{brigid_id}\" selected>St. Brigid Community Hospital (731190246)"))
    );
    assert!(app.visit(&c, "/").await.1.contains("Acting for: <strong>St. Brigid Community Hospital"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'session.affiliation_switched'").await, 1);
    let active = count(
        &app,
        &format!("SELECT COUNT(*) FROM sessions WHERE user_id = {nina} AND ended_at IS NULL AND active_affiliation_id = {brigid_id}"),
    )
    .await;
    assert_eq!(active, 1);
    // Only local paths are followed back.
    let (_, _, loc) = app
        .post_form(
            &c,
            "/accounts",
            "/accounts/switch",
            &[("affiliation", &brigid_id.to_string()), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(loc.as_deref(), Some("/"));
    // Someone else's affiliation cannot be switched to.
    let lakeside = count(&app, "SELECT MIN(id) FROM affiliations").await;
    let (status, html, _) = app
        .post_form(&c, "/accounts", "/accounts/switch", &[("affiliation", &lakeside.to_string()), ("next", "/")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("That linked account was not found."));

    app.stop().await;
}
both!(pages_associate_link_and_switch);

async fn mismatches_say_the_same_and_are_throttled(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let nina = newcomer(&app).await;
    let c = app.signed_in_browser("nwells", 1001).await;
    let wrong_zip = practitioner("Helen", "Brooks", "914407731", "P300118", "98403");
    let wrong_tax_id = practitioner("Helen", "Brooks", "914407732", "P300118", "98402");
    let other_tax_ids_provider = practitioner("Richard", "Kim", "914407731", "P200451", "98101");
    let wrong_name = practitioner("Helen", "Brookes", "914407731", "P300118", "98402");
    let wrong_type = group("Helen Brooks", "914407731", "P300118", "98402");
    let mut messages = Vec::new();
    for fields in [&wrong_zip, &wrong_tax_id, &other_tax_ids_provider, &wrong_name, &wrong_type] {
        let (status, html, _) = app.post_form(&c, "/associate", "/associate", fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let alert = html.split("id=\"form-error\">").nth(1).and_then(|s| s.split("</div>").next()).expect("alert");
        assert!(alert.contains(NO_MATCH), "{alert}");
        assert!(html.contains("role=\"alert\""));
        messages.push(alert.to_owned());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "one message for every mismatch: {messages:?}");
    assert_eq!(affiliations_of(&app, nina).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM association_attempts WHERE outcome <> 'no_match'").await, 0);
    // The sixth attempt, even a right one, is throttled.
    let (status, html, _) = app.post_form(&c, "/associate", "/associate", &cedar()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("Too many attempts did not match our records"));
    assert_eq!(affiliations_of(&app, nina).await, 0);
    // An hour later it works.
    app.advance(gatehouse_domain::Duration::minutes(61));
    let c = app.signed_in_browser("nwells", 1001).await;
    step_one(&app, &c, &cedar()).await;
    app.stop().await;
}
both!(mismatches_say_the_same_and_are_throttled);

async fn an_existing_administrator_is_asked_not_replaced(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let nina = newcomer(&app).await;
    let omar = app.user("omar", "Omar", "Reyes", 1003, None).await.0;
    known_password(&app, "ocarter").await;
    let c = app.signed_in_browser("nwells", 1001).await;
    let lakeside = practitioner("Richard", "Kim", "825671892", "P200451", "98101");
    let (status, html, _) = app.post_form(&c, "/associate", "/associate", &lakeside).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("This practice already has an administrator"), "{html}");
    assert!(html.contains("Olivia Carter") && html.contains("Ask them to give you access"));
    assert!(!html.contains("ocarter@") && !html.contains("206"), "no contact details: {html}");
    assert!(!html.contains("Jay Patel"), "only administrators are named");
    assert_eq!(affiliations_of(&app, nina).await, 0, "no takeover");
    let attempt = html.split("/associate/").nth(1).and_then(|s| s.split('/').next()).expect("attempt").to_owned();
    // Step 2 cannot be forced either.
    let (status, html, _) =
        app.post_form(&c, "/associate", &format!("/associate/{attempt}"), &[("agree", "yes")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("This practice already has an administrator"));
    assert_eq!(affiliations_of(&app, nina).await, 0);
    let (status, html, _) = app.post_form(&c, "/associate", &format!("/associate/{attempt}/request"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Access request sent") && html.contains("was sent to Olivia Carter"), "{html}");
    let email = app.last_message_to("ocarter@lakeside-family.example.org").await.expect("email to the administrator");
    assert!(email.body_text.contains("/access-requests"), "{}", email.body_text);

    // Omar asks too (as the group), to be declined.
    let o = app.signed_in_browser("omar", 1003).await;
    let (_, html, _) = app
        .post_form(&o, "/associate", "/associate", &group("Lakeside Family Medicine", "825671892", "G100234", "98101"))
        .await;
    let attempt = html.split("/associate/").nth(1).and_then(|s| s.split('/').next()).expect("attempt").to_owned();
    app.post_form(&o, "/associate", &format!("/associate/{attempt}/request"), &[]).await;

    // The administrator sees both, from the home page.
    let admin = app.signed_in_browser("ocarter", 143).await;
    let (_, html, _) = app.visit(&admin, "/").await;
    assert!(html.contains("2 access requests are waiting for you"), "{html}");
    let (_, html, _) = app.visit(&admin, "/access-requests").await;
    for text in ["Nina Wells", "nwells", "nwells@example.org", "825671892", "Richard Kim (P200451)", "Omar Reyes"] {
        assert!(html.contains(text), "{text} missing: {html}");
    }
    let nina_request = count(&app, &format!("SELECT id FROM access_requests WHERE user_id = {nina}")).await;
    let omar_request = count(&app, &format!("SELECT id FROM access_requests WHERE user_id = {omar}")).await;
    let kim = count(&app, "SELECT id FROM providers WHERE provider_id = 'P200451'").await.to_string();
    let approve = format!("/access-requests/{nina_request}/approve");
    // No user type chosen: the service's message beside the request.
    let (status, html, _) = app
        .post_form(&admin, "/access-requests", &approve, &[("user_type", ""), ("scope", "some"), ("provider", &kim)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose a user type."));
    // A refused decision shows the choices made again (here: no provider checked).
    let (status, html, _) =
        app.post_form(&admin, "/access-requests", &approve, &[("user_type", "billing_staff"), ("scope", "some")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("value=\"billing_staff\" selected"), "the user type is kept");
    assert!(!html.contains(&format!("value=\"{kim}\" checked")), "the unchecked provider stays unchecked");
    let (status, _, loc) = app
        .post_form(
            &admin,
            "/access-requests",
            &approve,
            &[("user_type", "billing_staff"), ("scope", "some"), ("provider", &kim)],
        )
        .await;
    assert_eq!((status, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/access-requests?done=approved")));
    let q = format!(
        "SELECT COUNT(*) FROM affiliations a JOIN affiliation_providers ap ON ap.affiliation_id = a.id \
         WHERE a.user_id = {nina} AND a.user_type = 'billing_staff' AND a.is_admin = 0 AND a.all_providers = 0"
    );
    assert_eq!(count(&app, &q).await, 1, "Nina has Lakeside, one provider, billing staff");
    let (_, html, _) = app.visit(&c, "/accounts").await;
    assert!(html.contains("Lakeside Family Medicine") && html.contains("Richard Kim (P200451)"), "{html}");
    // Deciding again is refused.
    let (status, html, _) =
        app.post_form(&admin, "/access-requests", &approve, &[("user_type", "billing_staff"), ("scope", "all")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("This request was already"), "{html}");

    // Omar's: declined, after a confirmation page.
    let decline = format!("/access-requests/{omar_request}/decline");
    let (status, html, _) = app.visit(&admin, &decline).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Decline the request of Omar Reyes?"));
    let (status, _, loc) = app.post_form(&admin, &decline, &decline, &[]).await;
    assert_eq!((status, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/access-requests?done=declined")));
    assert_eq!(affiliations_of(&app, omar).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM access_requests WHERE status = 'declined'").await, 1);
    assert!(app.last_message_to("omar@example.org").await.is_some(), "the requester is told");
    let (_, html, _) = app.visit(&admin, "/access-requests").await;
    assert!(html.contains("No access requests are waiting."));
    // A non-administrator sees none and cannot decide.
    let (status, _, _) =
        app.post_form(&o, "/accounts", &approve, &[("user_type", "billing_staff"), ("scope", "all")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(an_existing_administrator_is_asked_not_replaced);

// ---- The API ----

/// A fully signed-in API session of `username` (password [`TEST_PASSWORD`], phone tail `tail`).
async fn api_token(app: &TestApp, username: &str, tail: u16) -> String {
    app.api_session(username, TEST_PASSWORD, &format!("+1206555{tail:04}")).await
}

fn body(fields: &[(&str, &str)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect())
}

async fn association_over_the_api(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let nina = newcomer(&app).await;
    known_password(&app, "ocarter").await;
    let t = api_token(&app, "nwells", 1001).await;
    // Not signed in.
    assert_eq!(app.call("GET", "/api/v1/me/affiliations", Some("nope"), None).await.0, StatusCode::UNAUTHORIZED);
    // Invalid field.
    let mut bad = cedar();
    bad[4] = ("tax_id", "12345");
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&bad))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((v["error"]["code"].as_str(), v["error"]["field"].as_str()), (Some("invalid_input"), Some("tax_id")));
    // A group: all providers, no administrator yet.
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&brigid()))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["all_providers"], true);
    assert_eq!(v["practice_name"], "St. Brigid Community Hospital");
    assert_eq!(v["admins"], json!([]));
    let attempt = v["attempt_id"].as_i64().expect("attempt");
    let accept = format!("/api/v1/associations/{attempt}/accept");
    let (s, v) = app.call("POST", &accept, Some(&t), Some(json!({"agreed": false}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("agreement_required")));
    let (s, v) = app.call("POST", &accept, Some(&t), Some(json!({"agreed": true}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["new_affiliation"], true);
    // Replayed: refused, nothing doubled.
    let (s, v) = app.call("POST", &accept, Some(&t), Some(json!({"agreed": true}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("match_unusable")));
    assert_eq!(affiliations_of(&app, nina).await, 1);
    // A practitioner, a second account.
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&cedar()))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["provider"], json!({"provider_id": "P300118", "name": "Helen Brooks"}));
    let attempt = v["attempt_id"].as_i64().expect("attempt");
    let (s, _) = app
        .call("POST", &format!("/api/v1/associations/{attempt}/accept"), Some(&t), Some(json!({"agreed": true})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.call("GET", "/api/v1/me/affiliations", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK);
    let list = v.as_array().expect("list");
    assert_eq!(list.len(), 2);
    let cedar_id = list.iter().find(|a| a["tax_id"] == "914407731").expect("cedar")["id"].as_i64().expect("id");
    assert_eq!(list.iter().filter(|a| a["active"] == true).count(), 1);
    let (s, v) =
        app.call("POST", "/api/v1/me/active-affiliation", Some(&t), Some(json!({"affiliation_id": cedar_id}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["active"].as_bool(), v["user_type"].as_str()), (Some(true), Some("Office Manager")));
    assert_eq!(v["providers"], json!([{"provider_id": "P300118", "name": "Helen Brooks"}]));
    let (_, v) = app.call("GET", "/api/v1/me/affiliations", Some(&t), None).await;
    let active: Vec<_> = v.as_array().expect("list").iter().filter(|a| a["active"] == true).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"], cedar_id);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'session.affiliation_switched'").await, 1);
    let (s, v) = app.call("POST", "/api/v1/me/active-affiliation", Some(&t), Some(json!({"affiliation_id": 1}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // Lakeside has an administrator: no takeover, an access request instead.
    let lakeside = practitioner("Richard", "Kim", "825671892", "P200451", "98101");
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&lakeside))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["admins"], json!(["Olivia Carter"]));
    let attempt = v["attempt_id"].as_i64().expect("attempt");
    let (s, v) = app
        .call("POST", &format!("/api/v1/associations/{attempt}/accept"), Some(&t), Some(json!({"agreed": true})))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("has_administrator")));
    let (s, v) = app.call("POST", &format!("/api/v1/associations/{attempt}/access-request"), Some(&t), None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let request = v["request_id"].as_i64().expect("request");
    let admin = api_token(&app, "ocarter", 143).await;
    let (s, v) = app.call("GET", "/api/v1/access-requests", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["requests"][0]["requester_name"], "Nina Wells");
    assert_eq!(v["requests"][0]["matched_provider"]["provider_id"], "P200451");
    assert!(v["user_types"].as_array().expect("types").iter().any(|t| t["key"] == "billing_staff"));
    // The requester cannot decide their own request.
    let approve = format!("/api/v1/access-requests/{request}/approve");
    let choice = json!({"user_type": "clinical_staff", "provider_ids": ["P200451", "P200452"]});
    let (s, _) = app.call("POST", &approve, Some(&t), Some(choice.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .call("POST", &approve, Some(&admin), Some(json!({"user_type": "clinical_staff", "provider_ids": ["P300118"]})))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("foreign_provider")));
    let (s, v) = app.call("POST", &approve, Some(&admin), Some(choice)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = app.call("GET", "/api/v1/me/affiliations", Some(&t), None).await;
    let lake = v.as_array().expect("list").iter().find(|a| a["tax_id"] == "825671892").expect("lakeside").clone();
    assert_eq!(lake["is_admin"], false);
    assert_eq!(lake["providers"].as_array().expect("providers").len(), 2);
    let (s, v) = app.call("POST", &format!("/api/v1/access-requests/{request}/decline"), Some(&admin), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_decided")));

    // Mismatches: one code; the sixth failure in an hour is throttled.
    for _ in 0..5 {
        let (s, v) = app
            .call(
                "POST",
                "/api/v1/associations",
                Some(&t),
                Some(body(&practitioner("A", "B", "914407731", "P300118", "98402"))),
            )
            .await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("no_match")));
    }
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&brigid()))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("throttled")));
    app.stop().await;
}
both!(association_over_the_api);

async fn the_last_administrator_stays(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    newcomer(&app).await;
    for u in ["ocarter", "jpatel", "hdiaz"] {
        known_password(&app, u).await;
    }
    let olivia = api_token(&app, "ocarter", 143).await;
    let jay = api_token(&app, "jpatel", 9975).await;
    let aff =
        |u: &str| format!("SELECT a.id FROM affiliations a JOIN users u ON u.id = a.user_id WHERE u.username = '{u}'");
    let (olivias, jays) = (count(&app, &aff("ocarter")).await, count(&app, &aff("jpatel")).await);
    // Jay is not an administrator: he cannot make himself one.
    let (s, v) = app
        .call("PATCH", &format!("/api/v1/practice/affiliations/{jays}"), Some(&jay), Some(json!({"admin": true})))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_practice_admin")));
    let (s, v) = app
        .call("PATCH", &format!("/api/v1/practice/affiliations/{jays}"), Some(&olivia), Some(json!({"admin": true})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // Both step down at once: exactly one may.
    let (hers, his) =
        (format!("/api/v1/practice/affiliations/{olivias}"), format!("/api/v1/practice/affiliations/{jays}"));
    let (a, b) = tokio::join!(
        app.call("PATCH", &hers, Some(&olivia), Some(json!({"admin": false}))),
        app.call("PATCH", &his, Some(&jay), Some(json!({"admin": false}))),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT], "{a:?} {b:?}");
    let refused = if a.0 == StatusCode::CONFLICT { a.1 } else { b.1 };
    assert_eq!(refused["error"]["code"], "last_admin");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM affiliations WHERE is_admin = 1").await, 1);

    // The help desk cannot deactivate the last administrator while others use the practice.
    let last =
        count(&app, "SELECT u.id FROM users u JOIN affiliations a ON a.user_id = u.id WHERE a.is_admin = 1").await;
    let desk = app.signed_in_browser("hdiaz", 177).await;
    let deactivate = format!("/admin/users/{last}/deactivate");
    let (s, page) = app.submit(&desk, &deactivate, &deactivate, &[("reason", "Left the practice")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("must keep at least one active administrator while it has active users"), "{page}");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM users WHERE id = {last} AND status = 'active'")).await, 1);
    app.stop().await;
}
both!(the_last_administrator_stays);

/// Plan staff work for the plan, not a practice: an auditor or help desk agent (who can read the
/// roster the association form asks about) cannot make themselves a practice's administrator,
/// nor be given access through an access request. A match or request made before the account
/// held a staff role is refused when it is used; the request can still be declined.
async fn plan_staff_are_not_linked_to_practices(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let auditor = app.user("audrey", "Audrey", "Ames", 1004, Some("auditor")).await.0;
    let nina = newcomer(&app).await;
    known_password(&app, "ocarter").await;
    let t = api_token(&app, "audrey", 1004).await;
    let (s, v) = app.call("POST", "/api/v1/associations", Some(&t), Some(body(&brigid()))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("staff_account")), "{v}");
    let c = app.signed_in_browser("audrey", 1004).await;
    let (s, html, _) = app.post_form(&c, "/associate", "/associate", &brigid()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(html.contains("Plan staff accounts are not linked to practices"), "{html}");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM association_attempts WHERE user_id = {auditor}")).await, 0);

    // Nina matches two practices as a portal user, then is made plan staff.
    let n = api_token(&app, "nwells", 1001).await;
    let (_, v) = app.call("POST", "/api/v1/associations", Some(&n), Some(body(&brigid()))).await;
    let free = v["attempt_id"].as_i64().expect("attempt");
    let lakeside = practitioner("Richard", "Kim", "825671892", "P200451", "98101");
    let (_, v) = app.call("POST", "/api/v1/associations", Some(&n), Some(body(&lakeside))).await;
    let held = v["attempt_id"].as_i64().expect("attempt");
    let (_, v) = app.call("POST", &format!("/api/v1/associations/{held}/access-request"), Some(&n), None).await;
    let request = v["request_id"].as_i64().expect("request");
    let (_, v) = app.call("POST", "/api/v1/associations", Some(&n), Some(body(&lakeside))).await;
    let again = v["attempt_id"].as_i64().expect("attempt");
    app.sql(&format!("UPDATE users SET staff_role = 'help_desk' WHERE id = {nina}")).await;
    let accept = format!("/api/v1/associations/{free}/accept");
    let (s, v) = app.call("POST", &accept, Some(&n), Some(json!({"agreed": true}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("staff_account")), "{v}");
    let (s, v) = app.call("POST", &format!("/api/v1/associations/{again}/access-request"), Some(&n), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("staff_account")), "{v}");
    let admin = api_token(&app, "ocarter", 143).await;
    let approve = format!("/api/v1/access-requests/{request}/approve");
    let (s, v) = app.call("POST", &approve, Some(&admin), Some(json!({"user_type": "billing_staff"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    assert_eq!(affiliations_of(&app, nina).await, 0);
    let (s, v) = app.call("POST", &format!("/api/v1/access-requests/{request}/decline"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    app.stop().await;
}
both!(plan_staff_are_not_linked_to_practices);
