//! The practice administrator's pages over HTTP: directory, a user's page and its changes,
//! inviting a list, pending invitations; another practice's ids answer "not found".

use crate::both;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;

async fn setup(app: &TestApp) -> (gatehouse_domain::UserId, gatehouse_domain::UserId, gatehouse_domain::UserId) {
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    let lee = app.user("lee", "Lee", "Park", 1002, None).await;
    let bob = app.user("bob", "Bob", "Stone", 1005, None).await;
    for (tin, name) in [("825671892", "Lakeside Family Medicine"), ("914407731", "Cedar Valley Pediatrics")] {
        app.seed_practice(tin, name).await;
    }
    app.seed_provider("825671892", "P1", "Richard", "Kim").await;
    app.seed_affiliation(dana, "825671892", "office_manager", true).await;
    app.seed_affiliation(lee, "825671892", "billing_staff", false).await;
    app.seed_affiliation(bob, "914407731", "billing_staff", false).await;
    (dana, lee, bob)
}

async fn administrator_manages_users_through_the_pages(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (_dana, lee, bob) = setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;

    let (s, page) = app.page(&c, "/practice/users").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Before adding a new user, please check if the user you want to add already exists"));
    assert!(page.contains("Lee Park") && page.contains("Dana Reyes") && !page.contains("Bob Stone"));
    assert!(page.contains("Total Records: 2"));
    let (_, page) = app.page(&c, "/practice/users?q=park&sort=name&dir=desc").await;
    assert!(page.contains("Total Records: 1") && page.contains("aria-sort=\"descending\""));

    // Another practice's user: not found, audited.
    let (s, _) = app.page(&c, &format!("/practice/users/{}", bob.0)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'practice.access_denied'").await, 1);

    // Lee's page: change the user type, then choose providers.
    let me = format!("/practice/users/{}", lee.0);
    let (s, page) = app.page(&c, &me).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("825671892 – Lakeside Family Medicine"));
    assert!(page.contains("This User has access to all Providers affiliated with this Tax ID."));
    let aid = app.count(&format!("SELECT id FROM affiliations WHERE user_id = {}", lee.0)).await;
    let (s, _, loc) =
        app.post_form(&c, &me, &format!("{me}/affiliations/{aid}/type"), &[("user_type", "clinical_staff")]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, format!("{me}?done=type").as_str()));
    let (_, page) = app.page(&c, &loc).await;
    assert!(page.contains("The user type was saved"));
    let p1 = app.count("SELECT id FROM providers WHERE provider_id = 'P1'").await.to_string();
    let providers = format!("{me}/affiliations/{aid}/providers");
    let (s, _, _) = app.post_form(&c, &providers, &providers, &[("scope", "some")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a list needs at least one provider");
    let (s, _, _) = app.post_form(&c, &providers, &providers, &[("scope", "some"), ("provider", &p1)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&c, &me).await;
    assert!(page.contains("Richard Kim") && page.contains("Clinical Staff"));

    // Deactivate through the confirmation page; then reactivate.
    let (s, page) = app.page(&c, &format!("{me}/deactivate")).await;
    assert!(s == StatusCode::OK && page.contains("signed out everywhere"));
    let (s, _, loc) = app.post_form(&c, &format!("{me}/deactivate"), &format!("{me}/deactivate"), &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.page(&c, &loc).await.1.contains("Deactivated"));
    app.post_form(&c, &format!("{me}/reactivate"), &format!("{me}/reactivate"), &[]).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 0);

    // The last administrator cannot remove their own Tax ID.
    let daid =
        app.count("SELECT a.id FROM affiliations a JOIN users u ON u.id = a.user_id WHERE u.username = 'dana'").await;
    let mine = format!("/practice/users/{}/affiliations/{daid}/remove", _dana.0);
    let (s, body, _) = app.post_form(&c, &mine, &mine, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("must keep at least one active administrator"));

    // A user who administers nothing gets a clear refusal.
    let lc = app.signed_in_browser("lee", 1002).await;
    let (s, page) = app.page(&lc, "/practice/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("Only an administrator of your practice"));
    app.stop().await;
}
both!(administrator_manages_users_through_the_pages);

async fn inviting_a_list_and_managing_pending_users(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;
    let practice = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await.to_string();
    let person = |first: &'static str, email: &'static str| {
        vec![
            ("first_name", first),
            ("last_name", "Newhire"),
            ("email", email),
            ("email_confirm", email),
            ("user_type", "billing_staff"),
            ("scope", "all"),
            ("action", "add"),
        ]
    };
    // Add Ann, then Ben (the list travels in hidden fields), then send.
    let mut f = person("Ann", "ann@clinic.example");
    f.push(("practice", &practice));
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &f).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("List (1 of at most"));
    let mut f2 = person("Ben", "ben@clinic.example");
    f2.push(("practice", &practice));
    f2.extend([
        ("l0_first", "Ann"),
        ("l0_last", "Newhire"),
        ("l0_email", "ann@clinic.example"),
        ("l0_practices", practice.as_str()),
        ("l0_type", "billing_staff"),
        ("l0_providers", ""),
    ]);
    let (_, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &f2).await;
    assert!(page.contains("List (2 of at most"));
    // A mismatched email is refused at Add to List, beside nothing else changing.
    let mut bad = person("Cy", "cy@clinic.example");
    bad[3] = ("email_confirm", "cy@clinic.example.org");
    bad.push(("practice", &practice));
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("do not match"));
    // Send the two, plus Lee (already a user of this Tax ID) to see a per-row failure.
    let send = vec![
        ("action", "send"),
        ("l0_first", "Ann"),
        ("l0_last", "Newhire"),
        ("l0_email", "ann@clinic.example"),
        ("l0_practices", practice.as_str()),
        ("l0_type", "billing_staff"),
        ("l0_providers", ""),
        ("l1_first", "Ben"),
        ("l1_last", "Newhire"),
        ("l1_email", "ben@clinic.example"),
        ("l1_practices", practice.as_str()),
        ("l1_type", "billing_staff"),
        ("l1_providers", ""),
        ("l2_first", "Lee"),
        ("l2_last", "Park"),
        ("l2_email", "lee@example.org"),
        ("l2_practices", practice.as_str()),
        ("l2_type", "billing_staff"),
        ("l2_providers", ""),
    ];
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &send).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Invitations: 2 of 3 sent"), "{page}");
    assert!(page.contains("Already a user of this Tax ID."));
    assert!(app.last_message_to("ann@clinic.example").await.is_some());

    // Pending users: both listed; resend Ann; cancel Ben.
    let (_, page) = app.page(&c, "/practice/pending").await;
    assert!(page.contains("ann@clinic.example") && page.contains("ben@clinic.example"));
    // The link works for 72 hours, shown in the plan's zone (New York), not UTC.
    assert!(page.contains("Jan 18, 2027 3:00 AM EST") && !page.contains("UTC"), "{page}");
    let ann = app.count("SELECT id FROM users WHERE email = 'ann@clinic.example'").await;
    let ben = app.count("SELECT id FROM users WHERE email = 'ben@clinic.example'").await;
    let (s, page, _) = app.post_form(&c, "/practice/pending", &format!("/practice/pending/{ann}/resend"), &[]).await;
    assert!(s == StatusCode::OK && page.contains("A new link was emailed"));
    let (_, page) = app.page(&c, &format!("/practice/pending/{ben}/cancel")).await;
    assert!(page.contains("Their link stops working"));
    let (_, page, _) = app.post_form(&c, "/practice/pending", &format!("/practice/pending/{ben}/cancel"), &[]).await;
    assert!(page.contains("The invitation was cancelled") && !page.contains("ben@clinic.example"));
    // Someone else's (or no) invitation: not found.
    let (s, _, _) = app.post_form(&c, "/practice/pending", &format!("/practice/pending/{ben}/resend"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(inviting_a_list_and_managing_pending_users);

/// A session token for `username` through the API (password, then the texted code).
async fn api_token(app: &TestApp, username: &str, phone_tail: u16) -> String {
    let c = app.api();
    let r = c
        .post(app.url("/api/v1/signin"))
        .json(&serde_json::json!({"username": username, "password": crate::support::TEST_PASSWORD}))
        .send()
        .await
        .expect("signin");
    let v: serde_json::Value = r.json().await.expect("json");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(&format!("+1206555{phone_tail:04}")).await;
    let r = c
        .post(app.url("/api/v1/two-step/verify"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .expect("verify");
    let v: serde_json::Value = r.json().await.expect("json");
    v["session_token"].as_str().expect("token").to_owned()
}

async fn administrator_api(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (dana, lee, bob) = setup(&app).await;
    let t = api_token(&app, "dana", 1001).await;
    let c = app.api();
    let get = |path: String| c.get(app.url(&path)).bearer_auth(&t).send();
    let v: serde_json::Value = get("/api/v1/practice/users?sort=name".into()).await.unwrap().json().await.unwrap();
    assert_eq!(v["total"], 2);
    assert_eq!(v["users"][0]["username"], "lee", "Park before Reyes");
    assert_eq!(get(format!("/api/v1/practice/users/{}", bob.0)).await.unwrap().status(), StatusCode::NOT_FOUND);
    let v: serde_json::Value = get(format!("/api/v1/practice/users/{}", lee.0)).await.unwrap().json().await.unwrap();
    let aid = v["affiliations"][0]["id"].as_i64().expect("aid");
    let r = c
        .patch(app.url(&format!("/api/v1/practice/affiliations/{aid}")))
        .bearer_auth(&t)
        .json(&serde_json::json!({"user_type": "clinical_staff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let daid = app.count(&format!("SELECT id FROM affiliations WHERE user_id = {}", dana.0)).await;
    let r = c.delete(app.url(&format!("/api/v1/practice/affiliations/{daid}"))).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "the last administrator stays");
    let r = c
        .post(app.url("/api/v1/practice/invitations"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"rows": [
            {"first_name": "Ann", "last_name": "New", "email": "ann@clinic.example", "email_confirm": "ann@clinic.example",
             "practice_ids": [0], "user_type": "billing_staff"},
        ]}))
        .send()
        .await
        .unwrap();
    let results: serde_json::Value = r.json().await.unwrap();
    assert_eq!(results[0]["ok"], false, "practice 0 is not Dana's");
    let practice = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await;
    let r = c
        .post(app.url("/api/v1/practice/invitations"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"rows": [
            {"first_name": "Ann", "last_name": "New", "email": "ann@clinic.example", "email_confirm": "ann@clinic.example",
             "practice_ids": [practice], "user_type": "billing_staff"},
        ]}))
        .send()
        .await
        .unwrap();
    let results: serde_json::Value = r.json().await.unwrap();
    assert_eq!(results[0]["ok"], true, "{results}");
    let v: serde_json::Value = get("/api/v1/practice/invitations".into()).await.unwrap().json().await.unwrap();
    assert_eq!(v[0]["email"], "ann@clinic.example");
    // Not an administrator: 403.
    let lt = api_token(&app, "lee", 1002).await;
    let r = c.get(app.url("/api/v1/practice/users")).bearer_auth(&lt).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
both!(administrator_api);

async fn administrator_edits_user_information(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (_dana, lee, bob) = setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;
    let edit = format!("/practice/users/{}/edit", lee.0);
    let (s, page) = app.page(&c, &edit).await;
    assert!(s == StatusCode::OK && page.contains("value=\"lee@example.org\""));
    let good = [
        ("first_name", "Leona"),
        ("middle_name", ""),
        ("last_name", "Park"),
        ("email", "leona.park@clinic.example"),
        ("email_confirm", "leona.park@clinic.example"),
        ("mobile_phone", "206-555-0101"),
        ("office_phone", ""),
        ("fax", "206 555 0102"),
        ("street", "1200 Lakeview Ave"),
        ("city", "Seattle"),
        ("state", "wa"),
        ("zip", "98101"),
    ];
    // Bad input: every problem beside its field, nothing changed.
    let mut bad = good;
    bad[4] = ("email_confirm", "other@clinic.example");
    bad[7] = ("fax", "12");
    bad[10] = ("state", "ZZ");
    let (s, page, _) = app.post_form(&c, &edit, &edit, &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("id=\"email_confirm-error\"")
            && page.contains("id=\"fax-error\"")
            && page.contains("id=\"state-error\"")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE first_name = 'Leona'").await, 0);
    let (s, _, loc) = app.post_form(&c, &edit, &edit, &good).await;
    let loc = loc.unwrap_or_default();
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = app.page(&c, &loc).await;
    assert!(
        page.contains("Leona Park")
            && page.contains("206-555-0102")
            && page.contains("1200 Lakeview Ave, Seattle, WA 98101")
    );
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'user.information_edited'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("audited");
    assert!(detail.contains("\"old\":\"Lee\"") && detail.contains("\"new\":\"Leona\""), "{detail}");
    // Another practice's user through the API: 404; a bad field: 422 naming it.
    let t = api_token(&app, "dana", 1001).await;
    let body = serde_json::json!({"first_name": "X", "last_name": "Y", "email": "x@clinic.example", "email_confirm": "x@clinic.example"});
    let r = app
        .api()
        .patch(app.url(&format!("/api/v1/practice/users/{}", bob.0)))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = serde_json::json!({"first_name": "Leona", "last_name": "Park", "email": "leona@clinic", "email_confirm": "leona@clinic"});
    let r = app
        .api()
        .patch(app.url(&format!("/api/v1/practice/users/{}", lee.0)))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "email");
    app.stop().await;
}
both!(administrator_edits_user_information);

async fn administrator_sends_a_password_reset_link(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (_dana, lee, bob) = setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;
    let me = format!("/practice/users/{}", lee.0);
    let (_, page) = app.page(&c, &format!("{me}/reset-password")).await;
    assert!(page.contains("Are you sure you want to reset the password for this user?"));
    let (s, _, loc) = app.post_form(&c, &me, &format!("{me}/reset-password"), &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.page(&c, &loc).await.1.contains("A password reset link was emailed"));
    let mail = app.last_message_to("lee@example.org").await.expect("reset email");
    assert!(crate::support::link_in(&mail.body_text).is_some(), "the email carries the link");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_reset_link_sent'").await, 1);
    // Another practice's user: not found, nothing sent.
    let other = format!("/practice/users/{}/reset-password", bob.0);
    let (s, _, _) = app.post_form(&c, &me, &other, &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(app.last_message_to("bob@example.org").await.is_none());
    app.stop().await;
}
both!(administrator_sends_a_password_reset_link);

/// Issue 14: adding a Tax ID grants nothing before its last step (providers first); Make Admin
/// asks first and is only for active users; removing a user's last Tax ID of the administrator's
/// ends on a page that says what happened (not on a "not found").
async fn changes_ask_first_and_start_narrow(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (dana, lee, _) = setup(&app).await;
    let plan = app.plan.id().0;
    app.seed_affiliation(dana, "914407731", "office_manager", true).await;
    app.seed_provider("914407731", "Q1", "Pat", "Quinn").await;
    app.seed_provider("914407731", "Q2", "Pat", "Quade").await;
    let cedar = app.count("SELECT id FROM practices WHERE tax_id = '914407731'").await;
    let q1 = app.count("SELECT id FROM providers WHERE provider_id = 'Q1'").await;
    let c = app.signed_in_browser("dana", 1001).await;
    let me = format!("/practice/users/{}", lee.0);
    let held_sql = format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", lee.0);
    let held = || app.count(&held_sql);

    // 7. The provider step comes first, and nothing is granted by it.
    let step = format!("{me}/affiliations/new?practice={cedar}&user_type=billing_staff");
    let (s, html) = app.page(&c, &step).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Nothing changes until you select") && html.contains("Quinn") && html.contains("Quade"));
    assert_eq!(held().await, 1, "choosing a Tax ID grants nothing");
    let (s, _html, loc) = app
        .post_form(
            &c,
            &step,
            &format!("{me}/affiliations"),
            &[
                ("practice", &cedar.to_string()),
                ("user_type", "billing_staff"),
                ("scope", "some"),
                ("provider", &q1.to_string()),
            ],
        )
        .await;
    let loc = loc.unwrap_or_default();
    // Lee has an account of his own: Cedar is offered, and added only when he accepts.
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, format!("{me}?done=offered").as_str()), "{_html}");
    let (_, html) = app.page(&c, &loc).await;
    assert!(html.contains("We asked the user to accept this Tax ID"), "{html}");
    assert_eq!(held().await, 1, "nothing attached before he accepts");
    let lee_browser = app.signed_in_browser("lee", 1002).await;
    let offer = app.count(&format!("SELECT id FROM affiliation_offers WHERE user_id = {}", lee.0)).await;
    let (s, _, _) = app.post_form(&lee_browser, "/offers", &format!("/offers/{offer}/accept"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(held().await, 2);
    let narrow = format!(
        "SELECT COUNT(*) FROM affiliation_providers ap JOIN affiliations a ON a.id = ap.affiliation_id \
         WHERE a.user_id = {} AND a.all_providers = 0",
        lee.0
    );
    assert_eq!(app.count(&narrow).await, 1, "only the provider chosen");

    // 8. Make Admin asks first, and is not offered to (nor works for) a deactivated user.
    let kay = app.user("kay", "Kay", "Moss", 1006, None).await;
    app.sql(&format!(
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
         SELECT {plan}, {}, id, 'billing_staff', 0, 1, 0 FROM practices WHERE tax_id = '825671892'",
        kay.0
    ))
    .await;
    let kay_aff = app.count(&format!("SELECT id FROM affiliations WHERE user_id = {}", kay.0)).await;
    let kays = format!("/practice/users/{}", kay.0);
    let confirm = format!("{kays}/affiliations/{kay_aff}/make-admin");
    let (s, html) = app.page(&c, &confirm).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("will be able to invite, change and deactivate users"), "{html}");
    app.sql(&format!("UPDATE users SET status = 'deactivated' WHERE id = {}", kay.0)).await;
    let (_, page) = app.page(&c, &kays).await;
    assert!(!page.contains("/make-admin"), "not offered to a deactivated user");
    let (s, html, _) = app.post_form(&c, &kays, &confirm, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Only an active user"), "{html}");
    app.sql(&format!("UPDATE users SET status = 'active' WHERE id = {}", kay.0)).await;
    let (s, _, loc) = app.post_form(&c, &confirm, &confirm, &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!((s, loc), (StatusCode::SEE_OTHER, format!("{kays}?done=admin")));
    assert_eq!(app.count(&format!("SELECT is_admin FROM affiliations WHERE id = {kay_aff}")).await, 1);

    // 1. Removing one of two Tax IDs comes back to the user; removing the last says what happened.
    let aff = |tin: &'static str| {
        format!(
            "SELECT a.id FROM affiliations a JOIN practices p ON p.id = a.practice_id WHERE a.user_id = {} AND p.tax_id = '{tin}'",
            lee.0
        )
    };
    let lakeside = format!("{me}/affiliations/{}/remove", app.count(&aff("825671892")).await);
    let (s, _, loc) = app.post_form(&c, &lakeside, &lakeside, &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!((s, loc), (StatusCode::SEE_OTHER, format!("{me}?done=removed")));
    let last = format!("{me}/affiliations/{}/remove", app.count(&aff("914407731")).await);
    let (s, html, _) = app.post_form(&c, &last, &last, &[]).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Lee Park was removed from Cedar Valley Pediatrics"), "{html}");
    assert_eq!(held().await, 0);
    app.stop().await;
}
both!(changes_ask_first_and_start_narrow);

/// The whole start tag of the element whose `id` is `id`.
fn tag_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no element {id} in {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// The value of `attr` in a start tag.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!(" {attr}=\"");
    let at = tag.find(&key)? + key.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The text right inside the element whose `id` is `id`.
fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let tag = tag_with_id(html, id);
    let at = html.find(tag).expect("tag") + tag.len();
    &html[at..at + html[at..].find('<').expect("end")]
}

/// A row of the list as the page carries it.
fn list_row(i: usize, first: &str, email: &str, practices: &str) -> Vec<(String, String)> {
    [
        ("first", first),
        ("last", "Newhire"),
        ("email", email),
        ("practices", practices),
        ("type", "billing_staff"),
        ("providers", ""),
    ]
    .into_iter()
    .map(|(k, v)| (format!("l{i}_{k}"), v.to_owned()))
    .collect()
}

async fn invite_errors_are_shown_beside_their_fields(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;
    let practice = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await.to_string();
    let users_before = app.count("SELECT COUNT(*) FROM users").await;
    let messages_before = app.count("SELECT COUNT(*) FROM outbox").await;

    // Row 2 of the list has a bad email: nothing is sent, the field says why.
    let mut fields = list_row(0, "Ann", "ann@clinic.example", &practice);
    fields.extend(list_row(1, "Ben", "ben@clinic", &practice));
    fields.push(("action".into(), "send".into()));
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &borrowed).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let input = tag_with_id(&page, "l1_email");
    assert_eq!(attr(input, "aria-invalid"), Some("true"), "{input}");
    assert_eq!(attr(input, "value"), Some("ben@clinic"), "what was typed is kept");
    let described = attr(input, "aria-describedby").expect("described");
    assert_eq!(text_of(&page, described), "Enter an email address like name@example.com.");
    let first_row = tag_with_id(&page, "l0_email");
    assert_eq!(attr(first_row, "aria-invalid"), None, "row 1 is fine: {first_row}");
    assert_eq!(attr(first_row, "value"), Some("ann@clinic.example"));
    assert!(page.contains("href=\"#l1_email\""), "the summary leads to the field");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before, "nobody was invited");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, messages_before);

    // The person being added: each problem beside its own field, the typing kept.
    let add = [
        ("first_name", ""),
        ("last_name", "Newhire"),
        ("email", "cy@clinic"),
        ("email_confirm", "cy@clinic"),
        ("practice", practice.as_str()),
        ("user_type", ""),
        ("scope", "all"),
        ("action", "add"),
    ];
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &add).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for (id, message) in [
        ("first_name", "Enter the first name."),
        ("email", "Enter an email address like name@example.com."),
        ("user_type", "Choose a user type."),
    ] {
        let tag = tag_with_id(&page, id);
        assert_eq!(attr(tag, "aria-invalid"), Some("true"), "{tag}");
        assert_eq!(text_of(&page, attr(tag, "aria-describedby").expect("described")), message);
    }
    assert_eq!(attr(tag_with_id(&page, "last_name"), "aria-invalid"), None);
    assert_eq!(attr(tag_with_id(&page, "email_confirm"), "value"), Some("cy@clinic"));
    assert!(page.contains("Please correct 3 fields") && page.contains("href=\"#first_name\""), "{page}");
    app.stop().await;
}
both!(invite_errors_are_shown_beside_their_fields);

/// Ann added to the invite list with no Tax ID ticked.
const ANN_WITHOUT_TAX_ID: [(&str, &str); 7] = [
    ("first_name", "Ann"),
    ("last_name", "Newhire"),
    ("email", "ann@clinic.example"),
    ("email_confirm", "ann@clinic.example"),
    ("user_type", "billing_staff"),
    ("scope", "all"),
    ("action", "add"),
];

async fn the_only_practice_needs_no_ticking(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    setup(&app).await;
    let c = app.signed_in_browser("dana", 1001).await;
    let practice = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await;
    // Added without a Tax ID: the list row is for Dana's only practice.
    let add = ANN_WITHOUT_TAX_ID;
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &add).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(attr(tag_with_id(&page, "l0_first"), "value"), Some("Ann"));
    assert!(page.contains(&format!("name=\"l0_practices\" value=\"{practice}\"")), "{page}");
    // Sent with no Tax ID at all (a list from before, or a hand-made form): the same practice.
    let mut fields = list_row(0, "Ben", "ben@clinic.example", "");
    fields.push(("action".into(), "send".into()));
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &borrowed).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Invitations: 1 of 1 sent"), "{page}");
    let ben_practice = "SELECT a.practice_id FROM affiliations a JOIN users u ON u.id = a.user_id \
                        WHERE u.email = 'ben@clinic.example' AND u.status = 'invited'";
    assert_eq!(app.count(ben_practice).await, practice);
    // The API, too, may leave `practice_ids` out.
    let t = api_token(&app, "dana", 1001).await;
    let body = serde_json::json!({"rows": [{"first_name": "Cy", "last_name": "Newhire", "email": "cy@clinic.example",
        "email_confirm": "cy@clinic.example", "user_type": "billing_staff"}]});
    let (s, v) = app.call("POST", "/api/v1/practice/invitations", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["ok"], true, "{v}");
    let cy =
        "SELECT a.practice_id FROM affiliations a JOIN users u ON u.id = a.user_id WHERE u.email = 'cy@clinic.example'";
    assert_eq!(app.count(cy).await, practice);
    app.stop().await;
}
both!(the_only_practice_needs_no_ticking);

async fn the_practice_acted_for_is_ticked(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (dana, _, _) = setup(&app).await;
    let plan = app.plan.id().0;
    app.sql(&format!(
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
         SELECT {plan}, {}, id, 'office_manager', 1, 1, 0 FROM practices WHERE tax_id = '914407731'",
        dana.0
    ))
    .await;
    let lakeside = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await;
    let cedar = app.count("SELECT id FROM practices WHERE tax_id = '914407731'").await;
    let affiliation = |p: i64| format!("SELECT id FROM affiliations WHERE user_id = {} AND practice_id = {p}", dana.0);
    let c = app.signed_in_browser("dana", 1001).await;
    let ticked = |page: &str, p: i64| tag_with_id(page, &format!("tin-{p}")).contains(" checked");
    for (acting, other) in [(cedar, lakeside), (lakeside, cedar)] {
        let aid = app.count(&affiliation(acting)).await.to_string();
        let (s, _, loc) = app
            .post_form(&c, "/accounts", "/accounts/switch", &[("affiliation", &aid), ("next", "/practice/invite")])
            .await;
        let loc = loc.unwrap_or_default();
        assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "/practice/invite"));
        let (s, page) = app.page(&c, "/practice/invite").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            ticked(&page, acting),
            "the practice acted for is ticked: {}",
            tag_with_id(&page, &format!("tin-{acting}"))
        );
        assert!(!ticked(&page, other), "only it");
    }
    // With several practices, none named is still a problem to fix, beside the Tax IDs.
    let add = ANN_WITHOUT_TAX_ID;
    let (s, page, _) = app.post_form(&c, "/practice/invite", "/practice/invite", &add).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(text_of(&page, "tax_ids-error"), "Choose at least one Tax ID.");
    app.stop().await;
}
both!(the_practice_acted_for_is_ticked);
