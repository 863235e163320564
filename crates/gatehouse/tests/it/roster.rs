//! Roster import: adds, idempotent re-import, changes old → new, end-dating, rejected lines (all
//! or nothing, or the valid ones), whole-file refusals, permissions, audit, search, the CLI.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::roster::synthetic_roster_csv;
use gatehouse_services::plans::NewPlan;
use gatehouse_services::roster::{ImportOptions, ImportReport, RosterError};
use gatehouse_services::staff::{Denied, StaffGrant};
use gatehouse_services::{RequestMeta, Services};
use gatehouse_store::users::{self, NewUser};
use serde_json::{Value, json};

const HEADER: &str = "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,\
                      address1,address2,city,state,zip,phone,vendor_id,office_id,group_provider_id";
const G1: &str = "G1,1234567893,group,,,Lakeside Family Medicine,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,206-555-0100,V1,,";
const P1: &str = "P1,1245319599,practitioner,Richard,Kim,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,,,,G1";
const P1_MOVED: &str = "P1,1245319599,practitioner,Richard,Kim,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Tacoma,WA,98402,,,,G1";
const P2: &str = "p2,1245319599,practitioner,Amara,Okafor,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,,,,G1";
const P3: &str = "P3,1245319599,practitioner,Helen,Brooks,,914407731,Cedar Valley Pediatrics,88 Cedar Valley Rd,,Tacoma,WA,98402-1107,,,,";
const F1: &str = "F1,1234567893,facility,,,St. Brigid Community Hospital,731190246,St. Brigid Community Hospital,4500 Harbor Blvd,,Everett,WA,98201,,,,";

fn file(lines: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s.into_bytes()
}

async fn import(app: &TestApp, csv: &[u8], accept_valid_rows: bool) -> Result<ImportReport, RosterError> {
    let svc = &app.running.services;
    let opts = ImportOptions { import_valid_rows: accept_valid_rows };
    svc.import_roster(&svc.operator_grant(&app.plan), &app.plan, "roster.csv", csv, opts, &RequestMeta::cli(), &|_| {})
        .await
}

async fn providers(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM providers WHERE end_dated_at IS NULL").await
}

async fn imports_adds_and_reimport_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let csv = synthetic_roster_csv(300, 11);
    let progress = std::sync::Mutex::new(Vec::new());
    let r = svc
        .import_roster(
            &svc.operator_grant(&app.plan),
            &app.plan,
            "claims-2026-11.csv",
            csv.as_bytes(),
            ImportOptions::default(),
            &RequestMeta::cli(),
            &|p| progress.lock().unwrap().push(p),
        )
        .await
        .unwrap();
    assert!(r.applied);
    assert_eq!((r.counts.lines, r.counts.added, r.counts.rejected), (300, 300, 0));
    assert_eq!(r.added.len(), 300);
    assert!(r.counts.practices_added > 5);
    assert_eq!(providers(&app).await, 300);
    assert_eq!(app.count("SELECT COUNT(*) FROM practices").await, r.counts.practices_added as i64);
    assert!(!progress.lock().unwrap().is_empty(), "progress was reported");

    let again = import(&app, csv.as_bytes(), false).await.unwrap();
    assert!(again.applied && again.is_no_op(), "{:?}", again.counts);
    assert_eq!(
        (again.counts.unchanged, again.counts.added, again.counts.changed, again.counts.removed),
        (300, 0, 0, 0)
    );
    assert_eq!(again.file_sha256, r.file_sha256);
    assert_eq!(providers(&app).await, 300);

    // Both imports are recorded and audited; the stored report reads back whole.
    let grant = svc.operator_grant(&app.plan);
    let past = svc.roster_imports(&grant, &app.plan, 10).await.unwrap();
    assert_eq!(past.iter().map(|i| i.id).collect::<Vec<_>>(), vec![again.id, r.id]);
    assert_eq!(past[1].file_name, "claims-2026-11.csv");
    assert_eq!(past[1].counts.added, 300);
    assert_eq!(svc.roster_import(&grant, &app.plan, gatehouse_domain::ImportId(r.id)).await.unwrap(), Some(r.clone()));
    assert_eq!(svc.roster_import(&grant, &app.plan, gatehouse_domain::ImportId(r.id + 100)).await.unwrap(), None);
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_events WHERE action = 'roster.imported' AND outcome = 'success' ORDER BY seq",
    )
    .fetch_all(svc.db.pool())
    .await
    .unwrap();
    assert_eq!(details.len(), 2);
    let d: Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(d["file_sha256"], r.file_sha256.as_str());
    assert_eq!(d["counts"]["added"], 300);
    assert_eq!(d["actor"], "cli");
    assert!(matches!(
        svc.verify_audit_chain(app.plan.id()).await.unwrap(),
        gatehouse_services::audit::ChainReport::Intact { .. }
    ));
    app.stop().await;
}
both!(imports_adds_and_reimport_changes_nothing);

async fn changes_are_reported_and_missing_providers_end_dated(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let first = import(&app, &file(&[G1, P1, P2, F1]), false).await.unwrap();
    assert_eq!((first.counts.added, first.counts.practices_added), (4, 2));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM providers WHERE provider_id = 'P2'").await,
        1,
        "IDs are kept in capitals"
    );

    let second = import(&app, &file(&[G1, P1_MOVED, P3, F1]), false).await.unwrap();
    let c = second.counts;
    assert_eq!((c.added, c.changed, c.removed, c.unchanged, c.practices_added), (1, 1, 1, 2, 1));
    assert_eq!(second.added[0].provider_id, "P3");
    assert_eq!(second.changed[0].provider_id, "P1");
    assert_eq!(second.changed[0].name, "Kim, Richard");
    let fields: Vec<(&str, &str, &str)> =
        second.changed[0].changes.iter().map(|f| (f.field.as_str(), f.old.as_str(), f.new.as_str())).collect();
    assert_eq!(fields, vec![("city", "Seattle", "Tacoma"), ("zip", "98101", "98402")]);
    assert_eq!(second.removed[0].provider_id, "P2");
    // End-dated, not deleted.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM providers WHERE provider_id = 'P2' AND end_dated_at IS NOT NULL").await,
        1
    );
    assert_eq!(providers(&app).await, 4);

    // The first file again: P2 comes back, P3 goes, P1 moves back.
    let third = import(&app, &file(&[G1, P1, P2, F1]), false).await.unwrap();
    let c = third.counts;
    assert_eq!((c.added, c.changed, c.removed, c.unchanged), (0, 2, 1, 2));
    let p2 = third.changed.iter().find(|ch| ch.provider_id == "P2").unwrap();
    assert_eq!(
        (p2.changes[0].field.as_str(), p2.changes[0].old.as_str(), p2.changes[0].new.as_str()),
        ("status", "end-dated", "active")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM providers WHERE provider_id = 'P2' AND end_dated_at IS NULL").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 5);
    app.stop().await;
}
both!(changes_are_reported_and_missing_providers_end_dated);

async fn practices_are_kept_current(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    import(&app, &file(&[G1, P1]), false).await.unwrap();
    let renamed = G1.replace(
        "Lakeside Family Medicine,825671892,Lakeside Family Medicine",
        "Lakeside Family Medicine,825671892,Lakeside Family Health",
    );
    let r = import(&app, &file(&[&renamed, P1]), false).await.unwrap();
    assert_eq!(r.counts.practices_changed, 1);
    assert_eq!(r.practices_changed[0].changes[0].field, "practice_name");
    assert_eq!(r.practices_changed[0].changes[0].new, "Lakeside Family Health");
    assert_eq!(app.count("SELECT COUNT(*) FROM practices WHERE name = 'Lakeside Family Health'").await, 1);
    app.stop().await;
}
both!(practices_are_kept_current);

async fn rejected_lines_change_nothing_unless_valid_rows_are_accepted(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    import(&app, &file(&[G1, P1, F1]), false).await.unwrap();
    let bad_npi = P3.replace("1245319599", "1245319590");
    let unknown_group = "P4,1245319599,practitioner,Ana,Ruiz,,914407731,Cedar Valley Pediatrics,88 Cedar Valley Rd,,Tacoma,WA,98402,,,,G9";
    let bad_state = "P5,1245319599,practitioner,Ana,Ruiz,,914407731,Cedar Valley Pediatrics,88 Cedar Valley Rd,,Tacoma,XX,98402,,,,";
    // Lines: 2 G1, 3 P1 (changed city), 4 P3 bad NPI, 5 P2, 6 p2 again, 7 P4, 8 P5; F1 left out.
    let csv = file(&[G1, P1_MOVED, &bad_npi, P2, P2, unknown_group, bad_state]);
    let before = app.count("SELECT COUNT(*) FROM audit_events").await;

    let refused = import(&app, &csv, false).await.unwrap();
    assert!(!refused.applied);
    assert_eq!((refused.counts.lines, refused.counts.rejected, refused.counts.added), (7, 5, 0));
    let lines: Vec<(u64, Option<&str>)> = refused.rejected.iter().map(|r| (r.line, r.provider_id.as_deref())).collect();
    assert_eq!(lines, vec![(4, Some("P3")), (5, Some("p2")), (6, Some("p2")), (7, Some("P4")), (8, Some("P5"))]);
    assert!(refused.rejected[0].reason.contains("npi \"1245319590\""), "{}", refused.rejected[0].reason);
    assert!(refused.rejected[1].reason.contains("appears on lines 5, 6"), "{}", refused.rejected[1].reason);
    assert!(refused.rejected[3].reason.contains("G9 is not a group"), "{}", refused.rejected[3].reason);
    assert!(refused.rejected[4].reason.contains("state \"XX\""), "{}", refused.rejected[4].reason);
    // Nothing changed: P1 still in Seattle, F1 not end-dated; the refusal is recorded and audited.
    assert_eq!(app.count("SELECT COUNT(*) FROM providers WHERE city = 'Tacoma'").await, 0);
    assert_eq!(providers(&app).await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM roster_imports WHERE outcome = 'refused'").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'roster.imported' AND outcome = 'failure'").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, before + 1);

    let partial = import(&app, &csv, true).await.unwrap();
    assert!(partial.applied);
    let c = partial.counts;
    assert_eq!((c.rejected, c.changed, c.unchanged, c.removed, c.added), (5, 1, 1, 1, 0));
    assert_eq!(partial.removed[0].provider_id, "F1");
    assert_eq!(app.count("SELECT COUNT(*) FROM providers WHERE city = 'Tacoma'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers WHERE provider_id IN ('P2', 'P3', 'P4', 'P5')").await, 0);
    app.stop().await;
}
both!(rejected_lines_change_nothing_unless_valid_rows_are_accepted);

async fn a_rejected_provider_on_the_roster_is_kept(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    import(&app, &file(&[G1, P1, P2]), false).await.unwrap();
    // The group's line is now bad: in accept mode it stays as it was, P1 may still bill under it,
    // and nothing is end-dated.
    let bad_group = G1.replace("98101", "9810");
    let r = import(&app, &file(&[&bad_group, P1_MOVED, P2]), true).await.unwrap();
    assert_eq!((r.counts.rejected, r.counts.changed, r.counts.unchanged, r.counts.removed), (1, 1, 1, 0));
    assert!(r.rejected[0].reason.starts_with("zip \"9810\""), "{}", r.rejected[0].reason);
    assert_eq!(providers(&app).await, 3);
    app.stop().await;
}
both!(a_rejected_provider_on_the_roster_is_kept);

async fn a_stored_control_character_does_not_break_loading(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    import(&app, &file(&[G1, P1]), false).await.unwrap();
    // Written by some other path than the import, which refuses control characters.
    app.sql("UPDATE providers SET last_name = 'Ki\u{1f}m' WHERE provider_id = 'P1'").await;
    app.sql("UPDATE practices SET city = 'Sea\u{1e}ttle'").await;
    let r = import(&app, &file(&[G1, P1]), false).await.unwrap();
    assert_eq!((r.counts.changed, r.counts.unchanged, r.counts.practices_changed), (1, 1, 1));
    assert_eq!(r.changed[0].changes[0].old, "Ki\u{1f}m");
    assert!(import(&app, &file(&[G1, P1]), false).await.unwrap().is_no_op());
    app.stop().await;
}
both!(a_stored_control_character_does_not_break_loading);

async fn unreadable_files_are_refused_whole(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let e = import(&app, b"", false).await.unwrap_err();
    assert!(matches!(e, RosterError::Empty));
    assert_eq!(e.to_string(), "The file is empty.");

    let mut latin1 = file(&[G1]);
    latin1.extend_from_slice(
        b"P9,1245319599,practitioner,Jos\xE9,Mu\xF1oz,,825671892,X,1 Main St,,Seattle,WA,98101,,,,\n",
    );
    let e = import(&app, &latin1, false).await.unwrap_err();
    assert!(matches!(e, RosterError::NotUtf8 { line: 3 }), "{e:?}");
    assert!(e.to_string().starts_with("Line 3 is not UTF-8 text"), "{e}");

    let wrong =
        b"provider_no,npi,type,first_name,last_name,organization_name,tax_id,practice_name,address1,city,state\n\
                  P1,1245319599,practitioner,Richard,Kim,,825671892,X,1 Main St,Seattle,WA\n";
    let e = import(&app, wrong, false).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, RosterError::Header(_)));
    assert!(text.contains("Missing columns: provider_id, zip."), "{text}");
    assert!(text.contains("Unknown columns: provider_no."), "{text}");

    let e = import(&app, HEADER.as_bytes(), false).await.unwrap_err();
    assert!(matches!(e, RosterError::NoRows), "{e:?}");

    assert_eq!(app.count("SELECT COUNT(*) FROM roster_imports").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 0);
    app.stop().await;
}
both!(unreadable_files_are_refused_whole);

/// A staff member of `app.plan` with `role`, signed in over the API; returns their grant.
async fn staff_grant(app: &TestApp, username: &str, role: &str) -> StaffGrant {
    let svc = &app.running.services;
    let password = "granite willow compass";
    let phone = "+12065550177";
    let hash = svc.hasher.hash(password).await.unwrap();
    let mut tx = svc.db.begin().await.unwrap();
    let email = format!("{username}@plan.example.org");
    let user = NewUser { plan_id: app.plan.id(), first_name: "Sam", middle_name: "", last_name: "Lee", email: &email };
    let id =
        users::insert_active(&mut tx, &user, username, &hash, Some((phone, "text")), Some(1), svc.now()).await.unwrap();
    gatehouse_store::commit(tx).await.unwrap();
    app.sql(&format!("UPDATE users SET staff_role = '{role}' WHERE id = {}", id.0)).await;
    let c = app.api();
    let v: Value = c
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["session_token"].as_str().expect("signed in").to_owned();
    let v: Value = c
        .post(app.url("/api/v1/two-step/verify"))
        .bearer_auth(&token)
        .json(&json!({"code": app.last_code(phone).await}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["next"], "complete", "{v}");
    let token = v["session_token"].as_str().unwrap();
    let session = svc.authenticate(&app.plan, token).await.unwrap().expect("session");
    svc.staff_grant(&app.plan, Some(&session)).await.unwrap()
}

async fn only_the_plans_administrators_may_import(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc: &Services = &app.running.services;
    let other = svc
        .create_plan(NewPlan {
            slug: "other".into(),
            name: "Other Plan".into(),
            host: Some("other.example.org".into()),
            support_phone: "1-800-555-0100".into(),
            support_hours: "8-5".into(),
            terms_text: "Terms.".into(),
        })
        .await
        .unwrap();
    let csv = file(&[G1, P1]);
    let meta = RequestMeta::cli();
    let other_grant = svc.operator_grant(&other);
    let e = svc
        .import_roster(&other_grant, &app.plan, "x.csv", &csv, ImportOptions::default(), &meta, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, RosterError::Denied(Denied::NotPermitted)), "{e:?}");
    assert!(matches!(svc.search_roster(&other_grant, &app.plan, "", 1).await, Err(RosterError::Denied(_))));

    let help_desk = staff_grant(&app, "hdesk", "help_desk").await;
    let e = svc
        .import_roster(&help_desk, &app.plan, "x.csv", &csv, ImportOptions::default(), &meta, &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, RosterError::Denied(Denied::NotPermitted)), "{e:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM roster_imports").await, 0);

    // A plan administrator signed in the same way may; the help desk may then search.
    let admin = staff_grant(&app, "padmin", "plan_admin").await;
    let r =
        svc.import_roster(&admin, &app.plan, "x.csv", &csv, ImportOptions::default(), &meta, &|_| {}).await.unwrap();
    assert_eq!(r.counts.added, 2);
    let actor: Option<i64> =
        sqlx::query_scalar("SELECT actor_user_id FROM audit_events WHERE action = 'roster.imported'")
            .fetch_one(svc.db.pool())
            .await
            .unwrap();
    assert_eq!(actor, admin.actor().map(|u| u.0));
    assert_eq!(svc.search_roster(&help_desk, &app.plan, "kim", 1).await.unwrap().rows.len(), 1);
    assert!(matches!(svc.roster_imports(&help_desk, &app.plan, 5).await, Ok(v) if v.len() == 1));
    app.stop().await;
}
both!(only_the_plans_administrators_may_import);

async fn search_by_id_npi_name_and_tax_id(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let svc = &app.running.services;
    let g = svc.operator_grant(&app.plan);
    import(&app, &file(&[G1, P1, P2, P3, F1]), false).await.unwrap();
    let (grant, plan) = (&g, &app.plan);
    let ids = |q: &'static str| async move {
        let page = svc.search_roster(grant, plan, q, 1).await.unwrap();
        page.rows.into_iter().map(|r| r.provider_id).collect::<Vec<_>>()
    };
    assert_eq!(ids("p1").await, vec!["P1"]);
    assert_eq!(ids("12453").await, vec!["P1", "P2", "P3"]);
    assert_eq!(ids("OKAFOR").await, vec!["P2"]);
    assert_eq!(ids("richard kim").await, vec!["P1"]);
    assert_eq!(ids("9144").await, vec!["P3"]);
    assert_eq!(ids("brigid").await, vec!["F1"]);
    assert_eq!(ids("%").await, Vec::<String>::new());
    assert_eq!(ids("").await.len(), 5);
    let page = svc.search_roster(&g, &app.plan, "kim", 1).await.unwrap();
    assert_eq!(
        (page.rows[0].practice_name.as_str(), page.rows[0].tax_id.as_str()),
        ("Lakeside Family Medicine", "825671892")
    );

    import(&app, synthetic_roster_csv(120, 5).as_bytes(), false).await.unwrap();
    let p1 = svc.search_roster(&g, &app.plan, "", 1).await.unwrap();
    let p3 = svc.search_roster(&g, &app.plan, "", 3).await.unwrap();
    assert!(p1.has_more && !p3.has_more);
    assert_eq!(p1.rows.len() + 50 + p3.rows.len(), 125, "the five end-dated providers are listed too");
    let ended = svc.search_roster(&g, &app.plan, "P2", 1).await.unwrap();
    assert!(ended.rows.iter().any(|r| r.provider_id == "P2" && r.end_dated_at.is_some()));
    app.stop().await;
}
both!(search_by_id_npi_name_and_tax_id);

async fn concurrent_imports_run_one_after_the_other(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let csv = synthetic_roster_csv(200, 3);
    let (a, b) = tokio::join!(import(&app, csv.as_bytes(), false), import(&app, csv.as_bytes(), false));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut added = [a.counts.added, b.counts.added];
    added.sort_unstable();
    assert_eq!(added, [0, 200]);
    assert_eq!(a.counts.unchanged + b.counts.unchanged, 200);
    assert_eq!(providers(&app).await, 200);
    app.stop().await;
}
both!(concurrent_imports_run_one_after_the_other);

fn gatehouse(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("GATEHOUSE_DATABASE_URL")
        .output()
        .expect("run gatehouse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_writes_and_imports_a_roster() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let roster = dir.path().join("roster.csv");
    let roster_arg = roster.to_str().unwrap();
    let out = gatehouse(&["demo", "roster", "--providers", "60", "--seed", "9", "--out", roster_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&roster).unwrap(), synthetic_roster_csv(60, 9));
    let out = gatehouse(&["demo", "roster", "--providers", "3"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);

    let out = gatehouse(&["roster", "import", roster_arg, "--database-url", &url]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no plan yet"), "{}", String::from_utf8_lossy(&out.stderr));
    {
        let svc = gatehouse::services(
            &gatehouse::config::ServerConfig::local(url.clone()),
            std::sync::Arc::new(gatehouse_services::SystemClock),
            "http://localhost".into(),
        )
        .await
        .unwrap();
        gatehouse::demo::load(&svc).await.unwrap();
        svc.db.close().await;
    }
    let out = gatehouse(&["roster", "import", roster_arg, "--plan", "chorus", "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Imported roster.csv into plan chorus"), "{text}");
    assert!(text.contains("added                        60"), "{text}");
    assert!(text.contains("removed (end-dated)           5"), "{text}");

    let out = gatehouse(&["roster", "import", roster_arg, "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("added                         0") && text.contains("unchanged                    60"),
        "{text}"
    );

    let bad = dir.path().join("bad.csv");
    let mut csv = synthetic_roster_csv(60, 9);
    csv.push_str("X1,1234567890,practitioner,Ana,Ruiz,,825671892,X,1 Main St,,Seattle,WA,98101,,,,\n");
    std::fs::write(&bad, csv).unwrap();
    let out = gatehouse(&["roster", "import", bad.to_str().unwrap(), "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("Nothing was imported from bad.csv: 1 of 61 lines were rejected"), "{text}");
    assert!(text.contains("rejected line 62 (X1): npi \"1234567890\""), "{text}");
    let out = gatehouse(&["roster", "import", bad.to_str().unwrap(), "--accept-valid-rows", "--database-url", &url]);
    assert!(out.status.success());

    let out = gatehouse(&["roster", "import", roster_arg, "--plan", "nope", "--database-url", &url]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no plan with the slug \"nope\""));
}
