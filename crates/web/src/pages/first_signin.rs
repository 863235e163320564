//! An imported account's first sign-in, before the new password: "we sent a link to
//! j***@example.org" (with a resend), and the emailed link, whose page shows a button (mail
//! scanners open links; only the POST uses it) and then continues in that browser.

use super::{Chrome, internal_error, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, stage};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use gatehouse_services::first_signin::EmailProofError;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/first-signin/email", get(sent_page).post(resend))
        .route("/first-signin/confirm", get(link_page))
        .route("/first-signin/confirm", post(confirm))
}

#[derive(Template)]
#[template(path = "email_proof_sent.html")]
struct SentPage {
    chrome: Chrome,
    masked_email: String,
    notice: Option<String>,
    error: Option<String>,
}

fn sent(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    status: StatusCode,
    masked_email: String,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    render(status, &SentPage { chrome: Chrome::new(st, plan, csrf, false).mid_flow(), masked_email, notice, error })
}

#[derive(Deserialize)]
struct SentQuery {
    /// Set by sign-in when the link limit kept it from sending one.
    #[serde(default)]
    not_sent: Option<String>,
}

async fn sent_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::EmailProof>,
    Query(q): Query<SentQuery>,
) -> Response {
    match st.svc.email_proof_pending(&plan.0, &s).await {
        Ok(p) => {
            let error = q.not_sent.map(|_| EmailProofError::Throttled.to_string());
            sent(&st, &plan, &csrf, StatusCode::OK, p.masked_email, None, error)
        }
        Err(EmailProofError::Internal(e)) => internal_error(e),
        Err(_) => axum::response::Redirect::to("/signin").into_response(),
    }
}

async fn resend(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::EmailProof>,
    Meta(meta): Meta,
) -> Response {
    match st.svc.resend_email_proof(&plan.0, &s, &meta).await {
        Ok(p) => {
            let notice = format!("We sent a new link to {}. Only the newest link works.", p.masked_email);
            sent(&st, &plan, &csrf, StatusCode::OK, p.masked_email, Some(notice), None)
        }
        Err(e @ EmailProofError::Throttled) => match st.svc.email_proof_pending(&plan.0, &s).await {
            Ok(p) => sent(&st, &plan, &csrf, StatusCode::TOO_MANY_REQUESTS, p.masked_email, None, Some(e.to_string())),
            Err(e) => internal_error(e),
        },
        Err(EmailProofError::Internal(e)) => internal_error(e),
        Err(_) => axum::response::Redirect::to("/signin").into_response(),
    }
}

#[derive(Template)]
#[template(path = "email_proof_confirm.html")]
struct LinkPage {
    chrome: Chrome,
    token: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

fn link_error(st: &AppState, plan: &CurrentPlan, csrf: &CsrfToken, e: EmailProofError) -> Response {
    match e {
        EmailProofError::Internal(e) => internal_error(e),
        e => render(
            StatusCode::BAD_REQUEST,
            &LinkPage {
                chrome: Chrome::new(st, plan, csrf, false),
                token: String::new(),
                username: String::new(),
                error: Some(e.to_string()),
            },
        ),
    }
}

/// Shows whom the link is for and a button; uses nothing.
async fn link_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Query(q): Query<TokenForm>,
) -> Response {
    match st.svc.email_proof_view(&plan.0, &q.token).await {
        Ok(v) => render(
            StatusCode::OK,
            &LinkPage {
                chrome: Chrome::new(&st, &plan, &csrf, false),
                token: q.token,
                username: v.username,
                error: None,
            },
        ),
        Err(e) => link_error(&st, &plan, &csrf, e),
    }
}

/// Uses the link: a new session at "Create a new password" in this browser.
async fn confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<TokenForm>,
) -> Response {
    match st.svc.redeem_email_proof(&plan.0, &f.token, &meta).await {
        Ok((token, stage)) => super::to_stage(&st, jar, token, stage),
        Err(e) => link_error(&st, &plan, &csrf, e),
    }
}
