//! Who may act on whom (issue 13): the defects a security review found, one test each. The
//! review's attack: a practice administrator had the plan administrator's account attached to
//! their practice, then read, edited and deactivated it. Here that shape is set up directly (an
//! affiliation a staff account holds), and every way in must read as "not found".

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{AffiliationId, UserId, UserStatus};
use gatehouse_services::authz::index::{Check, Target, Who};
use gatehouse_services::practice::PracticeError;
use gatehouse_services::support::{SupportAction, SupportError};
use gatehouse_services::{RequestMeta, SessionInfo};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn user_id(app: &TestApp, username: &str) -> UserId {
    UserId(app.count(&format!("SELECT id FROM users WHERE username = '{username}'")).await)
}

/// A signed-in session of a demo account, as the services see it.
async fn session(app: &TestApp, username: &str) -> SessionInfo {
    SessionInfo {
        id: gatehouse_domain::SessionId(0),
        plan_id: app.plan.id(),
        user_id: user_id(app, username).await,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    }
}

/// An API session token of a demo account, through sign-in and two-step over HTTP.
async fn api_token(app: &TestApp, username: &str) -> String {
    let acc = gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == username).expect("demo account");
    app.api_session(acc.username, acc.password, acc.phone).await
}

async fn api(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> StatusCode {
    app.call(method, path, Some(token), body).await.0
}

/// Gives the plan administrator (`pshah`) an affiliation with Lakeside, as the old invitation did.
async fn attach_plan_admin_to_lakeside(app: &TestApp) -> (UserId, AffiliationId) {
    let pshah = user_id(app, "pshah").await;
    let practice = app.count("SELECT id FROM practices WHERE tax_id = '825671892'").await;
    app.sql(&format!(
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
         VALUES ({}, {}, {practice}, 'billing_staff', 0, 1, 0)",
        app.plan.id().0,
        pshah.0
    ))
    .await;
    let aid = app.count(&format!("SELECT id FROM affiliations WHERE user_id = {}", pshah.0)).await;
    (pshah, AffiliationId(aid))
}

async fn a_practice_administrator_never_reaches_a_staff_account(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let meta = RequestMeta::cli();
    let (pshah, aid) = attach_plan_admin_to_lakeside(&app).await;
    let grant = svc.practice_grant(&app.plan, &session(&app, "ocarter").await).await.expect("ocarter administers");
    let plan = &app.plan;
    assert!(matches!(svc.member(&grant, plan, pshah, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(svc.deactivate_member(&grant, plan, pshah, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(svc.send_member_reset_link(&grant, plan, pshah, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(svc.set_member_admin(&grant, plan, aid, true, &meta).await, Err(PracticeError::NotFound)));
    assert!(matches!(svc.remove_member_affiliation(&grant, plan, aid, &meta).await, Err(PracticeError::NotFound)));

    // Over the API, as the review tried it: every answer is 404 and nothing changes.
    let t = api_token(&app, "ocarter").await;
    let user = format!("/api/v1/practice/users/{}", pshah.0);
    assert_eq!(api(&app, "GET", &user, &t, None).await, StatusCode::NOT_FOUND);
    let edit = json!({"first_name": "Priya", "last_name": "Shah", "email": "evil@attacker.example",
        "email_confirm": "evil@attacker.example"});
    assert_eq!(api(&app, "PATCH", &user, &t, Some(edit)).await, StatusCode::NOT_FOUND);
    for action in ["deactivate", "reactivate", "revoke", "password-reset"] {
        assert_eq!(api(&app, "POST", &format!("{user}/{action}"), &t, None).await, StatusCode::NOT_FOUND, "{action}");
    }
    let aff = format!("/api/v1/practice/affiliations/{}", aid.0);
    assert_eq!(api(&app, "PATCH", &aff, &t, Some(json!({"admin": true}))).await, StatusCode::NOT_FOUND);
    assert_eq!(api(&app, "DELETE", &aff, &t, None).await, StatusCode::NOT_FOUND);
    let email =
        format!("SELECT COUNT(*) FROM users WHERE id = {} AND status = 'active' AND email LIKE 'pshah@%'", pshah.0);
    assert_eq!(app.count(&email).await, 1, "the plan administrator is untouched");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset_link.v1'").await, 0);
    app.stop().await;
}
both!(a_practice_administrator_never_reaches_a_staff_account);

async fn the_help_desk_does_not_act_above_its_role(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let meta = RequestMeta::cli();
    let plan = &app.plan;
    let desk = svc.staff_grant(plan, Some(&session(&app, "hdiaz").await)).await.expect("help desk");
    let pshah = user_id(&app, "pshah").await;
    let colleague = app.user("kwong", "Kim", "Wong", 2001, Some("help_desk")).await;
    for target in [pshah, colleague] {
        for action in [SupportAction::ResetTwoStep, SupportAction::Deactivate, SupportAction::SendPasswordReset] {
            let r = svc.support_action(&desk, plan, target, action, "Caller asked", &meta).await;
            assert!(matches!(r, Err(SupportError::AboveYourRole)), "{action:?} on {target:?}: {r:?}");
        }
    }
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {} AND two_step_phone IS NOT NULL", pshah.0)).await,
        1
    );
    // A practice administrator is below the help desk: it helps them.
    let ocarter = user_id(&app, "ocarter").await;
    svc.support_action(&desk, plan, ocarter, SupportAction::Unlock, "Locked out", &meta).await.expect("unlock");

    // Over the page: refused with the reason, 403.
    let admin_page = format!("/admin/users/{}/reset-two-step", pshah.0);
    app.sql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'kwong') WHERE username = 'hdiaz'").await;
    let browser = app.signed_in_browser("hdiaz", 177).await;
    let (s, page) = app.submit(&browser, &admin_page, &admin_page, &[("reason", "Caller asked")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("role above yours"), "{page}");
    app.stop().await;
}
both!(the_help_desk_does_not_act_above_its_role);

async fn a_deactivation_by_plan_staff_is_lifted_only_by_plan_staff(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let meta = RequestMeta::cli();
    let plan = &app.plan;
    let jpatel = user_id(&app, "jpatel").await;
    let staff = svc.operator_grant(plan);
    svc.support_action(&staff, plan, jpatel, SupportAction::Deactivate, "Left the practice", &meta).await.expect("off");
    let grant = svc.practice_grant(plan, &session(&app, "ocarter").await).await.expect("grant");
    let r = svc.reactivate_member(&grant, plan, jpatel, &meta).await;
    assert!(matches!(r, Err(PracticeError::Invalid(ref m)) if m.contains("Provider services deactivated")), "{r:?}");
    let status = format!("SELECT COUNT(*) FROM users WHERE id = {} AND status = 'deactivated'", jpatel.0);
    assert_eq!(app.count(&status).await, 1);
    // A deactivation by the practice is the practice's to lift.
    svc.support_action(&staff, plan, jpatel, SupportAction::Reactivate, "Back", &meta).await.expect("on");
    svc.deactivate_member(&grant, plan, jpatel, &meta).await.expect("practice deactivates");
    svc.reactivate_member(&grant, plan, jpatel, &meta).await.expect("practice reactivates");
    let row = gatehouse_store::users::get(&mut svc.db.acquire().await.expect("conn"), plan.id(), jpatel).await;
    assert_eq!(row.expect("read").expect("user").status, UserStatus::Active);
    app.stop().await;
}
both!(a_deactivation_by_plan_staff_is_lifted_only_by_plan_staff);

async fn an_email_changed_by_an_administrator_is_told_to_the_old_address(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let plan = &app.plan;
    let jpatel = user_id(&app, "jpatel").await;
    let grant = svc.practice_grant(plan, &session(&app, "ocarter").await).await.expect("grant");
    let form = gatehouse_domain::profile::ProfileForm {
        username: "jpatel".into(),
        first_name: "Jay".into(),
        last_name: "Patel".into(),
        email: "jay.patel@new-clinic.example".into(),
        email_confirm: "jay.patel@new-clinic.example".into(),
        ..Default::default()
    };
    svc.edit_member(&grant, plan, jpatel, &form, &RequestMeta::cli()).await.expect("edited");
    let told = app.last_message_to("jpatel@lakeside-family.example.org").await.expect("the old address is told");
    assert_eq!(told.kind, "email_changed.v1");
    assert!(told.body_text.contains("jay.patel@new-clinic.example"), "{}", told.body_text);
    app.stop().await;
}
both!(an_email_changed_by_an_administrator_is_told_to_the_old_address);

async fn a_renamed_username_does_not_pass_its_rights_on(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let plan = &app.plan;
    let jpatel = user_id(&app, "jpatel").await;
    let check = |name: &str| Check {
        who: Who::username(name),
        permission: gatehouse_domain::permissions::Permission::ClaimsView,
        target: Target::TaxId("825671892".into()),
    };
    assert!(svc.check_one(plan.id(), &check("jpatel")).await.expect("check").allowed(), "before the rename");
    let grant = svc.practice_grant(plan, &session(&app, "ocarter").await).await.expect("grant");
    let form = gatehouse_domain::profile::ProfileForm {
        username: "jaypatel".into(),
        first_name: "Jay".into(),
        last_name: "Patel".into(),
        email: "jpatel@lakeside-family.example.org".into(),
        email_confirm: "jpatel@lakeside-family.example.org".into(),
        ..Default::default()
    };
    svc.edit_member(&grant, plan, jpatel, &form, &RequestMeta::cli()).await.expect("renamed");
    // Someone new takes the old name: they are checked with their own (no) rights.
    app.user("jpatel", "Jamie", "Pell", 2002, None).await;
    assert!(!svc.check_one(plan.id(), &check("jpatel")).await.expect("check").allowed(), "old name, new person");
    assert!(svc.check_one(plan.id(), &check("jaypatel")).await.expect("check").allowed(), "new name, same person");
    app.stop().await;
}
both!(a_renamed_username_does_not_pass_its_rights_on);

/// Sessions are listed and ended only by their own user, fully signed in to this plan: the
/// service asks that itself, whatever the page or API in front of it checked.
async fn sessions_are_only_their_own_users(backend: Backend) {
    use gatehouse_services::sessions::SessionError;
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let svc = &app.running.services;
    let plan = &app.plan;
    let ocarter = api_token(&app, "ocarter").await;
    let jpatel = api_token(&app, "jpatel").await;
    let (s, mine) = app.call("GET", "/api/v1/sessions", Some(&jpatel), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    let theirs = mine[0]["id"].as_i64().expect("a session id");
    // Another person's session reads as not found, and stays.
    let path = format!("/api/v1/sessions/{theirs}");
    let (s, body) = app.call("DELETE", &path, Some(&ocarter), None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    assert_eq!(api(&app, "GET", "/api/v1/sessions", &jpatel, None).await, StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'session.ended_by_user'").await, 0);
    // A session still signing in, or of another plan, is not signed in, at the service itself.
    let full = session(&app, "jpatel").await;
    let halfway = SessionInfo { stage: SessionStage::TwoStepCode, ..full.clone() };
    let elsewhere = SessionInfo { plan_id: gatehouse_domain::PlanId(plan.id().0 + 1), ..full.clone() };
    for s in [&halfway, &elsewhere] {
        assert!(matches!(svc.list_sessions(plan, s).await, Err(SessionError::NotSignedIn)), "{s:?}");
        let r = svc.end_session(plan, s, gatehouse_domain::SessionId(theirs), &RequestMeta::cli()).await;
        assert!(matches!(r, Err(SessionError::NotSignedIn)), "{s:?}: {r:?}");
    }
    assert_eq!(api(&app, "GET", "/api/v1/sessions", &jpatel, None).await, StatusCode::OK, "still live");
    // Their own: listed, and ended.
    assert_eq!(svc.list_sessions(plan, &full).await.expect("listed").len(), 1);
    assert_eq!(api(&app, "DELETE", &path, &jpatel, None).await, StatusCode::NO_CONTENT);
    assert_eq!(api(&app, "GET", "/api/v1/sessions", &jpatel, None).await, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(sessions_are_only_their_own_users);

/// A signed-in person who is not the plan's staff is refused a staff API and the refusal is
/// recorded, as the control panel's pages record it.
async fn a_refused_staff_api_call_is_audited(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let ocarter = api_token(&app, "ocarter").await;
    let denied = format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'admin.access_denied' AND outcome = 'denied' \
         AND actor_user_id = {}",
        user_id(&app, "ocarter").await.0
    );
    for path in ["/api/v1/legacy-users/report", "/api/v1/roster/imports/1", "/api/v1/reviews"] {
        let (s, body) = app.call("GET", path, Some(&ocarter), None).await;
        assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}: {body}");
    }
    assert_eq!(app.count(&denied).await, 3);
    // Without a session: 401, and nothing to record.
    assert_eq!(app.call("GET", "/api/v1/legacy-users/report", None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.access_denied'").await, 3);
    app.stop().await;
}
both!(a_refused_staff_api_call_is_audited);

/// A session whose user is deactivated is never honoured, even one the deactivation did not end
/// (a sign-in that checked the password just before the deactivation committed).
async fn a_deactivated_users_session_is_not_honoured(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let kim = app.user("kwong", "Kim", "Wong", 2001, None).await;
    app.affiliate(kim).await;
    let browser = app.signed_in_browser("kwong", 2001).await;
    let token = app.api_session("kwong", crate::support::TEST_PASSWORD, "+12065552001").await;
    assert_eq!(app.page(&browser, "/").await.0, StatusCode::OK);
    assert_eq!(api(&app, "GET", "/api/v1/me", &token, None).await, StatusCode::OK);
    // As the race leaves it: the account deactivated, its sessions not ended.
    app.sql(&format!("UPDATE users SET status = 'deactivated' WHERE id = {}", kim.0)).await;
    assert_eq!(app.visit(&browser, "/").await.2.as_deref(), Some("/signin"));
    assert_eq!(api(&app, "GET", "/api/v1/me", &token, None).await, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(a_deactivated_users_session_is_not_honoured);

/// At a shared computer, the next person who signs in ends the session the browser still held
/// (and its applications with it); the same person signing in again keeps theirs, so that an
/// application asking for a fresh sign-in does not sign them out of the others.
async fn signing_in_as_someone_else_ends_the_session_the_browser_held(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    let bo = app.user("bo", "Bo", "Diaz", 2, None).await;
    app.affiliate(ana).await;
    app.affiliate(bo).await;
    let live = |u: UserId| format!("SELECT COUNT(*) FROM sessions WHERE user_id = {} AND ended_at IS NULL", u.0);
    let c = app.browser();
    crate::oidc_flow::sign_in_at(&app, &c, "/signin", "ana", 1).await;
    // The same person again: both sessions stay.
    crate::oidc_flow::sign_in_at(&app, &c, "/signin?reauth=1", "ana", 1).await;
    assert_eq!(app.count(&live(ana)).await, 2);
    // Someone else: the session this browser held ends, recorded as the newcomer's doing.
    crate::oidc_flow::sign_in_at(&app, &c, "/signin?reauth=1", "bo", 2).await;
    assert_eq!(app.count(&live(ana)).await, 1, "the one this browser held, not ana's other one");
    assert_eq!(app.count(&live(bo)).await, 1);
    let replaced = format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'session.replaced' AND actor_user_id = {} \
         AND subject_user_id = {}",
        bo.0, ana.0
    );
    assert_eq!(app.count(&replaced).await, 1);
    assert_eq!(app.page(&c, "/").await.0, StatusCode::OK, "bo is signed in");
    app.stop().await;
}
both!(signing_in_as_someone_else_ends_the_session_the_browser_held);

/// Posts the head of a `bytes`-long upload to `path` and 64 KiB of it, then waits (5 s at most)
/// for the answer's status line without sending the rest: a server that read the body before
/// deciding who may send it would never answer.
async fn status_before_the_body(app: &TestApp, path: &str, bearer: Option<&str>, bytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(&app.url(path)).expect("url");
    let addr = format!("{}:{}", url.host_str().expect("host"), url.port().expect("port"));
    let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\n{auth}Content-Length: {bytes}\r\n\r\n",
        url.path()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(&vec![b'a'; 64 * 1024]).await.expect("a first part of the body");
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut answer))
        .await
        .expect("answered before the body was sent")
        .expect("read");
    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned()
}

/// The file imports (up to 64 MB a body) decide who is calling from the request's head: an
/// outsider, a signed-in office user and a help-desk agent are answered before the server reads
/// (and holds) the file.
async fn imports_refuse_callers_before_reading_the_file(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("ann", "Ann", "Lee", 143, None).await;
    app.user("hal", "Hal", "Diaz", 144, Some("help_desk")).await;
    let ann = app.api_session("ann", crate::support::TEST_PASSWORD, "+12065550143").await;
    let hal = app.api_session("hal", crate::support::TEST_PASSWORD, "+12065550144").await;
    let big = 60 * 1024 * 1024;
    for path in ["/api/v1/roster/imports", "/api/v1/legacy-users/imports"] {
        assert_eq!(status_before_the_body(&app, path, None, big).await, "HTTP/1.1 401 Unauthorized", "{path}");
        assert_eq!(status_before_the_body(&app, path, Some(&ann), big).await, "HTTP/1.1 403 Forbidden", "{path}");
        assert_eq!(status_before_the_body(&app, path, Some(&hal), big).await, "HTTP/1.1 403 Forbidden", "{path}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM roster_imports").await, 0);
    app.stop().await;
}
both!(imports_refuse_callers_before_reading_the_file);
