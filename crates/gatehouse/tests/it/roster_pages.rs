//! The roster on the control panel and over the API: upload, change report, re-import, search,
//! and who may do what.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
use reqwest::StatusCode;
use serde_json::json;

fn roster_csv(extra_bad_line: bool) -> String {
    let mut s = String::from(
        "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,address1,address2,city,state,zip,phone,vendor_id,office_id,group_provider_id\n\
         G100234,1542386101,group,,,Lakeside Family Medicine,825671892,Lakeside Family Medicine,1200 Lakeview Ave,,Seattle,WA,98101,206-555-0100,,,\n\
         P200451,1234567893,practitioner,Richard,Kim,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,,Seattle,WA,98101,206-555-0100,,,G100234\n",
    );
    if extra_bad_line {
        s.push_str("P200452,1234567890,practitioner,Amara,Okafor,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,,Seattle,WA,98101,,,,G100234\n");
    }
    s
}

async fn upload(app: &TestApp, c: &reqwest::Client, csv: String, mode: &str) -> (StatusCode, String) {
    let (_, page) = app.page(c, "/admin/roster/import").await;
    let token = csrf(&page);
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("roster.csv"))
        .text("mode", mode.to_owned());
    let r = c
        .post(app.url(&format!("/admin/roster/import?csrf_token={token}")))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    (r.status(), r.text().await.expect("text"))
}

async fn import_through_the_control_panel(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let npi_ok = gatehouse_domain::Npi::parse("1542386101").is_ok();
    assert!(npi_ok, "test data uses valid NPIs");
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    // A file with a bad NPI changes nothing by default and lists the line.
    let (s, page) = upload(&app, &c, roster_csv(true), "all_or_nothing").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Nothing was changed"));
    assert!(page.contains("P200452"));
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 0);
    // Importing the valid lines on request.
    let (s, page) = upload(&app, &c, roster_csv(true), "valid_rows").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("The roster was updated."));
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 2);
    // The same file again changes nothing.
    let (s, page) = upload(&app, &c, roster_csv(false), "all_or_nothing").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("nothing changed"), "{page}");
    // An empty file.
    let (s, page) = upload(&app, &c, String::new(), "all_or_nothing").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("The file is empty."));
    // Search and history.
    let (_, page) = app.page(&c, "/admin/roster?q=kim").await;
    assert!(page.contains("P200451") && !page.contains("G100234</td>"));
    let (_, page) = app.page(&c, "/admin/roster").await;
    assert!(page.contains("Past imports") && page.contains("roster.csv"));
    let first: i64 = app.count("SELECT MIN(id) FROM roster_imports").await;
    let (s, page) = app.page(&c, &format!("/admin/roster/imports/{first}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Rejected lines"));
    // The help desk may look but not import.
    let d = app.signed_in_browser("hdesk", 1002).await;
    assert_eq!(app.page(&d, "/admin/roster").await.0, StatusCode::OK);
    assert_eq!(app.page(&d, "/admin/roster/import").await.0, StatusCode::FORBIDDEN);
    let (s, _) = upload(&app, &d, roster_csv(false), "all_or_nothing").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}
both!(import_through_the_control_panel);

async fn import_over_the_api(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    app.user("office", "Olga", "Office", 1004, None).await;
    let api = app.api();
    let token = |username: &'static str, tail: u16| {
        let api = api.clone();
        let app = &app;
        async move {
            let v: serde_json::Value = api
                .post(app.url("/api/v1/signin"))
                .json(&json!({"username": username, "password": TEST_PASSWORD}))
                .send()
                .await
                .expect("signin")
                .json()
                .await
                .expect("json");
            let t = v["session_token"].as_str().expect("token").to_owned();
            let code = app.last_code(&format!("+1206555{tail:04}")).await;
            let v: serde_json::Value = api
                .post(app.url("/api/v1/two-step/verify"))
                .bearer_auth(&t)
                .json(&json!({"code": code}))
                .send()
                .await
                .expect("verify")
                .json()
                .await
                .expect("json");
            v["session_token"].as_str().expect("token").to_owned()
        }
    };
    let admin = token("padmin", 1001).await;
    let r = api
        .post(app.url("/api/v1/roster/imports?file_name=claims.csv"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(roster_csv(false))
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::OK);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["counts"]["added"], 2);
    let id = report["id"].as_i64().expect("id");
    let r = api.get(app.url(&format!("/api/v1/roster/imports/{id}"))).bearer_auth(&admin).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    // Not staff: refused; no token: unauthenticated.
    let office = token("office", 1004).await;
    let r = api
        .post(app.url("/api/v1/roster/imports"))
        .bearer_auth(&office)
        .body(roster_csv(false))
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = api.post(app.url("/api/v1/roster/imports")).body(roster_csv(false)).send().await.expect("import");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(import_over_the_api);
