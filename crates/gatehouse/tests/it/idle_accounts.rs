//! Idle accounts and the daily job (issue 17), on both databases with the injected clock: the
//! Idle flag at 90 days in the practice directory and plan staff's search, the warning email at
//! 166 days sent once however many runs, the deactivation at 180 days (sessions ended,
//! affiliations kept, audited as the system with reason "inactivity"), a sign-in cancelling it,
//! invited and staff accounts left alone, the last administrator kept, the lease, the settings.

use crate::both;
use crate::support::fixtures::{Person, Practice};
use crate::support::{Backend, TestApp};
use gatehouse_domain::staff::StaffRole;
use gatehouse_domain::{Duration, Timestamp, UserId};
use gatehouse_services::RequestMeta;
use gatehouse_services::jobs::{DAILY, DailyRun};
use gatehouse_services::practice::directory::DirectoryRequest;
use gatehouse_services::settings::{SettingsError, raw_from};
use reqwest::StatusCode;

/// Lakeside with Dana (administrator), Lee and Kim (billing staff), Ivy (invited, never signs
/// up), and Sam (plan administrator), all signed in at the start.
struct World {
    app: TestApp,
    practice: Practice,
    dana: Person,
    lee: Person,
    kim: Person,
    ivy: UserId,
    sam: Person,
}

impl World {
    async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let practice = app.practices(&plan, &[(1, "825671892", "Lakeside Family Medicine")]).await.remove(0);
        let dana = app.person(&plan, "dana", 1001).await;
        app.admin_of(&dana, &practice).await;
        let lee = app.person(&plan, "lee", 1002).await;
        app.member_of(&lee, &practice, &dana).await;
        let kim = app.person(&plan, "kim", 1003).await;
        app.member_of(&kim, &practice, &dana).await;
        let ivy = app.invite_to(&dana, &practice, "ivy").await;
        let sam = app.staff(&plan, "sam", 1009, StaffRole::PlanAdmin).await;
        Some(Self { app, practice, dana, lee, kim, ivy, sam })
    }

    fn svc(&self) -> &gatehouse_services::Services {
        &self.app.running.services
    }

    fn now(&self) -> Timestamp {
        self.svc().clock.now()
    }

    /// Moves the clock to `days` after the start (the world was built at the clock's start).
    fn to_day(&self, days: i64) {
        let target = Timestamp(1_800_000_000).plus(Duration::days(days));
        self.app.advance(Duration::seconds(target.as_secs() - self.now().as_secs()));
    }

    async fn run(&self) -> gatehouse_services::jobs::DailyReport {
        self.svc().run_daily_job(self.now()).await.expect("daily job")
    }

    async fn status(&self, user: UserId) -> String {
        sqlx::query_scalar("SELECT status FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_one(self.app.running.services.db.pool())
            .await
            .expect("status")
    }

    async fn warnings_to(&self, username: &str) -> i64 {
        self.app
            .count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'idle_warning.v1' AND recipient = '{username}@example.org'"
            ))
            .await
    }

    async fn warnings(&self) -> i64 {
        self.app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'idle_warning.v1'").await
    }

    /// Which of the directory's users are flagged idle, by username, as Dana's service call sees it.
    async fn idle_in_directory(&self) -> Vec<String> {
        let grant = self.svc().practice_grant(&self.app.plan, &self.dana.session).await.expect("grant");
        let page = self
            .svc()
            .practice_directory(&grant, &self.app.plan, &DirectoryRequest::default())
            .await
            .expect("directory");
        let mut idle: Vec<String> =
            page.entries.into_iter().filter(|e| e.idle).filter_map(|e| e.row.username).collect();
        idle.sort();
        idle
    }

    /// Whether plan staff's search flags `username` as idle.
    async fn idle_in_search(&self, username: &str) -> bool {
        let grant = self.svc().operator_grant(&self.app.plan);
        let (rows, _) = self.svc().search_users(&grant, &self.app.plan, username, 1).await.expect("search");
        rows.iter().find(|u| u.row.username.as_deref() == Some(username)).expect("found").idle
    }
}

async fn idle_flag_at_90_days_in_directory_and_staff_search(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    w.to_day(89);
    assert!(w.idle_in_directory().await.is_empty());
    assert!(!w.idle_in_search("lee").await && !w.idle_in_search("sam").await);
    // The pages: Dana's directory, Sam's search (each signs in, which starts their own new period).
    let dana = app.signed_in_browser("dana", w.dana.phone_tail).await;
    let (s, page) = app.page(&dana, "/practice/users").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains("<span class=\"badge\">Idle</span>"), "{page}");
    assert!(page.contains("Last sign-in"), "{page}");
    let sam = app.signed_in_browser("sam", w.sam.phone_tail).await;
    let (_, page) = app.page(&sam, "/admin/users?q=lee").await;
    assert!(page.contains("lee@example.org") && !page.contains("Idle</span>"), "{page}");

    w.to_day(90);
    assert_eq!(w.idle_in_directory().await, ["kim", "lee"], "Dana signed in at day 89; Ivy never signed up");
    assert!(w.idle_in_search("lee").await);
    let dana = app.signed_in_browser("dana", w.dana.phone_tail).await;
    let (_, page) = app.page(&dana, "/practice/users").await;
    assert_eq!(page.matches("<span class=\"badge\">Idle</span>").count(), 2, "{page}");
    let sam = app.signed_in_browser("sam", w.sam.phone_tail).await;
    let (_, page) = app.page(&sam, "/admin/users?q=lee").await;
    assert!(page.contains("<span class=\"badge\">Idle</span>"), "{page}");
    // And each one's own page, for the administrator and for plan staff.
    let (_, page) = app.page(&dana, &format!("/practice/users/{}", w.lee.id.0)).await;
    assert!(page.contains("<span class=\"badge\">Idle</span>"), "{page}");
    let (_, page) = app.page(&sam, &format!("/admin/users/{}", w.lee.id.0)).await;
    assert!(page.contains("<span class=\"badge\">Idle</span>"), "{page}");
    // The API's directory says it too.
    let token = app.api_session("dana", crate::support::TEST_PASSWORD, &w.dana.phone()).await;
    let r = app.api().get(app.url("/api/v1/practice/users")).bearer_auth(&token).send().await.expect("api");
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    let users = body["users"].as_array().expect("users");
    let lee = users.iter().find(|u| u["username"] == "lee").expect("lee");
    assert_eq!(lee["idle"], true);
    assert_eq!(lee["last_signin_at"], 1_800_000_000);
    let dana_row = users.iter().find(|u| u["username"] == "dana").expect("dana");
    assert_eq!(dana_row["idle"], false);
    w.app.stop().await;
}

both!(idle_flag_at_90_days_in_directory_and_staff_search);

async fn warned_at_166_days_once_then_deactivated_at_180(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let (app, svc) = (&w.app, w.svc());
    w.to_day(165);
    let r = w.run().await;
    assert!(r.ran && r.plans_run == 1, "{r:?}");
    assert_eq!((r.idle.warned, w.warnings().await), (0, 0));

    // Day 166: two runs at once (as two instances would): one email per account.
    w.to_day(166);
    let now = w.now();
    let (a, b) = tokio::join!(svc.run_daily_job(now), svc.run_daily_job(now));
    let (a, b) = (a.expect("run a"), b.expect("run b"));
    assert_eq!([&a, &b].iter().filter(|r| r.plans_run == 1).count(), 1, "one runs the plan: {a:?} {b:?}");
    assert_eq!(a.idle.warned + b.idle.warned, 3, "Dana, Lee and Kim: {a:?} {b:?}");
    for who in ["dana", "lee", "kim"] {
        assert_eq!(w.warnings_to(who).await, 1, "{who}");
    }
    assert_eq!(w.warnings_to("ivy").await + w.warnings_to("sam").await, 0, "invited and staff are not warned");
    // Again the same day, and forced: nothing more.
    assert_eq!(w.run().await.plans_already_run, 1);
    let forced = svc.run_daily_job_for(w.now(), DailyRun::Forced).await.expect("forced");
    assert_eq!((forced.plans_run, forced.idle.warned, forced.idle.deactivated), (1, 0, 0));
    assert_eq!(w.warnings().await, 3);
    // What it says: the date in the plan's zone, why, what to do; no person's name.
    let m = app.last_message_to("lee@example.org").await.expect("warning");
    let on = Timestamp(1_800_000_000).plus(Duration::days(180)).day_for_people(&app.plan.row.time_zone);
    assert!(m.subject.contains(&on), "{}", m.subject);
    assert!(m.body_text.contains(&format!("will be deactivated on {on} because it has not been used for 166 days")));
    assert!(m.body_text.contains("Sign in before then to keep it") && m.body_text.contains("1-800-555-0199"));
    assert!(!m.body_text.contains("Pat") && !m.body_text.contains("Lakeside"), "{}", m.body_text);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'user.idle_warning_sent' AND actor_user_id IS NULL"
        )
        .await,
        3
    );

    // Day 179: not yet. Day 180: Lee, Kim and then Dana (no active user left to administer).
    w.to_day(179);
    assert_eq!(w.run().await.idle.deactivated, 0);
    let live = format!("SELECT COUNT(*) FROM sessions WHERE user_id = {} AND ended_at IS NULL", w.lee.id.0);
    assert!(app.count(&live).await > 0, "Lee's sign-up session was never ended");
    w.to_day(180);
    let r = w.run().await;
    assert_eq!((r.idle.deactivated, r.idle.kept_last_admin, r.idle.warned), (3, 0, 0), "{r:?}");
    for p in [&w.dana, &w.lee, &w.kim] {
        assert_eq!(w.status(p.id).await, "deactivated", "{}", p.username);
    }
    assert_eq!(app.count(&live).await, 0, "sessions ended");
    assert_eq!(w.status(w.ivy).await, "invited");
    assert_eq!(w.status(w.sam.id).await, "active", "staff are never deactivated");
    let kept = format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", w.lee.id.0);
    assert_eq!(app.count(&kept).await, 1, "affiliations kept");
    let audited = format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'user.deactivated' AND subject_user_id = {} \
         AND actor_user_id IS NULL AND detail LIKE '%\"reason\":\"inactivity\"%' AND detail LIKE '%\"actor\":\"system\"%'",
        w.lee.id.0
    );
    assert_eq!(app.count(&audited).await, 1);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {} AND deactivated_by = 'inactivity'", w.lee.id.0))
            .await,
        1
    );
    // Deactivated: a password sign-in no longer works.
    let fields = [("username", "lee"), ("password", crate::support::TEST_PASSWORD)];
    let (s, page, _) = app.post_form(&app.browser(), "/signin", "/signin", &fields).await;
    assert_ne!(s, StatusCode::SEE_OTHER, "a deactivated account cannot start a sign-in");
    assert!(page.contains("This account is deactivated"), "{page}");
    // Idempotent: the next day changes nothing.
    w.to_day(181);
    assert_eq!(w.run().await.idle, Default::default());
    assert_eq!(
        svc.verify_audit_chain(app.plan.id()).await.expect("chain"),
        gatehouse_services::audit::ChainReport::Intact {
            events: app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE plan_id = {}", app.plan.id().0)).await
        }
    );
    let _ = &w.practice;
    w.app.stop().await;
}

both!(warned_at_166_days_once_then_deactivated_at_180);

async fn a_sign_in_at_day_170_cancels_and_the_last_admin_stays(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    w.to_day(166);
    assert_eq!(w.run().await.idle.warned, 3);
    w.to_day(170);
    let _kim = app.signed_in_browser("kim", w.kim.phone_tail).await;
    w.to_day(180);
    let r = w.run().await;
    // Lee goes; Kim signed in; Dana stays, the last administrator of a practice with Kim active.
    assert_eq!((r.idle.deactivated, r.idle.kept_last_admin), (1, 1), "{r:?}");
    assert_eq!(w.status(w.lee.id).await, "deactivated");
    assert_eq!(w.status(w.kim.id).await, "active");
    assert_eq!(w.status(w.dana.id).await, "active");
    // Dana reactivates Lee: a new idle period starts, so the next run leaves Lee alone.
    let grant = w.svc().practice_grant(&app.plan, &w.dana.session).await.expect("grant");
    w.svc().reactivate_member(&grant, &app.plan, w.lee.id, &RequestMeta::cli()).await.expect("reactivate");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", w.lee.id.0)).await, 1);
    w.to_day(181);
    let r = w.run().await;
    assert_eq!(r.idle.deactivated, 0, "{r:?}");
    assert_eq!(w.status(w.lee.id).await, "active");
    // Kim's new period: no new warning before day 170 + 166, one then.
    w.to_day(335);
    w.run().await;
    assert_eq!(w.warnings_to("kim").await, 1);
    w.to_day(336);
    w.run().await;
    assert_eq!(w.warnings_to("kim").await, 2);
    // Ivy, invited, is never idle; Sam, staff, is flagged but never warned or deactivated.
    w.to_day(400);
    w.run().await;
    assert_eq!(w.status(w.ivy).await, "invited");
    assert_eq!(w.warnings_to("ivy").await, 0);
    assert_eq!(w.status(w.sam.id).await, "active");
    assert_eq!(w.warnings_to("sam").await, 0);
    assert!(w.idle_in_search("sam").await);
    w.app.stop().await;
}

both!(a_sign_in_at_day_170_cancels_and_the_last_admin_stays);

async fn an_account_is_never_deactivated_without_its_warning(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    // The job first runs on day 200 (a new installation, or the job was off): warnings only,
    // for a deactivation 14 days later.
    w.to_day(200);
    let r = w.run().await;
    assert_eq!((r.idle.warned, r.idle.deactivated), (3, 0), "{r:?}");
    let m = w.app.last_message_to("lee@example.org").await.expect("warning");
    let on = w.now().plus(Duration::days(14)).day_for_people(&w.app.plan.row.time_zone);
    assert!(m.body_text.contains(&format!("will be deactivated on {on}")), "{}", m.body_text);
    w.to_day(213);
    assert_eq!(w.run().await.idle.deactivated, 0);
    w.to_day(214);
    assert_eq!(w.run().await.idle.deactivated, 3);
    w.app.stop().await;
}

both!(an_account_is_never_deactivated_without_its_warning);

async fn the_lease_lets_one_run_at_a_time(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let now = svc.clock.now();
    // Another instance holds the lease: this one skips.
    let mut conn = svc.db.acquire().await.expect("conn");
    let until = now.plus(gatehouse_services::jobs::LEASE).as_secs();
    assert!(gatehouse_store::jobs::acquire(&mut conn, DAILY, "other", now.as_secs(), until).await.expect("lease"));
    assert!(!gatehouse_store::jobs::acquire(&mut conn, DAILY, "third", now.as_secs(), until).await.expect("lease"));
    drop(conn);
    let r = svc.run_daily_job(now).await.expect("run");
    assert!(!r.ran && r.plans_run == 0, "{r:?}");
    // It ran out (the other instance died): taken over.
    app.advance(Duration::minutes(16));
    let r = svc.run_daily_job(svc.clock.now()).await.expect("run");
    assert!(r.ran && r.plans_run == 1, "{r:?}");
    // Released at the end: the next plan-local day runs at once.
    app.advance(Duration::days(1));
    assert_eq!(svc.run_daily_job(svc.clock.now()).await.expect("run").plans_run, 1);
    app.stop().await;
}

both!(the_lease_lets_one_run_at_a_time);

async fn idle_thresholds_are_bounded(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    let meta = RequestMeta::cli();
    for (flag, off, field, text) in [
        ("29", "180", "idle_flag_days", "from 30 to 365"),
        ("366", "730", "idle_flag_days", "from 30 to 365"),
        ("90", "59", "idle_deactivate_days", "from 60 to 730"),
        ("90", "731", "idle_deactivate_days", "from 60 to 730"),
        ("100", "113", "idle_deactivate_days", "at least 114 days"),
    ] {
        let mut raw = raw_from(&app.plan.row);
        raw.insert("idle_flag_days".into(), flag.into());
        raw.insert("idle_deactivate_days".into(), off.into());
        let r = svc.update_settings(&grant, &app.plan, &raw, &meta).await;
        let Err(SettingsError::Invalid(errs)) = r else { panic!("{flag}/{off}: {r:?}") };
        assert!(errs.get(field).is_some_and(|m| m.contains(text)), "{flag}/{off}: {errs:?}");
    }
    let mut raw = raw_from(&app.plan.row);
    raw.insert("idle_flag_days".into(), "30".into());
    raw.insert("idle_deactivate_days".into(), "60".into());
    svc.update_settings(&grant, &app.plan, &raw, &meta).await.expect("settings");
    assert_eq!(app.count("SELECT idle_flag_days + idle_deactivate_days FROM plans WHERE slug = 'test'").await, 90);
    app.stop().await;
}

both!(idle_thresholds_are_bounded);
