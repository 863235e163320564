//! Issue 15 for a practice administrator's API: a change of a user reads only the fields sent, a
//! value outside the document's schema is refused naming its field (and changes nothing), and
//! the directory pages past its end.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TIN: &str = "825671892";

/// Ann administers the practice, Lee works for it; Ann's API session and Lee's id.
async fn practice(app: &TestApp) -> (String, i64) {
    let ann = app.user("ann", "Ann", "Carter", 1001, None).await;
    let lee = app.user("lee", "Lee", "Park", 1002, None).await;
    app.seed_practice(TIN, "Lakeside Family Medicine").await;
    app.seed_affiliation(ann, TIN, "office_manager", true).await;
    app.seed_affiliation(lee, TIN, "billing_staff", false).await;
    (app.api_session("ann", TEST_PASSWORD, "+12065551001").await, lee.0)
}

#[track_caller]
fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, code: &str, field: &str) {
    let (s, v) = answer;
    assert_eq!(
        (*s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (status, Some(code), Some(field)),
        "{v}"
    );
}

/// A practice administrator's own account is not changed through User Management: My Profile
/// changes one's own email, username and password after "Confirm it's you", and someone who
/// borrowed an administrator's open session must not get past that here (a new email, then a
/// reset link to it, would have made the account theirs). Another user's stays editable.
async fn an_administrator_cannot_change_their_own_account_through_user_management(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (ann, lee) = practice(&app).await;
    let t = Some(ann.as_str());
    let me = app.count("SELECT id FROM users WHERE username = 'ann'").await;
    let messages = app.outbox().await.len();
    let body = json!({"email": "evil@example.net", "email_confirm": "evil@example.net", "username": "evil"});
    let (s, v) = app.call("PATCH", &format!("/api/v1/practice/users/{me}"), t, Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("own_account")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("My Profile"), "{v}");
    let (s, v) = app.call("POST", &format!("/api/v1/practice/users/{me}/password-reset"), t, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("own_account")), "{v}");
    let unchanged = "SELECT COUNT(*) FROM users WHERE username = 'ann' AND email = 'ann@example.org'";
    assert_eq!(app.count(unchanged).await, 1);
    assert_eq!(app.outbox().await.len(), messages, "nothing emailed");

    // The pages: no edit link on one's own page, and the form and the actions refuse.
    let b = app.signed_in_browser("ann", 1001).await;
    let messages = app.outbox().await.len();
    let (s, page) = app.page(&b, &format!("/practice/users/{me}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains(&format!("/practice/users/{me}/edit")) && page.contains("My Profile"), "{page}");
    let (s, page) = app.page(&b, &format!("/practice/users/{me}/edit")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{page}");
    let fields = [
        ("first_name", "Ann"),
        ("last_name", "Carter"),
        ("email", "evil@example.net"),
        ("email_confirm", "evil@example.net"),
    ];
    let form = format!("/practice/users/{lee}/edit");
    let (s, _) = app.submit(&b, &form, &format!("/practice/users/{me}/edit"), &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.submit(&b, &form, &format!("/practice/users/{me}/reset-password"), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count(unchanged).await, 1);
    assert_eq!(app.outbox().await.len(), messages, "nothing emailed");

    let (s, v) = app.call("POST", &format!("/api/v1/practice/users/{lee}/password-reset"), t, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "another user's: {v}");
    app.stop().await;
}
both!(an_administrator_cannot_change_their_own_account_through_user_management);

async fn a_change_of_a_user_reads_only_the_fields_sent(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (ann, lee) = practice(&app).await;
    let t = Some(ann.as_str());
    let path = format!("/api/v1/practice/users/{lee}");

    let (s, v) = app.call("PATCH", &path, t, Some(json!({"office_phone": "206-555-0143", "city": "Tacoma"}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = app.call("GET", &path, t, None).await;
    assert_eq!((v["first_name"].as_str(), v["last_name"].as_str()), (Some("Lee"), Some("Park")), "{v}");
    assert_eq!((v["email"].as_str(), v["username"].as_str()), (Some("lee@example.org"), Some("lee")), "{v}");
    assert_eq!((v["office_phone"].as_str(), v["city"].as_str()), (Some("+12065550143"), Some("Tacoma")), "{v}");
    assert!(v["affiliations"][0]["practice_id"].as_i64().is_some(), "{v}");

    // Left out or null keeps; "" clears an optional field.
    let (s, _) = app.call("PATCH", &path, t, Some(json!({"city": "", "first_name": null}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = app.call("GET", &path, t, None).await;
    assert_eq!(
        (v["city"].as_str(), v["first_name"].as_str(), v["office_phone"].as_str()),
        (Some(""), Some("Lee"), Some("+12065550143"))
    );

    // A new email needs its confirmation; the rules no schema states answer `invalid_input`.
    let a = app.call("PATCH", &path, t, Some(json!({"email": "lee.park@example.org"}))).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "email_confirm");
    let a = app.call("PATCH", &path, t, Some(json!({"fax": "555"}))).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "fax");

    // Values the page's form would forgive are outside the schema here.
    for (body, field) in [
        (json!({"state": "wa"}), "state"),
        (json!({"first_name": "Lee\u{1}Ann"}), "first_name"),
        (json!({"email": " lee@example.org", "email_confirm": " lee@example.org"}), "email"),
        (json!({"zip": " 98101"}), "zip"),
        (json!({"username": "lee park"}), "username"),
        (json!({"city": "x".repeat(101)}), "city"),
    ] {
        let a = app.call("PATCH", &path, t, Some(body)).await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", field);
    }
    let (s, v) = app.call("PATCH", &path, t, Some(json!([null, null]))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{v}");
    let (_, after) = app.call("GET", &path, t, None).await;
    assert_eq!((after["state"].as_str(), after["email"].as_str()), (Some(""), Some("lee@example.org")), "unchanged");

    // An invited user has no username to change.
    let link = app.invite("Ivy", "Invited", "ivy@example.org").await;
    assert!(!link.is_empty());
    app.affiliate_email("ivy@example.org").await;
    let ivy = app.count("SELECT id FROM users WHERE email = 'ivy@example.org'").await;
    let a = app.call("PATCH", &format!("/api/v1/practice/users/{ivy}"), t, Some(json!({"username": "ivy"}))).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "username");
    app.stop().await;
}
both!(a_change_of_a_user_reads_only_the_fields_sent);

async fn lists_and_invitations_refuse_values_outside_their_schema(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (ann, _) = practice(&app).await;
    let t = Some(ann.as_str());

    // Far past the last page: nothing, not an overflow (the page too).
    let (s, v) = app.call("GET", "/api/v1/practice/users?page=9223372036854775807", t, None).await;
    assert_eq!((s, v["users"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{v}");
    let browser = app.signed_in_browser("ann", 1001).await;
    let (s, _) = app.page(&browser, "/practice/users?page=9223372036854775807").await;
    assert_eq!(s, StatusCode::OK);
    for (query, field) in
        [("page=0", "page"), ("user_type=Billing", "user_type"), ("status=gone", "status"), ("sort=age", "sort")]
    {
        let a = app.call("GET", &format!("/api/v1/practice/users?{query}"), t, None).await;
        assert_refused(&a, StatusCode::BAD_REQUEST, "invalid_query", field);
    }
    let (s, v) = app.call("GET", "/api/v1/practice/users?status=active&sort=email&dir=desc", t, None).await;
    assert_eq!((s, v["total"].as_i64()), (StatusCode::OK, Some(2)), "{v}");

    // One row outside the schema refuses the list before any row is sent.
    let row = |email: &str| json!({"first_name": "Cy", "last_name": "Doe", "email": email, "email_confirm": email, "user_type": "billing_staff"});
    let sent = "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM outbox)";
    let before = app.count(sent).await;
    let body = json!({"rows": [row("cy@example.org"), row(" dee@example.org")]});
    let a = app.call("POST", "/api/v1/practice/invitations", t, Some(body)).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "rows[1].email");
    let body = json!({"rows": [{"first_name": "Cy", "last_name": "Doe", "email": "cy@example.org",
        "email_confirm": "cy@example.org", "user_type": "Billing Staff"}]});
    let a = app.call("POST", "/api/v1/practice/invitations", t, Some(body)).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "rows[0].user_type");
    let a = app.call("POST", "/api/v1/practice/invitations", t, Some(json!({"rows": []}))).await;
    assert_eq!((a.0, a.1["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")), "{}", a.1);
    assert_eq!(app.count(sent).await, before, "nothing sent");

    // A rule no schema states is still answered row by row.
    let mut other = row("cy@example.org");
    other["email_confirm"] = json!("cy2@example.org");
    let (s, v) = app
        .call("POST", "/api/v1/practice/invitations", t, Some(json!({"rows": [row("cy@example.org"), other]})))
        .await;
    assert_eq!((s, v[0]["ok"].as_bool(), v[1]["ok"].as_bool()), (StatusCode::OK, Some(true), Some(false)), "{v}");
    app.stop().await;
}
both!(lists_and_invitations_refuse_values_outside_their_schema);

/// A username can never be another user's email: an email that is someone's username is refused
/// when a practice administrator changes a user's email or invites it, and on My Profile.
async fn an_email_that_is_someones_username_is_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (ann, lee) = practice(&app).await;
    let t = Some(ann.as_str());
    // Someone (of another practice, or none) chose an email-shaped username.
    app.user("pat@clinic.example", "Pat", "Shaped", 1009, None).await;
    let taken = "Pat@Clinic.example";
    let path = format!("/api/v1/practice/users/{lee}");
    let a = app.call("PATCH", &path, t, Some(json!({"email": taken, "email_confirm": taken}))).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "email");
    assert!(a.1["error"]["message"].as_str().unwrap_or("").contains("another account's username"), "{}", a.1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email_lower = 'pat@clinic.example'").await, 0);
    let row = json!({"first_name": "Cy", "last_name": "Doe", "email": taken, "email_confirm": taken, "user_type": "billing_staff"});
    let (s, v) = app.call("POST", "/api/v1/practice/invitations", t, Some(json!({"rows": [row]}))).await;
    assert_eq!((s, v[0]["ok"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
    assert!(v[0]["error"].as_str().unwrap_or("").contains("another account's username"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email_lower = 'pat@clinic.example'").await, 0);
    // Lee on his own profile, once it is open.
    let browser = app.signed_in_browser("lee", 1002).await;
    let (s, _) =
        app.submit(&browser, "/profile", "/profile/confirm", &[("username", "lee"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    let code = app.last_code("+12065551002").await;
    let (s, _) = app.submit(&browser, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, page) =
        app.submit(&browser, "/profile", "/profile/email", &[("email", taken), ("email_confirm", taken)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("another account&#39;s username") || page.contains("another account's username"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM email_changes").await, 0, "no link was sent");
    app.stop().await;
}
both!(an_email_that_is_someones_username_is_refused);

/// A search with a NUL character finds nothing instead of failing (PostgreSQL refuses a NUL in a
/// parameter; schemathesis found it as a 500).
async fn a_search_with_a_nul_character_answers(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (admin, _) = practice(&app).await;
    let (s, v) = app.call("GET", "/api/v1/practice/users?q=%C3%8A%00%C2%9F", Some(&admin), None).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    assert_eq!(v["users"], serde_json::json!([]), "{v}");
    app.stop().await;
}
both!(a_search_with_a_nul_character_answers);
