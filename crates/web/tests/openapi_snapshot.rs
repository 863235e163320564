//! The OpenAPI document is kept in the repository (`docs/openapi.json`), so every change to the
//! API's contract shows in review. After a deliberate change, refresh the copy with
//! `UPDATE_OPENAPI=1 cargo test -p gatehouse-web --test openapi_snapshot` and commit it.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

#[test]
fn the_document_matches_its_committed_copy() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let served = serde_json::to_string_pretty(&gatehouse_web::api::document()).expect("document") + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("docs/openapi.json written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != served {
        let first = committed.lines().zip(served.lines()).position(|(a, b)| a != b);
        let line = first.unwrap_or_else(|| committed.lines().count().min(served.lines().count()));
        let show = |text: &str| text.lines().skip(line.saturating_sub(3)).take(8).collect::<Vec<_>>().join("\n");
        panic!(
            "the OpenAPI document changed (first difference at line {}): review it, then refresh \
             docs/openapi.json with UPDATE_OPENAPI=1 cargo test -p gatehouse-web --test openapi_snapshot\n\
             committed:\n{}\nnow:\n{}",
            line + 1,
            show(&committed),
            show(&served)
        );
    }
}

/// Every operation has a product section, a unique id and a summary; every refusal it documents
/// names its error codes.
#[test]
fn every_operation_is_described() {
    let doc = gatehouse_web::api::document();
    let sections: Vec<&str> = doc["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    let mut ids = std::collections::HashSet::new();
    let mut problems = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let at = format!("{} {path}", method.to_uppercase());
            let tag = op["tags"][0].as_str().unwrap_or("");
            if !sections.contains(&tag) {
                problems.push(format!("{at}: tag {tag:?} is not a product section"));
            }
            if !ids.insert(op["operationId"].as_str().unwrap_or("").to_owned()) {
                problems.push(format!("{at}: operation id {} is not unique", op["operationId"]));
            }
            if op["summary"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{at}: no summary"));
            }
            for (status, response) in op["responses"].as_object().expect("responses") {
                let schema = &response["content"]["application/json"]["schema"];
                let codes = &schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"];
                if (status.starts_with('4') || status.starts_with('5')) && codes.as_array().is_none_or(Vec::is_empty) {
                    problems.push(format!("{at}: {status} names no error code"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
