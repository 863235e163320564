//! "Add an app or passkey" (`/two-step/strong`): the sign-in step of someone the plan requires to
//! use an authenticator app or a passkey who holds neither, after the phone's code. An app is
//! added with plain forms (QR code drawn on the server, the secret as text, its first code); a
//! passkey through the ceremony script, the only part that needs JavaScript. The recovery codes
//! are shown once, then the session goes on to the terms or home.

use super::{Chrome, internal_error, render, require_stage, session_cookie};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CookieSession, CurrentPlan, Meta, stage};
use crate::routing::{Routes, get, post};
use askama::Template;
use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use gatehouse_domain::passkey::MAX_NAME_LEN;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::SessionInfo;
use gatehouse_services::authenticator_app::AuthenticatorError;
use gatehouse_services::passkeys::PasskeyError;
use gatehouse_services::strong_factor::{StrongFactorError, StrongSetup};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Routes {
    Routes::new()
        .route("/two-step/strong", get(show).post(act))
        .route("/two-step/strong/passkey/options", post(passkey_options))
        .route("/two-step/strong/passkey", post(passkey_register))
}

#[derive(Template)]
#[template(path = "two_step_strong.html")]
struct StrongPage {
    chrome: Chrome,
    setup: StrongSetup,
    /// Recovery codes to show this once.
    codes: Option<Vec<String>>,
    /// Where "Continue" goes once the step is complete (the codes page only).
    next: Option<&'static str>,
    notice: Option<String>,
    error: Option<String>,
    code_error: Option<String>,
    passkey_error: Option<String>,
    max_len: usize,
}

struct Shown {
    codes: Option<Vec<String>>,
    notice: Option<String>,
    error: Option<String>,
    code_error: Option<String>,
    passkey_error: Option<String>,
}

impl Shown {
    fn none() -> Self {
        Self { codes: None, notice: None, error: None, code_error: None, passkey_error: None }
    }
}

async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let setup = match st.svc.strong_setup(&plan.0, s).await {
        Ok(v) => v,
        Err(StrongFactorError::Internal(e)) => return internal_error(e),
        Err(_) => return Redirect::to("/signin").into_response(),
    };
    render(
        status,
        &StrongPage {
            chrome: Chrome::new(st, plan, csrf, false).mid_flow(),
            setup,
            codes: shown.codes,
            next: None,
            notice: shown.notice,
            error: shown.error,
            code_error: shown.code_error,
            passkey_error: shown.passkey_error,
            max_len: MAX_NAME_LEN,
        },
    )
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    added: Option<String>,
}

async fn show(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::StrongFactorSetup>,
    q: Query<ShowQuery>,
) -> Response {
    let mut shown = Shown::none();
    if q.added.is_some() {
        shown.notice = Some("Your passkey was added. Choose Continue.".into());
    }
    page(&st, &plan, &csrf, &s, StatusCode::OK, shown).await
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
    AtStage(s, _): AtStage<stage::StrongFactorSetup>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<ActionForm>,
) -> Response {
    let mut shown = Shown::none();
    let status = match f.action.as_str() {
        "app_start" => match st.svc.app_enrol_start(&plan.0, &s, &meta).await {
            Ok(_) => {
                shown.notice = Some(
                    "Scan the QR code with your authenticator app, or type the key, then enter the code it shows."
                        .into(),
                );
                StatusCode::OK
            }
            Err(AuthenticatorError::Internal(e)) => return internal_error(e),
            Err(e) => {
                shown.error = Some(e.to_string());
                StatusCode::CONFLICT
            }
        },
        "app_confirm" => match st.svc.app_enrol_confirm(&plan.0, &s, &f.code, &meta).await {
            Ok(codes) => {
                shown.codes = codes;
                shown.notice = Some("Your authenticator app is set up. Choose Continue.".into());
                StatusCode::OK
            }
            Err(AuthenticatorError::Internal(e)) => return internal_error(e),
            Err(e @ AuthenticatorError::Code(_)) => {
                shown.code_error = Some(e.to_string());
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Err(e) => {
                shown.error = Some(e.to_string());
                StatusCode::CONFLICT
            }
        },
        "continue" => {
            return match st.svc.complete_strong_setup(&plan.0, &s, &meta).await {
                Ok(done) => match done.recovery_codes {
                    // The codes are shown once, with the way on; the session has moved on already.
                    Some(codes) => {
                        let setup = StrongSetup {
                            app_allowed: false,
                            passkeys_allowed: false,
                            enrolment: None,
                            has_app: false,
                            passkeys: 1,
                        };
                        let body = StrongPage {
                            chrome: Chrome::new(&st, &plan, &csrf, false).mid_flow(),
                            setup,
                            codes: Some(codes),
                            next: Some(super::next_url(done.stage)),
                            notice: Some("Your passkey is set up.".into()),
                            error: None,
                            code_error: None,
                            passkey_error: None,
                            max_len: MAX_NAME_LEN,
                        };
                        (jar.add(session_cookie(&st, done.session)), render(StatusCode::OK, &body)).into_response()
                    }
                    None => super::to_stage(&st, jar, done.session, done.stage),
                },
                Err(StrongFactorError::Internal(e)) => internal_error(e),
                Err(StrongFactorError::WrongStage) => Redirect::to("/signin").into_response(),
                Err(e) => {
                    shown.error = Some(e.to_string());
                    page(&st, &plan, &csrf, &s, StatusCode::CONFLICT, shown).await
                }
            };
        }
        _ => {
            shown.error = Some("Choose one of the options below.".into());
            StatusCode::BAD_REQUEST
        }
    };
    page(&st, &plan, &csrf, &s, status, shown).await
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn passkey_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: CookieSession,
    Form(f): Form<NameForm>,
) -> Response {
    let r = match require_stage(&sess.0, SessionStage::StrongFactorSetup) {
        Ok(s) => st.svc.start_passkey_registration(&plan.0, &s, &f.name).await,
        Err(_) => Err(PasskeyError::WrongStage),
    };
    match r {
        Ok(o) => Json(json!({"ceremony": o.ceremony, "options": o.options})).into_response(),
        Err(PasskeyError::Internal(e)) => {
            tracing::error!(error = %e, "passkey options failed");
            let body = json!({"message": "Something went wrong on our side. Please try again.", "field": null});
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        Err(e) => {
            let status = match e {
                PasskeyError::NotUnlocked | PasskeyError::WrongStage | PasskeyError::NotOffered => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::BAD_REQUEST,
            };
            (status, Json(json!({"message": e.to_string(), "field": e.field()}))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

async fn passkey_register(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::StrongFactorSetup>,
    Meta(meta): Meta,
    Form(f): Form<AnswerForm>,
) -> Response {
    match st.svc.finish_passkey_registration(&plan.0, &s, &f.ceremony, &f.credential, &meta).await {
        // The first strong factor's recovery codes are made with the passkey: shown on this answer,
        // once (the step's completion then makes none).
        Ok(r) => match r.recovery_codes {
            Some(codes) => {
                let mut shown = Shown::none();
                shown.codes = Some(codes);
                shown.notice = Some("Your passkey was added. Choose Continue.".into());
                page(&st, &plan, &csrf, &s, StatusCode::OK, shown).await
            }
            None => Redirect::to("/two-step/strong?added=1").into_response(),
        },
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(e) => {
            let mut shown = Shown::none();
            shown.passkey_error = Some(e.to_string());
            page(&st, &plan, &csrf, &s, StatusCode::BAD_REQUEST, shown).await
        }
    }
}
