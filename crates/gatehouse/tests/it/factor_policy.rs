//! The plan's factor policy (issue 19): which factors people may add, and who must sign in with
//! an authenticator app or a passkey. Staff (and, when the plan says so, practice
//! administrators) without one are sent to add one after the phone's code and reach nothing else
//! until they do; with one, no text is sent and a texted code is refused; their last strong
//! factor cannot be removed; with the rules off, sign-in is as before.

use crate::authenticator_app::{app_from, code_now};
use crate::both;
use crate::support::authenticator::TestPasskey;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

const STAFF_PHONE: &str = "+12065551001";
const ADMIN_PHONE: &str = "+12065551002";

async fn texts_to(app: &TestApp, phone: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{phone}'")).await
}

async fn password_step(app: &TestApp, username: &str) -> (String, Value) {
    let body = json!({"username": username, "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/signin", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["session_token"].as_str().expect("token").to_owned(), v)
}

/// Password, then the texted code: the session token and its next step.
async fn password_and_text(app: &TestApp, username: &str, phone: &str) -> (String, Value) {
    let (t, v) = password_step(app, username).await;
    assert_eq!(v["code_sent"], true, "{v}");
    assert_eq!(v["strong_factor_only"], false, "{v}");
    let code = app.last_code(phone).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["session_token"].as_str().expect("token").to_owned(), v)
}

fn audit_detail(rows: &[String], field: &str) -> Option<Value> {
    rows.iter().filter_map(|d| serde_json::from_str::<Value>(d).ok()).find_map(|v| v.get(field).cloned())
}

async fn settings_refuse_a_rule_nobody_can_meet_and_audit_changes(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1009, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1009).await;
    let (s, page) = app.page(&c, "/admin/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Second factors") && page.contains("Text codes are always allowed"), "{page}");
    assert!(page.contains("Plan staff must use an app or passkey"));

    let save = |changes: &'static [(&'static str, &'static str)]| {
        let mut fields: Vec<(String, String)> =
            gatehouse_services::settings::raw_from(&app.plan.row).into_iter().collect();
        for (k, v) in &mut fields {
            if let Some((_, new)) = changes.iter().find(|(n, _)| *n == k.as_str()) {
                *v = (*new).to_owned();
            }
        }
        fields
    };
    // Apps and passkeys both off while staff must use one: refused beside the field, nothing changed.
    let fields = save(&[("app_allowed", "off"), ("passkeys_allowed", "off"), ("staff_strong_factor", "on")]);
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, page) = app.submit(&c, "/admin/settings", "/admin/settings", &body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"staff_strong_factor-error\"") && page.contains("neither is allowed"), "{page}");
    let q = format!(
        "SELECT COUNT(*) FROM plans WHERE id = {} AND app_allowed = 1 AND passkeys_allowed = 1 AND staff_strong_factor = 0",
        app.plan.id().0
    );
    assert_eq!(app.count(&q).await, 1, "nothing changed");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.settings_changed'").await, 0);

    // A valid change is saved and audited with old and new values.
    let fields = save(&[("voice_allowed", "off"), ("admin_strong_factor", "on")]);
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, page) = app.submit(&c, "/admin/settings", "/admin/settings", &body).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'plan.settings_changed'")
            .fetch_all(app.running.services.db.pool())
            .await
            .expect("audit");
    assert_eq!(audit_detail(&rows, "admin_strong_factor"), Some(json!({"old": "off", "new": "on"})));
    assert_eq!(audit_detail(&rows, "voice_allowed"), Some(json!({"old": "on", "new": "off"})));
    app.stop().await;
}
both!(settings_refuse_a_rule_nobody_can_meet_and_audit_changes);

async fn staff_without_a_strong_factor_add_one_before_anything_else(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    app.user("pstaff", "Pat", "Staff", 1001, Some("plan_admin")).await;

    // The phone's code is the bridge, once: then the strong-factor step.
    let (t, v) = password_and_text(&app, "pstaff", STAFF_PHONE).await;
    assert_eq!(v["next"], "strong_factor_setup", "{v}");
    // Nothing else answers meanwhile: the staff API, the profile API, the session list.
    for path in ["/api/v1/reviews", "/api/v1/me", "/api/v1/me/authenticator", "/api/v1/sessions"] {
        let (s, v) = app.call("GET", path, Some(&t), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {v}");
    }
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/complete", Some(&t), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("no_strong_factor")), "{v}");
    let (s, v) = app.call("GET", "/api/v1/two-step/strong", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["app_allowed"].as_bool(), v["passkeys_allowed"].as_bool(), v["done"].as_bool()),
        (Some(true), Some(true), Some(false))
    );

    // An app, with no profile confirmation (both factors were just proven).
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/app", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let auth = app_from(v["secret"].as_str().expect("secret"));
    let (s, v) =
        app.call("POST", "/api/v1/two-step/strong/app/confirm", Some(&t), Some(json!({"code": "000000"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let code = code_now(&app, &auth);
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/app/confirm", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["recovery_codes"].as_array().map(Vec::len), Some(10), "{v}");
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/complete", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete", "{v}");
    assert!(v["recovery_codes"].is_null(), "made with the app already: {v}");
    let done = v["session_token"].as_str().expect("token").to_owned();
    let (s, v) = app.call("GET", "/api/v1/reviews", Some(&done), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.strong_factor_set'").await, 1);

    // Next sign-in: the app is asked for, nothing is texted, and no text can be asked for.
    app.advance(Duration::seconds(31));
    let texts = texts_to(&app, STAFF_PHONE).await;
    let (t, v) = password_step(&app, "pstaff").await;
    assert_eq!((v["app_code"].as_bool(), v["strong_factor_only"].as_bool()), (Some(true), Some(true)), "{v}");
    let (s, v) = app.call("POST", "/api/v1/two-step/resend", Some(&t), Some(json!({"method": "text"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("strong_factor_required")), "{v}");
    assert_eq!(texts_to(&app, STAFF_PHONE).await, texts, "no text is sent to a required user with an app");
    // The last texted code does not sign in (it is checked against the app, and refused).
    let old = app.last_code(STAFF_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": old}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let code = code_now(&app, &auth);
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete", "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();

    // The app is the only strong factor: removing it is refused.
    let body = json!({"username": "pstaff", "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.advance(Duration::seconds(31));
    let code = code_now(&app, &auth);
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.call("DELETE", "/api/v1/me/authenticator", Some(&t), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("strong_factor_required")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("add another before removing"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps WHERE confirmed_at IS NOT NULL").await, 1);

    // With the rule off, the same staff account may remove it and falls back to the phone.
    app.set_factor_policy(&[("staff_strong_factor", "off")]).await;
    let (s, v) = app.call("DELETE", "/api/v1/me/authenticator", Some(&t), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let texts = texts_to(&app, STAFF_PHONE).await;
    let (_, v) = password_and_text(&app, "pstaff", STAFF_PHONE).await;
    assert_eq!(v["next"], "complete", "{v}");
    assert_eq!(texts_to(&app, STAFF_PHONE).await, texts + 1);
    app.stop().await;
}
both!(staff_without_a_strong_factor_add_one_before_anything_else);

async fn staff_enrol_through_the_pages_and_reach_nothing_before(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    app.user("pstaff", "Pat", "Staff", 1001, Some("plan_admin")).await;
    let c = app.browser();
    let (_, page) = app.page(&c, "/signin").await;
    let r = c
        .post(app.url("/signin"))
        .form(&[("csrf_token", csrf(&page).as_str()), ("username", "pstaff"), ("password", TEST_PASSWORD)])
        .send()
        .await
        .expect("signin");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let code = app.last_code(STAFF_PHONE).await;
    let (s, _, loc) =
        app.post_form(&c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/strong")));
    for path in ["/", "/admin", "/admin/settings", "/profile", "/profile/authenticator", "/terms"] {
        let (s, _, loc) = app.visit(&c, path).await;
        assert!(s.is_redirection(), "{path}: {s}");
        assert_eq!(loc.as_deref(), Some("/two-step/strong"), "{path}");
    }
    let (s, page) = app.page(&c, "/two-step/strong").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Your plan requires an authenticator app or a passkey for your account. Add one to continue."),
        "{page}"
    );
    assert!(page.contains("Add a passkey") && page.contains("data-options=\"/two-step/strong/passkey/options\""));
    let (s, page) = app.submit(&c, "/two-step/strong", "/two-step/strong", &[("action", "app_start")]).await;
    assert_eq!(s, StatusCode::OK);
    let secret = page.split("id=\"totp-secret\">").nth(1).and_then(|r| r.split('<').next()).expect("secret shown");
    assert!(page.contains("<svg"), "QR code drawn on the server");
    let auth = app_from(secret);
    let code = code_now(&app, &auth);
    let (s, page) =
        app.submit(&c, "/two-step/strong", "/two-step/strong", &[("action", "app_confirm"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page.matches("<li><code>").count(), 10, "the recovery codes, once");
    let (s, _, loc) = app.post_form(&c, "/two-step/strong", "/two-step/strong", &[("action", "continue")]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (s, _) = app.page(&c, "/admin").await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(staff_enrol_through_the_pages_and_reach_nothing_before);

async fn practice_administrators_when_the_plan_says_so(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    let id = app.user("oadmin", "Olive", "Admin", 1002, None).await;
    app.affiliate(id).await;
    app.sql(&format!("UPDATE affiliations SET is_admin = 1 WHERE user_id = {}", id.0)).await;

    // Off by default: the old sign-in.
    let (_, v) = password_and_text(&app, "oadmin", ADMIN_PHONE).await;
    assert_eq!(v["next"], "complete", "{v}");

    app.set_factor_policy(&[("admin_strong_factor", "on")]).await;
    let (t, v) = password_and_text(&app, "oadmin", ADMIN_PHONE).await;
    assert_eq!(v["next"], "strong_factor_setup", "{v}");
    let (s, v) = app.call("GET", "/api/v1/practice/users", Some(&t), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");

    // A passkey this time: the recovery codes come with it (the first strong factor), once.
    let mut key = TestPasskey::new();
    let (s, o) =
        app.call("POST", "/api/v1/two-step/strong/passkey/options", Some(&t), Some(json!({"name": "Laptop"}))).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.register(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/passkey", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["recovery_codes"].as_array().map(Vec::len), Some(10), "{v}");
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/complete", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete", "{v}");
    assert!(v["recovery_codes"].is_null(), "made with the passkey already, not again: {v}");

    // Next sign-in: no text; a texted code is refused; the passkey signs in.
    let texts = texts_to(&app, ADMIN_PHONE).await;
    let (t, v) = password_step(&app, "oadmin").await;
    assert_eq!((v["app_code"].as_bool(), v["strong_factor_only"].as_bool()), (Some(false), Some(true)), "{v}");
    assert_eq!(texts_to(&app, ADMIN_PHONE).await, texts, "no text is sent");
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": "123456"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("strong_factor_required")), "{v}");
    let (s, v) = app.call("POST", "/api/v1/two-step/resend", Some(&t), Some(json!({"method": "voice"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(texts_to(&app, ADMIN_PHONE).await, texts, "no call either");
    let (s, o) = app.call("POST", "/api/v1/two-step/passkey/options", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/two-step/passkey", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "complete", "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();

    // The only passkey cannot be removed while the rule applies. Confirming it is you takes the
    // passkey too: nothing is texted.
    let body = json!({"username": "oadmin", "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["passkey"].as_bool(), v["send_code_allowed"].as_bool()), (Some(true), Some(false)), "{v}");
    assert_eq!(texts_to(&app, ADMIN_PHONE).await, texts, "no text to confirm it is you either");
    let (s, o) = app.call("POST", "/api/v1/me/profile/passkey/options", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/me/profile/passkey", Some(&t), Some(body)).await;
    assert_eq!((s, v["unlock"].as_str()), (StatusCode::OK, Some("open")), "{v}");
    let (_, keys) = app.call("GET", "/api/v1/me/passkeys", Some(&t), None).await;
    let kid = keys[0]["id"].as_i64().expect("id");
    let (s, v) = app.call("DELETE", &format!("/api/v1/me/passkeys/{kid}"), Some(&t), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("strong_factor_required")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);
    app.stop().await;
}
both!(practice_administrators_when_the_plan_says_so);

async fn disallowed_factors_are_not_offered_and_existing_ones_keep_working(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 1003, None).await;
    app.set_factor_policy(&[("app_allowed", "off"), ("passkeys_allowed", "off"), ("voice_allowed", "off")]).await;
    let t = app.api_session("ann", TEST_PASSWORD, "+12065551003").await;
    let body = json!({"username": "ann", "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = app.last_code("+12065551003").await;
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(&t), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_offered")), "{v}");
    let (s, v) = app.call("POST", "/api/v1/me/passkeys/options", Some(&t), Some(json!({"name": "Laptop"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_offered")), "{v}");
    let c = app.signed_in_browser("ann", 1003).await;
    let (_, page) = app.page(&c, "/profile/passkeys").await;
    assert!(page.contains("Your plan does not offer passkeys"), "{page}");
    // Voice calls: not offered to a phone set up for texts.
    let (t, _) = password_step(&app, "ann").await;
    let (s, v) = app.call("POST", "/api/v1/two-step/resend", Some(&t), Some(json!({"method": "voice"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_offered")), "{v}");
    app.stop().await;
}
both!(disallowed_factors_are_not_offered_and_existing_ones_keep_working);

async fn the_demo_plan_administrator_adds_an_app_or_passkey_first(backend: Backend) {
    let Some(mut app) = TestApp::start_demo(backend).await else { return };
    // `gatehouse demo` keeps the default (staff must use an app or passkey); the suite turns it off.
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    let body = json!({"username": "pshah", "password": "harbor violet meadow"});
    let (s, v) = app.call("POST", "/api/v1/signin", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["code_sent"], true, "the phone's code, once: {v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code("+12065550188").await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["next"], "strong_factor_setup", "{v}");
    app.stop().await;
}
both!(the_demo_plan_administrator_adds_an_app_or_passkey_first);
