//! "Manage linked accounts" (`/accounts`) and the switch between them (`/accounts/switch`, posted
//! by this page and by the switcher in every page's header).

use super::{Chrome, internal_error, local_path, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, stage};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::AffiliationId;
use gatehouse_services::affiliations::{AffiliationError, LinkedAccount};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new().route("/accounts", get(list)).route("/accounts/switch", post(switch))
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<LinkedAccount>,
    error: Option<String>,
}

async fn list(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
) -> Response {
    match Chrome::for_session(&st, &plan, &csrf, &s, "/accounts").await {
        Ok((chrome, accounts)) => {
            render(StatusCode::OK, &AccountsPage { chrome: chrome.wide(), accounts, error: None })
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct SwitchForm {
    #[serde(default)]
    affiliation: String,
    #[serde(default)]
    next: String,
}

async fn switch(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Complete>,
    Meta(meta): Meta,
    Form(form): Form<SwitchForm>,
) -> Response {
    let result = match form.affiliation.trim().parse::<i64>() {
        Ok(id) => st.svc.switch_affiliation(&plan.0, &s, AffiliationId(id), &meta).await,
        Err(_) => Err(AffiliationError::NotFound),
    };
    match result {
        Ok(_) => Redirect::to(local_path(&form.next)).into_response(),
        Err(AffiliationError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(AffiliationError::Internal(e)) => internal_error(e),
        Err(e) => match Chrome::for_session(&st, &plan, &csrf, &s, "/accounts").await {
            Ok((chrome, accounts)) => render(
                StatusCode::NOT_FOUND,
                &AccountsPage { chrome: chrome.wide(), accounts, error: Some(e.to_string()) },
            ),
            Err(r) => r,
        },
    }
}
