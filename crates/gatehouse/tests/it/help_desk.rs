//! The help desk: plan-wide user search and the actions that help a user, each with a reason,
//! audited, and effective at once.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, path_of};
use gatehouse_services::support::{SupportAction, SupportError};
use reqwest::StatusCode;
use serde_json::json;

async fn search_finds_users_every_way(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.user("mlopez", "Maria", "Lopez", 1234, None).await;
    app.affiliate(jay).await;
    let c = app.signed_in_browser("hdesk", 1002).await;
    for q in ["patel", "Jay Pat", "JPATEL", "jpatel@example", "555-9975", "825671892", "1234567893"] {
        let (s, page) = app.page(&c, &format!("/admin/users?q={}", urlencode(q))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("Jay Patel"), "search {q:?} finds Jay");
        assert!(!page.contains("Maria Lopez"), "search {q:?} does not find Maria");
    }
    let (_, page) = app.page(&c, "/admin/users?q=jpatel").await;
    assert!(page.contains("XXX-XXX-9975") && page.contains("825671892 Lakeside Family Medicine"));
    assert!(page.contains("Total Records: 1"));
    let (_, page) = app.page(&c, "/admin/users").await;
    assert!(page.contains("Total Records: 3"));
    // Wildcards are literal.
    let (_, page) = app.page(&c, "/admin/users?q=%25").await;
    assert!(page.contains("Total Records: 0"));
    app.stop().await;
}
both!(search_finds_users_every_way);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn reset_two_step_ends_sessions_and_asks_for_a_new_phone(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    app.affiliate(jay).await;
    let jays_browser = app.signed_in_browser("jpatel", 9975).await;
    assert_eq!(app.page(&jays_browser, "/").await.0, StatusCode::OK);
    let c = app.signed_in_browser("hdesk", 1002).await;
    let action = format!("/admin/users/{}/reset-two-step", jay.0);
    let (s, page) = app.page(&c, &action).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("set up a new phone"));
    let (s, page) = app.submit(&c, &action, &action, &[("reason", " ")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("Give a reason"));
    assert!(app.count("SELECT COUNT(*) FROM users WHERE two_step_phone IS NULL").await == 0);
    // A change of email someone asked for from Jay's open session, its link not yet used.
    let pending = "P".repeat(gatehouse_services::tokens::TOKEN_LEN);
    app.sql(&format!(
        "INSERT INTO email_changes (plan_id, user_id, new_email, token_hash, created_at, expires_at) \
         VALUES ({}, {}, 'intruder@evil.example', '{}', 0, 4102444800)",
        app.plan.id().0,
        jay.0,
        gatehouse_services::tokens::hash_token(&pending)
    ))
    .await;
    let (s, page) = app.submit(&c, &action, &action, &[("reason", "Caller verified; lost phone")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Done: reset two-step verification."));
    // The reset ends it with the sessions: its link no longer moves the account.
    let (s, v) = app.call("POST", "/api/v1/email-change/confirm", None, Some(json!({"token": pending}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::GONE, Some("link_unusable")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'jpatel@example.org'").await, 1);
    // Jay's session ended at once; his next sign-in asks for a new phone after the password.
    let r = jays_browser.get(app.url("/")).send().await.expect("get");
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/signin"));
    let r = app
        .api()
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": "jpatel", "password": TEST_PASSWORD}))
        .send()
        .await
        .expect("signin");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["next"], "two_step_setup");
    // The new phone is set up, and Jay is told by email (not by text to the new phone).
    let t = v["session_token"].as_str().expect("token").to_owned();
    let r = app
        .api()
        .post(app.url("/api/v1/two-step/setup"))
        .bearer_auth(&t)
        .json(&json!({"phone": "253-555-0101", "method": "text"}))
        .send()
        .await
        .expect("setup");
    assert_eq!(r.status(), StatusCode::OK);
    let code = app.last_code("+12535550101").await;
    let r = app
        .api()
        .post(app.url("/api/v1/two-step/verify"))
        .bearer_auth(&t)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status(), StatusCode::OK);
    let notice = app.last_message_to("jpatel@example.org").await.expect("phone-set email");
    assert_eq!(notice.kind, "two_step_phone_set.v1");
    let set = "SELECT COUNT(*) FROM audit_events WHERE action = 'two_step.phone_set' \
               AND detail LIKE '%\"other_sessions_ended\":0%'";
    assert_eq!(app.count(set).await, 1, "the phone's event says how many other sessions ended");
    assert!(
        notice.subject.ends_with("was set up") && notice.body_text.contains("XXX-XXX-0101"),
        "{}",
        notice.body_text
    );
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'support.two_step_reset'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("audit");
    assert!(detail.contains("Caller verified; lost phone"));
    app.stop().await;
}
both!(reset_two_step_ends_sessions_and_asks_for_a_new_phone);

async fn unlock_deactivate_reactivate(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let desk = app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let admin = app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    let api = app.api();
    for _ in 0..5 {
        api.post(app.url("/api/v1/signin"))
            .json(&json!({"username": "jpatel", "password": "wrong wrong wrong"}))
            .send()
            .await
            .expect("signin");
    }
    let signin =
        || api.post(app.url("/api/v1/signin")).json(&json!({"username": "jpatel", "password": TEST_PASSWORD})).send();
    assert_eq!(signin().await.expect("s").status(), StatusCode::TOO_MANY_REQUESTS);
    let c = app.signed_in_browser("hdesk", 1002).await;
    let (_, page) = app.page(&c, &format!("/admin/users/{}", jay.0)).await;
    assert!(page.contains("Locked") && page.contains("Unlock sign-in"));
    let (_, page) = app.page(&c, "/admin/users?q=jpatel").await;
    assert!(page.contains("<td>Locked</td>"), "the search results show the lock too");
    let unlock = format!("/admin/users/{}/unlock", jay.0);
    assert_eq!(app.submit(&c, &unlock, &unlock, &[("reason", "Verified caller")]).await.0, StatusCode::OK);
    assert_eq!(signin().await.expect("s").status(), StatusCode::OK);
    // Deactivate: signed out everywhere, cannot sign in; reactivate: can again.
    let jays_browser = app.signed_in_browser("jpatel", 9975).await;
    let deactivate = format!("/admin/users/{}/deactivate", jay.0);
    assert_eq!(app.submit(&c, &deactivate, &deactivate, &[("reason", "Left the practice")]).await.0, StatusCode::OK);
    assert_eq!(jays_browser.get(app.url("/")).send().await.expect("g").status(), StatusCode::SEE_OTHER);
    assert_eq!(signin().await.expect("s").status(), StatusCode::FORBIDDEN);
    let reactivate = format!("/admin/users/{}/reactivate", jay.0);
    assert_eq!(app.submit(&c, &reactivate, &reactivate, &[("reason", "Came back")]).await.0, StatusCode::OK);
    assert_eq!(signin().await.expect("s").status(), StatusCode::OK);
    // Not yourself, and not the last plan administrator.
    let own = format!("/admin/users/{}/deactivate", desk.0);
    let (s, page) = app.submit(&c, &own, &own, &[("reason", "x")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("your own account"));
    // The plan administrator is above the help desk.
    let above = format!("/admin/users/{}/deactivate", admin.0);
    let (s, page) = app.submit(&c, &above, &above, &[("reason", "x")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("role above yours"), "{page}");
    // The last plan administrator stays, even for the operator at the command line.
    let svc = &app.running.services;
    let operator = svc.operator_grant(&app.plan);
    let meta = gatehouse_services::RequestMeta::cli();
    let r = svc.support_action(&operator, &app.plan, admin, SupportAction::Deactivate, "x", &meta).await;
    assert!(matches!(r, Err(SupportError::NotApplicable(m)) if m.contains("at least one active plan administrator")));
    app.stop().await;
}
both!(unlock_deactivate_reactivate);

async fn resend_invitation_kills_the_old_link(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let old = path_of(&app.invite("Ana", "Ruiz", "ana@clinic.example.org").await);
    let ana: i64 = app.count("SELECT id FROM users WHERE email = 'ana@clinic.example.org'").await;
    let c = app.signed_in_browser("hdesk", 1002).await;
    let resend = format!("/admin/users/{ana}/resend-invitation");
    assert_eq!(app.submit(&c, &resend, &resend, &[("reason", "Link expired")]).await.0, StatusCode::OK);
    let new = path_of(
        &crate::support::link_in(&app.last_message_to("ana@clinic.example.org").await.expect("mail").body_text)
            .expect("link"),
    );
    assert_ne!(old, new);
    let b = app.browser();
    let (s, page) = app.page(&b, &old).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The old link says it was replaced by a newer one (not "cancelled"), and when.
    assert!(page.contains("A newer sign-up link was sent to the same email address on"), "{page}");
    assert!(!page.contains("was cancelled"), "{page}");
    assert_eq!(app.page(&b, &new).await.0, StatusCode::OK);
    app.stop().await;
}
both!(resend_invitation_kills_the_old_link);

async fn other_plans_and_read_only_roles_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    app.user("audit", "Ada", "Auditor", 1003, Some("auditor")).await;
    let jay = app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // A user of another plan.
    let svc = &app.running.services;
    let other = svc
        .create_plan(gatehouse_services::plans::NewPlan {
            slug: "northwind".into(),
            name: "Northwind".into(),
            host: None,
            support_phone: "1".into(),
            support_hours: "".into(),
            terms_text: "t".into(),
        })
        .await
        .expect("plan");
    let req =
        gatehouse_services::invitations::InviteRequest::parse("Olaf", "Other", "olaf@other.example.org").expect("req");
    let olaf = svc.invite(&other, None, &req, &gatehouse_services::RequestMeta::cli()).await.expect("invite").user_id;
    let c = app.signed_in_browser("hdesk", 1002).await;
    assert_eq!(app.page(&c, &format!("/admin/users/{}", olaf.0)).await.0, StatusCode::NOT_FOUND);
    let resend = format!("/admin/users/{}/resend-invitation", olaf.0);
    let (s, _) = app.submit(&c, "/admin/users", &resend, &[("reason", "x")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE cancelled_at IS NOT NULL").await, 0);
    let (_, page) = app.page(&c, "/admin/users?q=olaf").await;
    assert!(page.contains("Total Records: 0"));
    // An auditor sees users but cannot act.
    let a = app.signed_in_browser("audit", 1003).await;
    let (s, page) = app.page(&a, &format!("/admin/users/{}", jay.0)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains("Deactivate account"));
    let deactivate = format!("/admin/users/{}/deactivate", jay.0);
    let (s, _) = app.submit(&a, "/admin/users", &deactivate, &[("reason", "x")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 0);
    app.stop().await;
}
both!(other_plans_and_read_only_roles_are_refused);
