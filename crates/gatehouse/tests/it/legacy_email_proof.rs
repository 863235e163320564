//! An imported account's first sign-in proves the email on record before anything can be
//! enrolled: the old password alone reaches neither the new password nor two-step set-up; the
//! emailed link (single use, 72 hours, for its own user and purpose) continues the flow in the
//! browser that opens it; a plan setting turns the step off; and the owner is emailed when a
//! two-step phone is set.

use crate::both;
use crate::support::{Backend, TestApp, link_in};
use gatehouse_services::RequestMeta;
use reqwest::{Client, StatusCode};
use serde_json::json;

const TIN: &str = "825671892";
const OLD_PASSWORD: &str = "copper kettle meadow";
const OLGA: &str = "olga@old.example.org";

/// Imports Old.Timer (salted SHA-256 of "NaCl" + "copper kettle meadow") and Cara (PBKDF2-SHA256
/// of the same password).
async fn import(app: &TestApp) {
    let svc = &app.running.services;
    let lines = [
        json!({"username": "Old.Timer", "first_name": "Olga", "last_name": "Timer", "email": OLGA,
               "hash_format": "sha256", "hash": "ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0",
               "salt": "NaCl", "salt_position": "prefix",
               "affiliations": [{"tax_id": TIN, "user_type": "billing_staff", "providers": "all"}]}),
        json!({"username": "cara", "first_name": "Cara", "last_name": "Svensson", "email": "cara@old.example.org",
               "hash_format": "pbkdf2-sha256", "hash": "458248df38298a8d987f783f53f28ee175c5d826c637cd8d05a138ba77f57c3f",
               "salt": "NaCl", "iterations": 1000,
               "affiliations": [{"tax_id": TIN, "user_type": "billing_staff"}]}),
    ];
    let text = lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n");
    let r = svc
        .import_legacy_users(&svc.operator_grant(&app.plan), &app.plan, &text, &RequestMeta::cli())
        .await
        .expect("import");
    assert_eq!(r.imported, 2, "{r:?}");
}

/// The page whose CSRF token the forms here are posted with: the token matches the browser's
/// cookie whatever the page, and this one opens at every step of the flow.
const TOKEN_PAGE: &str = "/forgot-username";

/// The token of the newest email-proof link sent to `to`.
pub async fn proof_token(app: &TestApp, to: &str) -> String {
    let m = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == to && m.kind == "email_proof.v1")
        .expect("email-proof link");
    let link = link_in(&m.body_text).expect("link");
    assert!(link.contains("/first-signin/confirm?token="), "{link}");
    link.split("token=").nth(1).expect("token").to_owned()
}

/// Opens the newest email-proof link sent to `to` in browser `c` and presses its button: `c`
/// then holds a session at "Create a new password".
pub async fn open_proof_link(app: &TestApp, c: &Client, to: &str) {
    let t = proof_token(app, to).await;
    let (s, page) = app.page(c, &format!("/first-signin/confirm?token={t}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Continue signing in"), "{page}");
    let (s, _, loc) = app.post_form(c, TOKEN_PAGE, "/first-signin/confirm", &[("token", &t)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-password")));
}

async fn old_password_alone_cannot_reach_phone_set_up(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    import(&app).await;
    // Someone who holds the old password signs in: the session waits for the emailed link.
    let thief = app.browser();
    let (s, _, loc) =
        app.post_form(&thief, TOKEN_PAGE, "/signin", &[("username", "old.timer"), ("password", OLD_PASSWORD)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-signin/email")));
    let (s, page) = app.page(&thief, "/first-signin/email").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("We sent a link to <strong>o***@old.example.org</strong>; open it to continue"), "{page}");
    assert!(!page.contains(OLGA), "the address is masked");
    // Nothing else is reachable: no new password, no set-up, no code sent anywhere.
    for path in ["/first-password", "/two-step/setup", "/terms", "/"] {
        let r = thief.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()["location"], "/first-signin/email", "{path}");
    }
    let send = [("action", "send"), ("country_code", "1"), ("phone", "206-555-0166"), ("method", "text")];
    let (s, _, loc) = app.post_form(&thief, TOKEN_PAGE, "/two-step/setup", &send).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-signin/email")));
    let (s, _, _) =
        app.post_form(&thief, TOKEN_PAGE, "/first-password", &[("password", "x"), ("confirm_password", "x")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.last_message_to("+12065550166").await.is_none());
    // The API refuses the same steps.
    let (s, v) = app
        .call("POST", "/api/v1/signin", None, Some(json!({"username": "Old.Timer", "password": OLD_PASSWORD})))
        .await;
    assert_eq!(
        (s, v["next"].as_str(), v["masked_email"].as_str()),
        (StatusCode::OK, Some("email_proof"), Some("o***@old.example.org")),
        "{v}"
    );
    let bearer = v["session_token"].as_str().expect("token").to_owned();
    let (s, v) = app
        .call("POST", "/api/v1/two-step/setup", Some(&bearer), Some(json!({"phone": "206-555-0166", "method": "text"})))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("wrong_stage")), "{v}");
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/first-password",
            Some(&bearer),
            Some(json!({"password": "a brand new passphrase", "confirm_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(app.last_message_to("+12065550166").await.is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'Old.Timer' AND legacy_hash IS NOT NULL AND two_step_phone IS NULL").await, 1);

    // The owner opens the link in their own browser: opening shows a button and uses nothing.
    let owner = app.browser();
    let t = proof_token(&app, OLGA).await;
    for _ in 0..2 {
        let (s, page) = app.page(&owner, &format!("/first-signin/confirm?token={t}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("Old.Timer") && page.contains(">Continue</button>"), "{page}");
    }
    let (s, _, loc) = app.post_form(&owner, TOKEN_PAGE, "/first-signin/confirm", &[("token", &t)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-password")));
    // The sessions that only knew the old password ended.
    let r = thief.get(app.url("/first-signin/email")).send().await.expect("get");
    assert_eq!(r.headers()["location"], "/signin");
    let (s, _) = app.call("POST", "/api/v1/first-signin/email-proof/resend", Some(&bearer), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Replayed: a clear message, nothing more.
    let (s, page, _) = app.post_form(&app.browser(), TOKEN_PAGE, "/first-signin/confirm", &[("token", &t)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("This link was already used"), "{page}");

    // The seed's flow goes on in the owner's browser: new password, terms, two-step, home.
    let pass = [("password", "a brand new passphrase"), ("confirm_password", "a brand new passphrase")];
    let (s, _, loc) = app.post_form(&owner, TOKEN_PAGE, "/first-password", &pass).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/terms")));
    let (_, _, loc) = app
        .post_form(&owner, TOKEN_PAGE, "/terms", &[("version", "1"), ("first_name", "Olga"), ("last_name", "Timer")])
        .await;
    assert_eq!(loc.as_deref(), Some("/two-step/setup"));
    let send = [("action", "send"), ("country_code", "1"), ("phone", "206-555-0177"), ("method", "text")];
    let (s, _, _) = app.post_form(&owner, TOKEN_PAGE, "/two-step/setup", &send).await;
    assert_eq!(s, StatusCode::OK);
    let code = app.last_code("+12065550177").await;
    let (_, _, loc) =
        app.post_form(&owner, TOKEN_PAGE, "/two-step/setup", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(loc.as_deref(), Some("/"));
    // The owner is told the phone was set, once, with the masked number and whom to call.
    let notices: Vec<_> =
        app.outbox().await.into_iter().filter(|m| m.recipient == OLGA && m.kind == "two_step_phone_set.v1").collect();
    assert_eq!(notices.len(), 1);
    let n = &notices[0];
    assert!(n.subject.ends_with("was set up"), "{}", n.subject);
    assert!(n.body_text.contains("XXX-XXX-0177") && n.body_text.contains(" EST") && !n.body_text.contains("UTC"));
    assert!(n.body_text.contains(&app.plan.row.support_phone), "{}", n.body_text);
    assert!(!n.body_text.contains("206-555-0177") && !n.body_text.contains("2065550177"), "only the masked number");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.email_proved' AND outcome = 'success'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_proofs WHERE token_hash = 'x' OR length(token_hash) <> 64").await,
        0
    );
    app.stop().await;
}
both!(old_password_alone_cannot_reach_phone_set_up);

async fn the_link_works_once_for_72_hours_for_its_own_user_and_purpose(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    import(&app).await;
    let signin = |who: &'static str| {
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": who, "password": OLD_PASSWORD})))
    };
    let redeem = |t: &str| app.call("POST", "/api/v1/first-signin/email-proof", None, Some(json!({"token": t})));
    let (_, v) = signin("Old.Timer").await;
    assert_eq!(v["next"], "email_proof");
    let bearer = v["session_token"].as_str().expect("token").to_owned();
    let first = proof_token(&app, OLGA).await;

    // 72 hours later the link has expired.
    app.advance(gatehouse_domain::Duration::hours(72));
    let (s, v) = redeem(&first).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("link_unusable")));
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("expired"), "{v}");
    let (s, page, _) = app.post_form(&app.browser(), TOKEN_PAGE, "/first-signin/confirm", &[("token", &first)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("This link has expired"), "{page}");

    // A new sign-in sends a new link; the one before it no longer works.
    let (_, v) = signin("Old.Timer").await;
    let bearer2 = v["session_token"].as_str().expect("token").to_owned();
    let second = proof_token(&app, OLGA).await;
    assert_ne!(first, second);
    let (s, v) = app.call("POST", "/api/v1/first-signin/email-proof/resend", Some(&bearer2), None).await;
    assert_eq!((s, v["masked_email"].as_str()), (StatusCode::OK, Some("o***@old.example.org")), "{v}");
    let third = proof_token(&app, OLGA).await;
    let (s, v) = redeem(&second).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("already used"), "{v}");

    // Another purpose's token (a password reset link) is not an email-proof link, nor the reverse.
    let svc = &app.running.services;
    let cara = app.count("SELECT id FROM users WHERE username = 'cara'").await;
    svc.support_action(
        &svc.operator_grant(&app.plan),
        &app.plan,
        gatehouse_domain::UserId(cara),
        gatehouse_services::support::SupportAction::SendPasswordReset,
        "migration help",
        &RequestMeta::cli(),
    )
    .await
    .expect("reset link");
    let reset = app.last_message_to("cara@old.example.org").await.expect("reset email");
    let reset_token = link_in(&reset.body_text).expect("link").split("token=").nth(1).expect("token").to_owned();
    let (s, _) = redeem(&reset_token).await;
    assert_eq!(s, StatusCode::GONE);
    let r = app.browser().get(app.url(&format!("/reset-password?token={third}"))).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an email-proof link does not reset a password");

    // Cara's link gives a session for Cara only.
    let (_, v) = signin("cara").await;
    assert_eq!(v["masked_email"], "c***@old.example.org");
    let cara_token = proof_token(&app, "cara@old.example.org").await;
    let (s, v) = redeem(&cara_token).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("new_password")), "{v}");
    let cara_session = v["session_token"].as_str().expect("token").to_owned();
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/first-password",
            Some(&cara_session),
            Some(json!({"password": "a brand new passphrase", "confirm_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("terms")), "{v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE username = 'Old.Timer' AND legacy_hash IS NOT NULL").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'cara' AND legacy_hash IS NULL").await, 1);

    // Submitted twice at once, Olga's link works once.
    let (a, b) = tokio::join!(redeem(&third), redeem(&third));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE], "{a:?} {b:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'signin.email_proved' AND outcome = 'success'")
            .await,
        2
    );
    let (s, _) = app.call("POST", "/api/v1/first-signin/email-proof/resend", Some(&bearer), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the sessions waiting for a link ended");

    // Links are throttled like other links: 5 an hour per account, sign-ins included.
    app.advance(gatehouse_domain::Duration::hours(2));
    let links = || async {
        app.outbox().await.into_iter().filter(|m| m.recipient == OLGA && m.kind == "email_proof.v1").count()
    };
    let before = links().await;
    let mut bearer = String::new();
    for _ in 0..6 {
        let (s, v) = signin("Old.Timer").await;
        assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("email_proof")), "{v}");
        bearer = v["session_token"].as_str().expect("token").to_owned();
    }
    assert_eq!(links().await, before + 5);
    let (s, v) = app.call("POST", "/api/v1/first-signin/email-proof/resend", Some(&bearer), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_sends")), "{v}");
    let c = app.browser();
    let (_, _, loc) =
        app.post_form(&c, TOKEN_PAGE, "/signin", &[("username", "old.timer"), ("password", OLD_PASSWORD)]).await;
    assert_eq!(loc.as_deref(), Some("/first-signin/email?not_sent=1"));
    let (_, page) = app.page(&c, "/first-signin/email?not_sent=1").await;
    assert!(page.contains("Too many links were sent to this account"), "{page}");
    let (s, page, _) = app.post_form(&c, TOKEN_PAGE, "/first-signin/email", &[]).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many links were sent to this account"), "{page}");
    assert_eq!(links().await, before + 5);
    // Once the hour has passed, links are sent again.
    app.advance(gatehouse_domain::Duration::minutes(61));
    let (_, _, loc) =
        app.post_form(&c, TOKEN_PAGE, "/signin", &[("username", "old.timer"), ("password", OLD_PASSWORD)]).await;
    assert_eq!(loc.as_deref(), Some("/first-signin/email"));
    assert_eq!(links().await, before + 6);
    app.stop().await;
}
both!(the_link_works_once_for_72_hours_for_its_own_user_and_purpose);

async fn the_plan_setting_turns_the_email_proof_off(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    import(&app).await;
    // The control panel shows the setting, on by default.
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let admin = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app.page(&admin, "/admin/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"legacy_email_proof\"") && page.contains("<option value=\"on\" selected>"), "{page}");
    let mut fields: Vec<(String, String)> = gatehouse_services::settings::raw_from(&app.plan.row).into_iter().collect();
    for (k, v) in &mut fields {
        if k == "legacy_email_proof" {
            *v = "off".into();
        }
    }
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, page) = app.submit(&admin, "/admin/settings", "/admin/settings", &body).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Saved. Changed: legacy email proof."), "{page}");
    assert_eq!(app.count(&format!("SELECT legacy_email_proof FROM plans WHERE id = {}", app.plan.id().0)).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.settings_changed' AND detail LIKE '%legacy_email_proof%'").await,
        1
    );
    // The old flow: straight to a new password, no link.
    let c = app.browser();
    let (_, _, loc) =
        app.post_form(&c, TOKEN_PAGE, "/signin", &[("username", "old.timer"), ("password", OLD_PASSWORD)]).await;
    assert_eq!(loc.as_deref(), Some("/first-password"));
    let (_, v) =
        app.call("POST", "/api/v1/signin", None, Some(json!({"username": "cara", "password": OLD_PASSWORD}))).await;
    assert_eq!(v["next"], "new_password", "{v}");
    assert!(v.get("masked_email").is_none(), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM email_proofs").await, 0);
    assert!(app.outbox().await.iter().all(|m| m.kind != "email_proof.v1"));
    app.stop().await;
}
both!(the_plan_setting_turns_the_email_proof_off);

/// A proof link is for the address it went to: when a practice administrator changes the
/// account's address meanwhile, the link dies, so that opening it cannot "prove" (and unmark) an
/// address it never went to, which would route other practices' invitations to the account.
async fn a_proof_link_dies_when_an_administrator_changes_the_address(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    import(&app).await;
    let c = app.browser();
    let (s, _, loc) =
        app.post_form(&c, TOKEN_PAGE, "/signin", &[("username", "old.timer"), ("password", OLD_PASSWORD)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/first-signin/email")));
    let t = proof_token(&app, OLGA).await;
    // Olivia Carter administers the only practice Olga works for: she may change the address.
    app.user("helper", "Hal", "Per", 1001, None).await;
    app.sql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'helper') WHERE username = 'ocarter'")
        .await;
    let admin = app.api_session("ocarter", crate::support::TEST_PASSWORD, "+12065550143").await;
    let olga = app.count("SELECT id FROM users WHERE username_lower = 'old.timer'").await;
    let victim = "dana@cedar.example";
    let (s, v) = app
        .call(
            "PATCH",
            &format!("/api/v1/practice/users/{olga}"),
            Some(&admin),
            Some(json!({"email": victim, "email_confirm": victim})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, page) = app.page(&c, &format!("/first-signin/confirm?token={t}")).await;
    assert!(page.contains("This link was already used"), "{page}");
    let (_, _, loc) = app.post_form(&c, TOKEN_PAGE, "/first-signin/confirm", &[("token", &t)]).await;
    assert_ne!(loc.as_deref(), Some("/first-password"));
    let unproven = format!(
        "SELECT COUNT(*) FROM users WHERE id = {olga} AND email_verified_at IS NULL AND email_set_by_other_at IS NOT NULL"
    );
    assert_eq!(app.count(&unproven).await, 1, "still unproven, still marked");
    app.stop().await;
}
both!(a_proof_link_dies_when_an_administrator_changes_the_address);
