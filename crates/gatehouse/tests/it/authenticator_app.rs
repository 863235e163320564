//! Authenticator apps (TOTP) and recovery codes over HTTP, API and pages: enrol after confirming
//! it is you, sign in with the app's code, a step accepted once (also under 20 concurrent
//! submits), wrong codes counted with the same try limit as texted codes, recovery codes once
//! (and emailed), help desk's reset removes everything, another user's or plan's things unknown.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
use gatehouse_domain::Duration;
use gatehouse_domain::totp::{Authenticator, TotpSecret};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ANN_PHONE: &str = "+12065550143";

/// The app a person would have after typing the secret shown to them.
pub(crate) fn app_from(secret_text: &str) -> Authenticator {
    let clean: String = secret_text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base32_decode(&clean);
    Authenticator::new(&TotpSecret::from_bytes(&bytes).expect("160 bits"), "t", "a")
}

/// RFC 4648 base32 without padding (as shown on the page), decoded.
fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32 letter") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

pub(crate) fn code_now(app: &TestApp, auth: &Authenticator) -> String {
    auth.code_at(gatehouse_domain::Timestamp(app.running.services.now()))
}

/// A signed-in API session with its profile opened (password, then the current factor).
async fn unlocked_api(app: &TestApp, token: &str, auth: Option<&Authenticator>) {
    let body = json!({"username": "ann", "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = match auth {
        Some(a) => code_now(app, a),
        None => app.last_code(ANN_PHONE).await,
    };
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(token), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Enrols Ann's app through the API; returns the app and the recovery codes.
/// The kinds of the factor notices emailed to Ann, oldest first.
async fn factor_mail(app: &TestApp) -> Vec<String> {
    app.outbox()
        .await
        .into_iter()
        .filter(|m| {
            m.recipient == "ann@example.org"
                && (m.kind.contains("authenticator_app") || m.kind.contains("recovery_codes"))
        })
        .map(|m| m.kind)
        .rev()
        .collect()
}

async fn enrol_api(app: &TestApp, token: &str) -> (Authenticator, Vec<String>) {
    unlocked_api(app, token, None).await;
    let (s, v) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"), "{v}");
    assert!(v["qr_svg"].as_str().unwrap().contains("<svg"), "{v}");
    let auth = app_from(v["secret"].as_str().unwrap());
    let (s, v) = app
        .call("POST", "/api/v1/me/authenticator/confirm", Some(token), Some(json!({"code": code_now(app, &auth)})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let codes: Vec<String> =
        v["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (auth, codes)
}

async fn password_step(app: &TestApp) -> (String, Value) {
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["session_token"].as_str().unwrap().to_owned(), v)
}

async fn api_enrol_sign_in_replay_and_tries(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;

    // Nothing changes before confirming it is you.
    let (s, _) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (auth, codes) = enrol_api(&app, &token).await;
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL").await, 10);
    // The secret is sealed at rest, and the codes hashed.
    let (s, v) = app.call("GET", "/api/v1/me/authenticator", Some(&token), None).await;
    assert_eq!((s, v["recovery_codes_left"].as_i64()), (StatusCode::OK, Some(10)), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps WHERE secret_sealed LIKE 'v1.%'").await, 1);
    for c in &codes {
        let plain = c.replace('-', "");
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '%{plain}%'")).await,
            0
        );
    }
    // A second app needs the first removed.
    let (s, v) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(&token), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("wrong_state")), "{v}");

    // Sign out; the password step asks for the app's code and texts nothing.
    app.advance(Duration::seconds(31));
    let texts = app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{ANN_PHONE}'")).await;
    let (t, v) = password_step(&app).await;
    assert_eq!((v["next"].as_str(), v["app_code"].as_bool()), (Some("two_step_code"), Some(true)), "{v}");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{ANN_PHONE}'")).await, texts);
    // Wrong and malformed codes; a wrong one takes a try of the same limit.
    let right = code_now(&app, &auth);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": wrong}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("4 more tries"), "{v}");
    let (s, _) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": "12ab56"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t), Some(json!({"code": right}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE amr = 'pwd otp'").await, 1);

    // The same step again (a new sign-in within the 30 seconds) is refused and audited.
    let (t2, _) = password_step(&app).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t2), Some(json!({"code": right}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code_replayed")), "{v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'authenticator_app.replay_refused'").await,
        1
    );

    // Five wrong codes spend the sign-in's tries: then even the next right code is refused.
    for _ in 0..4 {
        app.call("POST", "/api/v1/two-step/verify", Some(&t2), Some(json!({"code": wrong}))).await;
    }
    app.advance(Duration::seconds(30));
    let next = code_now(&app, &auth);
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t2), Some(json!({"code": next}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("code_unusable")), "{v}");

    // "Use another way": a text to the phone, which then works.
    let (t3, _) = password_step(&app).await;
    let (s, _) = app.call("POST", "/api/v1/two-step/resend", Some(&t3), Some(json!({"method": "text"}))).await;
    assert_eq!(s, StatusCode::OK);
    let texted = app.last_code(ANN_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/verify", Some(&t3), Some(json!({"code": texted}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.stop().await;
}
both!(api_enrol_sign_in_replay_and_tries);

async fn one_step_signs_in_once_under_20_concurrent_submits(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    let (auth, codes) = enrol_api(&app, &token).await;
    app.advance(Duration::seconds(31));

    // Twenty sign-ins waiting for their code; one app code submitted to all at once.
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(password_step(&app).await.0);
    }
    let code = code_now(&app, &auth);
    let app_ref = &app;
    let results = futures::future::join_all(tokens.iter().map(|t| {
        let code = code.clone();
        async move { app_ref.call("POST", "/api/v1/two-step/verify", Some(t), Some(json!({"code": code}))).await.0 }
    }))
    .await;
    assert_eq!(results.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{results:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE amr = 'pwd otp'").await, 1);

    // One recovery code submitted by 20 sign-ins at once: one success, one email.
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(password_step(&app).await.0);
    }
    let rc = codes[0].to_uppercase().replace('-', " ");
    let results =
        futures::future::join_all(tokens.iter().map(|t| {
            let rc = rc.clone();
            async move {
                app_ref.call("POST", "/api/v1/two-step/recovery", Some(t), Some(json!({"recovery_code": rc}))).await.0
            }
        }))
        .await;
    assert_eq!(results.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{results:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE amr = 'pwd rec'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL").await, 1);
    let mail = app.last_message_to("ann@example.org").await.expect("email");
    assert!(mail.body_text.contains("A recovery code was used") && mail.body_text.contains("9 recovery codes left"));
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'recovery_code_used.v1'").await, 1);

    // Used once: the same code again is refused, counted as a wrong try.
    let (t, _) = password_step(&app).await;
    let (s, v) = app.call("POST", "/api/v1/two-step/recovery", Some(&t), Some(json!({"recovery_code": rc}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("recovery_code")), "{v}");
    for bad in ["", "abc", "abcde-1234u", &"a".repeat(65)] {
        let (s, _) = app.call("POST", "/api/v1/two-step/recovery", Some(&t), Some(json!({"recovery_code": bad}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    // Another recovery code still works.
    let (s, _) =
        app.call("POST", "/api/v1/two-step/recovery", Some(&t), Some(json!({"recovery_code": codes[1]}))).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(one_step_signs_in_once_under_20_concurrent_submits);

async fn regenerate_remove_reset_and_other_users(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("bob", "Bob", "Ray", 144, None).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    let (auth, old) = enrol_api(&app, &token).await;
    // Every change of a factor is told to the owner by email: a lasting second factor added in
    // a borrowed session does not go unnoticed.
    assert_eq!(factor_mail(&app).await, ["authenticator_app_added.v1"]);

    // New recovery codes: the old ones stop working.
    let (s, v) = app.call("POST", "/api/v1/me/recovery-codes", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(factor_mail(&app).await, ["authenticator_app_added.v1", "recovery_codes_renewed.v1"]);
    let new: Vec<String> = v["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    assert!(new.iter().all(|c| !old.contains(c)));
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 10);
    app.advance(Duration::seconds(31));
    let (t, _) = password_step(&app).await;
    let (s, _) = app.call("POST", "/api/v1/two-step/recovery", Some(&t), Some(json!({"recovery_code": old[0]}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Bob has no app: his sign-in texts a code, and he cannot use Ann's recovery codes.
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "bob", "password": TEST_PASSWORD}))).await;
    assert_eq!((s, v["app_code"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
    let bt = v["session_token"].as_str().unwrap().to_owned();
    let (s, _) = app.call("POST", "/api/v1/two-step/recovery", Some(&bt), Some(json!({"recovery_code": new[0]}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.call("POST", "/api/v1/two-step/app", Some(&bt), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let bob = app.api_session("bob", TEST_PASSWORD, "+12065550144").await;
    let (s, v) = app.call("GET", "/api/v1/me/authenticator", Some(&bob), None).await;
    assert_eq!((s, v["app_since"].clone()), (StatusCode::OK, Value::Null), "Bob sees only his own: {v}");
    let (s, _) = app.call("POST", "/api/v1/me/authenticator/enrol", Some(&bob), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Bob's profile is not open");

    // The app's session of another plan does not reach this plan.
    app.other_plan("northwind", None).await;
    let (s, _) = app.call("GET", "/p/northwind/api/v1/me/authenticator", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.call("POST", "/p/northwind/api/v1/me/recovery-codes", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Remove (profile open again): the recovery codes go with it; the phone is asked for again.
    unlocked_api(&app, &token, Some(&auth)).await;
    let (s, _) = app.call("DELETE", "/api/v1/me/authenticator", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(factor_mail(&app).await.last().map(String::as_str), Some("authenticator_app_removed.v1"));
    let removed = app.last_message_to("ann@example.org").await.expect("email");
    assert!(removed.body_text.contains("authenticator app was removed"), "{}", removed.body_text);
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    let (_, v) = password_step(&app).await;
    assert_eq!(v["app_code"].as_bool(), Some(false), "{v}");

    // Enrol again, then help desk's reset removes the app, the codes, the phone and the
    // sessions, and emails Ann.
    let token = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    enrol_api(&app, &token).await;
    let c = app.signed_in_browser("hdesk", 1002).await;
    let ann: i64 = app.ids("SELECT id FROM users WHERE username = 'ann'").await[0];
    let action = format!("/admin/users/{ann}/reset-two-step");
    let (s, page) = app.submit(&c, &action, &action, &[("reason", "Caller verified; lost phone")]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticator_apps").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    let (s, _) = app.call("GET", "/api/v1/me/authenticator", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "Ann's sessions ended");
    let mail = app.last_message_to("ann@example.org").await.expect("email");
    assert!(mail.body_text.contains("reset two-step verification"), "{}", mail.body_text);
    app.stop().await;
}
both!(regenerate_remove_reset_and_other_users);

async fn pages_enrol_then_sign_in_with_the_app(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let c = app.signed_in_browser("ann", 143).await;
    let (s, page) = app.page(&c, "/profile/authenticator").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("confirm it&#39;s you on My profile") || page.contains("confirm it's you on My profile"));
    let (s, _) = app.submit(&c, "/profile/authenticator", "/profile/authenticator", &[("action", "start")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    let code = app.last_code(ANN_PHONE).await;
    app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    let (s, page) = app.submit(&c, "/profile/authenticator", "/profile/authenticator", &[("action", "start")]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("<svg") && page.contains("QR code for your authenticator app"));
    let secret = page.split("id=\"totp-secret\">").nth(1).and_then(|r| r.split('<').next()).expect("secret");
    let auth = app_from(secret);
    let (s, page) = app
        .submit(&c, "/profile/authenticator", "/profile/authenticator", &[("action", "confirm"), ("code", "12")])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"code-error\""), "{page}");
    let code = code_now(&app, &auth);
    let (s, page) = app
        .submit(&c, "/profile/authenticator", "/profile/authenticator", &[("action", "confirm"), ("code", &code)])
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Your recovery codes") && page.matches("<li><code>").count() == 10, "{page}");
    // Shown once: the page does not show them again.
    let (_, page) = app.page(&c, "/profile/authenticator").await;
    assert!(!page.contains("Your recovery codes") && page.contains("10 unused recovery codes"), "{page}");

    // Sign out, then sign in through the pages with the app's code.
    app.advance(Duration::seconds(31));
    let b = app.browser();
    let (_, signin) = app.page(&b, "/signin").await;
    let r = b
        .post(app.url("/signin"))
        .form(&[("csrf_token", csrf(&signin).as_str()), ("username", "ann"), ("password", TEST_PASSWORD)])
        .send()
        .await
        .expect("signin");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.page(&b, "/two-step/code").await;
    assert!(page.contains("code your authenticator app shows") && page.contains("Use another way"), "{page}");
    assert!(page.contains("recovery codes"), "{page}");
    let code = code_now(&app, &auth);
    let (s, _, loc) =
        app.post_form(&b, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    app.stop().await;
}
both!(pages_enrol_then_sign_in_with_the_app);
