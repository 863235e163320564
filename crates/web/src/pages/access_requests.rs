//! Access requests for practice administrators (`/access-requests`): each pending request with
//! an approval form (user type; all providers of the Tax ID or a checked list) and a decline
//! button behind a confirmation. The rules are in `gatehouse_services::access_requests`.

use super::ConfirmPage;
use super::home::RequestParts;
use super::{Chrome, internal_error, message_page, render, tax_id_display, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, SignedIn};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::{AccessRequestId, ProviderRowId};
use gatehouse_services::SessionInfo;
use gatehouse_services::access_requests::{AccessRequestError, Approval, PendingRequest, Scope};
use gatehouse_services::affiliations::AffiliationError;
use gatehouse_services::plans::Plan;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/access-requests", get(list))
        .route("/access-requests/{id}/approve", post(approve))
        .route("/access-requests/{id}/decline", get(decline_confirm).post(decline))
}

/// One pending request as the page shows it.
struct RequestView {
    id: i64,
    requester: String,
    username: String,
    email: String,
    practice: String,
    tax_id: String,
    /// The provider they matched, or all providers (a group).
    matched: String,
    sent: String,
    /// (row id, "Name (provider ID)", checked: the one they matched) of the practice's providers.
    providers: Vec<(i64, String, bool)>,
    /// The user type chosen (none at first, what was submitted after a refusal).
    user_type: String,
    /// Whether "all providers" is chosen.
    scope_all: bool,
    /// Why the last decision on it was refused.
    error: Option<String>,
}

impl RequestView {
    fn of(plan: &Plan, p: PendingRequest) -> Self {
        let r = p.request;
        let matched_row = r.provider.as_ref().map(|p| p.0);
        Self {
            id: r.id,
            requester: format!("{} {}", r.first_name, r.last_name),
            username: r.username.unwrap_or_else(|| "(not signed up yet)".into()),
            email: r.email,
            practice: r.practice_name,
            tax_id: tax_id_display(&r.tax_id),
            matched: r.provider.as_ref().map_or_else(
                || "All providers (they matched the group)".into(),
                |(_, id, name)| format!("{name} ({id})"),
            ),
            sent: when(plan, r.created_at),
            providers: p
                .providers
                .into_iter()
                .map(|b| (b.id, format!("{} ({})", b.name, b.provider_id), Some(b.id) == matched_row))
                .collect(),
            user_type: String::new(),
            scope_all: matched_row.is_none(),
            error: None,
        }
    }

    /// Shows the choices of a refused decision again, so the administrator only fixes what was wrong.
    fn keep(&mut self, a: &Approval) {
        self.user_type = a.user_type.clone();
        self.scope_all = matches!(a.scope, Scope::All);
        if let Scope::Providers(ids) = &a.scope {
            for p in &mut self.providers {
                p.2 = ids.contains(&ProviderRowId(p.0));
            }
        }
    }
}

#[derive(Template)]
#[template(path = "access_requests.html")]
struct RequestsPage {
    chrome: Chrome,
    requests: Vec<RequestView>,
    /// (key, name) of the plan's user types.
    user_types: Vec<(String, String)>,
    notice: Option<&'static str>,
    /// A refusal about a request no longer listed.
    alert: Option<String>,
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

/// The page, with `error` shown on request `id`.
async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<(i64, String, Option<&Approval>)>,
) -> Response {
    let (chrome, _) = match Chrome::for_session(st, plan, csrf, s, "/access-requests").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let grant = match crate::pages::practice_grant(st, plan, s).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let listed = match &grant {
        Some(g) => st.svc.pending_access_requests(g, &plan.0).await,
        None => st.svc.list_user_types(&plan.0).await.map(|t| (Vec::new(), t)).map_err(AccessRequestError::Internal),
    };
    match listed {
        Ok((pending, types)) => {
            let mut requests: Vec<_> = pending.into_iter().map(|p| RequestView::of(&plan.0, p)).collect();
            let mut alert = None;
            if let Some((id, message, submitted)) = error {
                match requests.iter_mut().find(|r| r.id == id) {
                    Some(r) => {
                        r.error = Some(message);
                        if let Some(a) = submitted {
                            r.keep(a);
                        }
                    }
                    None => alert = Some(message),
                }
            }
            let user_types = types.into_iter().map(|t| (t.key.to_string(), t.name)).collect();
            render(status, &RequestsPage { chrome: chrome.wide(), requests, user_types, notice, alert })
        }
        Err(e) => internal_error(e),
    }
}

async fn list(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Query(q): Query<Done>,
    parts: RequestParts,
) -> Response {
    match crate::pages::practice_grant(&st, &plan, &s).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message_page(
                &st,
                &parts.0,
                StatusCode::FORBIDDEN,
                "Access requests",
                "Access requests are decided by a practice's administrator, and you administer no practice.",
                "/",
                "Home",
            );
        }
        Err(r) => return r,
    }
    let notice = match q.done.as_deref() {
        Some("approved") => Some("Approved. They can use the portal for this practice now, and we emailed them."),
        Some("declined") => Some("Declined. We emailed them."),
        _ => None,
    };
    page(&st, &plan, &csrf, &s, StatusCode::OK, notice, None).await
}

/// The page after a refused decision: the reason beside the request (or at the top when it is no
/// longer pending).
async fn refused(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    parts: &RequestParts,
    (id, submitted): (i64, Option<&Approval>),
    e: AccessRequestError,
) -> Response {
    let status = match &e {
        AccessRequestError::Internal(_) | AccessRequestError::Affiliation(AffiliationError::Internal(_)) => {
            return internal_error(e);
        }
        AccessRequestError::Affiliation(AffiliationError::NotSignedIn) => {
            return Redirect::to("/signin").into_response();
        }
        AccessRequestError::NotFound => return not_found(st, parts),
        AccessRequestError::AlreadyDecided(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    page(st, plan, csrf, s, status, None, Some((id, e.to_string(), submitted))).await
}

async fn approve(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<i64>,
    parts: RequestParts,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = parts.csrf();
    let value = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let scope = if value("scope") == "all" {
        Scope::All
    } else {
        // A provider that is not a number cannot be one of the practice's: the service refuses it.
        let ids = fields
            .iter()
            .filter(|(k, _)| k == "provider")
            .map(|(_, v)| v.trim().parse::<i64>().map_or(ProviderRowId(-1), ProviderRowId));
        Scope::Providers(ids.collect())
    };
    let approval = Approval { user_type: value("user_type").to_owned(), scope, provider_ids: Vec::new() };
    let grant = match crate::pages::practice_grant(&st, &plan, &s).await {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(&st, &parts),
        Err(r) => return r,
    };
    match st.svc.approve_access_request(&grant, &plan.0, AccessRequestId(id), &approval, &meta).await {
        Ok(()) => Redirect::to("/access-requests?done=approved").into_response(),
        Err(e) => refused(&st, &plan, &csrf, &s, &parts, (id, Some(&approval)), e).await,
    }
}

fn not_found(st: &AppState, parts: &RequestParts) -> Response {
    message_page(
        st,
        &parts.0,
        StatusCode::NOT_FOUND,
        "Access request not found",
        "That access request was not found. It may have been withdrawn, or it is for a practice you do not administer.",
        "/access-requests",
        "Back to access requests",
    )
}

async fn decline_confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Path(id): Path<i64>,
    parts: RequestParts,
) -> Response {
    let grant = match crate::pages::practice_grant(&st, &plan, &s).await {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(&st, &parts),
        Err(r) => return r,
    };
    let pending = match st.svc.pending_access_requests(&grant, &plan.0).await {
        Ok((p, _)) => p,
        Err(e) => return internal_error(e),
    };
    let Some(r) = pending.into_iter().find(|p| p.request.id == id).map(|p| RequestView::of(&plan.0, p)) else {
        return not_found(&st, &parts);
    };
    let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, "/access-requests").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Decline the request of {}?", r.requester),
            question: format!(
                "{} will not get access to {} (Tax ID {}). We will email them that you declined. They can send a new request later.",
                r.requester, r.practice, r.tax_id
            ),
            action: format!("/access-requests/{id}/decline"),
            confirm_label: "Decline the request".into(),
            cancel_href: "/access-requests".into(),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn decline(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<i64>,
    parts: RequestParts,
) -> Response {
    let grant = match crate::pages::practice_grant(&st, &plan, &s).await {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(&st, &parts),
        Err(r) => return r,
    };
    match st.svc.decline_access_request(&grant, &plan.0, AccessRequestId(id), &meta).await {
        Ok(()) => Redirect::to("/access-requests?done=declined").into_response(),
        Err(e) => refused(&st, &plan, &csrf, &s, &parts, (id, None), e).await,
    }
}
