//! A client nobody here wrote: `openapi-python-client` generates a Python client from the served
//! OpenAPI document (every operation must generate), and `tests/clients/walk.py` uses it to sign
//! in, walk two-step with the texted code and list the practice's users.
//!
//! The generator is installed by `.ci/run` (`pip install openapi-python-client`); without it the
//! test says SKIPPED, except in CI, where it fails.

use crate::both;
use crate::support::{Backend, TestApp};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn generator() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("openapi-python-client")).find(|p| p.is_file()));
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "openapi-python-client is required in CI (.ci/run installs it with pip)");
        eprintln!("SKIPPED: openapi-python-client is not installed (pip install openapi-python-client)");
    }
    found
}

async fn generated_client_signs_in_and_lists_users(backend: Backend) {
    let Some(generator) = generator() else { return };
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let doc_path = dir.path().join("openapi.json");
    std::fs::write(&doc_path, doc.to_string()).expect("document written");

    let clients = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let out = Command::new(generator)
        .args(["generate", "--meta", "none", "--config"])
        .arg(clients.join("openapi-python-client.yaml"))
        .arg("--path")
        .arg(&doc_path)
        .arg("--output-path")
        .arg(dir.path().join("gatehouse_client"))
        .output()
        .expect("openapi-python-client runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the client did not generate:\n{said}");
    assert!(!said.contains("WARNING"), "some operations did not generate:\n{said}");

    let (password, phone) = gatehouse::demo::ACCOUNTS
        .iter()
        .find(|a| a.username == "ocarter")
        .map(|a| (a.password, a.phone))
        .expect("demo administrator");
    let script = clients.join("walk.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([app.base.as_str(), "ocarter", password])
        .env("PYTHONPATH", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let asked = tokio::task::block_in_place(|| lines.next()).and_then(Result::ok).unwrap_or_default();
    assert!(asked.starts_with("code? XXX-XXX-"), "the client asks for the texted code: {asked:?}");
    let code = app.last_code(phone).await;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{code}").expect("code sent");
    drop(stdin);
    let rest: Vec<String> = tokio::task::block_in_place(|| lines.map_while(Result::ok).collect());
    let output = tokio::task::block_in_place(|| child.wait_with_output()).expect("client ends");
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the generated client failed:\n{}\n{errors}", rest.join("\n"));
    assert_eq!(rest.last().map(String::as_str), Some("done"), "{rest:?}\n{errors}");
    assert!(rest.iter().any(|l| l == "user jpatel active"), "the directory lists Jay Patel: {rest:?}");
    assert!(rest.iter().any(|l| l == "user ocarter active"), "and the administrator herself: {rest:?}");
    app.stop().await;
}
both!(generated_client_signs_in_and_lists_users);
