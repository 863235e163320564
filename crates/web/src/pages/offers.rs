//! "Offers" (`/offers`): the practices whose administrators asked the signed-in person to join,
//! each with Accept, and Decline behind a confirmation. Nothing is attached before Accept. The
//! rules are in `gatehouse_services::offers`.

use super::home::RequestParts;
use super::{Chrome, ConfirmPage, internal_error, message_page, render, tax_id_display, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, SignedIn};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::ids::OfferId;
use gatehouse_services::SessionInfo;
use gatehouse_services::offers::{Offer, OfferError};
use gatehouse_services::plans::Plan;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/offers", get(list))
        .route("/offers/{id}/accept", post(accept))
        .route("/offers/{id}/decline", get(decline_confirm).post(decline))
}

/// One open offer as the page shows it.
struct OfferView {
    id: i64,
    practice: String,
    tax_id: String,
    offered_by: String,
    /// Accepting makes the person the practice's administrator.
    administrator: bool,
    user_type: String,
    /// "All providers of this Tax ID", or each provider.
    providers: Vec<String>,
    offered_at: String,
    expires_at: String,
}

impl OfferView {
    fn of(plan: &Plan, o: Offer) -> Self {
        Self {
            id: o.id.0,
            practice: o.practice_name,
            tax_id: tax_id_display(&o.tax_id),
            offered_by: o.offered_by,
            administrator: o.administrator,
            user_type: o.user_type,
            providers: o.providers.unwrap_or_else(|| vec!["All providers of this Tax ID".into()]),
            offered_at: when(plan, o.offered_at),
            expires_at: when(plan, o.expires_at),
        }
    }
}

#[derive(Template)]
#[template(path = "offers.html")]
struct OffersPage {
    chrome: Chrome,
    offers: Vec<OfferView>,
    /// The user has no linked account yet.
    unlinked: bool,
    notice: Option<String>,
    alert: Option<String>,
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    notice: Option<String>,
    alert: Option<String>,
) -> Response {
    let (chrome, linked) = match Chrome::for_session(st, plan, csrf, s, "/offers").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match st.svc.my_offers(&plan.0, s).await {
        Ok(list) => {
            let offers = list.into_iter().map(|o| OfferView::of(&plan.0, o)).collect();
            render(status, &OffersPage { chrome, offers, unlinked: linked.is_empty(), notice, alert })
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
) -> Response {
    let notice = (q.done.as_deref() == Some("declined"))
        .then(|| "You declined the offer. Nothing was added to your account.".to_owned());
    page(&st, &plan, &csrf, &s, StatusCode::OK, notice, None).await
}

fn not_found(st: &AppState, parts: &RequestParts) -> Response {
    message_page(
        st,
        &parts.0,
        StatusCode::NOT_FOUND,
        "Offer not found",
        "That offer was not found. It may have been withdrawn by the practice's administrator.",
        "/offers",
        "Back to your offers",
    )
}

/// The page after a refused answer, or where the visitor belongs.
async fn refused(st: &AppState, plan: &CurrentPlan, s: &SessionInfo, parts: &RequestParts, e: OfferError) -> Response {
    let status = match &e {
        OfferError::Internal(_) => return internal_error(e),
        OfferError::NotSignedIn => return Redirect::to("/signin").into_response(),
        OfferError::NotFound => return not_found(st, parts),
        OfferError::Expired => StatusCode::GONE,
        OfferError::AlreadyDecided(_) | OfferError::Void(_) => StatusCode::CONFLICT,
    };
    page(st, plan, &parts.csrf(), s, status, None, Some(e.to_string())).await
}

async fn accept(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<i64>,
    parts: RequestParts,
) -> Response {
    match st.svc.accept_offer(&plan.0, &s, OfferId(id), &meta).await {
        Ok(a) => Redirect::to(&format!("/?linked={}", a.affiliation_id)).into_response(),
        Err(e) => refused(&st, &plan, &s, &parts, e).await,
    }
}

async fn decline_confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Path(id): Path<i64>,
    parts: RequestParts,
) -> Response {
    let offers = match st.svc.my_offers(&plan.0, &s).await {
        Ok(o) => o,
        Err(e) => return internal_error(e),
    };
    let Some(o) = offers.into_iter().find(|o| o.id.0 == id).map(|o| OfferView::of(&plan.0, o)) else {
        return not_found(&st, &parts);
    };
    let (chrome, _) = match Chrome::for_session(&st, &plan, &csrf, &s, "/offers").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Decline the offer of {}?", o.practice),
            question: format!(
                "Your account will not be linked to {} (Tax ID {}). If you change your mind later, {} must invite you again.",
                o.practice, o.tax_id, o.offered_by
            ),
            action: format!("/offers/{id}/decline"),
            confirm_label: "Decline the offer".into(),
            cancel_href: "/offers".into(),
            cancel_label: "Keep the offer".into(),
        },
    )
}

async fn decline(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<i64>,
    parts: RequestParts,
) -> Response {
    match st.svc.decline_offer(&plan.0, &s, OfferId(id), &meta).await {
        Ok(_) => Redirect::to("/offers?done=declined").into_response(),
        Err(e) => refused(&st, &plan, &s, &parts, e).await,
    }
}
