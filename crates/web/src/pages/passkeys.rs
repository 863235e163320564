//! Passkeys on the pages: "Passkeys" under My profile (list, add, remove), "Sign in with a
//! passkey" on the sign-in page, and a passkey instead of the code at two-step (and, in
//! `profile.rs`, as the second step of confirming it's you on My profile). The ceremony
//! needs JavaScript (`/assets/passkeys.js`, the only script): a form marked `data-passkey` posts
//! its fields to an `…/options` route for the ceremony's options (JSON), the browser asks the
//! authenticator, and the form then posts the answer. Everything else is plain forms.

use super::{Chrome, ConfirmPage, internal_error, render, require_stage, to_stage, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CookieSession, CurrentPlan, Meta, stage};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use gatehouse_domain::PasskeyId;
use gatehouse_domain::passkey::MAX_NAME_LEN;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::SessionInfo;
use gatehouse_services::passkeys::{CeremonyOptions, PasskeyError, PasskeyRegistered};
use gatehouse_services::profile::Unlock;
use serde::Deserialize;
use serde_json::json;

/// The ceremony script, served from the binary (`script-src 'self'`: no inline script anywhere).
pub const SCRIPT: &str = include_str!("../../assets/passkeys.js");

pub fn routes() -> Routes {
    Routes::new()
        .route("/assets/passkeys.js", get(script))
        .route("/profile/passkeys", get(list).post(register))
        .route("/profile/passkeys/options", post(register_options))
        .route("/profile/passkeys/{id}/remove", get(remove_page).post(remove))
        .route("/signin/passkey", post(signin))
        .route("/signin/passkey/options", post(signin_options))
        .route("/two-step/passkey", post(second_step))
        .route("/two-step/passkey/options", post(second_step_options))
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], SCRIPT)
        .into_response()
}

/// An options route's answer: the options, or the refusal as `{message, field}` for the script.
pub(super) fn options_answer(r: Result<CeremonyOptions, PasskeyError>) -> Response {
    match r {
        Ok(o) => Json(json!({"ceremony": o.ceremony, "options": o.options})).into_response(),
        Err(PasskeyError::Internal(e)) => {
            tracing::error!(error = %e, "passkey options failed");
            let body = json!({"message": "Something went wrong on our side. Please try again.", "field": null});
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        Err(e) => {
            let body = Json(json!({"message": e.to_string(), "field": e.field()}));
            match e {
                PasskeyError::Throttled { retry_after } => {
                    let wait = [(header::RETRY_AFTER, retry_after.max(1).to_string())];
                    (StatusCode::TOO_MANY_REQUESTS, wait, body).into_response()
                }
                PasskeyError::NotUnlocked | PasskeyError::WrongStage | PasskeyError::NotOffered => {
                    (StatusCode::FORBIDDEN, body).into_response()
                }
                _ => (StatusCode::BAD_REQUEST, body).into_response(),
            }
        }
    }
}

/// One passkey as the page lists it.
struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    added: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    open: bool,
    /// The plan offers passkeys (new ones may be added).
    offered: bool,
    max_len: usize,
    name: String,
    /// Recovery codes made with the first passkey, shown this once.
    codes: Option<Vec<String>>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    removed: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    codes: Option<Vec<String>>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let keys = match st.svc.my_passkeys(&plan.0, s).await {
        Ok(k) => k,
        Err(PasskeyError::Internal(e)) => return internal_error(e),
        Err(_) => return Redirect::to("/signin").into_response(),
    };
    let open = match st.svc.my_profile(&plan.0, s).await {
        Ok(p) => matches!(p.unlock, Unlock::Open { .. }),
        Err(gatehouse_services::profile::ProfileError::Internal(e)) => return internal_error(e),
        Err(_) => false,
    };
    let chrome = match Chrome::for_session(st, plan, csrf, s, "/profile/passkeys").await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    let rows = keys
        .into_iter()
        .map(|k| Row {
            id: k.id.0,
            name: k.name,
            kind: if k.synced { "Synced passkey" } else { "On one device or security key" },
            added: when(&plan.0, k.created_at),
            last_used: k.last_used_at.map_or_else(|| "Not used yet".to_owned(), |t| when(&plan.0, t)),
        })
        .collect();
    let offered = plan.0.factor_policy().passkeys_allowed;
    render(
        status,
        &ListPage { chrome, rows, open, offered, max_len: MAX_NAME_LEN, name: String::new(), codes, notice, error },
    )
}

async fn list(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    q: Query<ListQuery>,
) -> Response {
    let notice = if q.added.is_some() {
        Some("Your passkey was added. You can now use it to sign in.".to_owned())
    } else {
        q.removed.as_ref().map(|_| "The passkey was removed. It can no longer be used to sign in.".to_owned())
    };
    list_page(&st, &plan, &csrf, &s, StatusCode::OK, None, notice, None).await
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn register_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: CookieSession,
    Form(f): Form<NameForm>,
) -> Response {
    let s = match require_stage(&sess.0, SessionStage::Complete) {
        Ok(s) => s,
        Err(_) => return options_answer(Err(PasskeyError::WrongStage)),
    };
    options_answer(st.svc.start_passkey_registration(&plan.0, &s, &f.name).await)
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

async fn register(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Meta(meta): Meta,
    Form(f): Form<AnswerForm>,
) -> Response {
    match st.svc.finish_passkey_registration(&plan.0, &s, &f.ceremony, &f.credential, &meta).await {
        // The first strong factor's recovery codes are shown on this answer, never again.
        Ok(PasskeyRegistered { recovery_codes: Some(codes), .. }) => {
            let notice = "Your passkey was added. You can now use it to sign in. Save your recovery codes below.";
            list_page(&st, &plan, &csrf, &s, StatusCode::OK, Some(codes), Some(notice.to_owned()), None).await
        }
        Ok(_) => Redirect::to("/profile/passkeys?added=1").into_response(),
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(e) => list_page(&st, &plan, &csrf, &s, StatusCode::BAD_REQUEST, None, None, Some(e.to_string())).await,
    }
}

async fn remove_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Path(id): Path<PasskeyId>,
) -> Response {
    // Only one's own passkey: another's reads as not found.
    let key = match st.svc.my_passkeys(&plan.0, &s).await {
        Ok(keys) => keys.into_iter().find(|k| k.id == id),
        Err(PasskeyError::Internal(e)) => return internal_error(e),
        Err(_) => return Redirect::to("/signin").into_response(),
    };
    let Some(key) = key else {
        return (StatusCode::NOT_FOUND, "That passkey was not found among yours.").into_response();
    };
    let chrome = match Chrome::for_session(&st, &plan, &csrf, &s, "/profile/passkeys").await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Remove the passkey \u{201c}{}\u{201d}?", key.name),
            question: "You will no longer be able to sign in with it. You can add it again later.".into(),
            action: format!("/profile/passkeys/{id}/remove"),
            confirm_label: "Remove the passkey".into(),
            cancel_href: "/profile/passkeys".into(),
            cancel_label: "Keep the passkey".into(),
        },
    )
}

async fn remove(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Meta(meta): Meta,
    Path(id): Path<PasskeyId>,
) -> Response {
    match st.svc.remove_passkey(&plan.0, &s, id, &meta).await {
        Ok(()) => Redirect::to("/profile/passkeys?removed=1").into_response(),
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(PasskeyError::NotFound) => {
            (StatusCode::NOT_FOUND, "That passkey was not found among yours.").into_response()
        }
        Err(e) => list_page(&st, &plan, &csrf, &s, StatusCode::FORBIDDEN, None, None, Some(e.to_string())).await,
    }
}

async fn signin_options(State(st): State<AppState>, plan: CurrentPlan, Meta(meta): Meta) -> Response {
    options_answer(st.svc.start_passkey_signin(&plan.0, &meta).await)
}

/// A refused passkey's status on the pages: a lock is "too many", anything else `otherwise`.
fn refused_status(e: &PasskeyError, otherwise: StatusCode) -> StatusCode {
    match e {
        PasskeyError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => otherwise,
    }
}

async fn signin(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<AnswerForm>,
) -> Response {
    match st.svc.finish_passkey_signin(&plan.0, &f.ceremony, &f.credential, &meta).await {
        Ok(done) => to_stage(&st, jar, done.session, done.stage),
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(e) => super::auth::signin_with_passkey_error(
            &st,
            &plan,
            &csrf,
            refused_status(&e, StatusCode::UNAUTHORIZED),
            e.to_string(),
        ),
    }
}

async fn second_step_options(State(st): State<AppState>, plan: CurrentPlan, sess: CookieSession) -> Response {
    let s = match require_stage(&sess.0, SessionStage::TwoStepCode) {
        Ok(s) => s,
        Err(_) => return options_answer(Err(PasskeyError::WrongStage)),
    };
    options_answer(st.svc.start_passkey_second_step(&plan.0, &s).await)
}

async fn second_step(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::TwoStepCode>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<AnswerForm>,
) -> Response {
    match st.svc.finish_passkey_second_step(&plan.0, &s, &f.ceremony, &f.credential, &meta).await {
        Ok(done) => to_stage(&st, jar, done.session, done.stage),
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(PasskeyError::WrongStage) => Redirect::to("/signin").into_response(),
        Err(e) => {
            let status = refused_status(&e, StatusCode::BAD_REQUEST);
            super::auth::code_page_with_passkey_error(&st, &plan, &csrf, &s, status, e.to_string()).await
        }
    }
}
