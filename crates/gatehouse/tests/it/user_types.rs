//! User types: every plan starts with the seeds' defaults; plan administrators change their
//! permissions (audited), never so that no type may administer users; plans see only their own.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_services::plans::NewPlan;
use reqwest::StatusCode;

const PAGE: &str = "/admin/user-types";

async fn permissions_of(app: &TestApp, plan: i64, key: &str) -> String {
    sqlx::query_scalar("SELECT permissions FROM user_types WHERE plan_id = $1 AND key = $2")
        .bind(plan)
        .bind(key)
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("permissions")
}

async fn defaults_exist_and_admins_change_them(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id().0;
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM user_types WHERE plan_id = {plan}")).await, 6);
    assert_eq!(permissions_of(&app, plan, "eligibility_checker").await, "eligibility.view");
    assert!(permissions_of(&app, plan, "office_manager").await.contains("users.manage"));
    assert!(permissions_of(&app, plan, "practice_maintenance").await.contains("users.manage"));

    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app.page(&c, PAGE).await;
    assert_eq!(s, StatusCode::OK);
    for name in ["Office Manager", "Practice Maintenance", "Clinical Staff", "Billing Staff", "Appointment Scheduler"] {
        assert!(page.contains(name), "{name}");
    }
    assert!(page.contains(">User types</a>"));
    assert!(page.contains("id=\"eligibility_checker-claims.view\""));

    let fields =
        [("name", "Eligibility and Claims"), ("permission", "eligibility.view"), ("permission", "claims.view")];
    let (s, page) = app.submit(&c, PAGE, "/admin/user-types/eligibility_checker", &fields).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Saved Eligibility and Claims."));
    assert_eq!(permissions_of(&app, plan, "eligibility_checker").await, "eligibility.view,claims.view");
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'plan.user_type_changed'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("audited");
    let v: serde_json::Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(v["user_type"], "eligibility_checker");
    assert_eq!(v["old"]["permissions"], serde_json::json!(["eligibility.view"]));
    assert_eq!(v["new"]["permissions"], serde_json::json!(["eligibility.view", "claims.view"]));
    assert_eq!(v["old"]["name"], "Eligibility Checker");
    assert_eq!(v["new"]["name"], "Eligibility and Claims");

    // The same again changes nothing and records nothing.
    let (s, page) = app.submit(&c, PAGE, "/admin/user-types/eligibility_checker", &fields).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Nothing changed."));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.user_type_changed'").await, 1);

    // An unknown permission or an empty name is refused beside the form.
    let (s, page) = app
        .submit(&c, PAGE, "/admin/user-types/billing_staff", &[("name", "Billing"), ("permission", "claims.delete")])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"billing_staff-error\""));
    let (s, page) = app.submit(&c, PAGE, "/admin/user-types/billing_staff", &[("name", "  ")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("Enter a name"));

    // Unknown keys are not found.
    for key in ["no_such_type", "Bad-Key"] {
        let (s, _) = app.submit(&c, PAGE, &format!("/admin/user-types/{key}"), &[("name", "X")]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{key}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.user_type_changed'").await, 1);
    app.stop().await;
}
both!(defaults_exist_and_admins_change_them);

async fn the_last_administering_type_keeps_users_manage(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id().0;
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    // Removing it from one of the two administering types is allowed...
    let only_view = [("name", "Practice Maintenance"), ("permission", "eligibility.view")];
    let (s, _) = app.submit(&c, PAGE, "/admin/user-types/practice_maintenance", &only_view).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(permissions_of(&app, plan, "practice_maintenance").await, "eligibility.view");
    // ...but not from the last one.
    let before = permissions_of(&app, plan, "office_manager").await;
    let only_view = [("name", "Office Manager"), ("permission", "eligibility.view")];
    let (s, page) = app.submit(&c, PAGE, "/admin/user-types/office_manager", &only_view).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"office_manager-error\""));
    assert!(page.contains("administer users"));
    assert_eq!(permissions_of(&app, plan, "office_manager").await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.user_type_changed'").await, 1);
    app.stop().await;
}
both!(the_last_administering_type_keeps_users_manage);

async fn help_desk_is_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id().0;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let desk = app.signed_in_browser("hdesk", 1002).await;
    let (s, home) = app.page(&desk, "/admin").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!home.contains(">User types</a>"));
    assert_eq!(app.page(&desk, PAGE).await.0, StatusCode::FORBIDDEN);
    let fields = [("name", "Hijacked"), ("permission", "users.manage")];
    let (s, _) = app.submit(&desk, "/admin", "/admin/user-types/eligibility_checker", &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(permissions_of(&app, plan, "eligibility_checker").await, "eligibility.view");
    assert_eq!(app.count("SELECT COUNT(*) FROM user_types WHERE name = 'Hijacked'").await, 0);
    app.stop().await;
}
both!(help_desk_is_refused);

async fn plans_see_only_their_own_types(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let other = app
        .running
        .services
        .create_plan(NewPlan {
            slug: "northwind".into(),
            name: "Northwind Health".into(),
            host: None,
            support_phone: "1-800-555-0111".into(),
            support_hours: "9-5".into(),
            terms_text: "Other terms.".into(),
        })
        .await
        .expect("plan");
    let o = other.id().0;
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM user_types WHERE plan_id = {o}")).await, 6);
    app.sql(&format!(
        "INSERT INTO user_types (plan_id, key, name, permissions, created_at, updated_at) \
         VALUES ({o}, 'northwind_only', 'Northwind Courier', 'eligibility.view', 0, 0)"
    ))
    .await;
    app.sql(&format!("UPDATE user_types SET name = 'Northwind Billing' WHERE plan_id = {o} AND key = 'billing_staff'"))
        .await;

    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let (s, page) = app.page(&c, PAGE).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains("Northwind"));
    let (s, _) = app
        .submit(&c, PAGE, "/admin/user-types/northwind_only", &[("name", "Mine"), ("permission", "users.manage")])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Editing this plan's billing staff leaves the other plan's alone.
    let (s, _) = app
        .submit(&c, PAGE, "/admin/user-types/billing_staff", &[("name", "Billing"), ("permission", "claims.view")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        permissions_of(&app, o, "billing_staff").await,
        "eligibility.view,claims.view,claims.submit,remittance.view,messages.use"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM user_types WHERE name = 'Northwind Billing'").await, 1);
    app.stop().await;
}
both!(plans_see_only_their_own_types);

async fn plans_without_types_get_the_defaults(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id().0;
    app.sql(&format!("DELETE FROM user_types WHERE plan_id = {plan}")).await;
    let types = app.running.services.list_user_types(&app.plan).await.expect("list");
    assert_eq!(types.len(), 6);
    assert_eq!(types[0].key.as_str(), "office_manager");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM user_types WHERE plan_id = {plan}")).await, 6);
    app.stop().await;
}
both!(plans_without_types_get_the_defaults);

async fn concurrent_removals_leave_one_administering_type(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    let meta = gatehouse_services::RequestMeta::cli();
    let view = gatehouse_domain::permissions::PermissionSet::parse_names("eligibility.view").expect("set");
    let (a, b) = tokio::join!(
        svc.update_user_type(&grant, &app.plan, "office_manager", "Office Manager", view, &meta),
        svc.update_user_type(&grant, &app.plan, "practice_maintenance", "Practice Maintenance", view, &meta),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "exactly one wins: {a:?} {b:?}");
    let refused = if a.is_err() { a } else { b };
    assert!(matches!(refused, Err(gatehouse_services::user_types::UserTypeError::LastAdministratorType)));
    let plan = app.plan.id().0;
    let admin_types = app
        .count(&format!("SELECT COUNT(*) FROM user_types WHERE plan_id = {plan} AND permissions LIKE '%users.manage%'"))
        .await;
    assert_eq!(admin_types, 1);
    app.stop().await;
}
both!(concurrent_removals_leave_one_administering_type);
