//! "Add Facility" (`/profile/add-facility`, seed 003): a signed-in practice user asks the plan to
//! add provider IDs or NPIs to their account. The request is sent as a secure message of topic
//! "provider profile update" and the user lands on its thread.

use super::{Chrome, internal_error, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, stage};
use crate::routing::{Routes, get};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::PracticeId;
use gatehouse_domain::profile_update::{MAX_LINES, MAX_NOTE, ProfileUpdateForm};
use gatehouse_services::SessionInfo;
use gatehouse_services::profile_update::{ActingFor, ProfileUpdateError};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new().route("/profile/add-facility", get(show).post(send))
}

/// The form's fields as typed, and their problems: (field id, label, message).
#[derive(Default)]
struct Typed {
    practice: Option<PracticeId>,
    lines: String,
    note: String,
    errors: Vec<(&'static str, &'static str, String)>,
}

#[derive(Template)]
#[template(path = "add_facility.html")]
struct AddFacilityPage {
    chrome: Chrome,
    practices: Vec<ActingFor>,
    t: Typed,
    summary: Vec<(&'static str, &'static str, String)>,
    max_lines: usize,
    max_note: usize,
}

impl AddFacilityPage {
    fn err(&self, field: &str) -> Option<String> {
        self.t.errors.iter().find(|(f, _, _)| *f == field).map(|(_, _, m)| m.clone())
    }
    fn chosen(&self, p: &PracticeId) -> bool {
        self.t.practice == Some(*p)
    }
}

async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    t: Typed,
) -> Response {
    let practices = match st.svc.my_providers(&plan.0, s).await {
        Ok(p) => p,
        Err(ProfileUpdateError::NotSignedIn) => return Redirect::to("/signin").into_response(),
        Err(e) => return internal_error(e),
    };
    let (chrome, _) = match Chrome::for_session(st, plan, csrf, s, "/profile/add-facility").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let summary = t.errors.clone();
    render(status, &AddFacilityPage { chrome, practices, t, summary, max_lines: MAX_LINES, max_note: MAX_NOTE })
}

async fn show(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
) -> Response {
    page(&st, &plan, &csrf, &s, StatusCode::OK, Typed::default()).await
}

#[derive(Deserialize)]
struct AddFacilityBody {
    #[serde(default)]
    practice: String,
    #[serde(default)]
    lines: String,
    #[serde(default)]
    note: String,
}

fn label(field: &str) -> &'static str {
    match field {
        "practice" => "Practice",
        "lines" => "Provider IDs or NPIs",
        _ => "Note",
    }
}

async fn send(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Meta(meta): Meta,
    Form(body): Form<AddFacilityBody>,
) -> Response {
    let practice = body.practice.trim().parse::<i64>().ok().map(PracticeId);
    let mut t = Typed {
        practice,
        lines: body.lines.chars().take(4_000).collect(),
        note: body.note.chars().take(MAX_NOTE + 200).collect(),
        errors: Vec::new(),
    };
    let Some(practice) = practice else {
        t.errors.push(("practice", label("practice"), "Choose the practice the request is for.".into()));
        return page(&st, &plan, &csrf, &s, StatusCode::UNPROCESSABLE_ENTITY, t).await;
    };
    let form = ProfileUpdateForm { lines: body.lines, note: body.note };
    match st.svc.send_profile_update(&plan.0, &s, practice, &form, &meta).await {
        Ok(thread) => Redirect::to(&format!("/messages/{}", thread.0)).into_response(),
        Err(ProfileUpdateError::Invalid(errs)) => {
            t.errors = errs.0.iter().map(|e| (e.field, label(e.field), e.message.clone())).collect();
            page(&st, &plan, &csrf, &s, StatusCode::UNPROCESSABLE_ENTITY, t).await
        }
        Err(ProfileUpdateError::NotFound) => {
            t.errors.push(("practice", label("practice"), "Choose one of your practices.".into()));
            page(&st, &plan, &csrf, &s, StatusCode::UNPROCESSABLE_ENTITY, t).await
        }
        Err(ProfileUpdateError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(ProfileUpdateError::TooMany) => super::messages::refusal_page(
            &st,
            &plan,
            &csrf,
            gatehouse_services::secure_messages::MessageError::TooMany,
            "/messages",
            "Back to your messages",
        ),
        Err(e) => internal_error(e),
    }
}
