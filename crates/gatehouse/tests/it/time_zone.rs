//! The plan's time zone (issue 14): the plan administrator sets it on the settings page (an
//! unknown zone is refused beside the field, nothing changed); every date and time on the
//! pages and in the emails is shown in it, with the zone's short name, never in UTC.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::Duration;
use reqwest::StatusCode;

/// The settings form as saved now, with `time_zone` set to `zone`.
fn settings_with_zone(app: &TestApp, zone: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = gatehouse_services::settings::raw_from(&app.plan.row).into_iter().collect();
    for (k, v) in &mut fields {
        if k == "time_zone" {
            *v = zone.to_owned();
        }
    }
    fields
}

async fn save_settings(app: &TestApp, c: &reqwest::Client, zone: &str) -> (StatusCode, String) {
    let fields = settings_with_zone(app, zone);
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.submit(c, "/admin/settings", "/admin/settings", &body).await
}

async fn zone_in_db(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT time_zone FROM plans WHERE id = $1")
        .bind(app.plan.id().0)
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("zone")
}

async fn the_plan_administrator_sets_the_zone_and_times_follow_it(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;

    // A new plan keeps time in New York; its pages say so (the test clock is 08:00 UTC in January).
    let (s, page) = app.page(&c, "/admin/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"time_zone\" name=\"time_zone\" value=\"America/New_York\""), "{page}");
    assert_eq!(zone_in_db(&app).await, "America/New_York");
    let (_, sessions) = app.page(&c, "/sessions").await;
    assert!(sessions.contains("Jan 15, 2027 3:00 AM EST"), "{sessions}");
    assert!(!sessions.contains("UTC"), "{sessions}");

    // An unknown zone: refused beside its field, nothing changed, nothing audited.
    let (s, page) = save_settings(&app, &c, "Mars/Olympus_Mons").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"time_zone-error\""), "{page}");
    assert!(page.contains("is not a time zone we know") && page.contains("Nothing was saved."), "{page}");
    assert!(page.contains("value=\"Mars/Olympus_Mons\" list=\"time-zones\""), "the typed value stays: {page}");
    assert_eq!(zone_in_db(&app).await, "America/New_York");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'plan.settings_changed'").await, 0);

    // A real zone (letter case forgiven) is saved in its canonical spelling and audited.
    let (s, page) = save_settings(&app, &c, "america/los_angeles").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Saved. Changed: time zone."), "{page}");
    assert!(page.contains("value=\"America/Los_Angeles\""), "{page}");
    assert_eq!(zone_in_db(&app).await, "America/Los_Angeles");
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'plan.settings_changed'")
        .fetch_one(app.running.services.db.pool())
        .await
        .expect("event");
    let v: serde_json::Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(
        (v["time_zone"]["old"].as_str(), v["time_zone"]["new"].as_str()),
        (Some("America/New_York"), Some("America/Los_Angeles"))
    );

    // The pages follow the new zone at once.
    let (_, sessions) = app.page(&c, "/sessions").await;
    assert!(sessions.contains("Jan 15, 2027 12:00 AM PST"), "{sessions}");
    assert!(!sessions.contains("UTC") && !sessions.contains("EST"), "{sessions}");

    // So do the emails, with summer time in summer: the two-step phone notice of a new sign-up.
    app.advance(Duration::days(180));
    crate::page_flows::sign_up_through_pages(&app, "maria@clinic.example", "mlopez").await;
    let notice = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m.recipient == "maria@clinic.example" && m.kind == "two_step_phone_set.v1")
        .expect("phone notice");
    // 1_800_000_000 + 180 days is 2027-07-14T08:00:00Z, 1:00 AM Pacific Daylight Time.
    for body in [&notice.body_text, &notice.body_html] {
        assert!(body.contains("Jul 14, 2027 1:00 AM PDT") && !body.contains("UTC"), "{body}");
    }
    app.stop().await;
}
both!(the_plan_administrator_sets_the_zone_and_times_follow_it);
