//! Affiliation offers over JSON: the signed-in person's open offers with accept and decline
//! (`/me/offers`), and a practice administrator's own offers with withdrawal
//! (`/practice/offers`). The same services as `pages/offers.rs` and "Manage Pending Users".

use super::ApiError;
use super::body::ApiPath;
use super::caller::SignedIn;
use super::practice::Caller;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::ids::OfferId;
use gatehouse_services::offers::{OfferError, OfferStatus};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_offers))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(offers_made))
        .routes(routes!(cancel))
}

const NOT_ADMIN: &str = "`not_practice_admin`: the caller administers no practice";
const NOT_FOUND_MINE: &str = "`not_found`: the caller has no offer with this id (another person's reads the same)";

fn offer_error(e: OfferError) -> ApiError {
    let (status, code) = match &e {
        OfferError::Internal(_) => return ApiError::internal(e),
        OfferError::NotSignedIn => return ApiError::unauthenticated(),
        OfferError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        OfferError::AlreadyDecided(_) => (StatusCode::CONFLICT, "already_answered"),
        OfferError::Expired => (StatusCode::GONE, "offer_expired"),
        OfferError::Void(_) => (StatusCode::CONFLICT, "offer_void"),
    };
    ApiError::new(status, code, e.to_string())
}

/// An open offer of a practice to the caller.
#[derive(Serialize, ToSchema)]
pub struct OfferBody {
    pub id: i64,
    pub practice_name: String,
    pub tax_id: String,
    /// The administrator who made it (the staff member who approved the registration, for an
    /// offer of the practice's administration).
    pub offered_by: String,
    /// Accepting makes the caller an administrator of the practice (an approved registration
    /// named them); otherwise a user of it.
    pub administrator: bool,
    /// The user type's name.
    pub user_type: String,
    pub all_providers: bool,
    /// "Name (provider ID)" of each provider offered, when not all.
    pub providers: Vec<String>,
    pub offered_at: i64,
    /// After this (Unix seconds) the offer can no longer be accepted.
    pub expires_at: i64,
}

/// Lists the caller's open offers: practices whose administrators asked them to join.
///
/// Nothing is attached until they accept.
#[utoipa::path(get, path = "/me/offers", operation_id = "list_my_offers", security(("bearer" = [])),
    responses((status = 200, body = [OfferBody])))]
pub async fn my_offers(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<Vec<OfferBody>>, ApiError> {
    let list = st.svc.my_offers(&plan.0, &s).await.map_err(offer_error)?;
    Ok(Json(
        list.into_iter()
            .map(|o| OfferBody {
                id: o.id.0,
                practice_name: o.practice_name,
                tax_id: o.tax_id,
                offered_by: o.offered_by,
                administrator: o.administrator,
                user_type: o.user_type,
                all_providers: o.providers.is_none(),
                providers: o.providers.unwrap_or_default(),
                offered_at: o.offered_at,
                expires_at: o.expires_at,
            })
            .collect(),
    ))
}

/// What accepting made.
#[derive(Serialize, ToSchema)]
pub struct AcceptedBody {
    /// The new linked account (see `/api/v1/me/affiliations`).
    pub affiliation_id: i64,
    pub practice_name: String,
    pub tax_id: String,
}

/// Accepts an offer: the practice becomes one of the caller's linked accounts.
///
/// The new affiliation has the offered user type and providers. An offer stands only while
/// everything it relied on does: `offer_void` when, e.g., the administrator who made it no longer
/// administers the practice (the offer is then withdrawn).
#[utoipa::path(post, path = "/me/offers/{id}/accept", operation_id = "accept_my_offer", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id (from `GET /me/offers`)")),
    responses(
        (status = 200, body = AcceptedBody),
        (status = 404, description = NOT_FOUND_MINE),
        (status = 409, description = "`already_answered`: the offer was accepted, declined or withdrawn (also the second of two accepts sent at once); `offer_void`: the offer no longer stands (its maker is no longer an administrator, the account already works for the practice or is plan staff, the user type or the providers are gone)"),
        (status = 410, description = "`offer_expired`: the offer expired"),
    ))]
pub async fn accept(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<OfferId>,
) -> Result<Json<AcceptedBody>, ApiError> {
    let a = st.svc.accept_offer(&plan.0, &s, id, &meta).await.map_err(offer_error)?;
    Ok(Json(AcceptedBody { affiliation_id: a.affiliation_id, practice_name: a.practice_name, tax_id: a.tax_id }))
}

/// Declines an offer; nothing is attached.
#[utoipa::path(post, path = "/me/offers/{id}/decline", operation_id = "decline_my_offer", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id (from `GET /me/offers`)")),
    responses(
        (status = 204),
        (status = 404, description = NOT_FOUND_MINE),
        (status = 409, description = "`already_answered`: the offer was accepted, declined or withdrawn"),
        (status = 410, description = "`offer_expired`: the offer expired"),
    ))]
pub async fn decline(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<OfferId>,
) -> Result<StatusCode, ApiError> {
    st.svc.decline_offer(&plan.0, &s, id, &meta).await.map_err(offer_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// An offer the caller made as a practice administrator.
#[derive(Serialize, ToSchema)]
pub struct MadeOfferBody {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub tax_id: String,
    pub practice_name: String,
    pub status: MadeOfferStatus,
    pub offered_at: i64,
    pub expires_at: i64,
}

/// Where an offer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MadeOfferStatus {
    /// Not answered yet.
    Pending,
    Accepted,
    Declined,
    /// Withdrawn by its maker, or void when its person tried to accept.
    Cancelled,
    /// Not answered in time.
    Expired,
}

impl From<OfferStatus> for MadeOfferStatus {
    fn from(s: OfferStatus) -> Self {
        match s {
            OfferStatus::Pending => Self::Pending,
            OfferStatus::Accepted => Self::Accepted,
            OfferStatus::Declined => Self::Declined,
            OfferStatus::Cancelled => Self::Cancelled,
            OfferStatus::Expired => Self::Expired,
        }
    }
}

/// Lists the offers the caller made in the last 7 days (pending until answered or expired).
#[utoipa::path(get, path = "/practice/offers", operation_id = "list_practice_offers", security(("bearer" = [])),
    responses(
        (status = 200, body = [MadeOfferBody]),
        (status = 403, description = NOT_ADMIN),
    ))]
pub async fn offers_made(State(st): State<AppState>, c: Caller) -> Result<Json<Vec<MadeOfferBody>>, ApiError> {
    let list = st.svc.offers_made(&c.grant, &c.plan.0).await.map_err(super::practice::error)?;
    Ok(Json(
        list.into_iter()
            .map(|m| MadeOfferBody {
                id: m.row.id.0,
                first_name: m.row.first_name,
                last_name: m.row.last_name,
                email: m.row.email,
                tax_id: m.row.tax_id,
                practice_name: m.row.practice_name,
                status: m.status.into(),
                offered_at: m.row.created_at,
                expires_at: m.row.expires_at,
            })
            .collect(),
    ))
}

/// Withdraws one of the caller's pending offers.
#[utoipa::path(delete, path = "/practice/offers/{id}", operation_id = "withdraw_practice_offer", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The offer's id (from `GET /practice/offers`)")),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = "`not_found`: the caller made no pending offer with this id (another's, or one already answered, reads the same)"),
    ))]
pub async fn cancel(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<OfferId>,
) -> Result<StatusCode, ApiError> {
    st.svc.cancel_offer(&c.grant, &c.plan.0, id, &c.meta).await.map_err(super::practice::error)?;
    Ok(StatusCode::NO_CONTENT)
}
