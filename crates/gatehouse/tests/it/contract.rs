//! The API contract, tried by a client nobody here wrote: schemathesis generates requests from
//! `/api/v1/openapi.json` and runs every one of its checks (status codes, response schemas,
//! content types, headers, refusal of invalid data, acceptance of valid data, authentication)
//! against the real server on a demo plan, on both databases, as each kind of caller: a portal
//! user, a practice administrator, plan staff and an application. The operations that end the
//! caller's own session or role run last, in a second pass. State an operation needs (a real
//! invitation token, the practice's own user ids, a secure-message thread each caller reads and
//! its attachment) comes from fixtures (`schemathesis/hooks.py`).
//!
//! schemathesis is installed by `.ci/run` (`pip install schemathesis`); without it the test says
//! SKIPPED, except in CI, where it fails.

use crate::both;
use crate::support::{Backend, TestApp, link_in};
use base64::Engine;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

/// Who schemathesis calls the API as.
#[derive(Debug, Clone, Copy)]
enum Actor {
    PortalUser,
    PracticeAdmin,
    Staff,
    Application,
}

/// Operations that end the caller's session or take away the role it tests with: run last.
const SELF_ENDING: &str = r"^(POST /api/v1/signout|DELETE /api/v1/sessions/\{id\}|POST /api/v1/practice/hand-over)$";

/// Examples per operation and phase: enough to walk every documented status, within minutes.
const MAX_EXAMPLES: &str = "25";

fn schemathesis() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("schemathesis")).find(|p| p.is_file()));
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "schemathesis is required in CI (.ci/run installs it with pip)");
        eprintln!("SKIPPED: schemathesis is not installed (pip install schemathesis)");
    }
    found
}

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis")
}

/// A demo account's password and phone.
fn demo(username: &str) -> (&'static str, &'static str) {
    let a = gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == username).expect("demo account");
    (a.password, a.phone)
}

/// The `Authorization` value schemathesis sends, and the fixtures for this actor.
async fn credentials(app: &TestApp, actor: Actor) -> (Vec<String>, Value) {
    let mut fixtures = serde_json::Map::new();
    let invitations: Vec<String> = app
        .outbox()
        .await
        .iter()
        .filter_map(|m| link_in(&m.body_text))
        .filter(|l| l.contains("/signup"))
        .filter_map(|l| l.split("token=").nth(1).map(str::to_owned))
        .collect();
    assert!(!invitations.is_empty(), "the demo's invitation of Maria Lopez is in the outbox");
    for op in ["POST /api/v1/invitations/check", "POST /api/v1/signup"] {
        fixtures.insert(op.into(), json!({ "body": { "token": invitations } }));
    }
    if !matches!(actor, Actor::Application) {
        messages(app, &mut fixtures, actor).await;
        reviews(app, &mut fixtures, actor).await;
    }
    let bearer = |username: &'static str| async move {
        let (password, phone) = demo(username);
        let token = app.api_session(username, password, phone).await;
        vec!["--header".to_owned(), format!("Authorization: Bearer {token}")]
    };
    let args = match actor {
        Actor::PortalUser => bearer("jpatel").await,
        Actor::Staff => bearer("pshah").await,
        Actor::PracticeAdmin => {
            // The practice's other people: the administrator's own account and affiliation are
            // left out, so the run does not end by revoking the role it tests with.
            let lakeside = "SELECT id FROM practices WHERE tax_id = '825671892'";
            let others =
                format!("practice_id IN ({lakeside}) AND user_id <> (SELECT id FROM users WHERE username = 'ocarter')");
            let users = app.ids(&format!("SELECT user_id FROM affiliations WHERE {others}")).await;
            let affiliations = app.ids(&format!("SELECT id FROM affiliations WHERE {others}")).await;
            let invited = app.ids("SELECT user_id FROM invitations").await;
            for op in [
                "GET /api/v1/practice/users/{id}",
                "PATCH /api/v1/practice/users/{id}",
                "POST /api/v1/practice/users/{id}/affiliations",
                "POST /api/v1/practice/users/{id}/revoke",
                "POST /api/v1/practice/users/{id}/deactivate",
                "POST /api/v1/practice/users/{id}/reactivate",
                "POST /api/v1/practice/users/{id}/password-reset",
            ] {
                fixtures.insert(op.into(), json!({ "path": { "id": users } }));
            }
            for op in ["PATCH /api/v1/practice/affiliations/{id}", "DELETE /api/v1/practice/affiliations/{id}"] {
                fixtures.insert(op.into(), json!({ "path": { "id": affiliations } }));
            }
            for op in ["POST /api/v1/practice/invitations/{user}/resend", "DELETE /api/v1/practice/invitations/{user}"]
            {
                fixtures.insert(op.into(), json!({ "path": { "user": invited } }));
            }
            bearer("ocarter").await
        }
        Actor::Application => {
            let svc = &app.running.services;
            let created = svc
                .create_application(
                    &svc.operator_grant(&app.plan),
                    &app.plan,
                    "Claims portal",
                    &gatehouse_services::RequestMeta::cli(),
                )
                .await
                .expect("application");
            let users = app.ids("SELECT id FROM users").await;
            fixtures.insert("GET /api/v1/users/{id}/access".into(), json!({ "path": { "id": users } }));
            for op in ["POST /api/v1/authz/check", "POST /api/v1/authz/check-batch"] {
                fixtures.insert(op.into(), json!({ "body": { "user_id": users } }));
            }
            vec!["--auth".to_owned(), format!("{}:{}", created.row.client_id, created.secret)]
        }
    };
    (args, Value::Object(fixtures))
}

/// A thread Jay Patel sends for Lakeside with a PDF, through the API as a client would: he, the
/// practice's administrator and the plan's staff all read it. Its id, its file's and the
/// practice's go into the fixtures of the secure-message operations (staff also get the mailbox's
/// and the agents for assignment), so those operations are tried on a real thread.
async fn messages(app: &TestApp, fixtures: &mut serde_json::Map<String, Value>, actor: Actor) {
    let (password, phone) = demo("jpatel");
    let token = app.api_session("jpatel", password, phone).await;
    let lakeside = app.ids("SELECT id FROM practices WHERE tax_id = '825671892'").await;
    let pdf =
        base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n");
    let body = json!({
        "practice_id": lakeside[0], "topic": "claims", "subject": "Denied claim C-2026-4410",
        "body": "Please look at the denial again.", "claim_number": "C-2026-4410",
        "attachments": [{"file_name": "referral.pdf", "content_base64": pdf}],
    });
    let (status, sent) = app.call("POST", "/api/v1/messages", Some(&token), Some(body)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{sent}");
    let thread = sent["id"].as_i64().expect("thread id");
    let (_, read) = app.call("GET", &format!("/api/v1/messages/{thread}"), Some(&token), None).await;
    let file = read["messages"][0]["attachments"][0]["id"].as_i64().expect("attachment id");
    let mut on_thread =
        vec!["GET /api/v1/messages/{id}", "POST /api/v1/messages/{id}/replies", "PUT /api/v1/messages/{id}/archived"];
    if matches!(actor, Actor::Staff) {
        on_thread.extend(["POST /api/v1/mailbox/{id}/resolve", "POST /api/v1/mailbox/{id}/reopen"]);
        let agents = app.ids("SELECT id FROM users WHERE username IN ('pshah', 'hdiaz')").await;
        fixtures.insert(
            "POST /api/v1/mailbox/{id}/assign".into(),
            json!({ "path": { "id": [thread] }, "body": { "agent_id": agents } }),
        );
    }
    for op in on_thread {
        fixtures.insert(op.into(), json!({ "path": { "id": [thread] } }));
    }
    fixtures.insert("GET /api/v1/messages/attachments/{id}".into(), json!({ "path": { "id": [file] } }));
    // A topic is one of the plan's codes: generated ones are mostly none, so real ones are mixed in.
    fixtures.insert(
        "POST /api/v1/messages".into(),
        json!({ "body": { "practice_id": lakeside, "topic": ["claims", "referrals", "other"] } }),
    );
}

/// The plan's open access reviews (opened as the daily job opens them) and the users they
/// cover: the administrator gets Lakeside's review and its other people (never their own
/// account, whom someone else confirms), staff every open review and its practices' users, so
/// the review operations are tried on a real review. No fixture holds a signer's name: a
/// generated signature is refused, and the review stays open for the run.
async fn reviews(app: &TestApp, fixtures: &mut serde_json::Map<String, Value>, actor: Actor) {
    let svc = &app.running.services;
    svc.review_reminders(&app.plan, svc.now()).await.expect("reviews opened");
    let (prefix, practices, users) = match actor {
        Actor::PracticeAdmin => (
            "/api/v1/practice/reviews",
            "SELECT id FROM practices WHERE tax_id = '825671892'",
            "AND user_id <> (SELECT id FROM users WHERE username = 'ocarter')",
        ),
        Actor::Staff => ("/api/v1/reviews", "SELECT practice_id FROM access_reviews", ""),
        _ => return,
    };
    let open = format!("signed_at IS NULL AND practice_id IN ({practices})");
    let ids = app.ids(&format!("SELECT id FROM access_reviews WHERE {open}")).await;
    assert!(!ids.is_empty(), "the demo's practices have open reviews");
    let users = app.ids(&format!("SELECT user_id FROM affiliations WHERE practice_id IN ({practices}) {users}")).await;
    for tail in ["", "/keep-remaining", "/sign", "/remind"] {
        let method = if tail.is_empty() { "GET" } else { "POST" };
        fixtures.insert(format!("{method} {prefix}/{{id}}{tail}"), json!({ "path": { "id": ids } }));
    }
    fixtures.insert(format!("PUT {prefix}/{{id}}/users/{{user}}"), json!({ "path": { "id": ids, "user": users } }));
}

/// Runs schemathesis once; answers whether it passed and the lines worth printing.
fn run(exe: &PathBuf, app: &TestApp, auth: &[String], fixtures: &std::path::Path, filter: [&str; 2]) -> (bool, String) {
    let dir = config_dir();
    let out = Command::new(exe)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", "20261204", "--no-color"])
        .args(filter)
        .args(auth)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &dir)
        .env("GATEHOUSE_FIXTURES", fixtures)
        .current_dir(fixtures.parent().expect("fixtures dir"))
        .output()
        .expect("schemathesis runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The summary lines of a run: operations, phases, cases and the verdict.
fn summary(text: &str) -> String {
    let tail: Vec<&str> = text.lines().skip_while(|l| !l.contains("SUMMARY")).collect();
    tail.iter().filter(|l| !l.trim().is_empty()).copied().collect::<Vec<_>>().join("\n")
}

async fn contract(backend: Backend, actor: Actor) {
    let Some(exe) = schemathesis() else { return };
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let (auth, fixtures) = credentials(&app, actor).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture_file = dir.path().join("fixtures.json");
    std::fs::write(&fixture_file, fixtures.to_string()).expect("fixtures written");
    let passes: &[[&str; 2]] = match actor {
        Actor::Application => &[["--exclude-name-regex", "^$"]],
        _ => &[["--exclude-name-regex", SELF_ENDING], ["--include-name-regex", SELF_ENDING]],
    };
    for filter in passes {
        let started = std::time::Instant::now();
        let (ok, text) = {
            let (exe, app, auth, file) = (&exe, &app, &auth, &fixture_file);
            tokio::task::block_in_place(|| run(exe, app, auth, file, *filter))
        };
        let took = started.elapsed().as_secs_f32();
        eprintln!(
            "schemathesis as {actor:?} on {backend:?} ({} {}), {took:.1} s:\n{}",
            filter[0],
            filter[1],
            summary(&text)
        );
        assert!(ok, "schemathesis found failures as {actor:?} on {backend:?}:\n{text}");
    }
    app.stop().await;
}

async fn as_portal_user(backend: Backend) {
    contract(backend, Actor::PortalUser).await
}
both!(as_portal_user);

async fn as_practice_admin(backend: Backend) {
    contract(backend, Actor::PracticeAdmin).await
}
both!(as_practice_admin);

async fn as_staff(backend: Backend) {
    contract(backend, Actor::Staff).await
}
both!(as_staff);

async fn as_application(backend: Backend) {
    contract(backend, Actor::Application).await
}
both!(as_application);
