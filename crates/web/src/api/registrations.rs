//! Administrator registration requests over JSON: the public form's fields, the same checks,
//! the same throttle and the same answer whether the Tax ID is on the roster or not.

use super::ApiError;
use super::body::JsonBody;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::registration::RegistrationForm;
use gatehouse_services::registrations::RegistrationError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_registration))
}

/// A request for administrator access: two administrators and the practice. Emails and the
/// Tax ID are entered twice, as on the form; phone numbers are US numbers. Only `address2` and
/// `fax` may be empty; a missing field counts as empty, so every problem gets the same error body.
#[derive(Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationBody {
    pub primary_first_name: String,
    pub primary_last_name: String,
    pub primary_phone: String,
    pub primary_email: String,
    pub primary_email_confirm: String,
    pub secondary_first_name: String,
    pub secondary_last_name: String,
    pub secondary_phone: String,
    /// Must differ from the primary administrator's.
    pub secondary_email: String,
    pub secondary_email_confirm: String,
    pub practice_name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    /// Two-letter USPS code (states, DC, territories).
    pub state: String,
    pub zip: String,
    pub phone: String,
    pub fax: String,
    /// Exactly nine digits: no spaces, dashes or letters.
    pub tax_id: String,
    pub tax_id_confirm: String,
}

impl From<RegistrationBody> for RegistrationForm {
    fn from(b: RegistrationBody) -> Self {
        Self {
            primary_first_name: b.primary_first_name,
            primary_last_name: b.primary_last_name,
            primary_phone: b.primary_phone,
            primary_email: b.primary_email,
            primary_email_confirm: b.primary_email_confirm,
            secondary_first_name: b.secondary_first_name,
            secondary_last_name: b.secondary_last_name,
            secondary_phone: b.secondary_phone,
            secondary_email: b.secondary_email,
            secondary_email_confirm: b.secondary_email_confirm,
            practice_name: b.practice_name,
            address1: b.address1,
            address2: b.address2,
            city: b.city,
            state: b.state,
            zip: b.zip,
            phone: b.phone,
            fax: b.fax,
            tax_id: b.tax_id,
            tax_id_confirm: b.tax_id_confirm,
        }
    }
}

/// An accepted request.
#[derive(Serialize, ToSchema)]
pub struct RegistrationReceived {
    /// Always `pending`: provider services review it and email both administrators.
    pub status: String,
    /// Where the "request received" emails went: primary, then secondary.
    pub emails: Vec<String>,
}

/// Asks for administrator access for a practice. No session is needed. On bad input the error
/// names the first field at fault and its message lists every problem.
#[utoipa::path(post, path = "/registrations", request_body = RegistrationBody,
    responses((status = 201, body = RegistrationReceived), (status = 409, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn request_registration(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<RegistrationBody>,
) -> Result<(StatusCode, Json<RegistrationReceived>), ApiError> {
    match st.svc.request_registration(&plan.0, &b.into(), &meta).await {
        Ok(r) => Ok((
            StatusCode::CREATED,
            Json(RegistrationReceived { status: "pending".into(), emails: r.emails.to_vec() }),
        )),
        Err(RegistrationError::Invalid(errors)) => {
            let field = errors.0.first().map(|e| e.field);
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", errors.to_string()).field(field))
        }
        Err(e @ RegistrationError::DuplicatePending) => {
            Err(ApiError::new(StatusCode::CONFLICT, "already_pending", e.to_string()).field(Some("tax_id")))
        }
        Err(e @ RegistrationError::Throttled) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string()))
        }
        Err(RegistrationError::Internal(e)) => Err(ApiError::internal(e)),
    }
}
