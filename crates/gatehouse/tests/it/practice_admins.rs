//! "A Tax ID with active users always has an active administrator": revoking the administrator
//! flag and help-desk deactivation are refused when they would break it, also when two changes
//! race (each runs in its own transaction on the real database, at the same time).

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{AffiliationId, UserId};
use gatehouse_services::practice::PracticeError;
use gatehouse_services::support::{SupportAction, SupportError};
use gatehouse_services::{RequestMeta, SessionInfo};

/// A practice (Tax ID 825671892) with the given users: (user, administrator?). Returns the
/// affiliation ids in the same order.
async fn practice_with(app: &TestApp, members: &[(UserId, bool)]) -> Vec<i64> {
    let db = app.running.services.db.pool();
    let plan = app.plan.id().0;
    sqlx::query(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ($1, '825671892', 'Lakeside Family Medicine', '1 Main St', '', 'Seattle', 'WA', '98101', '', 0)",
    )
    .bind(plan)
    .execute(db)
    .await
    .expect("practice");
    let practice: i64 =
        sqlx::query_scalar("SELECT id FROM practices WHERE tax_id = '825671892'").fetch_one(db).await.expect("id");
    let mut ids = Vec::new();
    for (user, admin) in members {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             VALUES ($1, $2, $3, 'office_manager', $4, 1, 0) RETURNING id",
        )
        .bind(plan)
        .bind(user.0)
        .bind(practice)
        .bind(i64::from(*admin))
        .fetch_one(db)
        .await
        .expect("affiliation");
        ids.push(id);
    }
    ids
}

/// A fully signed-in session of `user` (the services only read these fields).
fn session(app: &TestApp, user: UserId, id: i64) -> SessionInfo {
    SessionInfo {
        id: gatehouse_domain::SessionId(id),
        plan_id: app.plan.id(),
        user_id: user,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    }
}

async fn admins(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM affiliations WHERE is_admin = 1").await
}

async fn concurrent_revocations_keep_one_administrator(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    let sam = app.user("sam", "Sam", "Okafor", 1002, None).await;
    let lee = app.user("lee", "Lee", "Park", 1003, None).await;
    let ids = practice_with(&app, &[(dana, true), (sam, true), (lee, false)]).await;
    let meta = RequestMeta::default();
    let (sd, ss) = (session(&app, dana, 1), session(&app, sam, 2));

    let gd = svc.practice_grant(&app.plan, &sd).await.expect("dana administers");
    let gs = svc.practice_grant(&app.plan, &ss).await.expect("sam administers");
    let aff = |i: usize| AffiliationId(ids[i]);

    // Each administrator steps down at the same moment: one must stay.
    let (a, b) = tokio::join!(
        svc.set_member_admin(&gd, &app.plan, aff(0), false, &meta),
        svc.set_member_admin(&gs, &app.plan, aff(1), false, &meta),
    );
    let refused: Vec<_> = [&a, &b].into_iter().filter(|r| r.is_err()).collect();
    assert_eq!(refused.len(), 1, "exactly one refused: {a:?} {b:?}");
    assert!(matches!(refused[0], Err(PracticeError::LastAdmin { practice }) if practice == "Lakeside Family Medicine"));
    assert_eq!(admins(&app).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'affiliation.admin_revoked'").await, 1);

    // Restore two administrators; now each revokes the other at once.
    let remaining = if a.is_ok() { &gs } else { &gd };
    let other = if a.is_ok() { aff(0) } else { aff(1) };
    svc.set_member_admin(remaining, &app.plan, other, true, &meta).await.expect("make admin again");
    assert_eq!(admins(&app).await, 2);
    let (a, b) = tokio::join!(
        svc.set_member_admin(&gd, &app.plan, aff(1), false, &meta),
        svc.set_member_admin(&gs, &app.plan, aff(0), false, &meta),
    );
    assert_eq!([&a, &b].into_iter().filter(|r| r.is_err()).count(), 1, "exactly one refused: {a:?} {b:?}");
    assert_eq!(admins(&app).await, 1);

    // A user who is not an administrator gets no grant to change the flag with.
    let sl = session(&app, lee, 3);
    let r = svc.practice_grant(&app.plan, &sl).await;
    assert!(matches!(r, Err(PracticeError::NotAdmin)), "{r:?}");
    app.stop().await;
}
both!(concurrent_revocations_keep_one_administrator);

async fn help_desk_cannot_deactivate_the_last_administrator(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let desk = app.user("hdesk", "Hal", "Desk", 1000, Some("help_desk")).await;
    let dana = app.user("dana", "Dana", "Reyes", 1001, None).await;
    let lee = app.user("lee", "Lee", "Park", 1003, None).await;
    practice_with(&app, &[(dana, true), (lee, false)]).await;
    let grant = svc.staff_grant(&app.plan, Some(&session(&app, desk, 9))).await.expect("staff");
    let meta = RequestMeta::default();

    let r = svc.support_action(&grant, &app.plan, dana, SupportAction::Deactivate, "left the practice", &meta).await;
    assert!(matches!(&r, Err(SupportError::LastPracticeAdmin(p)) if p == "Lakeside Family Medicine"), "refused: {r:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 0, "nothing changed");

    // The staff member can be deactivated; then the administrator can, as no active user remains.
    svc.support_action(&grant, &app.plan, lee, SupportAction::Deactivate, "left", &meta).await.expect("staff member");
    svc.support_action(&grant, &app.plan, dana, SupportAction::Deactivate, "left", &meta).await.expect("last one");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 2);
    app.stop().await;
}
both!(help_desk_cannot_deactivate_the_last_administrator);
