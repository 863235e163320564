//! Administrator registration requests over JSON: the public form's fields, the same checks,
//! the same throttle and the same answer whether the Tax ID is on the roster or not.

use super::ApiError;
use super::body::JsonBody;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::registration::{self, RegistrationForm};
use gatehouse_domain::{phone, roster::state};
use gatehouse_services::registrations::RegistrationError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_registration))
}

/// A request for administrator access: two administrators and the practice. Emails and the
/// Tax ID are entered twice, as on the form; phone numbers are US numbers. Only `address2` and
/// `fax` may be left out (or empty). Text is trimmed and inner runs of white space count as one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "primary_first_name": "Ana", "primary_last_name": "Ruiz", "primary_phone": "206-555-0143",
    "primary_email": "ana.ruiz@clinic.example", "primary_email_confirm": "ana.ruiz@clinic.example",
    "secondary_first_name": "Ben", "secondary_last_name": "Ortiz", "secondary_phone": "206-555-0144",
    "secondary_email": "ben.ortiz@clinic.example", "secondary_email_confirm": "ben.ortiz@clinic.example",
    "practice_name": "Harbor View Pediatrics", "address1": "1201 Pacific Avenue", "address2": "Suite 400",
    "city": "Tacoma", "state": "WA", "zip": "98402", "phone": "253-555-0100", "fax": "253-555-0101",
    "tax_id": "953172846", "tax_id_confirm": "953172846"
}))]
pub struct RegistrationBody {
    #[schema(schema_with = super::schema::person_name)]
    pub primary_first_name: String,
    #[schema(schema_with = super::schema::person_name)]
    pub primary_last_name: String,
    #[schema(schema_with = us_phone)]
    pub primary_phone: String,
    #[schema(schema_with = super::schema::email)]
    pub primary_email: String,
    /// The primary administrator's email again.
    #[schema(schema_with = super::schema::email)]
    pub primary_email_confirm: String,
    #[schema(schema_with = super::schema::person_name)]
    pub secondary_first_name: String,
    #[schema(schema_with = super::schema::person_name)]
    pub secondary_last_name: String,
    #[schema(schema_with = us_phone)]
    pub secondary_phone: String,
    /// Must differ from the primary administrator's.
    #[schema(schema_with = super::schema::email)]
    pub secondary_email: String,
    /// The secondary administrator's email again.
    #[schema(schema_with = super::schema::email)]
    pub secondary_email_confirm: String,
    #[schema(schema_with = practice_name)]
    pub practice_name: String,
    #[schema(schema_with = address_line)]
    pub address1: String,
    #[serde(default)]
    #[schema(schema_with = address_line2)]
    pub address2: Option<String>,
    #[schema(schema_with = city)]
    pub city: String,
    #[schema(schema_with = us_state)]
    pub state: String,
    #[schema(schema_with = super::schema::zip)]
    pub zip: String,
    /// The practice's phone.
    #[schema(schema_with = us_phone)]
    pub phone: String,
    #[serde(default)]
    #[schema(schema_with = fax)]
    pub fax: Option<String>,
    #[schema(schema_with = super::schema::tax_id)]
    pub tax_id: String,
    /// The Tax ID again.
    #[schema(schema_with = super::schema::tax_id)]
    pub tax_id_confirm: String,
}

/// C0 and C1 control characters but the white space ones (tab, line breaks, NEL), which count
/// as a space: a character-class range for the patterns below.
const CONTROL_BUT_SPACE: &str = "\\x00-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f";

/// Text of at most `max` characters without control characters; with `required`, not only
/// white space.
fn line(max: usize, required: bool) -> ObjectBuilder {
    let allowed = format!("[^{CONTROL_BUT_SPACE}]");
    let pattern =
        if required { format!("^{allowed}*[^\\s{CONTROL_BUT_SPACE}]{allowed}*$") } else { format!("^{allowed}*$") };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(usize::from(required)))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

fn practice_name() -> Object {
    line(registration::MAX_PRACTICE_NAME, true).examples([json!("Harbor View Pediatrics")]).build()
}

fn address_line() -> Object {
    line(registration::MAX_ADDRESS, true).examples([json!("1201 Pacific Avenue")]).build()
}

fn address_line2() -> Object {
    line(registration::MAX_ADDRESS, false)
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("Suite, floor, building; may be empty or `null`."))
        .build()
}

fn city() -> Object {
    line(registration::MAX_CITY, true).examples([json!("Tacoma")]).build()
}

/// A USPS state or territory code (any case is read).
fn us_state() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(state::CODES))
        .description(Some("A two-letter USPS code of a state, DC or a territory."))
        .build()
}

/// A US phone number (calling code +1).
fn us_phone() -> Object {
    let mut o = super::auth::phone_number();
    o.description = Some("A US phone number, e.g. `206-555-0143`.".into());
    o
}

/// A US fax number, or empty.
fn fax() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(phone::MAX_NATIONAL_LEN))
        .description(Some("A US fax number; may be empty or `null`."))
        .build()
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
            address2: b.address2.unwrap_or_default(),
            city: b.city,
            state: b.state,
            zip: b.zip,
            phone: b.phone,
            fax: b.fax.unwrap_or_default(),
            tax_id: b.tax_id,
            tax_id_confirm: b.tax_id_confirm,
        }
    }
}

/// Where an accepted request stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// Provider services review it and email both administrators.
    Pending,
}

/// An accepted request.
#[derive(Serialize, ToSchema)]
pub struct RegistrationReceived {
    /// Always `pending`.
    pub status: RegistrationStatus,
    /// Where the "request received" emails went: primary, then secondary.
    pub emails: Vec<String>,
}

/// Asks for administrator access for a practice; no session is needed.
///
/// On bad input the error names the first field at fault and its message lists every problem.
/// The answer is the same whether or not the Tax ID is on the plan's roster.
#[utoipa::path(post, tag = "registrations", path = "/registrations", request_body = RegistrationBody,
    responses(
        (status = 201, body = RegistrationReceived),
        (status = 409, description = "`already_pending`: a request for this Tax ID is already waiting for review (the error names `tax_id`)."),
        (status = 422, description = "`invalid_input`: fields break their rules (a phone number that is not a valid US one, an entry typed twice that differs, the two administrators with one email, …); the error names the first, the message lists every problem."),
        (status = 429, description = "`throttled`: too many requests from this address in the last hour.")))]
pub async fn request_registration(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<RegistrationBody>,
) -> Result<(StatusCode, Json<RegistrationReceived>), ApiError> {
    match st.svc.request_registration(&plan.0, &b.into(), &meta).await {
        Ok(r) => Ok((
            StatusCode::CREATED,
            Json(RegistrationReceived { status: RegistrationStatus::Pending, emails: r.emails.to_vec() }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(schema: &Object, s: &str) -> bool {
        let len = s.chars().count();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or(".*")).expect("pattern");
        schema.min_length.is_none_or(|m| len >= m) && schema.max_length.is_none_or(|m| len <= m) && re.is_match(s)
    }

    /// The example of the document, as a form.
    fn example() -> RegistrationForm {
        let schema = <RegistrationBody as utoipa::PartialSchema>::schema();
        let utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(o)) = schema else { panic!("an object") };
        let body: RegistrationBody = serde_json::from_value(o.example.expect("an example")).expect("fits");
        body.into()
    }

    #[test]
    fn the_example_is_a_valid_request() {
        let form = example();
        assert!(form.parse().is_ok(), "{:?}", form.parse().err());
    }

    /// Each text field's schema accepts what the form accepts and refuses what it refuses (the
    /// lengths counted on text without runs of white space).
    #[test]
    fn text_schemas_agree_with_the_form() {
        type Set = fn(&mut RegistrationForm, String);
        let fields: [(&str, Object, usize, Set); 4] = [
            ("practice_name", practice_name(), registration::MAX_PRACTICE_NAME, |f, v| f.practice_name = v),
            ("address1", address_line(), registration::MAX_ADDRESS, |f, v| f.address1 = v),
            ("address2", address_line2(), registration::MAX_ADDRESS, |f, v| f.address2 = v),
            ("city", city(), registration::MAX_CITY, |f, v| f.city = v),
        ];
        for (field, schema, max, set) in fields {
            let values = [
                "Main".to_owned(),
                "<b> & Co.".into(),
                String::new(),
                "   ".into(),
                "a\tb".into(),
                "a\u{85}b".into(),
                "a\u{1}b".into(),
                "a\u{1f}b".into(),
                "a\u{9f}b".into(),
                "x".repeat(max),
                "x".repeat(max + 1),
            ];
            for v in values {
                let mut form = example();
                set(&mut form, v.clone());
                let accepted = form.parse().err().is_none_or(|e| e.get(field).is_none());
                assert_eq!(matches(&schema, &v), accepted, "{field} {v:?}");
            }
        }
    }

    #[test]
    fn every_state_code_is_accepted() {
        for code in state::CODES {
            let mut form = example();
            form.state = code.to_owned();
            assert!(form.parse().is_ok(), "{code}");
        }
    }
}
