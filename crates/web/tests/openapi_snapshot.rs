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
