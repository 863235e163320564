//! An imported account's first sign-in over JSON, before the new password: resend the emailed
//! link, and redeem its token (the same service commands as the pages).

use super::ApiError;
use super::auth::{LinkToken, SessionStep};
use super::body::JsonBody;
use super::caller::AnySession;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::first_signin::EmailProofError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(redeem)).routes(routes!(resend))
}

fn error(e: EmailProofError) -> ApiError {
    match e {
        EmailProofError::Internal(e) => ApiError::internal(e),
        e @ EmailProofError::Throttled => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sends", e.to_string()),
        e @ EmailProofError::WrongStep => ApiError::new(StatusCode::CONFLICT, "wrong_stage", e.to_string()),
        e @ (EmailProofError::Invalid | EmailProofError::Used | EmailProofError::Expired) => {
            ApiError::new(StatusCode::GONE, "link_unusable", e.to_string()).field(Some("token"))
        }
    }
}

/// Where the link went.
#[derive(Serialize, ToSchema)]
pub struct LinkSent {
    /// The address on record, masked (`j***@example.org`).
    pub masked_email: String,
}

/// Sends a new email-proof link (session at `email_proof`); the older ones stop working.
///
/// At most 5 links an hour per account, sign-ins included.
#[utoipa::path(post, tag = "first_signin", path = "/first-signin/email-proof/resend", security(("bearer" = [])),
    responses(
        (status = 200, body = LinkSent),
        (status = 409, description = "`wrong_stage`: the session is not waiting for an email proof (the message names its step)."),
        (status = 429, description = "`too_many_sends`: the hour's limit of links was reached; use the newest one.")))]
pub async fn resend(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: AnySession,
    Meta(meta): Meta,
) -> Result<Json<LinkSent>, ApiError> {
    let s = sess.at(SessionStage::EmailProof)?;
    let p = st.svc.resend_email_proof(&plan.0, &s, &meta).await.map_err(error)?;
    Ok(Json(LinkSent { masked_email: p.masked_email }))
}

/// The token of an emailed email-proof link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// The link's `token` parameter.
    #[schema(schema_with = super::schema::token)]
    pub token: LinkToken,
}

/// Redeems an email-proof link's token: answers a new session at `new_password`.
///
/// No bearer token is needed: the link is the proof. Works once; the account's sessions still
/// waiting at `email_proof` end.
#[utoipa::path(post, tag = "first_signin", path = "/first-signin/email-proof", request_body = RedeemBody,
    responses(
        (status = 200, body = SessionStep),
        (status = 410, description = "`link_unusable`: no link has this token, or it was used, replaced by a newer one or has expired, or the account no longer needs it."),
        (status = 422, description = "`invalid_body`: a field is missing, unknown or of the wrong type, or `token` is not a link's token (the error names it in field).")))]
pub async fn redeem(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<RedeemBody>,
) -> Result<Json<SessionStep>, ApiError> {
    let (token, stage) = st.svc.redeem_email_proof(&plan.0, &b.token.0, &meta).await.map_err(error)?;
    Ok(Json(SessionStep::plain(token.0, stage)))
}
