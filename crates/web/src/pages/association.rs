//! Self-service association (seed 001, "Associate Your Account" and "Link Your Account"):
//! step 1 (`/associate`, the provider's details), step 2 (`/associate/{attempt}`, the provider
//! agreement), or, when the practice already has an administrator, their names and a button that
//! sends them an access request. The rules are in `gatehouse_services::association`.

use super::home::RequestParts;
use super::{Chrome, internal_error, message_page, render, tax_id_display};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, SignedIn};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::MatchId;
use gatehouse_domain::association::{AssociationErrors, AssociationForm};
use gatehouse_services::association::{AssociationError, Matched};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/associate", get(form_page).post(check))
        .route("/associate/{attempt}", get(step_two).post(accept))
        .route("/associate/{attempt}/request", post(send_request))
}

/// One text input of step 1.
struct Field {
    id: &'static str,
    label: &'static str,
    value: String,
    error: Option<String>,
    hint: Option<&'static str>,
    autocomplete: &'static str,
    numeric: bool,
    maxlength: usize,
}

/// A group of inputs under a legend.
struct Section {
    legend: &'static str,
    intro: Option<&'static str>,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "associate.html")]
struct AssociatePage {
    chrome: Chrome,
    /// The user has no linked account yet: explain why they are here.
    first_time: bool,
    provider_type: String,
    type_error: Option<String>,
    sections: Vec<Section>,
    /// (field id, label, message) of every problem, in form order.
    summary: Vec<(&'static str, &'static str, String)>,
    /// No match, throttled, already linked: shown at the top.
    form_error: Option<String>,
}

/// (id, label, autocomplete, max length, hint)
type Spec = (&'static str, &'static str, &'static str, usize, Option<&'static str>);

const PRACTITIONER: [Spec; 2] = [
    ("first_name", "Practitioner's first name", "off", 120, None),
    ("last_name", "Practitioner's last name", "off", 120, None),
];
const GROUP: [Spec; 1] = [("group_name", "Group name", "off", 120, Some("As it appears on your welcome letter."))];
const DETAILS: [Spec; 3] = [
    ("tax_id", "9-digit Tax ID", "off", 20, Some("No spaces, dashes, or letters.")),
    (
        "provider_id",
        "Provider ID (billing number)",
        "off",
        20,
        Some("From your welcome letter or an Explanation of Benefits (EOB)."),
    ),
    ("zip", "ZIP code", "postal-code", 10, Some("Any ZIP code of the provider's addresses.")),
];

fn value_of<'a>(f: &'a AssociationForm, id: &str) -> &'a str {
    match id {
        "first_name" => &f.first_name,
        "last_name" => &f.last_name,
        "group_name" => &f.group_name,
        "tax_id" => &f.tax_id,
        "provider_id" => &f.provider_id,
        "zip" => &f.zip,
        _ => "",
    }
}

fn section(
    legend: &'static str,
    intro: Option<&'static str>,
    specs: &[Spec],
    form: &AssociationForm,
    errors: Option<&AssociationErrors>,
) -> Section {
    let fields = specs
        .iter()
        .map(|&(id, label, autocomplete, maxlength, hint)| Field {
            id,
            label,
            value: value_of(form, id).chars().take(maxlength.max(60)).collect(),
            error: errors.and_then(|e| e.get(id)).map(str::to_owned),
            hint,
            autocomplete,
            numeric: id == "tax_id" || id == "zip",
            maxlength,
        })
        .collect();
    Section { legend, intro, fields }
}

fn form_view(
    chrome: Chrome,
    first_time: bool,
    form: &AssociationForm,
    errors: Option<&AssociationErrors>,
    form_error: Option<String>,
) -> AssociatePage {
    let sections = vec![
        section(
            "If you chose Practitioner",
            Some("The practitioner's name exactly as on your welcome letter."),
            &PRACTITIONER,
            form,
            errors,
        ),
        section("If you chose Group", None, &GROUP, form, errors),
        section("The provider's details", None, &DETAILS, form, errors),
    ];
    let type_error = errors.and_then(|e| e.get("provider_type")).map(str::to_owned);
    let mut summary: Vec<_> = type_error.iter().map(|m| ("pt-practitioner", "Provider type", m.clone())).collect();
    summary.extend(
        sections.iter().flat_map(|s| s.fields.iter()).filter_map(|f| f.error.clone().map(|e| (f.id, f.label, e))),
    );
    AssociatePage {
        chrome,
        first_time,
        provider_type: form.provider_type.trim().to_owned(),
        type_error,
        sections,
        summary,
        form_error,
    }
}

async fn form_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
) -> Response {
    let (chrome, linked) = match Chrome::for_session(&st, &plan, &csrf, &s, "/associate").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = AssociationForm::default();
    render(StatusCode::OK, &form_view(chrome, linked.is_empty(), &form, None, None))
}

async fn check(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<AssociationForm>,
) -> Response {
    let result = st.svc.check_association(&plan.0, &s, &form, &meta).await;
    let (chrome, linked) = match Chrome::for_session(&st, &plan, &csrf, &s, "/associate").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (status, errors, message) = match result {
        Ok(m) if m.admins.is_empty() => {
            return Redirect::to(&format!("/associate/{}", m.attempt_id)).into_response();
        }
        Ok(m) => return has_admin_page(chrome, &m),
        Err(AssociationError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(errors), None),
        Err(e @ AssociationError::Throttled) => (StatusCode::TOO_MANY_REQUESTS, None, Some(e.to_string())),
        Err(e @ (AssociationError::NoMatch | AssociationError::AlreadyLinked { .. })) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string()))
        }
        Err(AssociationError::NotSignedIn) => return Redirect::to("/signin").into_response(),
        Err(AssociationError::Internal(e)) => return internal_error(e),
        Err(e @ AssociationError::StaffAccount) => (StatusCode::FORBIDDEN, None, Some(e.to_string())),
        Err(e) => (StatusCode::CONFLICT, None, Some(e.to_string())),
    };
    render(status, &form_view(chrome, linked.is_empty(), &form, errors.as_ref(), message))
}

/// What step 2 and the "already has an administrator" page show of a match.
struct MatchView {
    attempt_id: i64,
    practice: String,
    tax_id: String,
    /// "Richard Kim (provider ID P200451)", or all providers of the Tax ID.
    provider: String,
    admins: Vec<String>,
}

impl MatchView {
    fn of(m: &Matched) -> Self {
        Self {
            attempt_id: m.attempt_id.0,
            practice: m.practice_name.clone(),
            tax_id: tax_id_display(&m.tax_id),
            provider: match &m.provider {
                Some((id, name)) => format!("{name} (provider ID {id})"),
                None => "All providers under this Tax ID".into(),
            },
            admins: m.admins.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "associate_agreement.html")]
struct AgreementPage {
    chrome: Chrome,
    m: MatchView,
    review_days: i64,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "associate_has_admin.html")]
struct HasAdminPage {
    chrome: Chrome,
    m: MatchView,
}

#[derive(Template)]
#[template(path = "associate_requested.html")]
struct RequestedPage {
    chrome: Chrome,
    m: MatchView,
}

fn has_admin_page(chrome: Chrome, m: &Matched) -> Response {
    render(StatusCode::OK, &HasAdminPage { chrome, m: MatchView::of(m) })
}

/// The page for a step that can no longer be used.
fn expired(st: &AppState, parts: &RequestParts, e: &AssociationError) -> Response {
    let (status, heading) = match e {
        AssociationError::MatchNotFound => (StatusCode::NOT_FOUND, "Please start again"),
        AssociationError::StaffAccount => (StatusCode::FORBIDDEN, "Not for plan staff"),
        _ => (StatusCode::GONE, "Please start again"),
    };
    message_page(st, &parts.0, status, heading, &e.to_string(), "/associate", "Associate your account")
}

async fn step_two(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Path(attempt): Path<MatchId>,
    parts: RequestParts,
) -> Response {
    let here = format!("/associate/{attempt}");
    let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, &here).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match st.svc.association_match(&plan.0, &s, attempt).await {
        Ok(m) if m.admins.is_empty() => {
            let page =
                AgreementPage { chrome, m: MatchView::of(&m), review_days: plan.0.row.access_review_days, error: None };
            render(StatusCode::OK, &page)
        }
        Ok(m) => has_admin_page(chrome, &m),
        Err(AssociationError::Internal(e)) => internal_error(e),
        Err(e) => expired(&st, &parts, &e),
    }
}

#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    agree: Option<String>,
}

async fn accept(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(attempt): Path<MatchId>,
    parts: RequestParts,
    Form(form): Form<AcceptForm>,
) -> Response {
    let csrf = parts.csrf();
    let agreed = form.agree.as_deref() == Some("yes");
    match st.svc.accept_association(&plan.0, &s, attempt, agreed, &meta).await {
        Ok(done) => Redirect::to(&format!("/?linked={}", done.affiliation_id)).into_response(),
        Err(e @ AssociationError::AgreementRequired) => {
            let here = format!("/associate/{attempt}");
            let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, &here).await {
                Ok(c) => c,
                Err(r) => return r,
            };
            match st.svc.association_match(&plan.0, &s, attempt).await {
                Ok(m) => {
                    let page = AgreementPage {
                        chrome,
                        m: MatchView::of(&m),
                        review_days: plan.0.row.access_review_days,
                        error: Some(e.to_string()),
                    };
                    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
                }
                Err(AssociationError::Internal(e)) => internal_error(e),
                Err(e) => expired(&st, &parts, &e),
            }
        }
        Err(AssociationError::HasAdmin { .. }) => {
            // Someone became the administrator meanwhile: show who, and offer the request.
            let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, "/associate").await {
                Ok(c) => c,
                Err(r) => return r,
            };
            match st.svc.association_match(&plan.0, &s, attempt).await {
                Ok(m) => has_admin_page(chrome, &m),
                Err(AssociationError::Internal(e)) => internal_error(e),
                Err(e) => expired(&st, &parts, &e),
            }
        }
        Err(AssociationError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(AssociationError::Internal(e)) => internal_error(e),
        Err(e) => expired(&st, &parts, &e),
    }
}

async fn send_request(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(attempt): Path<MatchId>,
    parts: RequestParts,
) -> Response {
    // Read the match before the request uses it up, to say whom it went to.
    let m = match st.svc.association_match(&plan.0, &s, attempt).await {
        Ok(m) => m,
        Err(AssociationError::Internal(e)) => return internal_error(e),
        Err(e) => return expired(&st, &parts, &e),
    };
    match st.svc.request_access(&plan.0, &s, attempt, &meta).await {
        Ok(_) => {
            let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, "/").await {
                Ok(c) => c,
                Err(r) => return r,
            };
            render(StatusCode::OK, &RequestedPage { chrome, m: MatchView::of(&m) })
        }
        Err(e @ (AssociationError::AlreadyRequested | AssociationError::NoAdminToAsk)) => message_page(
            &st,
            &parts.0,
            StatusCode::CONFLICT,
            "Access request not sent",
            &e.to_string(),
            "/associate",
            "Associate your account",
        ),
        Err(AssociationError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(AssociationError::Internal(e)) => internal_error(e),
        Err(e) => expired(&st, &parts, &e),
    }
}
