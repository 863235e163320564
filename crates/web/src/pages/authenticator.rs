//! "Authenticator app" (`/profile/authenticator`): add an app (QR code drawn on the server as
//! SVG, and the secret as text), confirm it with its first code, see the recovery codes once,
//! make new ones, remove the app. Every change needs the profile opened on `/profile` first.

use super::{Chrome, internal_error, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, stage};
use crate::routing::{Routes, get};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_services::SessionInfo;
use gatehouse_services::authenticator_app::{AppEnrolment, AuthenticatorError, Factors};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new().route("/profile/authenticator", get(show).post(act))
}

#[derive(Template)]
#[template(path = "authenticator.html")]
struct AuthenticatorPage {
    chrome: Chrome,
    factors: Factors,
    /// The profile is open (changes allowed).
    open: bool,
    /// The plan offers authenticator apps (new ones may be added).
    offered: bool,
    enrolment: Option<AppEnrolment>,
    /// Recovery codes to show this once.
    codes: Option<Vec<String>>,
    notice: Option<String>,
    error: Option<String>,
    code_error: Option<String>,
    since: String,
}

#[allow(clippy::too_many_arguments)]
async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    codes: Option<Vec<String>>,
    notice: Option<String>,
    error: Option<AuthenticatorError>,
) -> Response {
    let factors = match st.svc.my_factors(&plan.0, s).await {
        Ok(f) => f,
        Err(AuthenticatorError::Internal(e)) => return internal_error(e),
        Err(_) => return Redirect::to("/profile").into_response(),
    };
    let (open, enrolment) = match st.svc.app_enrolment(&plan.0, s).await {
        Ok(e) => (true, e),
        Err(AuthenticatorError::Internal(e)) => return internal_error(e),
        Err(_) => (false, None),
    };
    let chrome = match Chrome::for_session(st, plan, csrf, s, "/profile/authenticator").await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    let (code_error, error) = match error {
        Some(e @ AuthenticatorError::Code(_)) => (Some(e.to_string()), None),
        Some(e) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let since = factors.app_since.map(|t| super::when(&plan.0, t)).unwrap_or_default();
    let offered = plan.0.factor_policy().app_allowed;
    render(
        status,
        &AuthenticatorPage { chrome, factors, open, offered, enrolment, codes, notice, error, code_error, since },
    )
}

async fn show(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
) -> Response {
    page(&st, &plan, &csrf, &s, StatusCode::OK, None, None, None).await
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
}

async fn act(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Meta(meta): Meta,
    Form(f): Form<ActionForm>,
) -> Response {
    let result: Result<(Option<Vec<String>>, String), AuthenticatorError> = match f.action.as_str() {
        "start" => st.svc.app_enrol_start(&plan.0, &s, &meta).await.map(|_| {
            (
                None,
                "Scan the QR code with your authenticator app, or type the key, then enter the code it shows.".into(),
            )
        }),
        "confirm" => st
            .svc
            .app_enrol_confirm(&plan.0, &s, &f.code, &meta)
            .await
            .map(|c| (c, "Your authenticator app is set up. We will ask for its code when you sign in.".into())),
        "remove" => st
            .svc
            .app_remove(&plan.0, &s, &meta)
            .await
            .map(|()| (None, "The authenticator app was removed. Sign-in codes go to your phone again.".into())),
        "regenerate" => st
            .svc
            .recovery_codes_regenerate(&plan.0, &s, &meta)
            .await
            .map(|c| (Some(c), "Here are your new recovery codes. The old ones no longer work.".into())),
        _ => Err(AuthenticatorError::NoEnrolment),
    };
    match result {
        Ok((codes, notice)) => page(&st, &plan, &csrf, &s, StatusCode::OK, codes, Some(notice), None).await,
        Err(AuthenticatorError::Internal(e)) => internal_error(e),
        Err(e) => {
            let status = match e {
                AuthenticatorError::NotUnlocked => StatusCode::FORBIDDEN,
                AuthenticatorError::Code(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            page(&st, &plan, &csrf, &s, status, None, None, Some(e)).await
        }
    }
}
