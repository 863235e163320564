//! The control panel: staff roles decide what each person sees and may do; settings are
//! validated and audited with old and new values; staff are invited and removed.

use crate::both;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;

async fn each_role_sees_only_its_sections(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    app.user("audit", "Ada", "Auditor", 1003, Some("auditor")).await;
    app.user("office", "Olga", "Office", 1004, None).await;

    let admin = app.signed_in_browser("padmin", 1001).await;
    let (s, home) = app.page(&admin, "/admin").await;
    assert_eq!(s, StatusCode::OK);
    for section in ["Registration requests", "Users", "Roster", "Audit", "Staff", "Settings"] {
        assert!(home.contains(&format!(">{section}</a>")), "plan admin sees {section}");
    }
    assert!(app.page(&admin, "/").await.1.contains("Open the control panel"));

    let desk = app.signed_in_browser("hdesk", 1002).await;
    let (_, home) = app.page(&desk, "/admin").await;
    assert!(home.contains(">Registration requests</a>") && home.contains(">Users</a>"));
    assert!(!home.contains(">Settings</a>") && !home.contains(">Staff</a>") && !home.contains(">Audit</a>"));
    let before = app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.access_denied'").await;
    for path in ["/admin/settings", "/admin/staff"] {
        assert_eq!(app.page(&desk, path).await.0, StatusCode::FORBIDDEN, "help desk at {path}");
    }
    let (s, _) = app.submit(&desk, "/admin", "/admin/settings", &[("name", "Hijacked")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM plans WHERE name = 'Hijacked'").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.access_denied'").await, before + 3);

    let auditor = app.signed_in_browser("audit", 1003).await;
    let (_, home) = app.page(&auditor, "/admin").await;
    assert!(home.contains(">Audit</a>") && !home.contains(">Registration requests</a>"));
    assert_eq!(app.page(&auditor, "/admin/staff").await.0, StatusCode::FORBIDDEN);

    // Practice staff and visitors get no control panel at all.
    let office = app.signed_in_browser("office", 1004).await;
    assert_eq!(app.page(&office, "/admin").await.0, StatusCode::FORBIDDEN);
    assert!(!app.page(&office, "/").await.1.contains("control panel"));
    let r = app.browser().get(app.url("/admin/settings")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}
both!(each_role_sees_only_its_sections);

async fn settings_are_validated_applied_and_audited(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app.page(&c, "/admin/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("value=\"Chorus Test Plan\""));
    let good = |name: &'static str, v: &'static str| {
        let mut f = vec![
            ("name", "Chorus Test Plan"),
            ("brand_color", "#0b4f6c"),
            ("support_phone", "1-800-555-0199"),
            ("support_hours", "8-5"),
            ("password_min", "12"),
            ("password_max", "128"),
            ("code_length", "6"),
            ("code_lifetime_minutes", "10"),
            ("code_max_tries", "5"),
            ("code_max_sends_per_hour", "5"),
            ("session_idle_minutes", "15"),
            ("session_absolute_hours", "12"),
            ("access_review_days", "90"),
            ("idle_flag_days", "90"),
            ("idle_deactivate_days", "180"),
            ("username_format", "plain"),
            ("reactivation_days", "90"),
            ("legacy_deadline", ""),
            ("legacy_email_proof", "on"),
            ("time_zone", "America/New_York"),
            ("message_response_days", "3"),
            ("message_max_files", "5"),
            ("message_max_file_mb", "10"),
            ("mailbox_email", ""),
            ("voice_allowed", "on"),
            ("app_allowed", "on"),
            ("passkeys_allowed", "on"),
            // The suite's plan starts with the staff rule off (see `TestApp::launch`).
            ("staff_strong_factor", "off"),
            ("admin_strong_factor", "off"),
        ];
        for (k, val) in &mut f {
            if *k == name {
                *val = v;
            }
        }
        f
    };
    // Bad values: each shown beside its field, nothing saved.
    for (field, value, text) in [
        ("password_min", "6", "from 8 to 64"),
        ("brand_color", "#ffff00", "too light"),
        ("session_idle_minutes", "120", "from 5 to 60"),
        ("name", "", "Enter the plan name"),
        ("code_length", "abc", "whole number"),
        ("idle_flag_days", "29", "from 30 to 365"),
        ("idle_deactivate_days", "100", "at least 104 days"),
    ] {
        let (s, page) = app.submit(&c, "/admin/settings", "/admin/settings", &good(field, value)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}={value}");
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{field}");
        assert!(page.contains(text), "{text} for {field}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.settings_changed'").await, 0);
    // A good change is applied and audited with old and new values.
    let (s, page) = app.submit(&c, "/admin/settings", "/admin/settings", &good("password_min", "14")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Saved. Changed: password min."), "{page}");
    assert_eq!(app.count("SELECT password_min FROM plans WHERE slug = 'test'").await, 14);
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'plan.settings_changed'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("event");
    let v: serde_json::Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(v["password_min"]["old"], "12");
    assert_eq!(v["password_min"]["new"], "14");
    // The new policy applies: a 13-character password is now too short at sign-up.
    let link = crate::support::path_of(&app.invite("New", "Person", "new@example.org").await);
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let b = app.browser();
    let (s, page) = app
        .submit(
            &b,
            &link,
            "/signup",
            &[
                ("token", &token),
                ("username", "newp"),
                ("password", "thirteen char"),
                ("confirm_password", "thirteen char"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("at least 14"));
    // The new brand colour reaches the pages.
    app.submit(&c, "/admin/settings", "/admin/settings", &good("brand_color", "#5a2d82")).await;
    assert!(app.page(&app.browser(), "/signin").await.1.contains("--brand: #5a2d82"));
    app.stop().await;
}
both!(settings_are_validated_applied_and_audited);

async fn terms_and_logo_are_published(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app.submit(&c, "/admin/settings", "/admin/settings/terms", &[("terms_text", "  ")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("Enter the text of the new terms."));
    let (s, page) = app
        .submit(&c, "/admin/settings", "/admin/settings/terms", &[("terms_text", "Version two of the terms.")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Version 2 of the terms is published"));
    // The logo: only PNG/JPEG, served back at /branding/logo, shown in the header.
    let (_, page) = app.page(&c, "/admin/settings").await;
    let token = crate::support::csrf(&page);
    let upload = |bytes: Vec<u8>| {
        let form =
            reqwest::multipart::Form::new().part("logo", reqwest::multipart::Part::bytes(bytes).file_name("logo.png"));
        c.post(app.url(&format!("/admin/settings/logo?csrf_token={token}"))).multipart(form).send()
    };
    let r = upload(b"<svg onload='alert(1)'></svg>".to_vec()).await.expect("upload");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let r = upload(png.clone()).await.expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.browser().get(app.url("/branding/logo")).send().await.expect("logo");
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("image/png"));
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), png);
    assert!(app.page(&app.browser(), "/signin").await.1.contains("/branding/logo"));
    // A logo upload without the CSRF token is refused.
    let form =
        reqwest::multipart::Form::new().part("logo", reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n".to_vec()));
    let r = c.post(app.url("/admin/settings/logo")).multipart(form).send().await.expect("upload");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
both!(terms_and_logo_are_published);

async fn staff_are_invited_and_removed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let admin_id = app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app
        .submit(
            &c,
            "/admin/staff",
            "/admin/staff/invite",
            &[("first_name", "Hal"), ("last_name", "Desk"), ("email", "not-an-email"), ("role", "help_desk")],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"invite-error\""));
    let (s, page) = app
        .submit(
            &c,
            "/admin/staff",
            "/admin/staff/invite",
            &[("first_name", "Hal"), ("last_name", "Desk"), ("email", "hal@plan.example.org"), ("role", "help_desk")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Invitation sent to hal@plan.example.org"));
    assert!(app.last_message_to("hal@plan.example.org").await.is_some());
    let (s, _) = app
        .submit(
            &c,
            "/admin/staff",
            "/admin/staff/invite",
            &[("first_name", "Hal"), ("last_name", "Desk"), ("email", "HAL@plan.example.org"), ("role", "auditor")],
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one staff account per person");
    // The last plan administrator cannot be removed (even by a second request for themselves),
    // and a plan administrator only invited does not count: the invitation may never be taken up.
    let (s, page) = app
        .submit(
            &c,
            "/admin/staff",
            "/admin/staff/invite",
            &[("first_name", "Pam"), ("last_name", "Next"), ("email", "pam@plan.example.org"), ("role", "plan_admin")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let (s, page) = app.submit(&c, "/admin/staff", &format!("/admin/staff/{}/remove", admin_id.0), &[]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(page.contains("at least one active plan administrator"));
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {} AND staff_role = 'plan_admin'", admin_id.0)).await,
        1
    );
    let hal: i64 = app.count("SELECT id FROM users WHERE email = 'hal@plan.example.org'").await;
    let (s, _) = app.page(&c, &format!("/admin/staff/{hal}/remove")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, page) = app.submit(&c, "/admin/staff", &format!("/admin/staff/{hal}/remove"), &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Removed from staff."));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE staff_role IS NOT NULL").await,
        2,
        "the administrator and Pam"
    );
    app.stop().await;
}
both!(staff_are_invited_and_removed);

async fn staff_of_one_plan_have_no_access_to_another(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    app.running
        .services
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
    let c = app.signed_in_browser("padmin", 1001).await;
    // The session cookie means nothing at the other plan: sent to sign in there.
    let r = c.get(app.url("/p/northwind/admin/settings")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/p/northwind/signin"));
    app.stop().await;
}
both!(staff_of_one_plan_have_no_access_to_another);

async fn auditors_read_and_export_the_audit_log(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("audit", "Ada", "Auditor", 1003, Some("auditor")).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    app.invite("Ana", "Ruiz", "ana@clinic.example.org").await;
    let c = app.signed_in_browser("audit", 1003).await;
    let (s, page) = app.page(&c, "/admin/audit").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("The audit chain is intact"));
    assert!(page.contains("user.invited") && page.contains("signin.password"));
    let (_, page) = app.page(&c, "/admin/audit?action=invited").await;
    assert!(page.contains("user.invited") && !page.contains("signin.password"));
    let r = c.get(app.url("/admin/audit.csv?action=invited")).send().await.expect("csv");
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv; charset=utf-8"));
    let body = r.text().await.expect("body");
    assert!(body.starts_with("seq,at_utc,action"));
    assert_eq!(body.lines().count(), 2, "{body}");
    // The export itself is audited: who took how many events, with which filter.
    let exported = "SELECT COUNT(*) FROM audit_events WHERE action = 'audit.exported' \
                    AND detail LIKE '%\"events\":1%' AND detail LIKE '%invited%'";
    assert_eq!(app.count(exported).await, 1);
    // Tampering shows on the page.
    app.sql("UPDATE audit_events SET outcome = 'failure' WHERE seq = 1").await;
    assert!(app.page(&c, "/admin/audit").await.1.contains("BROKEN at event 1"));
    // The help desk does not read the audit log.
    let d = app.signed_in_browser("hdesk", 1002).await;
    assert_eq!(app.page(&d, "/admin/audit").await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.page(&d, "/admin/audit.csv").await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'audit.exported'").await, 1);
    app.stop().await;
}
both!(auditors_read_and_export_the_audit_log);
