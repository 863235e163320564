//! Two relying-party libraries nobody here wrote sign a person in through Gatehouse, unchanged,
//! on both databases: Python Authlib with joserfc (`tests/clients/oidc_authlib.py`,
//! `client_secret_basic`) and npm openid-client (`tests/clients/oidc_openid_client.mjs`,
//! `client_secret_post`). Each does discovery, authorization with PKCE through the real sign-in
//! pages (the person's texted code handed to it here), code exchange, ID token validation against
//! the JWKS, userinfo, refresh and RP-initiated logout, against the demo's sample client.
//!
//! `.ci/run` installs both (`pip install authlib joserfc requests`, `npm install openid-client`);
//! without them the test says SKIPPED, except in CI, where it fails.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse::demo::SAMPLE_CLIENT;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// The repository's root, where `npm install` puts `node_modules`.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `probe` succeeds; outside CI a missing library skips the test.
fn available(what: &str, probe: &mut Command) -> bool {
    let ok = probe.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(!in_ci(), "{what} is required in CI (.ci/run installs it)");
        eprintln!("SKIPPED: {what} is not installed");
    }
    ok
}

/// Runs one relying party against the demo's plan as Olivia Carter, answering its `code?` with
/// the code texted to her; returns the lines it printed.
async fn relying_party(app: &TestApp, program: &str, script: &Path, cwd: &Path) -> Vec<String> {
    let account = gatehouse::demo::ACCOUNTS.iter().find(|a| a.username == "ocarter").expect("demo administrator");
    let issuer = app.running.services.plan_url(&app.plan);
    let c = &SAMPLE_CLIENT;
    let mut child = Command::new(program)
        .arg(script)
        .args([&issuer, c.client_id, c.secret, c.redirect_uri, c.post_logout_redirect_uri, "ocarter", account.password])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the relying party starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut said = Vec::new();
    while let Some(Ok(line)) = tokio::task::block_in_place(|| lines.next()) {
        if line == "code?" {
            let code = app.last_code(account.phone).await;
            writeln!(stdin, "{code}").expect("code sent");
            stdin.flush().expect("code flushed");
        }
        said.push(line);
    }
    drop(stdin);
    let output = tokio::task::block_in_place(|| child.wait_with_output()).expect("the relying party ends");
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {} failed:\n{}\n{errors}", script.display(), said.join("\n"));
    said
}

/// Every step each library checks, in order.
const STEPS: [&str; 8] = ["discovery", "code?", "authorized", "id token", "userinfo", "refresh", "logout", "done"];

async fn authlib_signs_a_person_in(backend: Backend) {
    let probe = &mut Command::new("python3");
    if !available("Python authlib and joserfc", probe.args(["-c", "import authlib, joserfc, requests"])) {
        return;
    }
    let Some(app) = TestApp::start_demo_at_real_time(backend).await else { return };
    let said = relying_party(&app, "python3", &clients_dir().join("oidc_authlib.py"), &clients_dir()).await;
    assert_eq!(said, STEPS, "authlib");
    app.stop().await;
}
both!(authlib_signs_a_person_in);

async fn openid_client_signs_a_person_in(backend: Backend) {
    let root = repo_root();
    let probe = &mut Command::new("node");
    let probe = probe.current_dir(&root).args(["--input-type=module", "-e", "await import('openid-client')"]);
    if !available("the npm package openid-client", probe) {
        return;
    }
    let Some(app) = TestApp::start_demo_at_real_time(backend).await else { return };
    // Run from the repository's root so Node finds its node_modules.
    let said = relying_party(&app, "node", &clients_dir().join("oidc_openid_client.mjs"), &root).await;
    assert_eq!(said, STEPS, "openid-client");
    app.stop().await;
}
both!(openid_client_signs_a_person_in);
