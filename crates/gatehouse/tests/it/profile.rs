//! "My profile" over HTTP, pages and API: nothing changes until the user re-enters username and
//! password and a code sent to the current phone; a new phone is proven by a code sent to it, a
//! new email by a link sent to it (the old address is told); bad input changes nothing.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, link_in, path_of};
use gatehouse_domain::Duration;
use reqwest::{Client, StatusCode};
use serde_json::json;

const ANN_PHONE: &str = "+12065550143";
const NEW_PHONE: &str = "+12535550199";

/// Unlocks the profile through the pages: password, then the code to the current phone.
async fn unlock(app: &TestApp, c: &Client, phone: &str) {
    let (s, page) =
        app.submit(c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let code = app.last_code(phone).await;
    let (s, page) = app.submit(c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Office details"), "open after the code");
}

async fn ann_count(app: &TestApp, condition: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM users WHERE username = 'ann' AND {condition}")).await
}

async fn profile_pages_confirm_identity_then_change_phone_email_and_office(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("bob", "Bob", "Ray", 144, None).await;
    // Ann signed in on another computer too: the phone change below signs that one out.
    let elsewhere = app.signed_in_browser("ann", 143).await;
    let c = app.signed_in_browser("ann", 143).await;
    let (s, page) = app.page(&c, "/profile").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Confirm it&#39;s you") || page.contains("Confirm it's you"), "{page}");
    assert!(page.contains("XXX-XXX-0143") && page.contains("1-800-555-0199"), "masked phone and the help desk number");

    // Nothing can change before confirming.
    let (s, _) = app.submit(&c, "/profile", "/profile/office", &[("city", "Tacoma")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(ann_count(&app, "city = 'Tacoma'").await, 0);

    // Another user's username with the right password is refused like a wrong password.
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "bob"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The username or password is not correct."), "{page}");
    let (s, _) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", "wrong password")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The failure counts toward the lock like a failed sign-in.
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key = 'u:ann'").await, 1);

    // Password, then a code to the current phone; a wrong code is refused.
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Enter the code we sent to XXX-XXX-0143"), "{page}");
    let code = app.last_code(ANN_PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", wrong)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"code-error\""));
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Office details") && page.contains("You can make changes for the next 15 minute(s)"));
    // The failures from this address are forgotten; the count across addresses decays alone.
    assert_eq!(app.count("SELECT COUNT(*) FROM signin_throttle WHERE throttle_key LIKE 'u:ann|%'").await, 0);

    // Office details: a bad ZIP changes nothing; then they are saved and audited old → new.
    let (s, page) =
        app.submit(&c, "/profile", "/profile/office", &[("city", "Tacoma"), ("zip", "984"), ("state", "WA")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"zip-error\"") && page.contains("value=\"Tacoma\""), "kept what was typed");
    assert_eq!(ann_count(&app, "city = 'Tacoma'").await, 0);
    let (s, page) = app
        .submit(
            &c,
            "/profile",
            "/profile/office",
            &[
                ("office_phone", "253-555-0100"),
                ("street", "1 Pacific Ave"),
                ("city", "Tacoma"),
                ("state", "wa"),
                ("zip", "98402"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Your office details were saved.") && page.contains("1 Pacific Ave, Tacoma, WA 98402"));
    assert_eq!(ann_count(&app, "city = 'Tacoma' AND state = 'WA' AND office_phone = '+12535550100'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile.office_edited'").await, 1);

    // New phone: a code to it proves it; until then the old one stays.
    let (s, page) = app
        .submit(&c, "/profile", "/profile/phone", &[("action", "send"), ("country_code", "1"), ("phone", "12")])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"phone-error\""));
    let (s, page) = app
        .submit(
            &c,
            "/profile",
            "/profile/phone",
            &[("action", "send"), ("country_code", "1"), ("phone", "253-555-0199"), ("method", "voice")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("We are calling XXX-XXX-0199"), "{page}");
    assert!(page.contains("Enter the code we sent to your new phone, XXX-XXX-0199"));
    assert_eq!(ann_count(&app, &format!("two_step_phone = '{ANN_PHONE}'")).await, 1);
    let new_code = app.last_code(NEW_PHONE).await;
    let (s, page) = app.submit(&c, "/profile", "/profile/phone", &[("action", "confirm"), ("code", &new_code)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Your two-step phone is now XXX-XXX-0199"));
    assert_eq!(ann_count(&app, &format!("two_step_phone = '{NEW_PHONE}' AND two_step_method = 'voice'")).await, 1);
    let notice = app.last_message_to("ann@example.org").await.expect("notice");
    // One email for one change: the phone-set notice, with the masked new number, when, and
    // whom to call.
    assert_eq!(notice.kind, "two_step_phone_set.v1");
    assert!(
        notice.body_text.contains("changed to XXX-XXX-0199") && notice.body_text.contains(" EST"),
        "{}",
        notice.body_text
    );
    assert!(notice.body_text.contains(&app.plan.row.support_phone), "{}", notice.body_text);
    // A changed phone ends the user's other sessions, and the notice says so; this one goes on.
    assert!(notice.body_text.contains("signed you out of the portal everywhere else"), "{}", notice.body_text);
    let (s, _, loc) = app.visit(&elsewhere, "/profile").await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin")), "the other computer is signed out");
    assert_eq!(app.page(&c, "/profile").await.0, StatusCode::OK);
    let ended = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile.phone_changed' AND detail LIKE '%\"other_sessions_ended\":1%'")
        .await;
    assert_eq!(ended, 1);
    let notices = app.outbox().await.into_iter().filter(|m| m.recipient == "ann@example.org" && m.channel == "email");
    assert_eq!(notices.filter(|m| m.kind.contains("phone")).count(), 1);
    // The same code again does nothing more.
    let (s, _) = app.submit(&c, "/profile", "/profile/phone", &[("action", "confirm"), ("code", &new_code)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // New email: typed twice, not the current one; a link to it, and only the link changes it.
    let (s, page) = app
        .submit(
            &c,
            "/profile",
            "/profile/email",
            &[("email", "ann.lee@clinic.example"), ("email_confirm", "ann@clinic.example")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"email_confirm-error\""));
    let (s, page) = app
        .submit(&c, "/profile", "/profile/email", &[("email", "ANN@example.org"), ("email_confirm", "ANN@example.org")])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("That is already your email address."));
    let (s, page) = app
        .submit(
            &c,
            "/profile",
            "/profile/email",
            &[("email", "ann.lee@clinic.example"), ("email_confirm", "ann.lee@clinic.example")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("We sent a link to ann.lee@clinic.example"));
    assert_eq!(ann_count(&app, "email = 'ann@example.org'").await, 1);
    let m = app.last_message_to("ann.lee@clinic.example").await.expect("link email");
    assert_eq!(m.kind, "email_change_link.v1");
    let link = path_of(&link_in(&m.body_text).expect("link"));
    let anon = app.browser();
    let (s, page) = app.page(&anon, &link).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Use <strong>ann.lee@clinic.example</strong>"));
    assert_eq!(ann_count(&app, "email = 'ann@example.org'").await, 1, "opening the link changes nothing");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let (s, page) = app.submit(&anon, &link, "/profile/email/confirm", &[("token", &token)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("is now ann.lee@clinic.example"));
    assert_eq!(ann_count(&app, "email = 'ann.lee@clinic.example' AND email_lower = 'ann.lee@clinic.example'").await, 1);
    let told = app.last_message_to("ann@example.org").await.expect("notice to the old address");
    assert_eq!(told.kind, "email_changed.v1");
    assert!(told.body_text.contains("ann.lee@clinic.example"));
    let (s, page) = app.submit(&anon, "/forgot-username", "/profile/email/confirm", &[("token", &token)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used"), "replayed link");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile.email_changed'").await, 1);

    // The profile closes 15 minutes after the code, even while the session stays in use.
    app.advance(Duration::minutes(10));
    assert_eq!(app.page(&c, "/profile").await.0, StatusCode::OK);
    app.advance(Duration::minutes(6));
    let (s, _) = app.submit(&c, "/profile", "/profile/office", &[("city", "Olympia")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(ann_count(&app, "city = 'Olympia'").await, 0);
    // Signing in again sends the code to the new phone.
    unlock(&app, &c, NEW_PHONE).await;
    app.stop().await;
}
both!(profile_pages_confirm_identity_then_change_phone_email_and_office);

async fn profile_api_follows_the_same_rules(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    let (s, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "ann", "password": TEST_PASSWORD}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let half = v["session_token"].as_str().expect("token").to_owned();
    let code = app.last_code(ANN_PHONE).await;
    let (_, v) = app.call("POST", "/api/v1/two-step/verify", Some(&half), Some(json!({"code": code}))).await;
    let t = v["session_token"].as_str().expect("token").to_owned();

    // Not before signing in fully, and nothing before confirming identity.
    assert_eq!(app.call("GET", "/api/v1/me/profile", Some(&half), None).await.0, StatusCode::UNAUTHORIZED);
    let (s, v) = app.call("GET", "/api/v1/me/profile", Some(&t), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((v["unlock"].as_str(), v["two_step_phone"].as_str()), (Some("password"), Some("XXX-XXX-0143")));
    let (s, v) = app.call("PUT", "/api/v1/me/profile/office", Some(&t), Some(json!({"city": "Tacoma"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("confirm_identity")));
    let (s, _) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": "123456"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no code step before the password");

    // Five wrong passwords lock the username, as at sign-in.
    for _ in 0..5 {
        let (s, v) = app
            .call(
                "POST",
                "/api/v1/me/profile/confirm-password",
                Some(&t),
                Some(json!({"username": "ann", "password": "not it"})),
            )
            .await;
        assert!(matches!(s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{s} {v}");
    }
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/me/profile/confirm-password",
            Some(&t),
            Some(json!({"username": "ann", "password": TEST_PASSWORD})),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("locked")));
    app.advance(Duration::minutes(2));
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/me/profile/confirm-password",
            Some(&t),
            Some(json!({"username": "ANN", "password": TEST_PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["masked_phone"], "XXX-XXX-0143");
    let code = app.last_code(ANN_PHONE).await;
    let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["unlock"], "open");

    let (s, v) = app.call("PUT", "/api/v1/me/profile/office", Some(&t), Some(json!({"state": "XX"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("state")));
    let (s, v) =
        app.call("PUT", "/api/v1/me/profile/office", Some(&t), Some(json!({"city": "Tacoma", "zip": "98402"}))).await;
    assert_eq!((s, v["city"].as_str(), v["zip"].as_str()), (StatusCode::OK, Some("Tacoma"), Some("98402")));

    // A new email's link expires after 24 hours and then changes nothing.
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/me/profile/email",
            Some(&t),
            Some(json!({"email": "ann.lee@clinic.example", "email_confirm": "ann.lee@clinic.example"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = app.call("GET", "/api/v1/me/profile", Some(&t), None).await;
    assert_eq!(v["pending_email"], "ann.lee@clinic.example");
    let m = app.last_message_to("ann.lee@clinic.example").await.expect("link");
    let link = link_in(&m.body_text).expect("link");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    app.advance(Duration::hours(25));
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": token}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("link_unusable")));
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("expired"));
    // A token of the right form that no link has: gone, like an expired one. Not a token at all:
    // the body is refused (its schema says what a token is).
    let forged = "A".repeat(gatehouse_services::tokens::TOKEN_LEN);
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": forged}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("link_unusable")));
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": "forged"}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("token")));
    assert_eq!(ann_count(&app, "email = 'ann@example.org'").await, 1);
    app.stop().await;
}
both!(profile_api_follows_the_same_rules);

async fn voice_calls_on_my_profile_follow_the_plan(backend: Backend) {
    let Some(mut app) = TestApp::start(backend).await else { return };
    app.set_factor_policy(&[("voice_allowed", "off")]).await;
    app.user("ann", "Ann", "Lee", 143, None).await;
    let c = app.signed_in_browser("ann", 143).await;
    // Asking for the confirmation code by voice call is refused; by text it is sent.
    let (s, page) =
        app.submit(&c, "/profile", "/profile/confirm", &[("username", "ann"), ("password", TEST_PASSWORD)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(!page.contains("value=\"voice\""), "no voice call offered: {page}");
    let before = app.count("SELECT COUNT(*) FROM outbox").await;
    let (s, page) = app.submit(&c, "/profile", "/profile/code", &[("action", "send"), ("method", "voice")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("does not offer codes by voice call"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, before, "nothing sent");
    unlock(&app, &c, ANN_PHONE).await;
    // A new phone cannot be set up for voice calls either.
    let (_, page) = app.page(&c, "/profile").await;
    assert!(!page.contains("id=\"method-voice\""), "{page}");
    let (s, page) = app
        .submit(
            &c,
            "/profile",
            "/profile/phone",
            &[("action", "send"), ("country_code", "1"), ("phone", "253-555-0199"), ("method", "voice")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("does not offer codes by voice call"), "{page}");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{NEW_PHONE}'")).await, 0);
    let (s, _) = app
        .submit(
            &c,
            "/profile",
            "/profile/phone",
            &[("action", "send"), ("country_code", "1"), ("phone", "253-555-0199"), ("method", "text")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{NEW_PHONE}'")).await, 1);
    app.stop().await;
}
both!(voice_calls_on_my_profile_follow_the_plan);

/// Each email change emails a link to an address the person typed: five an hour, then a clear
/// refusal that sends nothing; an hour later they may ask again.
async fn email_changes_are_limited_per_hour(backend: Backend) {
    let Some(running) = TestApp::start(backend).await else { return };
    let app = &running;
    app.user("ann", "Ann", "Lee", 143, None).await;
    let unlock = |t: String| async move {
        let body = json!({"username": "ann", "password": TEST_PASSWORD});
        let (s, v) = app.call("POST", "/api/v1/me/profile/confirm-password", Some(&t), Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let code = app.last_code(ANN_PHONE).await;
        let (s, v) = app.call("POST", "/api/v1/me/profile/verify-code", Some(&t), Some(json!({"code": code}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    };
    let change = |t: String, n: usize| async move {
        let email = format!("ann{n}@clinic.example");
        let body = json!({"email": email, "email_confirm": email});
        app.call("POST", "/api/v1/me/profile/email", Some(&t), Some(body)).await
    };
    let t = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(t.clone()).await;
    for n in 1..=5 {
        let (s, v) = change(t.clone(), n).await;
        assert_eq!(s, StatusCode::ACCEPTED, "change {n}: {v}");
    }
    let links = "SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'ann%@clinic.example'";
    assert_eq!(app.count(links).await, 5);
    let (s, v) = change(t.clone(), 6).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_email_changes")),
        "{v}"
    );
    assert_eq!(app.count(links).await, 5, "nothing sent");
    app.advance(Duration::minutes(61));
    let t = app.api_session("ann", TEST_PASSWORD, ANN_PHONE).await;
    unlock(t.clone()).await;
    let (s, v) = change(t, 7).await;
    assert_eq!(s, StatusCode::ACCEPTED, "an hour later: {v}");
    running.stop().await;
}
both!(email_changes_are_limited_per_hour);
