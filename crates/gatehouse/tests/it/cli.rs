//! The `gatehouse` command itself: migrations and the audit chain check, on a SQLite file.

use std::process::Command;

fn gatehouse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse")).args(args).env("RUST_LOG", "error").output().expect("run gatehouse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reports_the_first_broken_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let out = gatehouse(&["migrate", "--database-url", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    {
        let svc = gatehouse::services(
            &gatehouse::config::ServerConfig::local(url.clone()),
            std::sync::Arc::new(gatehouse_services::SystemClock),
            "http://localhost".into(),
        )
        .await
        .expect("services");
        gatehouse::demo::load(&svc).await.expect("demo");
        svc.db.close().await;
    }
    let out = gatehouse(&["audit", "verify", "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("intact"), "{text}");
    let db = gatehouse_store::Db::connect(&url).await.expect("db");
    sqlx::query("UPDATE audit_events SET ip = '10.0.0.9' WHERE seq = 3").execute(db.pool()).await.expect("tamper");
    db.close().await;
    let out = gatehouse(&["audit", "verify", "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("BROKEN at event 3"), "{text}");
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let out = gatehouse(&["serve", "--database-url", "mysql://nope", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-url must start with sqlite: or postgres://"));
    let out = gatehouse(&["serve", "--base-url", "http://portal.example.org", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must use https://"));
}

#[test]
fn plan_create_and_staff_invite_bootstrap_a_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let out =
        gatehouse(&["plan", "create", "--slug", "northwind", "--name", "Northwind Health", "--database-url", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Created plan northwind"), "{text}");
    let out = gatehouse(&["plan", "create", "--slug", "northwind", "--name", "Again", "--database-url", &url]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = gatehouse(&["plan", "create", "--slug", "Bad Slug", "--name", "x", "--database-url", &url]);
    assert!(!out.status.success());
    let out = gatehouse(&[
        "staff",
        "invite",
        "--plan",
        "northwind",
        "--role",
        "plan_admin",
        "--first-name",
        "Pat",
        "--last-name",
        "Lee",
        "--email",
        "pat@northwind.example.org",
        "--database-url",
        &url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("/p/northwind/signup?token="), "{text}");
    let out = gatehouse(&[
        "staff",
        "invite",
        "--plan",
        "northwind",
        "--role",
        "root",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--email",
        "a@b.example.org",
        "--database-url",
        &url,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role must be"));
}

/// Runs `gatehouse` with some environment variables set and the delivery ones cleared.
fn gatehouse_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.args(args).env("RUST_LOG", "error");
    for v in ["GATEHOUSE_DEV_OUTBOX", "GATEHOUSE_SMTP_URL", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_SECRET_KEY_FILE"] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run gatehouse");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_refuses_a_public_dev_outbox_and_mail_with_nowhere_to_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let public = ["--base-url", "https://portal.example.org", "--listen", "127.0.0.1:0", "--database-url", &url];
    let (ok, err) = gatehouse_env(&[&["serve", "--dev-outbox"], &public[..]].concat(), &[]);
    assert!(!ok && err.contains("development outbox (--dev-outbox)") && err.contains("not localhost"), "{err}");
    let (ok, err) = gatehouse_env(&[&["serve"], &public[..]].concat(), &[("GATEHOUSE_DEV_OUTBOX", "true")]);
    assert!(!ok && err.contains("not localhost"), "{err}");
    let (ok, err) = gatehouse_env(&[&["demo"], &public[..]].concat(), &[]);
    assert!(!ok && err.contains("not localhost"), "the demo's outbox stays on this machine too: {err}");
    let (ok, err) = gatehouse_env(&["serve", "--dev-outbox", "--listen", "0.0.0.0:0", "--database-url", &url], &[]);
    assert!(!ok && err.contains("not a loopback address"), "{err}");
    // Without the flag, serve needs SMTP: it does not fall back to publishing messages.
    let (ok, err) = gatehouse_env(&[&["serve"], &public[..]].concat(), &[]);
    assert!(!ok && err.contains("email has nowhere to go: set --smtp-url"), "{err}");
    assert!(!dir.path().join("g.db").exists(), "refused before opening the database");
}

#[test]
fn a_bad_secret_key_is_refused_at_start() {
    let (ok, err) = gatehouse_env(&["migrate", "--secret-key-file", "/nonexistent/gatehouse.key"], &[]);
    assert!(!ok && err.contains("cannot read the secret key file /nonexistent/gatehouse.key"), "{err}");
    let (ok, err) = gatehouse_env(&["migrate"], &[("GATEHOUSE_SECRET_KEY", "c2hvcnQ=")]);
    assert!(!ok && err.contains("GATEHOUSE_SECRET_KEY") && err.contains("needs at least 32"), "{err}");
    let (ok, err) = gatehouse_env(&["migrate"], &[("GATEHOUSE_SECRET_KEY", "not base64 at all!")]);
    assert!(!ok && err.contains("not base64"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_daily_warns_once_a_day() {
    use gatehouse_services::Clock;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let out =
        gatehouse(&["plan", "create", "--slug", "northwind", "--name", "Northwind Health", "--database-url", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    {
        // An account whose last sign-in was 170 days ago.
        let db = gatehouse_store::Db::connect(&url).await.expect("db");
        let mut tx = db.begin().await.expect("tx");
        let plan = gatehouse_store::plans::by_slug(&mut tx, "northwind").await.expect("plan").expect("plan");
        let long_ago = gatehouse_services::SystemClock.now().as_secs() - 170 * 86_400;
        let user = gatehouse_store::users::NewUser {
            plan_id: plan.id,
            first_name: "Ann",
            middle_name: "",
            last_name: "Lee",
            email: "ann@clinic.example",
        };
        gatehouse_store::users::insert_active(&mut tx, &user, "annlee", "x", None, None, long_ago).await.expect("user");
        gatehouse_store::commit(tx).await.expect("commit");
        db.close().await;
    }
    let run = |extra: &[&str]| {
        let out = gatehouse(&[&["jobs", "run-daily", "--database-url", &url], extra].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(&[]);
    assert!(text.contains("1 plan(s) run, 0 already run today; idle accounts: 1 warned, 0 deactivated"), "{text}");
    let text = run(&[]);
    assert!(text.contains("0 plan(s) run, 1 already run today"), "{text}");
    let text = run(&["--force"]);
    assert!(text.contains("1 plan(s) run, 0 already run today; idle accounts: 0 warned"), "{text}");
    let db = gatehouse_store::Db::connect(&url).await.expect("db");
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'idle_warning.v1'")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(queued, 1, "queued once, for a running server to deliver");
    db.close().await;
}
