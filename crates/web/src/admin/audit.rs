//! The audit log for auditors and plan administrators: newest first, filtered by action, with
//! the chain's integrity shown and a CSV export.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::audit::ChainReport;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new().route("/admin/audit", get(page)).route("/admin/audit.csv", get(csv))
}

const PAGE: i64 = 100;

struct Row {
    seq: i64,
    when: String,
    action: String,
    outcome: String,
    actor: String,
    subject: String,
    ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    admin: AdminChrome,
    action: String,
    chain: String,
    chain_ok: bool,
    events: Vec<Row>,
    older: Option<i64>,
}

#[derive(Deserialize)]
struct Filter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    before: Option<i64>,
}

async fn page(staff: Staff, Query(f): Query<Filter>) -> Response {
    if let Err(r) = staff.require(StaffPermission::AuditRead).await {
        return r;
    }
    let svc = &staff.state().svc;
    let action: String = f.action.chars().take(60).collect();
    let events = match svc.search_audit(&staff.grant, staff.plan.0.id(), &action, f.before, PAGE).await {
        Ok(e) => e,
        Err(e) => return internal_error(e),
    };
    let (chain, chain_ok) = match svc.verify_audit_chain(staff.plan.0.id()).await {
        Ok(ChainReport::Intact { events }) => {
            (format!("The audit chain is intact: {events} events, each linked to the one before."), true)
        }
        Ok(ChainReport::Broken { seq, reason }) => (
            format!("The audit chain is BROKEN at event {seq}: {reason}. Report this to your security officer."),
            false,
        ),
        Err(e) => return internal_error(e),
    };
    let older = (events.len() as i64 == PAGE).then(|| events.last().map(|e| e.seq)).flatten();
    let (chrome, admin) = staff.chrome("/admin/audit");
    let events = events
        .into_iter()
        .map(|e| Row {
            seq: e.seq,
            when: when(&staff.plan.0, e.at),
            action: e.action,
            outcome: e.outcome,
            actor: e.actor.map(|u| format!("user {u}")).unwrap_or_else(|| "—".into()),
            subject: e.subject.map(|u| format!("user {u}")).unwrap_or_else(|| "—".into()),
            ip: e.ip,
            detail: e.detail,
        })
        .collect();
    render(StatusCode::OK, &AuditPage { chrome, admin, action, chain, chain_ok, events, older })
}

/// Quotes a CSV field, and defuses spreadsheet formulas (OWASP CSV injection).
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn csv(staff: Staff, Query(f): Query<Filter>) -> Response {
    if let Err(r) = staff.require(StaffPermission::AuditRead).await {
        return r;
    }
    let action: String = f.action.chars().take(60).collect();
    let events =
        match staff.state().svc.export_audit(&staff.grant, staff.plan.0.id(), &action, f.before, &staff.meta).await {
            Ok(e) => e,
            Err(e) => return internal_error(e),
        };
    let mut out = String::from("seq,at_utc,action,outcome,actor_user_id,subject_user_id,ip,user_agent,detail,hash\n");
    for e in events {
        let at = time::OffsetDateTime::from_unix_timestamp(e.at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        let cols = [
            e.seq.to_string(),
            at,
            e.action,
            e.outcome,
            e.actor.map(|u| u.to_string()).unwrap_or_default(),
            e.subject.map(|u| u.to_string()).unwrap_or_default(),
            e.ip,
            e.user_agent,
            e.detail,
            e.hash,
        ];
        out.push_str(&cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("a\"b"), "\"a\"\"b\"");
        assert_eq!(field("=cmd()"), "\"'=cmd()\"");
        assert_eq!(field("plain"), "\"plain\"");
    }
}
