//! "Confirm it's you" on My profile for people with a passkey (issue 19): after the password the
//! passkey is offered (a WebAuthn assertion bound to this session), nothing is texted; a recovery
//! code answers instead, once; someone the plan requires to use an app or passkey is never texted
//! (no code sent, `send-code` refused, a typed code refused); another user's passkey, another
//! session, a used or expired ceremony are refused. And "Make new recovery codes" from the page:
//! shown once, the old set stops working.

use crate::both;
use crate::passkeys::{call_at, options_by_form, register, unlock};
use crate::support::authenticator::TestPasskey;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ANN_PHONE: &str = "+12065550143";
const BOB_PHONE: &str = "+12065550144";
const STAFF_PHONE: &str = "+12065551001";

async fn texts_to(app: &TestApp, phone: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{phone}'")).await
}

/// The password step of confirming it is you, over the API; returns its answer.
async fn confirm_password(app: &TestApp, token: &str, username: &str) -> Value {
    let body = json!({"username": username, "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Asks for the reauth passkey options; returns status and answer.
async fn reauth_options(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.call("POST", "/api/v1/me/profile/passkey/options", Some(token), None).await
}

async fn reauth_answer(app: &TestApp, token: &str, ceremony: &Value, answer: &Value) -> (StatusCode, Value) {
    let body = json!({"ceremony": ceremony, "credential": answer});
    app.call("POST", "/api/v1/me/profile/passkey", Some(token), Some(body)).await
}

fn unlock_state(v: &Value) -> Option<&str> {
    v["unlock"].as_str()
}

async fn unlocked_with(app: &TestApp, factor: &str) -> i64 {
    let q = format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'profile.unlocked' AND detail LIKE '%\"factor\":\"{factor}\"%'"
    );
    app.count(&q).await
}

fn codes_of(v: &Value) -> Vec<String> {
    v["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_owned()).collect()
}

async fn a_passkey_user_confirms_with_the_passkey_not_a_text(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("bob", "Bob", "Ray", 144, None).await;
    let first = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(&app, &first, "ann", ANN_PHONE).await;
    let mut key = TestPasskey::new();
    register(&app, &mut key, &first, "Laptop").await;
    let bob = app.api_session("bob", TEST_PASSWORD, BOB_PHONE).await;
    unlock(&app, &bob, "bob", BOB_PHONE).await;
    let mut bobs_key = TestPasskey::new();
    register(&app, &mut bobs_key, &bob, "Bob's key").await;

    // A new session of Ann's: the password, then the passkey is offered and nothing is texted.
    let ann = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    let texts = texts_to(&app, ANN_PHONE).await;
    let (s, _) = reauth_options(&app, &ann).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no options before the password");
    let v = confirm_password(&app, &ann, "ann").await;
    assert_eq!(v["masked_phone"], "XXX-XXX-0143", "{v}");
    for (field, want) in [
        ("passkey", true),
        ("code_sent", false),
        ("code_from_app", false),
        ("recovery_code", true),
        ("send_code_allowed", true),
    ] {
        assert_eq!(v[field].as_bool(), Some(want), "{field}: {v}");
    }
    assert_eq!(texts_to(&app, ANN_PHONE).await, texts, "nothing is texted to a passkey user");
    let (s, p) = app.call("GET", "/api/v1/me/profile", Some(&ann), None).await;
    assert_eq!((s, unlock_state(&p)), (StatusCode::OK, Some("code")), "{p}");
    assert_eq!(p["second_steps"]["passkey"], true, "{p}");
    // The session whose profile is open already has nothing to confirm.
    let (s, v) = reauth_options(&app, &first).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")), "{v}");

    // The options allow only Ann's passkey.
    let (s, o) = reauth_options(&app, &ann).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let allowed = o["options"]["publicKey"]["allowCredentials"].as_array().expect("allowed").clone();
    assert_eq!(allowed.len(), 1, "{o}");
    assert_eq!(allowed[0]["id"].as_str(), Some(key.keys[0].credential_id.as_str()), "{o}");

    // Bob's passkey answering Ann's options is refused (and counted, as a wrong password).
    let bobs = bobs_key.keys[0].clone();
    let wrong = bobs_key.sign_in_with(&bobs, &o["options"], &app.base);
    let (s, v) = reauth_answer(&app, &ann, &o["ceremony"], &wrong).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("passkey_refused")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:ann'").await, 1);

    // Bob's session (at his own code step) cannot finish Ann's ceremony, which it burns.
    let v = confirm_password(&app, &bob, "bob").await;
    assert_eq!(v["passkey"], true, "{v}");
    let (_, o) = reauth_options(&app, &ann).await;
    let answer = key.sign_in(&o["options"], &app.base);
    let (s, v) = reauth_answer(&app, &bob, &o["ceremony"], &answer).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");
    let (s, _) = reauth_answer(&app, &ann, &o["ceremony"], &answer).await;
    assert_eq!(s, StatusCode::GONE, "the ceremony was used");
    // Nor can a session of another plan (its sessions are not this plan's: 401).
    app.other_plan("two", Some("two.example")).await;
    let (_, o) = reauth_options(&app, &ann).await;
    let answer = key.sign_in(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, _) = call_at(&app, Some("two.example"), "/api/v1/me/profile/passkey", Some(&ann), Some(body)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Ann's own answer opens the profile; the factor is audited with its amr.
    let (s, v) = reauth_answer(&app, &ann, &o["ceremony"], &answer).await;
    assert_eq!((s, unlock_state(&v)), (StatusCode::OK, Some("open")), "{v}");
    // Her address's failures are forgotten; the count across addresses decays on its own.
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key LIKE 'u:ann|%'").await, 0);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'profile.unlocked' \
             AND detail LIKE '%\"factor\":\"passkey\"%' AND detail LIKE '%\"amr\":\"pwd hwk user\"%'";
    assert_eq!(app.count(q).await, 1);
    assert_eq!(texts_to(&app, ANN_PHONE).await, texts);
    let (s, _) = app.call("GET", "/api/v1/me/passkeys", Some(&ann), None).await;
    assert_eq!(s, StatusCode::OK);

    // A replayed answer, at a new code step: the ceremony was used.
    confirm_password(&app, &ann, "ann").await;
    let (s, v) = reauth_answer(&app, &ann, &o["ceremony"], &answer).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");
    // An expired ceremony (6 minutes), still within the password step's 10.
    let (_, o) = reauth_options(&app, &ann).await;
    app.advance(Duration::minutes(7));
    let answer = key.sign_in(&o["options"], &app.base);
    let (s, v) = reauth_answer(&app, &ann, &o["ceremony"], &answer).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("ceremony_unusable")), "{v}");
    // Past the password step's 10 minutes the options are refused too.
    app.advance(Duration::minutes(4));
    let (s, v) = reauth_options(&app, &ann).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")), "{v}");

    // "Text me a code instead": the present behaviour stays for someone the plan does not require.
    let ann = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    confirm_password(&app, &ann, "ann").await;
    let texts = texts_to(&app, ANN_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/me/profile/send-code", Some(&ann), Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(texts_to(&app, ANN_PHONE).await, texts + 1);
    let (_, p) = app.call("GET", "/api/v1/me/profile", Some(&ann), None).await;
    assert_eq!(
        (p["second_steps"]["code_sent"].as_bool(), p["second_steps"]["passkey"].as_bool()),
        (Some(true), Some(true))
    );
    let code = app.last_code(ANN_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&ann), Some(json!({"code": code}))).await;
    assert_eq!((s, unlock_state(&v)), (StatusCode::OK, Some("open")), "{v}");
    assert_eq!(unlocked_with(&app, "code").await, 3, "two unlocks before the passkey, and this one");
    app.stop().await;
}
both!(a_passkey_user_confirms_with_the_passkey_not_a_text);

async fn a_required_user_is_never_texted_and_recovery_codes_work_once(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    app.user("pstaff", "Pat", "Staff", 1001, Some("plan_admin")).await;

    // Password and the phone's code (the bridge), then a passkey before anything else.
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "pstaff", "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(STAFF_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("strong_factor_setup")), "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let mut key = TestPasskey::new();
    let (_, o) =
        app.call("POST", "/api/v1/two-step/strong/passkey/options", Some(&t), Some(json!({"name": "Laptop"}))).await;
    let answer = key.register(&o["options"], &app.base);
    let body = json!({"ceremony": o["ceremony"], "credential": answer});
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/passkey", Some(&t), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let codes = codes_of(&v);
    let (s, v) = app.call("POST", "/api/v1/two-step/strong/complete", Some(&t), None).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    let t = v["session_token"].as_str().expect("token").to_owned();
    let texted = app.last_code(STAFF_PHONE).await;

    // Confirm it's you: no text at the password step, none on request, a typed code refused.
    let texts = texts_to(&app, STAFF_PHONE).await;
    let v = confirm_password(&app, &t, "pstaff").await;
    assert_eq!((v["passkey"].as_bool(), v["send_code_allowed"].as_bool()), (Some(true), Some(false)), "{v}");
    assert_eq!((v["code_sent"].as_bool(), v["recovery_code"].as_bool()), (Some(false), Some(true)), "{v}");
    for method in ["text", "voice"] {
        let (s, v) = app.call("POST", "/api/v1/me/profile/send-code", Some(&t), Some(json!({"method": method}))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("strong_factor_required")), "{v}");
    }
    for typed in [texted.as_str(), "123456"] {
        let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": typed}))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("strong_factor_required")), "{v}");
    }
    assert_eq!(texts_to(&app, STAFF_PHONE).await, texts, "no text or call to a required user");
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.code_sent' AND outcome = 'denied' \
             AND detail LIKE '%strong_factor_required%' AND detail LIKE '%reauth%'";
    assert_eq!(app.count(q).await, 2);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.verify' AND outcome = 'denied' \
             AND detail LIKE '%strong_factor_required%' AND detail LIKE '%reauth%'";
    assert_eq!(app.count(q).await, 2);

    // A recovery code opens the profile, once; the user is emailed.
    let mails = app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'pstaff@example.org'").await;
    let (s, v) =
        app.call("POST", "/api/v1/me/profile/recovery-code", Some(&t), Some(json!({"recovery_code": codes[0]}))).await;
    assert_eq!((s, unlock_state(&v)), (StatusCode::OK, Some("open")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'pstaff@example.org'").await, mails + 1);
    let q = "SELECT COUNT(*) FROM audit_events WHERE action = 'recovery_codes.used' AND detail LIKE '%\"left\":9%'";
    assert_eq!(app.count(q).await, 1);
    assert_eq!(unlocked_with(&app, "recovery_code").await, 1);
    // Again, at a new confirmation: the used code is refused, another one works.
    confirm_password(&app, &t, "pstaff").await;
    let (s, v) =
        app.call("POST", "/api/v1/me/profile/recovery-code", Some(&t), Some(json!({"recovery_code": codes[0]}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("recovery_code")), "{v}");
    let (s, v) = app
        .call("POST", "/api/v1/me/profile/recovery-code", Some(&t), Some(json!({"recovery_code": "not a code"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) =
        app.call("POST", "/api/v1/me/profile/recovery-code", Some(&t), Some(json!({"recovery_code": codes[1]}))).await;
    assert_eq!((s, unlock_state(&v)), (StatusCode::OK, Some("open")), "{v}");
    // Once open, a recovery code is not taken (nothing to confirm).
    let (s, v) =
        app.call("POST", "/api/v1/me/profile/recovery-code", Some(&t), Some(json!({"recovery_code": codes[2]}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL").await, 8);

    // And the passkey, of course.
    confirm_password(&app, &t, "pstaff").await;
    let (s, o) = reauth_options(&app, &t).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base);
    let (s, v) = reauth_answer(&app, &t, &o["ceremony"], &answer).await;
    assert_eq!((s, unlock_state(&v)), (StatusCode::OK, Some("open")), "{v}");
    assert_eq!(texts_to(&app, STAFF_PHONE).await, texts, "still no text");
    app.stop().await;
}
both!(a_required_user_is_never_texted_and_recovery_codes_work_once);

/// The recovery codes of a page (`<li><code>…</code></li>`).
fn codes_on(page: &str) -> Vec<String> {
    page.split("<li><code>").skip(1).filter_map(|r| r.split("</code>").next()).map(str::to_owned).collect()
}

async fn passkey_confirmation_and_new_recovery_codes_on_the_pages(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("bob", "Bob", "Ray", 144, None).await;
    let c = app.signed_in_browser("ann", 143).await;

    // Confirm with a code (no strong factor yet): no recovery codes on the profile.
    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let code = app.last_code(ANN_PHONE).await;
    let (_, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    assert!(page.contains("Office details") && !page.contains("Make new recovery codes"), "{page}");
    let (s, _) = app.submit(&c, "/profile", "/profile/recovery-codes", &[]).await;
    assert_eq!(s, StatusCode::CONFLICT, "no strong factor, no recovery codes");

    // A passkey from the Passkeys page: its recovery codes are shown once.
    let (_, o) =
        options_by_form(&app, &c, "/profile/passkeys", "/profile/passkeys/options", &[("name", "Front desk PC")]).await;
    let mut key = TestPasskey::new();
    let answer = key.register(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    let (s, page, _) = app.post_form(&c, "/profile/passkeys", "/profile/passkeys", &fields).await;
    assert_eq!(s, StatusCode::OK);
    let first_codes = codes_on(&page);
    assert_eq!(first_codes.len(), 10, "{page}");

    // Open: the profile offers new recovery codes, with the warning.
    let (_, page) = app.page(&c, "/profile").await;
    assert!(page.contains("Make new recovery codes") && page.contains("stops all your old codes from working"));
    assert!(page.contains("10 unused"), "{page}");
    let (s, page) = app.submit(&c, "/profile", "/profile/recovery-codes", &[]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Your new recovery codes") && page.contains("We will not show them again"), "{page}");
    let new_codes = codes_on(&page);
    assert_eq!(new_codes.len(), 10, "{page}");
    assert!(new_codes.iter().all(|c| !first_codes.contains(c)));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'recovery_codes.regenerated'").await, 1);
    // Shown once: the profile shows how many, not the codes.
    let (_, page) = app.page(&c, "/profile").await;
    assert!(!page.contains(&new_codes[0]), "{page}");

    // Done: closed again, and nothing can be regenerated.
    let (s, _, _) = app.post_form(&c, "/profile", "/profile/done", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = app.submit(&c, "/profile", "/profile/recovery-codes", &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The log shows when it was closed; "Done" on a closed profile records nothing more.
    app.post_form(&c, "/profile", "/profile/done", &[]).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile.locked'").await, 1);

    // The password step now offers the passkey and texts nothing.
    let (_, page) = app.page(&c, "/profile").await;
    assert!(page.contains("You will then confirm with your passkey."), "{page}");
    let texts = texts_to(&app, ANN_PHONE).await;
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(texts_to(&app, ANN_PHONE).await, texts);
    assert!(
        page.contains("Now confirm it&#39;s you with your passkey.")
            || page.contains("Now confirm it's you with your passkey."),
        "{page}"
    );
    assert!(page.contains("data-passkey=\"reauth\"") && page.contains("<noscript>"), "{page}");
    assert!(page.contains("Text me a code instead") && page.contains("id=\"recovery_code\""), "{page}");
    assert!(!page.contains("id=\"code\""), "no code to enter: none was sent");

    // The old recovery codes no longer work; a new one does.
    let (s, page) = app
        .submit(&c, "/profile", "/profile/code", &[("action", "recovery"), ("recovery_code", &first_codes[0])])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"recovery_code-error\""), "{page}");
    let (s, page) =
        app.submit(&c, "/profile", "/profile/code", &[("action", "recovery"), ("recovery_code", &new_codes[0])]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Office details") && page.contains("9 unused"), "{page}");
    app.post_form(&c, "/profile", "/profile/done", &[]).await;

    // The passkey through the page's form.
    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let (s, o) = options_by_form(&app, &c, "/profile", "/profile/passkey/options", &[]).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let answer = key.sign_in(&o["options"], &app.base).to_string();
    let fields = [("ceremony", o["ceremony"].as_str().expect("ceremony")), ("credential", answer.as_str())];
    let (s, page, _) = app.post_form(&c, "/profile", "/profile/passkey", &fields).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("You can now change your profile") && page.contains("Office details"), "{page}");
    app.post_form(&c, "/profile", "/profile/done", &[]).await;
    // Replayed: the page says why beside the passkey.
    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let (s, page, _) = app.post_form(&c, "/profile", "/profile/passkey", &fields).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired or was already used") && page.contains("data-passkey=\"reauth\""), "{page}");
    // "Text me a code instead" still works for Ann (the plan does not require a strong factor).
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "send"), ("method", "text")]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"code\"") && page.contains("data-passkey=\"reauth\""), "{page}");
    let code = app.last_code(ANN_PHONE).await;
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Office details"), "{page}");

    // Bob has no strong factor: neither the recovery codes nor a passkey is offered to him.
    let b = app.signed_in_browser("bob", 144).await;
    let (_, page) = app.page(&b, "/profile").await;
    assert!(page.contains("We will then send a code to your two-step phone"), "{page}");
    let (_, page) =
        app.submit(&b, "/profile", "/profile/confirm", &[("username", "bob"), ("password", TEST_PASSWORD)]).await;
    assert!(
        !page.contains("data-passkey") && !page.contains("recovery_code") && page.contains("id=\"code\""),
        "{page}"
    );
    let (s, v) = options_by_form(&app, &b, "/profile", "/profile/passkey/options", &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    app.stop().await;
}
both!(passkey_confirmation_and_new_recovery_codes_on_the_pages);

async fn a_required_user_sees_no_text_option_on_the_page(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.user("pstaff", "Pat", "Staff", 1001, Some("plan_admin")).await;
    // A passkey while the rule is off, then the rule.
    let token = app.api_session("pstaff", TEST_PASSWORD, STAFF_PHONE).await;
    unlock(&app, &token, "pstaff", STAFF_PHONE).await;
    let mut key = TestPasskey::new();
    register(&app, &mut key, &token, "Laptop").await;
    let c = app.signed_in_browser("pstaff", 1001).await;
    app.set_factor_policy(&[("staff_strong_factor", "on")]).await;
    let texts = texts_to(&app, STAFF_PHONE).await;
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "pstaff"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"strong-only\"") && page.contains("data-passkey=\"reauth\""), "{page}");
    assert!(!page.contains("Text me a code instead") && !page.contains("value=\"send\""), "{page}");
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "send"), ("method", "text")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("text and voice codes cannot be used"), "{page}");
    assert_eq!(texts_to(&app, STAFF_PHONE).await, texts);
    app.stop().await;
}
both!(a_required_user_sees_no_text_option_on_the_page);
