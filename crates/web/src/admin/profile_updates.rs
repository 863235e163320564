//! Deciding a provider profile update request (`/admin/messages/{id}/decide`, seed 003): each
//! line of the request matched against the roster, and per line approve (with the user type of a
//! new affiliation when one is needed) or deny with a reason; all decisions posted at once. The
//! services grant, reply in the thread and resolve it when the last line is decided.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, message_page, render, when};
use crate::routing::{Routes, get};
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::ThreadId;
use gatehouse_domain::profile_update::{DecisionForm, LineState, MAX_REASON};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::profile_update::{ProfileUpdateError, ProfileUpdateReview, ReviewLine};
use std::collections::BTreeMap;

pub fn routes() -> Routes {
    Routes::new().route("/admin/messages/{id}/decide", get(show).post(decide))
}

const PERM: StaffPermission = StaffPermission::Messages;
const HERE: &str = "/admin/messages";

/// A roster match as the page shows it.
struct MatchView {
    provider_id: String,
    npi: String,
    name: String,
    tax_id: String,
    practice_name: String,
    already_has: bool,
    has_affiliation: bool,
    tax_id_has_admin: bool,
}

/// One line of the request, with what was typed for it when the form comes back.
struct LineView {
    n: u32,
    requested: String,
    pending: bool,
    state: &'static str,
    /// "on <time>" once decided.
    decided_at: Option<String>,
    reason: Option<String>,
    matches: Vec<MatchView>,
    approvable: bool,
    needs_user_type: bool,
    typed: DecisionForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/profile_update.html")]
struct DecidePage {
    chrome: Chrome,
    admin: AdminChrome,
    thread: i64,
    subject: String,
    requester: String,
    requester_active: bool,
    practice: String,
    tax_id: String,
    lines: Vec<LineView>,
    any_pending: bool,
    user_types: Vec<(String, String)>,
    summary: Vec<(String, String, String)>,
    notice: Option<String>,
    error: Option<String>,
    max_reason: usize,
}

fn line_view(staff: &Staff, l: &ReviewLine, typed: Option<&DecisionForm>, error: Option<String>) -> LineView {
    LineView {
        n: l.line.line_no,
        requested: l.line.requested.label(),
        pending: l.pending(),
        state: l.line.state.label(),
        decided_at: l.line.decided_at.map(|at| when(&staff.plan.0, at)),
        reason: l.line.reason.clone().filter(|_| l.line.state == LineState::Denied),
        matches: l
            .matches
            .iter()
            .map(|m| MatchView {
                provider_id: m.provider.provider_id.clone(),
                npi: m.provider.npi.clone(),
                name: m.provider.name.clone(),
                tax_id: m.provider.tax_id.clone(),
                practice_name: m.provider.practice_name.clone(),
                already_has: m.already_has,
                has_affiliation: m.has_affiliation,
                tax_id_has_admin: m.tax_id_has_admin,
            })
            .collect(),
        approvable: l.single().is_some(),
        needs_user_type: l.needs_user_type(),
        typed: typed.cloned().unwrap_or_default(),
        error,
    }
}

/// The page for `review`, with what was typed and the problems found, by line.
fn page(
    staff: &Staff,
    review: &ProfileUpdateReview,
    typed: &BTreeMap<u32, DecisionForm>,
    errors: &BTreeMap<u32, String>,
    notice: Option<String>,
    error: Option<String>,
) -> DecidePage {
    let (chrome, admin) = staff.chrome(HERE);
    let lines: Vec<LineView> = review
        .lines
        .iter()
        .map(|l| line_view(staff, l, typed.get(&l.line.line_no), errors.get(&l.line.line_no).cloned()))
        .collect();
    let summary = lines
        .iter()
        .filter_map(|l| {
            l.error.as_ref().map(|e| (format!("decision_{}-deny", l.n), format!("Line {}", l.n), e.clone()))
        })
        .collect();
    DecidePage {
        chrome,
        admin,
        thread: review.thread.id.0,
        subject: review.thread.subject.clone(),
        requester: review.requester_name.clone(),
        requester_active: review.requester_active,
        practice: review.thread.practice_name.clone(),
        tax_id: review.thread.tax_id.clone(),
        any_pending: lines.iter().any(|l| l.pending),
        lines,
        user_types: review.user_types.iter().map(|t| (t.key.as_str().to_owned(), t.name.clone())).collect(),
        summary,
        notice,
        error,
        max_reason: MAX_REASON,
    }
}

/// Errors that have a page of their own.
fn own_page(staff: &Staff, e: ProfileUpdateError) -> Response {
    match e {
        ProfileUpdateError::NotFound | ProfileUpdateError::NotStaff | ProfileUpdateError::NotSignedIn => message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "Request not found",
            "There is no such profile update request in this plan.",
            HERE,
            "Back to the mailbox",
        ),
        other => internal_error(other),
    }
}

async fn review(staff: &Staff, id: ThreadId) -> Result<ProfileUpdateReview, Response> {
    staff.state().svc.profile_update_review(&staff.plan.0, &staff.session, id).await.map_err(|e| own_page(staff, e))
}

async fn show(staff: Staff, Path(id): Path<ThreadId>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    match review(&staff, id).await {
        Ok(r) => render(StatusCode::OK, &page(&staff, &r, &BTreeMap::new(), &BTreeMap::new(), None, None)),
        Err(r) => r,
    }
}

/// The posted fields by line: `decision_{n}`, `user_type_{n}`, `reason_{n}`.
fn typed_lines(fields: &[(String, String)]) -> BTreeMap<u32, DecisionForm> {
    let mut out: BTreeMap<u32, DecisionForm> = BTreeMap::new();
    for (name, value) in fields {
        let Some((field, n)) = name.rsplit_once('_') else { continue };
        let Ok(n) = n.parse::<u32>() else { continue };
        let value: String = value.chars().take(MAX_REASON * 2).collect();
        let entry = out.entry(n).or_default();
        match field {
            "decision" => entry.decision = value,
            "user_type" => entry.user_type = value,
            "reason" => entry.reason = value,
            _ => {}
        }
    }
    out
}

async fn decide(staff: Staff, Path(id): Path<ThreadId>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    let typed = typed_lines(&fields);
    let mut errors = BTreeMap::new();
    let mut decisions = Vec::new();
    for (n, f) in &typed {
        match f.parse() {
            Ok(Some(d)) => decisions.push((*n, d)),
            Ok(None) => {}
            Err(m) => {
                errors.insert(*n, m);
            }
        }
    }
    let r = match review(&staff, id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !errors.is_empty() {
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page(&staff, &r, &typed, &errors, None, None));
    }
    let svc = &staff.state().svc;
    match svc.decide_profile_update(&staff.plan.0, &staff.session, id, &decisions, &staff.meta).await {
        // Every line decided: the reply is in the thread, which is where the agent goes next.
        Ok(out) if out.resolved => {
            Redirect::to(&format!("/admin/messages/{}?done=decided#latest", id.0)).into_response()
        }
        Ok(out) => {
            let notice = format!("Decided {} line(s). The reply is posted when every line is decided.", out.decided);
            match review(&staff, id).await {
                Ok(r) => {
                    render(StatusCode::OK, &page(&staff, &r, &BTreeMap::new(), &BTreeMap::new(), Some(notice), None))
                }
                Err(resp) => resp,
            }
        }
        Err(ProfileUpdateError::Line { line, message }) => {
            let mut message = message;
            if let Some(first) = message.get(..1) {
                message = format!("{}{}", first.to_uppercase(), &message[1..]);
            }
            errors.insert(line, message);
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&staff, &r, &typed, &errors, None, None))
        }
        Err(e @ ProfileUpdateError::AlreadyDecided { .. }) => match review(&staff, id).await {
            Ok(r) => {
                render(StatusCode::CONFLICT, &page(&staff, &r, &BTreeMap::new(), &errors, None, Some(e.to_string())))
            }
            Err(resp) => resp,
        },
        Err(e @ ProfileUpdateError::NoDecisions) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&staff, &r, &typed, &errors, None, Some(e.to_string())))
        }
        Err(e) => own_page(&staff, e),
    }
}

#[cfg(test)]
mod tests {
    use super::typed_lines;

    #[test]
    fn fields_are_read_by_line() {
        let fields = [
            ("csrf_token", "x"),
            ("decision_1", "approve"),
            ("user_type_1", "billing_staff"),
            ("decision_12", "deny"),
            ("reason_12", "Not ours"),
            ("decision_x", "approve"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let t = typed_lines(&fields);
        assert_eq!(t.len(), 2);
        assert_eq!(t[&1].user_type, "billing_staff");
        assert_eq!((t[&12].decision.as_str(), t[&12].reason.as_str()), ("deny", "Not ours"));
    }
}
