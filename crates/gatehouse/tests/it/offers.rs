//! Affiliation offers over HTTP: inviting an email that already has an account attaches nothing
//! and offers the Tax ID instead; the person accepts or declines (pages and API); an offer is
//! used once, only by its person, and only while its administrator still administers the
//! practice; plan staff are never offered a practice; the email says what really happened.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf, path_of};
use gatehouse_domain::{Duration, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LAKESIDE: &str = "825671892";
const CEDAR: &str = "914407731";

/// Ann Carter administers Lakeside, Bob Stone administers Cedar, Pat Lee works for Cedar, Kim
/// Ito has an account and no practice, Priya Shah is the plan administrator (staff).
struct World {
    app: TestApp,
    ann: UserId,
    pat: UserId,
    kim: UserId,
    priya: UserId,
    lakeside: i64,
    cedar: i64,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::start(backend).await?;
    let ann = app.user("ann", "Ann", "Carter", 1001, None).await;
    let bob = app.user("bob", "Bob", "Stone", 1002, None).await;
    let pat = app.user("pat", "Pat", "Lee", 1003, None).await;
    let kim = app.user("kim", "Kim", "Ito", 1004, None).await;
    let priya = app.user("priya", "Priya", "Shah", 1005, Some("plan_admin")).await;
    let plan = app.plan.id().0;
    for (tin, name) in [(LAKESIDE, "Lakeside Family Medicine"), (CEDAR, "Cedar Valley Pediatrics")] {
        app.sql(&format!(
            "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
             VALUES ({plan}, '{tin}', '{name}', '1 Main St', '', 'Seattle', 'WA', '98101', '', 0)"
        ))
        .await;
    }
    app.sql(&format!(
        "INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, address1, city, state, zip, created_at) \
         SELECT {plan}, id, 'P1', '1234567893', 'practitioner', 'Richard', 'Kim', '', '1 Main St', 'Seattle', 'WA', '98101', 0 FROM practices WHERE tax_id = '{LAKESIDE}'"
    ))
    .await;
    for (user, tin, t, admin) in
        [(ann, LAKESIDE, "office_manager", 1), (bob, CEDAR, "office_manager", 1), (pat, CEDAR, "billing_staff", 0)]
    {
        app.sql(&format!(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             SELECT {plan}, {}, id, '{t}', {admin}, 1, 0 FROM practices WHERE tax_id = '{tin}'",
            user.0
        ))
        .await;
    }
    let lakeside = app.count(&format!("SELECT id FROM practices WHERE tax_id = '{LAKESIDE}'")).await;
    let cedar = app.count(&format!("SELECT id FROM practices WHERE tax_id = '{CEDAR}'")).await;
    Some(World { app, ann, pat, kim, priya, lakeside, cedar })
}

/// A session token for `username` through the API (password, then the texted code).
async fn token(app: &TestApp, username: &str, phone_tail: u16) -> String {
    app.api_session(username, TEST_PASSWORD, &format!("+1206555{phone_tail:04}")).await
}

async fn api(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(token), body).await
}

/// Invites one person to `practice` as billing staff for all providers, through the API.
async fn invite(app: &TestApp, admin_token: &str, first: &str, email: &str, practice: i64) -> Value {
    let (s, v) = api(
        app,
        "POST",
        "/api/v1/practice/invitations",
        admin_token,
        Some(json!({"rows": [{"first_name": first, "last_name": "Person", "email": email, "email_confirm": email,
            "practice_ids": [practice], "user_type": "billing_staff"}]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v[0].clone()
}

async fn affiliations_of(app: &TestApp, user: UserId) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", user.0)).await
}

async fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'")).await
}

async fn offer_id(app: &TestApp, user: UserId) -> i64 {
    app.count(&format!("SELECT MAX(id) FROM affiliation_offers WHERE user_id = {}", user.0)).await
}

async fn inviting_an_existing_account_attaches_nothing(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;

    // The attack of the security review: the plan administrator's email. Refused with a neutral
    // message, nothing attached, nothing offered, audited; she stays out of Ann's reach.
    let r = invite(app, &ann, "Priya", "priya@example.org", w.lakeside).await;
    assert_eq!(r["ok"], false, "{r}");
    let msg = r["error"].as_str().unwrap();
    assert!(msg.contains("cannot be invited") && !msg.to_lowercase().contains("staff"), "{msg}");
    assert_eq!(affiliations_of(app, w.priya).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers").await, 0);
    assert!(app.last_message_to("priya@example.org").await.is_none());
    assert_eq!(events(app, "practice.invite_refused").await, 1);
    let (s, _) = api(app, "GET", &format!("/api/v1/practice/users/{}", w.priya.0), &ann, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, dir) = api(app, "GET", "/api/v1/practice/users?q=shah", &ann, None).await;
    assert_eq!(dir["total"], 0, "{dir}");

    // Another practice's user: offered, not attached, and still out of Ann's reach.
    let r = invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    assert_eq!(
        (r["ok"].clone(), r["offered"].clone(), r["new_account"].clone()),
        (json!(true), json!(true), json!(false))
    );
    assert!(r["user_id"].is_null(), "the account's id is not the inviter's to know: {r}");
    assert!(r["note"].as_str().unwrap().contains("once they accept"), "{r}");
    assert_eq!(affiliations_of(app, w.pat).await, 1, "only Cedar");
    let (s, _) = api(app, "GET", &format!("/api/v1/practice/users/{}", w.pat.0), &ann, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, dir) = api(app, "GET", "/api/v1/practice/users?q=pat", &ann, None).await;
    assert_eq!(dir["total"], 0, "{dir}");
    assert_eq!(events(app, "offer.made").await, 1);
    assert_eq!(events(app, "practice.user_invited").await, 0);

    // The email says what happened: an offer to answer, from Ann of Lakeside; nothing approved.
    let m = app.last_message_to("pat@example.org").await.expect("offer email");
    assert_eq!(m.kind, "affiliation_offer.v1");
    assert!(m.subject.contains("Ann Carter of Lakeside Family Medicine offered you access"), "{}", m.subject);
    assert!(m.body_text.contains("Ann Carter of Lakeside Family Medicine offered you access"), "{}", m.body_text);
    assert!(m.body_text.contains("sign in to accept or decline") && m.body_text.contains("/offers"));
    assert!(!m.body_text.to_lowercase().contains("approved"), "{}", m.body_text);

    // Ann sees the offer (API and Manage Pending Users); the same again is refused while it waits.
    let (_, made) = api(app, "GET", "/api/v1/practice/offers", &ann, None).await;
    assert_eq!((made[0]["email"].clone(), made[0]["status"].clone()), (json!("pat@example.org"), json!("pending")));
    let c = app.signed_in_browser("ann", 1001).await;
    let (_, page) = app.page(&c, "/practice/pending").await;
    assert!(page.contains("pat@example.org") && page.contains("Waiting for them to accept"), "{page}");
    let again = invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    assert!(again["error"].as_str().unwrap().contains("already asked"), "{again}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers").await, 1);

    // Another administrator cannot withdraw Ann's offer: not found, audited, nothing changed.
    let id = offer_id(app, w.pat).await;
    let bob = token(app, "bob", 1002).await;
    let denied = events(app, "practice.access_denied").await;
    let (s, _) = api(app, "DELETE", &format!("/api/v1/practice/offers/{id}"), &bob, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(events(app, "practice.access_denied").await, denied + 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers WHERE status = 'pending'").await, 1);
    // Ann withdraws it (confirmation first); Pat can no longer accept it.
    let (_, page) = app.page(&c, &format!("/practice/offers/{id}/cancel")).await;
    assert!(page.contains("Withdraw the offer"), "{page}");
    let (s, page, _) = app.post_form(&c, "/practice/pending", &format!("/practice/offers/{id}/cancel"), &[]).await;
    assert!(s == StatusCode::OK && page.contains("The offer was withdrawn"), "{s} {page}");
    assert_eq!(events(app, "offer.cancelled").await, 1);
    let (s, _) = api(app, "DELETE", &format!("/api/v1/practice/offers/{id}"), &ann, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "already withdrawn");
    let pat = token(app, "pat", 1003).await;
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{id}/accept"), &pat, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(affiliations_of(app, w.pat).await, 1);
    w.app.stop().await;
}
both!(inviting_an_existing_account_attaches_nothing);

async fn the_person_accepts_or_declines_on_the_pages(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    let bob = token(app, "bob", 1002).await;
    invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    invite(app, &bob, "Kim", "kim@example.org", w.cedar).await;

    // Pat (who has a practice) sees a notice at home, then the offer, and accepts it.
    let c = app.signed_in_browser("pat", 1003).await;
    let (_, home) = app.page(&c, "/").await;
    assert!(home.contains("A practice asked") && home.contains("/offers"), "{home}");
    let (s, page) = app.page(&c, "/offers").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Lakeside Family Medicine") && page.contains("Ann Carter") && page.contains("Billing Staff"));
    let id = offer_id(app, w.pat).await;
    let (s, _, loc) = app.post_form(&c, "/offers", &format!("/offers/{id}/accept"), &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.starts_with("/?linked="), "{loc}");
    let (_, home) = app.page(&c, &loc).await;
    assert!(home.contains("Your account is now linked to Lakeside Family Medicine"), "{home}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND practice_id = {} AND is_admin = 0 AND user_type = 'billing_staff'",
            w.pat.0, w.lakeside
        ))
        .await,
        1
    );
    assert_eq!(events(app, "offer.accepted").await, 1);
    // Now (and only now) Pat is in Ann's directory.
    let (s, _) = api(app, "GET", &format!("/api/v1/practice/users/{}", w.pat.0), &ann, None).await;
    assert_eq!(s, StatusCode::OK);
    let (_, made) = api(app, "GET", "/api/v1/practice/offers", &ann, None).await;
    assert_eq!(made[0]["status"], "accepted");

    // Kim has no practice: home takes her to her offer; she declines after a confirmation.
    let k = app.signed_in_browser("kim", 1004).await;
    let r = k.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/offers"));
    let id = offer_id(app, w.kim).await;
    let (_, page) = app.page(&k, &format!("/offers/{id}/decline")).await;
    assert!(page.contains("Decline the offer of Cedar Valley Pediatrics?"), "{page}");
    let (s, _, loc) = app.post_form(&k, "/offers", &format!("/offers/{id}/decline"), &[]).await;
    let loc = loc.unwrap_or_default();
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "/offers?done=declined"));
    let (_, page) = app.page(&k, &loc).await;
    assert!(page.contains("You declined the offer") && page.contains("No offers are waiting"), "{page}");
    assert_eq!(affiliations_of(app, w.kim).await, 0);
    assert_eq!(events(app, "offer.declined").await, 1);
    let (_, made) = api(app, "GET", "/api/v1/practice/offers", &bob, None).await;
    assert_eq!(made[0]["status"], "declined");
    // Answered offers are gone: a second post is refused and changes nothing.
    let (s, _, _) = app.post_form(&k, "/offers", &format!("/offers/{id}/accept"), &[]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(affiliations_of(app, w.kim).await, 0);
    // Someone else's offer reads as not found.
    let pat_offer = offer_id(app, w.pat).await;
    let (s, _) = app.page(&k, &format!("/offers/{pat_offer}/decline")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    w.app.stop().await;
}
both!(the_person_accepts_or_declines_on_the_pages);

async fn the_person_answers_over_the_api_and_only_their_own(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await;
    let pat = token(app, "pat", 1003).await;
    let kim = token(app, "kim", 1004).await;
    let (s, list) = api(app, "GET", "/api/v1/me/offers", &pat, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        (list[0]["practice_name"].clone(), list[0]["all_providers"].clone()),
        (json!("Lakeside Family Medicine"), json!(true))
    );
    let mine = list[0]["id"].as_i64().unwrap();
    let kims = offer_id(app, w.kim).await;

    // Kim's offer through Pat's session: not found, for accept and decline alike; nothing changes.
    for action in ["accept", "decline"] {
        let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{kims}/{action}"), &pat, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{action}: {v}");
    }
    let (s, _) = api(app, "POST", "/api/v1/me/offers/999999/accept", &pat, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers WHERE status = 'pending'").await, 2);

    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{mine}/accept"), &pat, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let aid = v["affiliation_id"].as_i64().unwrap();
    let (_, linked) = api(app, "GET", "/api/v1/me/affiliations", &pat, None).await;
    assert!(linked.to_string().contains(&format!("\"id\":{aid}")), "{linked}");
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{mine}/accept"), &pat, None).await;
    assert_eq!((s, v["error"]["code"].clone()), (StatusCode::CONFLICT, json!("already_answered")));

    let (s, _) = api(app, "POST", &format!("/api/v1/me/offers/{kims}/decline"), &kim, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api(app, "POST", &format!("/api/v1/me/offers/{kims}/accept"), &kim, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(affiliations_of(app, w.kim).await, 0);
    let (_, doc) = api(app, "GET", "/api/v1/openapi.json", &kim, None).await;
    for p in [
        "/api/v1/me/offers",
        "/api/v1/me/offers/{id}/accept",
        "/api/v1/me/offers/{id}/decline",
        "/api/v1/practice/offers",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from the OpenAPI document");
    }
    assert!(doc.to_string().contains("offered"), "the invite result documents `offered`");
    w.app.stop().await;
}
both!(the_person_answers_over_the_api_and_only_their_own);

async fn two_accepts_at_once_make_one_affiliation(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    let pat = token(app, "pat", 1003).await;
    let id = offer_id(app, w.pat).await;
    let path = format!("/api/v1/me/offers/{id}/accept");
    let (a, b) = tokio::join!(api(app, "POST", &path, &pat, None), api(app, "POST", &path, &pat, None));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{a:?} {b:?}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND practice_id = {}",
            w.pat.0, w.lakeside
        ))
        .await,
        1
    );
    assert_eq!(events(app, "offer.accepted").await, 1);
    w.app.stop().await;
}
both!(two_accepts_at_once_make_one_affiliation);

async fn an_offer_is_void_once_its_administrator_is_not_one_and_expires(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    invite(app, &ann, "Pat", "pat@example.org", w.lakeside).await;
    invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await;
    let pat = token(app, "pat", 1003).await;

    // Pat's offer is void once Ann no longer administers Lakeside.
    app.sql(&format!("UPDATE affiliations SET is_admin = 0 WHERE user_id = {}", w.ann.0)).await;
    let pats = offer_id(app, w.pat).await;
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{pats}/accept"), &pat, None).await;
    assert_eq!((s, v["error"]["code"].clone()), (StatusCode::CONFLICT, json!("offer_void")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no longer an administrator"), "{v}");
    assert_eq!(affiliations_of(app, w.pat).await, 1, "only Cedar");
    let cancelled = format!("SELECT COUNT(*) FROM affiliation_offers WHERE id = {pats} AND status = 'cancelled'");
    assert_eq!(app.count(&cancelled).await, 1);
    assert_eq!(events(app, "offer.voided").await, 1);
    let (_, list) = api(app, "GET", "/api/v1/me/offers", &pat, None).await;
    assert_eq!(list, json!([]));

    // Kim waits too long: 7 days after it was made the offer has expired.
    app.sql(&format!("UPDATE affiliations SET is_admin = 1 WHERE user_id = {}", w.ann.0)).await;
    app.advance(Duration::days(7));
    let kim = token(app, "kim", 1004).await;
    let kims = offer_id(app, w.kim).await;
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{kims}/accept"), &kim, None).await;
    assert_eq!((s, v["error"]["code"].clone()), (StatusCode::GONE, json!("offer_expired")), "{v}");
    assert_eq!(affiliations_of(app, w.kim).await, 0);
    let expired = format!("SELECT COUNT(*) FROM affiliation_offers WHERE id = {kims} AND status = 'expired'");
    assert_eq!(app.count(&expired).await, 1);
    // An expired offer does not block a new one.
    let ann = token(app, "ann", 1001).await;
    assert_eq!(invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await["offered"], true);
    w.app.stop().await;
}
both!(an_offer_is_void_once_its_administrator_is_not_one_and_expires);

async fn an_invited_account_answers_after_signing_up(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    // Someone invited Maria without a practice (e.g. plan staff); Ann then invites the same email.
    let link = path_of(&app.invite("Maria", "Lopez", "maria@clinic.example").await);
    let ann = token(app, "ann", 1001).await;
    let r = invite(app, &ann, "Maria", "maria@clinic.example", w.lakeside).await;
    assert_eq!(r["offered"], true, "{r}");
    let maria: i64 = app.count("SELECT id FROM users WHERE email = 'maria@clinic.example'").await;
    assert_eq!(affiliations_of(app, UserId(maria)).await, 0);
    let m = app.last_message_to("maria@clinic.example").await.unwrap();
    assert_eq!(m.kind, "affiliation_offer.v1");
    assert!(m.body_text.contains("finish signing up"), "{}", m.body_text);
    assert!(
        app.count("SELECT COUNT(*) FROM invitations WHERE used_at IS NULL AND cancelled_at IS NULL").await == 1,
        "her link still works"
    );

    // She signs up with her own link, and the home page takes her to the offer.
    let c = app.browser();
    let token_value = link.split("token=").nth(1).unwrap().to_owned();
    let (_, html) = app.page(&c, &link).await;
    let r = c
        .post(app.url("/signup"))
        .form(&[
            ("csrf_token", csrf(&html).as_str()),
            ("token", &token_value),
            ("username", "mlopez"),
            ("password", TEST_PASSWORD),
            ("confirm_password", TEST_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.submit(
        &c,
        "/two-step/setup",
        "/two-step/setup",
        &[("action", "send"), ("country_code", "1"), ("phone", "206-555-0199"), ("method", "text")],
    )
    .await;
    let code = app.last_code("+12065550199").await;
    app.submit(&c, "/two-step/setup", "/two-step/setup", &[("action", "verify"), ("code", &code)]).await;
    app.submit(&c, "/terms", "/terms", &[("version", "1"), ("first_name", "Maria"), ("last_name", "Lopez")]).await;
    let r = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/offers"));
    let (_, page) = app.page(&c, "/offers").await;
    assert!(page.contains("Lakeside Family Medicine"), "{page}");
    let id = offer_id(app, UserId(maria)).await;
    let (s, _, loc) = app.post_form(&c, "/offers", &format!("/offers/{id}/accept"), &[]).await;
    let loc = loc.unwrap_or_default();
    assert!(s == StatusCode::SEE_OTHER && loc.starts_with("/?linked="), "{s} {loc}");
    assert_eq!(affiliations_of(app, UserId(maria)).await, 1);
    w.app.stop().await;
}
both!(an_invited_account_answers_after_signing_up);

async fn re_adding_someone_you_invited_points_to_resend(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    let r = invite(app, &ann, "Zoe", "zoe@clinic.example", w.lakeside).await;
    assert_eq!((r["new_account"].clone(), r["offered"].clone()), (json!(true), json!(false)));
    // The invite page warns before adding her to a list again, with the way to Resend.
    let c = app.signed_in_browser("ann", 1001).await;
    let (_, form) = app.page(&c, "/practice/invite").await;
    let practice = w.lakeside.to_string();
    let fields = [
        ("csrf_token", csrf(&form)),
        ("first_name", "Zoe".into()),
        ("last_name", "Person".into()),
        ("email", "zoe@clinic.example".into()),
        ("email_confirm", "zoe@clinic.example".into()),
        ("practice", practice),
        ("user_type", "billing_staff".into()),
        ("scope", "all".into()),
        ("action", "add".into()),
    ];
    let page = c.post(app.url("/practice/invite")).form(&fields).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Already invited") && page.contains("Resend") && page.contains("/practice/pending\""),
        "{page}"
    );
    assert!(!page.contains("A portal account already uses this email"), "{page}");
    // Sent anyway, the row says the same, and nothing changes.
    let again = invite(app, &ann, "Zoe", "zoe@clinic.example", w.lakeside).await;
    assert!(again["error"].as_str().unwrap().starts_with("Already invited"), "{again}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'zoe@clinic.example'").await, 1);
    let _ = (w.cedar, w.kim);
    w.app.stop().await;
}
both!(re_adding_someone_you_invited_points_to_resend);

/// In headless Chromium, with the accessibility checks of `browser.rs` on every page: Kim (no
/// practice yet) signs in and lands on her two offers, declines one after its confirmation and
/// accepts the other, which takes her home linked to that practice.
async fn offers_in_a_browser(backend: Backend) {
    use crate::browser::{Browser, Journey, backend_name, click, code_from_outbox, css, type_into, wait_h1};
    let Some(w) = world(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    let bob = token(app, "bob", 1002).await;
    invite(app, &bob, "Kim", "kim@example.org", w.cedar).await;
    invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await;
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "offers", backend: backend_name(backend), step: 0 };

    c.goto(&format!("{base}/signin")).await.expect("open sign-in");
    wait_h1(c, "Sign in").await;
    type_into(c, "#username", "kim").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let code = code_from_outbox(c, &base, "+12065551004").await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Offers to join a practice").await;
    j.page("list").await;

    click(c, "//main", "Decline the offer of Cedar Valley Pediatrics").await;
    wait_h1(c, "Decline the offer of Cedar Valley Pediatrics?").await;
    j.page("decline-confirm").await;
    click(c, "//main", "Decline the offer").await;
    wait_h1(c, "Offers to join a practice").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("You declined the offer") && !text.contains("Cedar Valley Pediatrics"), "{text}");
    j.page("declined").await;

    click(c, "//main", "Accept the offer of Lakeside Family Medicine").await;
    wait_h1(c, "Welcome, Kim Ito").await;
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("Your account is now linked to Lakeside Family Medicine"), "{text}");
    j.page("accepted").await;
    assert_eq!(affiliations_of(app, w.kim).await, 1);
    browser.close().await;
    w.app.stop().await;
}
both!(offers_in_a_browser);

/// Adds a practice with `admin` (if any) as its administrator; returns its id.
async fn add_practice(app: &TestApp, tin: &str, name: &str, admin: Option<UserId>) -> i64 {
    let plan = app.plan.id().0;
    app.sql(&format!(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ({plan}, '{tin}', '{name}', '2 Main St', '', 'Seattle', 'WA', '98101', '', 0)"
    ))
    .await;
    let id = app.count(&format!("SELECT id FROM practices WHERE tax_id = '{tin}'")).await;
    if let Some(a) = admin {
        link(app, a, id, 1).await;
    }
    id
}

/// Gives `user` an affiliation with `practice` as billing staff (administrator if `admin` is 1).
async fn link(app: &TestApp, user: UserId, practice: i64, admin: i64) {
    app.sql(&format!(
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
         VALUES ({}, {}, {practice}, 'billing_staff', {admin}, 1, 0)",
        app.plan.id().0,
        user.0
    ))
    .await;
}

/// The security review's attack: Ann points an account she controls (Mallory, Lakeside only) at
/// Dana's address. That address was never proven, so it routes nobody's invitation to Mallory:
/// Bob's invitation of Dana makes Dana an account of her own, and Mallory is offered nothing.
async fn an_address_an_administrator_set_routes_no_invitation(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let mallory = app.user("mallory", "Mal", "Lory", 1009, None).await;
    link(app, mallory, w.lakeside, 0).await;
    let ann = token(app, "ann", 1001).await;
    let dana = "dana@cedar.example";
    let (s, v) = api(
        app,
        "PATCH",
        &format!("/api/v1/practice/users/{}", mallory.0),
        &ann,
        Some(json!({"email": dana, "email_confirm": dana, "first_name": "Dana", "last_name": "Ng"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let marked = format!("SELECT COUNT(*) FROM users WHERE id = {} AND email_set_by_other_at IS NOT NULL", mallory.0);
    assert_eq!(app.count(&marked).await, 1);

    let bob = token(app, "bob", 1002).await;
    let r = invite(app, &bob, "Dana", dana, w.cedar).await;
    assert_eq!(
        (r["ok"].clone(), r["new_account"].clone(), r["offered"].clone()),
        (json!(true), json!(true), json!(false))
    );
    assert_ne!(r["user_id"], json!(mallory.0), "{r}");
    let m = token(app, "mallory", 1009).await;
    let (s, offers) = api(app, "GET", "/api/v1/me/offers", &m, None).await;
    assert_eq!((s, offers.as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{offers}");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM affiliation_offers WHERE user_id = {}", mallory.0)).await, 0);
    assert_eq!(affiliations_of(app, mallory).await, 1, "still only Lakeside");
    // Dana's own invitation reached her address, for a new account of Cedar's.
    let mail = app.last_message_to(dana).await.expect("Dana's invitation");
    assert!(mail.body_text.contains("/signup?token="), "{}", mail.body_text);

    // It was the mark that kept her out: an address its owner proved (here, as if Mallory had
    // opened a link sent to it) routes the next invitation to her active account.
    app.sql(&format!("UPDATE users SET email_set_by_other_at = NULL, email_verified_at = 1 WHERE id = {}", mallory.0))
        .await;
    let r = invite(app, &bob, "Dana", dana, w.cedar).await;
    assert_eq!(r["offered"], true, "{r}");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM affiliation_offers WHERE user_id = {}", mallory.0)).await, 1);
    w.app.stop().await;
}
both!(an_address_an_administrator_set_routes_no_invitation);

/// An offer is made to whoever reads the address it was emailed to: if the account's address
/// changes before the person answers, the offer is void; the administrator's list keeps showing
/// the address it went to.
async fn an_offer_dies_with_the_address_it_was_sent_to(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    let r = invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await;
    assert_eq!(r["offered"], true, "{r}");
    let id = offer_id(app, w.kim).await;
    app.sql(&format!(
        "UPDATE users SET email = 'kim.ito@elsewhere.example', email_lower = 'kim.ito@elsewhere.example' WHERE id = {}",
        w.kim.0
    ))
    .await;
    let (_, made) = api(app, "GET", "/api/v1/practice/offers", &ann, None).await;
    assert_eq!(made[0]["email"], "kim@example.org", "{made}");
    let kim = token(app, "kim", 1004).await;
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{id}/accept"), &kim, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no longer has"), "{v}");
    assert_eq!(affiliations_of(app, w.kim).await, 0);
    let voided = "SELECT COUNT(*) FROM audit_events WHERE action = 'offer.voided' AND detail LIKE '%address_changed%'";
    assert_eq!(app.count(voided).await, 1);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM affiliation_offers WHERE id = {id} AND status = 'cancelled'")).await,
        1
    );
    w.app.stop().await;
}
both!(an_offer_dies_with_the_address_it_was_sent_to);

/// An invited account's sign-up links went to its address: when its administrator corrects the
/// address, those links die and a new one goes to the new address. Whoever read the old mailbox
/// cannot sign up as this person, and their sign-up would otherwise have "proven" an address
/// nobody proved.
async fn an_invitees_old_link_dies_when_the_address_is_corrected(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    let r = invite(app, &ann, "Dana", "dana@typo.example", w.lakeside).await;
    let user = r["user_id"].as_i64().expect("a new account");
    let old = crate::support::link_in(&app.last_message_to("dana@typo.example").await.unwrap().body_text).unwrap();
    let old_token = old.split("token=").nth(1).unwrap().to_owned();
    let dana = "dana@cedar.example";
    let (s, v) = api(
        app,
        "PATCH",
        &format!("/api/v1/practice/users/{user}"),
        &ann,
        Some(json!({"email": dana, "email_confirm": dana})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let signup = |t: &str| json!({"token": t, "username": "dana.ng", "password": TEST_PASSWORD, "confirm_password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(signup(&old_token))).await;
    assert!(s.is_client_error(), "the link sent to the old address is dead: {s} {v}");
    // The old address is not told the new one (nobody proved it was this person's).
    let to_old = app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'dana@typo.example'").await;
    assert_eq!(to_old, 1, "only the first invitation went there");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {user} AND status = 'invited'")).await, 1);
    // Corrected once more on the page: the administrator is told what happened to the link.
    let c = app.signed_in_browser("ann", 1001).await;
    let edit = format!("/practice/users/{user}/edit");
    let dana = "dana.ng@cedar.example";
    let fields = [
        ("first_name", "Dana"),
        ("middle_name", ""),
        ("last_name", "Person"),
        ("email", dana),
        ("email_confirm", dana),
        ("mobile_phone", ""),
        ("office_phone", ""),
        ("fax", ""),
        ("street", ""),
        ("city", ""),
        ("state", ""),
        ("zip", ""),
    ];
    let (s, html, loc) = app.post_form(&c, &edit, &edit, &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
    let (_, page) = app.page(&c, &loc.unwrap()).await;
    assert!(page.contains("a new sign-up link went to their new email address"), "{page}");
    // The newest address got a link of its own, which signs up and proves that address.
    let new = crate::support::link_in(&app.last_message_to(dana).await.expect("a new link").body_text).unwrap();
    assert!(new.contains("/signup?token="), "{new}");
    let (s, v) = app.call("POST", "/api/v1/signup", None, Some(signup(new.split("token=").nth(1).unwrap()))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let proven = format!(
        "SELECT COUNT(*) FROM users WHERE id = {user} AND email_lower = '{dana}' AND email_verified_at IS NOT NULL \
         AND email_set_by_other_at IS NULL"
    );
    assert_eq!(app.count(&proven).await, 1);
    let edited = "SELECT COUNT(*) FROM audit_events WHERE action = 'user.information_edited' \
                  AND detail LIKE '%sent again to the new address%'";
    assert_eq!(app.count(edited).await, 2);
    w.app.stop().await;
}
both!(an_invitees_old_link_dies_when_the_address_is_corrected);

/// An invitation is the administrator's only while they administer a practice the invitee works
/// for: a former administrator of Lakeside (still administering another practice) no longer sees,
/// resends or cancels it, and the invitee's link keeps working.
async fn a_former_administrator_loses_their_invitations(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    add_practice(app, "533201944", "Lakeside North", Some(w.ann)).await;
    let ann = token(app, "ann", 1001).await;
    let r = invite(app, &ann, "Zoe", "zoe@clinic.example", w.lakeside).await;
    let zoe = r["user_id"].as_i64().expect("a new account");
    let link = crate::support::link_in(&app.last_message_to("zoe@clinic.example").await.unwrap().body_text).unwrap();
    let (_, listed) = api(app, "GET", "/api/v1/practice/invitations", &ann, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // Lakeside takes Ann's administrator role away (she keeps Lakeside North).
    app.sql(&format!(
        "UPDATE affiliations SET is_admin = 0 WHERE user_id = {} AND practice_id = {}",
        w.ann.0, w.lakeside
    ))
    .await;
    let ann = token(app, "ann", 1001).await;
    let (_, listed) = api(app, "GET", "/api/v1/practice/invitations", &ann, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    let sent = app.count("SELECT COUNT(*) FROM outbox").await;
    let (s, _) = api(app, "POST", &format!("/api/v1/practice/invitations/{zoe}/resend"), &ann, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api(app, "DELETE", &format!("/api/v1/practice/invitations/{zoe}"), &ann, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, sent, "nothing was sent");
    assert_eq!(affiliations_of(app, UserId(zoe)).await, 1, "Zoe keeps Lakeside");
    let token = link.split("token=").nth(1).unwrap();
    let (s, v) = app.call("POST", "/api/v1/invitations/check", None, Some(json!({"token": token}))).await;
    assert_eq!(s, StatusCode::OK, "the link still works: {v}");
    w.app.stop().await;
}
both!(a_former_administrator_loses_their_invitations);

/// A deactivated account is a person's account too: its administrator cannot attach another Tax
/// ID to it (it would hold a practice nobody accepted once reactivated).
async fn a_deactivated_account_is_given_no_tax_id(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let north = add_practice(app, "533201944", "Lakeside North", Some(w.ann)).await;
    let sam = app.user("sam", "Sam", "Ruiz", 1010, None).await;
    link(app, sam, w.lakeside, 0).await;
    app.sql(&format!("UPDATE users SET status = 'deactivated' WHERE id = {}", sam.0)).await;
    let ann = token(app, "ann", 1001).await;
    let (s, v) = api(
        app,
        "POST",
        &format!("/api/v1/practice/users/{}/affiliations", sam.0),
        &ann,
        Some(json!({"practice_id": north, "user_type": "billing_staff", "all_providers": true})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("deactivated"), "{v}");
    assert_eq!(affiliations_of(app, sam).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliation_offers").await, 0);
    w.app.stop().await;
}
both!(a_deactivated_account_is_given_no_tax_id);

/// "This username is taken" tells whether a name exists anywhere in the plan: an administrator
/// renaming their own user gets ten such answers an hour (each audited), then none, and no
/// rename at all, so that renaming cannot list the plan's usernames.
async fn renaming_cannot_list_the_plans_usernames(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let sam = app.user("sam", "Sam", "Ruiz", 1010, None).await;
    link(app, sam, w.lakeside, 0).await;
    let ann = token(app, "ann", 1001).await;
    let rename = |name: &'static str| {
        let path = format!("/api/v1/practice/users/{}", sam.0);
        let ann = ann.clone();
        async move { api(app, "PATCH", &path, &ann, Some(json!({"username": name}))).await }
    };
    for _ in 0..10 {
        let (s, v) = rename("priya").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("taken"), "{v}");
    }
    assert_eq!(events(app, "user.rename_refused").await, 10);
    for name in ["pat", "sam.ruiz"] {
        let (s, v) = rename(name).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("too many"), "{name}: {v}");
    }
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {} AND username = 'sam'", sam.0)).await, 1);
    // An hour later, renaming works again.
    app.advance(Duration::hours(1));
    let ann = token(app, "ann", 1001).await;
    let (s, v) =
        api(app, "PATCH", &format!("/api/v1/practice/users/{}", sam.0), &ann, Some(json!({"username": "sam.ruiz"})))
            .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    w.app.stop().await;
}
both!(renaming_cannot_list_the_plans_usernames);

/// A person who proves a new address of their own keeps the offers waiting for them: an offer
/// is void only when someone else changes the address.
async fn an_offer_follows_its_person_to_an_address_they_proved(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let ann = token(app, "ann", 1001).await;
    invite(app, &ann, "Kim", "kim@example.org", w.lakeside).await;
    let id = offer_id(app, w.kim).await;
    let kim = token(app, "kim", 1004).await;
    let (s, v) = api(
        app,
        "POST",
        "/api/v1/me/profile/confirm-password",
        &kim,
        Some(json!({"username": "kim", "password": TEST_PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code("+12065551004").await;
    let (s, v) = api(app, "POST", "/api/v1/me/profile/verify-code", &kim, Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let new = "kim.ito@clinic.example";
    let (s, v) =
        api(app, "POST", "/api/v1/me/profile/email", &kim, Some(json!({"email": new, "email_confirm": new}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let link = crate::support::link_in(&app.last_message_to(new).await.expect("link").body_text).unwrap();
    let t = link.split("token=").nth(1).unwrap();
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": t}))).await;
    assert!(s.is_success(), "{s} {v}");
    let (s, v) = api(app, "POST", &format!("/api/v1/me/offers/{id}/accept"), &kim, None).await;
    assert!(s.is_success(), "{s} {v}");
    assert_eq!(affiliations_of(app, w.kim).await, 1);
    w.app.stop().await;
}
both!(an_offer_follows_its_person_to_an_address_they_proved);

/// An address an administrator set is the person's to prove: once they confirm it from My
/// Profile (the same address again), invitations to it reach their account again.
async fn a_person_proves_an_address_their_administrator_set(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let app = &w.app;
    let sam = app.user("sam", "Sam", "Ruiz", 1010, None).await;
    link(app, sam, w.lakeside, 0).await;
    let ann = token(app, "ann", 1001).await;
    let new = "sam.ruiz@lakeside.example";
    let (s, v) = api(
        app,
        "PATCH",
        &format!("/api/v1/practice/users/{}", sam.0),
        &ann,
        Some(json!({"email": new, "email_confirm": new})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let t = token(app, "sam", 1010).await;
    let (s, v) = api(
        app,
        "POST",
        "/api/v1/me/profile/confirm-password",
        &t,
        Some(json!({"username": "sam", "password": TEST_PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code("+12065551010").await;
    api(app, "POST", "/api/v1/me/profile/verify-code", &t, Some(json!({"code": code}))).await;
    let (s, v) =
        api(app, "POST", "/api/v1/me/profile/email", &t, Some(json!({"email": new, "email_confirm": new}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "the same, unproven address may be proven: {v}");
    let link = crate::support::link_in(&app.last_message_to(new).await.expect("link").body_text).unwrap();
    let token_ = link.split("token=").nth(1).unwrap();
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": token_}))).await;
    assert!(s.is_success(), "{s} {v}");
    let proven = format!(
        "SELECT COUNT(*) FROM users WHERE id = {} AND email_set_by_other_at IS NULL AND email_verified_at IS NOT NULL",
        sam.0
    );
    assert_eq!(app.count(&proven).await, 1);
    // Proven now, the same address again is refused as before.
    let (s, _) =
        api(app, "POST", "/api/v1/me/profile/email", &t, Some(json!({"email": new, "email_confirm": new}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Cedar's invitation of that address is an offer to Sam's account.
    let bob = token(app, "bob", 1002).await;
    let r = invite(app, &bob, "Sam", new, w.cedar).await;
    assert_eq!(r["offered"], true, "{r}");
    w.app.stop().await;
}
both!(a_person_proves_an_address_their_administrator_set);
