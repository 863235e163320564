//! Access reviews over JSON (issue 17), the same capabilities as the review pages. A practice
//! administrator (bearer session of a user who administers a practice, else 403
//! `not_practice_admin`) lists their practices' open reviews, reads one page of a review,
//! decides keep, change or deactivate for each user, keeps everyone not yet decided, and signs by
//! typing their own first and last name. Plan staff (a staff session: 403 `forbidden` for anyone
//! else) read the plan's reviews and export the evidence (the reviews-read permission: plan
//! administrators, help desk and auditors), and with the reviews-manage permission start every
//! practice's first review at once, remind a practice, and decide and sign on its behalf.
//!
//! Each handler calls one service command, the one its page calls. Another practice's or plan's
//! review answers 404 `not_found`, exactly as one that does not exist. Times are Unix seconds.
//! Values are read as the document states them: one outside its schema is refused with 422
//! `invalid_body` (400 `invalid_query` in a query string) naming the field, and what no schema
//! states by the services' rules, 422 `invalid_input` (a field at fault, named) or `invalid`.

use super::ApiError;
use super::body::{ApiPath, ApiQuery};
use super::caller::StaffCaller;
use super::practice::{AccountStatus, Caller};
use super::profile::ObjectBody;
use super::roster::UploadFile;
use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::access_review::{Decision, MAX_REASON, MAX_SPREAD_WEEKS, ReviewStatus};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AccessReviewId, ProviderRowId, TaxId, UserId};
use gatehouse_services::access_review::{
    ChangeView, DecisionForm, ExportRequest, OverviewRequest, PracticeReview, ProviderChoice, ReviewError, ReviewPage,
    ReviewRow, ReviewSubject, Reviewer,
};
use gatehouse_services::staff::Denied;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(practice_list))
        .routes(routes!(practice_review))
        .routes(routes!(practice_decide, practice_choices))
        .routes(routes!(practice_keep_remaining))
        .routes(routes!(practice_sign))
        .routes(routes!(overview))
        .routes(routes!(start))
        .routes(routes!(evidence))
        .routes(routes!(staff_review))
        .routes(routes!(staff_decide, staff_choices))
        .routes(routes!(staff_keep_remaining))
        .routes(routes!(staff_sign))
        .routes(routes!(remind))
}

fn error(e: ReviewError) -> ApiError {
    match e {
        ReviewError::Internal(i) => ApiError::internal(i),
        ReviewError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        ReviewError::Denied(Denied::NotSignedIn) => ApiError::unauthenticated(),
        ReviewError::Denied(d @ Denied::NotPermitted) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", d.to_string())
        }
        ReviewError::Field { field, ref message } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message.clone()).field(Some(field))
        }
        ReviewError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
        ReviewError::Signed => ApiError::new(StatusCode::CONFLICT, "review_signed", e.to_string()),
        ReviewError::LastAdmin { .. } => ApiError::new(StatusCode::CONFLICT, "last_admin", e.to_string()),
    }
}

// The sentences of the statuses several operations share, as the document shows them.
const NOT_ADMIN: &str = "`not_practice_admin`: the caller administers no practice";
const NOT_STAFF: &str = "`forbidden`: the caller is not the plan's staff with the reviews-read permission";
const NOT_MANAGER: &str =
    "`forbidden`: the caller is not the plan's staff with the reviews-manage permission (an auditor only reads)";
const NOT_FOUND_REVIEW: &str =
    "`not_found`: no such review among the caller's practices (another practice's or plan's reads the same)";
const NOT_FOUND_STAFF_REVIEW: &str = "`not_found`: no such review in the plan (another plan's reads the same)";
const NOT_FOUND_SUBJECT: &str = "`not_found`: no such review among the caller's, no such user of the review's practice, or a provider that is not the practice's (another practice's reads the same)";
const NOT_FOUND_STAFF_SUBJECT: &str =
    "`not_found`: no such review in the plan, no such user of its practice, or a provider that is not the practice's";
const SIGNED: &str = "`review_signed`: the review is signed, so nothing about it can change";
const DECISION_REFUSED: &str = "`invalid_input`: a value no schema can check (a user type the plan does not have, a change that changes nothing, no provider chosen); `field` names it; `invalid`: a decision on the caller's own access (another administrator or provider services confirms it), or on plan staff other than keep";
const CHOICES_REFUSED: &str =
    "`invalid`: the user is the caller (another administrator or provider services decides on them)";
const SIGN_REFUSED: &str = "`invalid_input`: the typed name is not the caller's own (field `signature`); `invalid`: a user has no decision yet (they are named), or a change can no longer be applied";
const SIGN_CONFLICT: &str = "`review_signed`: the review is signed, so nothing about it can change; `last_admin`: the decisions would leave the practice without an active administrator while it has active users";

// ---------------------------------------------------------------------------------------------
// Values as the document states them

/// Refuses a body value its schema does not allow: 422 `invalid_body`, naming the field.
fn require(ok: bool, field: &str, what: &str) -> Result<(), ApiError> {
    if ok {
        return Ok(());
    }
    let message = format!("The body does not fit: {what}.");
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).field(Some(field)))
}

/// Refuses a query value its schema does not allow: 400 `invalid_query`, naming it.
fn refuse_query(field: &str, what: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", format!("The query string does not fit: {what}."))
        .field(Some(field))
}

/// A page number from the query: from 1.
fn page(page: Option<i64>) -> Result<i64, ApiError> {
    match page {
        Some(p) if p < 1 => Err(refuse_query("page", "pages are numbered from 1")),
        p => Ok(p.unwrap_or(1)),
    }
}

/// A Tax ID from the query: nine digits, nothing around them.
fn tax_id_query(raw: Option<String>) -> Result<String, ApiError> {
    match raw {
        Some(t) if TaxId::parse(&t).is_err() || t.trim() != t => Err(refuse_query("tax_id", "a Tax ID is nine digits")),
        t => Ok(t.unwrap_or_default()),
    }
}

fn is_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

/// A decision's reason: at most 500 characters; `""`, `null` or left out for none.
fn reason() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_REASON))
        .examples([json!("Moved to the billing office")])
        .build()
}

/// A user type key, or `null` (left as it is).
fn user_type_or_null() -> Object {
    let mut s = super::practice::user_type_key();
    s.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    s
}

/// The provider row ids of a change: at least one.
fn provider_rows() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64))),
        )
        .min_items(Some(1))
        .description(Some("These providers of the practice (their row ids, from the roster)."))
        .build()
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Due, and nobody has decided anything yet.
    NotStarted,
    /// Some decisions are recorded; not signed yet.
    InProgress,
    /// Past its due date and not signed.
    Overdue,
    /// Signed and frozen.
    Signed,
}

impl From<ReviewStatus> for ReviewState {
    fn from(s: ReviewStatus) -> Self {
        match s {
            ReviewStatus::NotStarted => Self::NotStarted,
            ReviewStatus::InProgress => Self::InProgress,
            ReviewStatus::Overdue => Self::Overdue,
            ReviewStatus::Signed => Self::Signed,
        }
    }
}

/// What the reviewer decides for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The user keeps their access as it is.
    Keep,
    /// The user type or providers change (applied when the review is signed).
    Change,
    /// The user is deactivated (or loses this practice, if they work for others), when signed.
    Deactivate,
}

impl From<Decision> for ReviewDecision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Keep => Self::Keep,
            Decision::Change => Self::Change,
            Decision::Deactivate => Self::Deactivate,
        }
    }
}

impl From<ReviewDecision> for Decision {
    fn from(d: ReviewDecision) -> Self {
        match d {
            ReviewDecision::Keep => Decision::Keep,
            ReviewDecision::Change => Decision::Change,
            ReviewDecision::Deactivate => Decision::Deactivate,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the API answers

/// The practice a review is of.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPractice {
    pub id: i64,
    pub name: String,
    pub tax_id: String,
}

/// A signed review: who signed it, when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSignature {
    /// The signed review's id.
    pub review_id: i64,
    /// When it was signed (Unix seconds).
    pub signed_at: i64,
    /// The signer's account id.
    pub signer_id: Option<i64>,
    /// The signer's name as typed.
    pub signer: String,
    /// Signed by plan staff on the practice's behalf.
    pub on_behalf: bool,
    /// The SHA-256 digest of the frozen review, as in the audit chain.
    pub digest: Option<String>,
}

impl ReviewSignature {
    fn of(r: &ReviewRow) -> Option<Self> {
        Some(Self {
            review_id: r.id.0,
            signed_at: r.signed_at?,
            signer_id: r.signed_by.map(|u| u.0),
            signer: r.signer_name.clone().unwrap_or_default(),
            on_behalf: r.on_behalf,
            digest: r.digest.clone(),
        })
    }
}

/// A practice's open review, in its administrator's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PracticeReviewLine {
    /// The review's id (for `/practice/reviews/{id}`).
    pub id: i64,
    pub practice: ReviewPractice,
    /// When it is due (Unix seconds).
    pub due_at: i64,
    pub status: ReviewState,
    /// Users the review covers.
    pub users: i64,
    /// The practice's last signed review, if any.
    pub last_signed: Option<ReviewSignature>,
}

impl From<PracticeReview> for PracticeReviewLine {
    fn from(p: PracticeReview) -> Self {
        let r = p.review;
        Self {
            id: r.id.0,
            practice: ReviewPractice { id: r.practice_id.0, name: r.practice_name, tax_id: r.tax_id },
            due_at: r.due_at,
            status: p.status.into(),
            users: p.users,
            last_signed: p.last.as_ref().and_then(ReviewSignature::of),
        }
    }
}

/// The open reviews of the caller's practices.
#[derive(Debug, Serialize, ToSchema)]
pub struct PracticeReviews {
    pub reviews: Vec<PracticeReviewLine>,
}

/// A user type: its key and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewUserType {
    pub key: String,
    pub name: String,
}

/// A decision recorded on one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedDecision {
    pub decision: ReviewDecision,
    /// A change's new user type key (`null`: unchanged).
    pub user_type: Option<String>,
    /// A change's providers: all (`true`), those in `provider_ids` (`false`), unchanged (`null`).
    pub all_providers: Option<bool>,
    /// A change's providers when not all: their row ids (as `providers` in a decision).
    pub provider_ids: Vec<i64>,
    pub reason: Option<String>,
    /// Who decided, by name.
    pub decided_by_name: Option<String>,
    /// When (Unix seconds).
    pub decided_at: i64,
}

/// One user of a review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewUser {
    pub user_id: i64,
    pub name: String,
    /// None until the user signs up.
    pub username: Option<String>,
    /// Their user type at the practice.
    pub user_type: ReviewUserType,
    /// "All providers", or the provider IDs and names they act for.
    pub providers: String,
    /// An administrator of the practice.
    pub administrator: bool,
    /// The last completed sign-in (Unix seconds), if any.
    pub last_signin_at: Option<i64>,
    pub status: AccountStatus,
    /// No sign-in for the plan's idle threshold (default 90 days).
    pub idle: bool,
    /// The caller themself: someone else decides for them.
    pub is_reviewer: bool,
    /// Plan staff: only keep is the practice's to decide.
    pub is_staff: bool,
    pub decision: Option<RecordedDecision>,
}

impl From<ReviewSubject> for ReviewUser {
    fn from(s: ReviewSubject) -> Self {
        let decided_by_name = s.decided_by;
        Self {
            user_id: s.row.user_id.0,
            name: format!("{} {}", s.row.first_name, s.row.last_name),
            username: s.row.username,
            user_type: ReviewUserType { key: s.row.user_type, name: s.user_type_name },
            providers: s.providers,
            administrator: s.row.is_admin,
            last_signin_at: s.row.last_signin_at,
            status: s.row.status.into(),
            idle: s.idle,
            is_reviewer: s.is_reviewer,
            is_staff: s.is_staff,
            decision: s.decision.map(|d| RecordedDecision {
                decision: d.decision.into(),
                user_type: d.user_type,
                all_providers: d.all_providers,
                provider_ids: d.provider_rows,
                reason: d.reason,
                decided_by_name,
                decided_at: d.decided_at,
            }),
        }
    }
}

/// What a change decision on one user of a review may choose: the plan's user types and the
/// practice's current providers (their `row` is what a decision's `providers` lists).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeChoices {
    pub user_id: i64,
    pub name: String,
    pub practice: String,
    /// The user type now, or the one a recorded change decision chose.
    pub user_type: String,
    pub user_types: Vec<ReviewUserType>,
    /// "All providers", or the provider IDs and names the user acts for now.
    pub providers_now: String,
    /// The user acts for all the practice's providers now.
    pub all_providers: bool,
    /// The provider rows the user acts for now, or those a recorded change decision listed.
    pub listed: Vec<i64>,
    /// The practice's current providers, by provider ID.
    pub providers: Vec<ChoosableProvider>,
}

/// A provider of the practice that a change decision may list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChoosableProvider {
    /// What a change decision's `providers` names it by.
    pub row: i64,
    pub provider_id: String,
    pub name: String,
    pub npi: String,
}

impl ChangeChoices {
    fn new(user: UserId, v: ChangeView) -> Self {
        Self {
            user_id: user.0,
            name: v.name,
            practice: v.practice,
            user_type: v.user_type,
            user_types: v.user_types.into_iter().map(|(key, name)| ReviewUserType { key, name }).collect(),
            providers_now: v.providers_now,
            all_providers: v.all_providers,
            listed: v.listed,
            providers: v
                .providers
                .into_iter()
                .map(|p| ChoosableProvider { row: p.row.0, provider_id: p.provider_id, name: p.name, npi: p.npi })
                .collect(),
        }
    }
}

/// One page of a review (25 users a page).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewBody {
    pub id: i64,
    pub practice: ReviewPractice,
    /// When it is due (Unix seconds).
    pub due_at: i64,
    pub status: ReviewState,
    /// Once signed: who signed it and its digest.
    pub signed: Option<ReviewSignature>,
    pub page: i64,
    pub pages: i64,
    /// Users the review covers.
    pub total: i64,
    /// Users with no decision yet.
    pub undecided: i64,
    /// The first few of them, by name.
    pub undecided_names: Vec<String>,
    /// Active administrators of the practice.
    pub administrators: i64,
    /// The caller is the practice's only administrator: their own access is recorded as
    /// confirmed by their signature.
    pub sole_admin: bool,
    /// Whether the caller may decide and sign (false for readers, and once signed).
    pub may_act: bool,
    /// The plan's user types, for a change.
    pub user_types: Vec<ReviewUserType>,
    pub users: Vec<ReviewUser>,
}

impl From<ReviewPage> for ReviewBody {
    fn from(p: ReviewPage) -> Self {
        let r = p.review;
        Self {
            signed: ReviewSignature::of(&r),
            id: r.id.0,
            practice: ReviewPractice { id: r.practice_id.0, name: r.practice_name, tax_id: r.tax_id },
            due_at: r.due_at,
            status: p.status.into(),
            page: p.page,
            pages: p.pages,
            total: p.total,
            undecided: p.undecided,
            undecided_names: p.undecided_names,
            administrators: i64::try_from(p.admins).unwrap_or(i64::MAX),
            sole_admin: p.sole_admin,
            may_act: p.may_act,
            user_types: p.user_types.into_iter().map(|(key, name)| ReviewUserType { key, name }).collect(),
            users: p.subjects.into_iter().map(Into::into).collect(),
        }
    }
}

/// `?page=` of a review.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewPageQuery {
    /// The page, from 1 (25 users a page; past the last reads the last).
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A change's providers as a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvidersKeyword {
    /// Leave the providers as they are.
    Unchanged,
    /// All of the practice's providers.
    All,
}

/// A change's providers: `unchanged`, `all`, or a list of the practice's provider row ids.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DecisionProviders {
    Keyword(ProvidersKeyword),
    Listed(Vec<i64>),
}

impl utoipa::PartialSchema for DecisionProviders {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let keyword = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["unchanged", "all"]))
            .description(Some("`unchanged`: leave the providers as they are; `all`: all of the practice's providers."));
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(keyword)
            .item(provider_rows())
            .description(Some("A change's providers: a word, or a list of the practice's provider row ids."))
            .into()
    }
}

impl ToSchema for DecisionProviders {}

/// A decision on one user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub decision: ReviewDecision,
    /// For a change: the new user type's key (left out or `null`: unchanged).
    #[serde(default)]
    #[schema(schema_with = user_type_or_null)]
    pub user_type: Option<String>,
    /// For a change: the providers (left out or `null`: unchanged).
    #[serde(default)]
    pub providers: Option<DecisionProviders>,
    #[serde(default)]
    #[schema(schema_with = reason)]
    pub reason: Option<String>,
}

impl DecisionBody {
    /// Refuses a value outside its schema; else the service's form.
    fn form(self) -> Result<DecisionForm, ApiError> {
        if let Some(t) = &self.user_type {
            let what = "a user type key is 1 to 40 lower-case letters, digits or underscores";
            require(UserTypeKey::parse(t).is_ok(), "user_type", what)?;
        }
        if let Some(r) = &self.reason {
            require(r.chars().count() <= MAX_REASON, "reason", "a reason is at most 500 characters")?;
        }
        let providers = match self.providers {
            None | Some(DecisionProviders::Keyword(ProvidersKeyword::Unchanged)) => ProviderChoice::Unchanged,
            Some(DecisionProviders::Keyword(ProvidersKeyword::All)) => ProviderChoice::All,
            Some(DecisionProviders::Listed(ids)) => {
                require(!ids.is_empty(), "providers", "a list of providers has at least one")?;
                ProviderChoice::Listed(ids.into_iter().map(ProviderRowId).collect())
            }
        };
        Ok(DecisionForm {
            decision: Decision::from(self.decision).as_str().to_owned(),
            user_type: self.user_type.unwrap_or_default(),
            providers,
            reason: self.reason.unwrap_or_default(),
        })
    }
}

/// How many users "keep everyone else" kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeptRemaining {
    pub kept: i64,
}

/// The signature: the caller's own first and last name, as on their account (case and
/// surrounding spaces aside).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"first_name": "Olivia", "last_name": "Carter"}))]
pub struct SignBody {
    #[schema(schema_with = super::schema::person_name)]
    pub first_name: String,
    #[schema(schema_with = super::schema::person_name)]
    pub last_name: String,
}

impl SignBody {
    fn check(&self) -> Result<(), ApiError> {
        let what = "a name is 1 to 60 characters, not only white space, without < > or control characters";
        require(super::practice::is_person_name(&self.first_name), "first_name", what)?;
        require(super::practice::is_person_name(&self.last_name), "last_name", what)
    }
}

/// What a signature did: the review's digest (in the audit chain) and the decisions applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSigned {
    /// The SHA-256 digest of the frozen review.
    pub digest: String,
    pub kept: i64,
    pub changed: i64,
    pub deactivated: i64,
}

impl From<gatehouse_services::access_review::Signed> for ReviewSigned {
    fn from(s: gatehouse_services::access_review::Signed) -> Self {
        Self { digest: s.digest, kept: count(s.kept), changed: count(s.changed), deactivated: count(s.deactivated) }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// The practice administrator

/// Lists the open review of each practice the caller administers (opening one that is due to
/// exist: N days after the last signed review, or after the practice's first administrator).
#[utoipa::path(get, path = "/practice/reviews", operation_id = "list_practice_reviews", security(("bearer" = [])),
    responses((status = 200, body = PracticeReviews), (status = 403, description = NOT_ADMIN)))]
pub async fn practice_list(State(st): State<AppState>, c: Caller) -> Result<Json<PracticeReviews>, ApiError> {
    let list = st.svc.practice_reviews(&c.grant, &c.plan.0).await.map_err(error)?;
    Ok(Json(PracticeReviews { reviews: list.into_iter().map(Into::into).collect() }))
}

/// Reads one page of a review of the caller's practice: every user with type, providers,
/// administrator flag, last sign-in, status, idle mark and decision.
#[utoipa::path(get, path = "/practice/reviews/{id}", operation_id = "get_practice_review", params(("id" = i64, Path, description = "The review's id"), ReviewPageQuery), security(("bearer" = [])),
    responses((status = 200, body = ReviewBody), (status = 403, description = NOT_ADMIN), (status = 404, description = NOT_FOUND_REVIEW)))]
pub async fn practice_review(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AccessReviewId>,
    ApiQuery(q): ApiQuery<ReviewPageQuery>,
) -> Result<Json<ReviewBody>, ApiError> {
    let page = page(q.page)?;
    let p = st.svc.review_page(Reviewer::Practice(&c.grant), &c.plan.0, id, page).await.map_err(error)?;
    Ok(Json(p.into()))
}

/// Records (or replaces) the decision on one user of the review. Nothing changes until the
/// review is signed.
#[utoipa::path(put, path = "/practice/reviews/{id}/users/{user}", operation_id = "decide_practice_review", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id"), ("user" = i64, Path, description = "The user's id")),
    request_body(content = DecisionBody,
        example = json!({"decision": "change", "user_type": "clinical_staff", "providers": [3], "reason": "Moved to the clinic floor"})),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_SUBJECT),
        (status = 409, description = SIGNED),
        (status = 422, description = DECISION_REFUSED),
    ))]
pub async fn practice_decide(
    State(st): State<AppState>,
    c: Caller,
    ApiPath((id, user)): ApiPath<(AccessReviewId, UserId)>,
    ObjectBody(b): ObjectBody<DecisionBody>,
) -> Result<StatusCode, ApiError> {
    let form = b.form()?;
    let reviewer = Reviewer::Practice(&c.grant);
    st.svc.decide_review(reviewer, &c.plan.0, id, user, &form, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads what a change decision on one user may choose (the plan's user types, the practice's
/// providers) while the review is open; the caller's own access is someone else's to decide.
#[utoipa::path(get, path = "/practice/reviews/{id}/users/{user}", operation_id = "get_practice_review_choices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id"), ("user" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, body = ChangeChoices),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_SUBJECT),
        (status = 409, description = SIGNED),
        (status = 422, description = CHOICES_REFUSED),
    ))]
pub async fn practice_choices(
    State(st): State<AppState>,
    c: Caller,
    ApiPath((id, user)): ApiPath<(AccessReviewId, UserId)>,
) -> Result<Json<ChangeChoices>, ApiError> {
    let v = st.svc.review_change_view(Reviewer::Practice(&c.grant), &c.plan.0, id, user).await.map_err(error)?;
    Ok(Json(ChangeChoices::new(user, v)))
}

/// Records keep for every user of the review not yet decided, except the caller (whom someone
/// else confirms).
#[utoipa::path(post, path = "/practice/reviews/{id}/keep-remaining", operation_id = "keep_remaining_practice_review", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id")),
    responses(
        (status = 200, body = KeptRemaining),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_REVIEW),
        (status = 409, description = SIGNED),
    ))]
pub async fn practice_keep_remaining(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<KeptRemaining>, ApiError> {
    let kept = st.svc.keep_remaining(Reviewer::Practice(&c.grant), &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(Json(KeptRemaining { kept: count(kept) }))
}

/// Signs the review with the caller's typed name: every user must have a decision; the changes
/// take effect at once, the review is frozen with its digest in the audit chain, and the next
/// review opens.
#[utoipa::path(post, path = "/practice/reviews/{id}/sign", operation_id = "sign_practice_review", request_body = SignBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id")),
    responses(
        (status = 200, body = ReviewSigned),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_REVIEW),
        (status = 409, description = SIGN_CONFLICT),
        (status = 422, description = SIGN_REFUSED),
    ))]
pub async fn practice_sign(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AccessReviewId>,
    ObjectBody(b): ObjectBody<SignBody>,
) -> Result<Json<ReviewSigned>, ApiError> {
    b.check()?;
    let reviewer = Reviewer::Practice(&c.grant);
    let s = st.svc.sign_review(reviewer, &c.plan.0, id, &b.first_name, &b.last_name, &c.meta).await.map_err(error)?;
    Ok(Json(s.into()))
}

// ---------------------------------------------------------------------------------------------
// Plan staff

/// Which practices the plan's list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverviewStatus {
    /// Not yet due, nothing decided.
    NotStarted,
    /// Not yet due, some decisions recorded.
    InProgress,
    /// Past the due date.
    Overdue,
    /// 14 or more days past the due date.
    FollowUp,
}

impl OverviewStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::InProgress => "in_progress",
            Self::Overdue => "overdue",
            Self::FollowUp => "follow_up",
        }
    }
}

/// What the plan's list shows (every parameter optional). A query parameter it does not know
/// is ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    #[param(inline)]
    pub status: Option<OverviewStatus>,
    /// Only this practice.
    #[param(schema_with = super::schema::tax_id, required = false)]
    pub tax_id: Option<String>,
    /// The page, from 1 (50 practices a page).
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

/// One practice in the plan's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewLine {
    /// The open review's id (`null` when the practice has none open).
    pub review_id: Option<i64>,
    pub practice: ReviewPractice,
    /// When the open review is due (Unix seconds).
    pub due_at: Option<i64>,
    pub status: ReviewState,
    /// 14 or more days overdue: listed for follow-up (remind again, or review on its behalf).
    pub follow_up: bool,
    pub last_signed: Option<ReviewSignature>,
}

/// The plan's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewTotals {
    pub not_started: i64,
    pub in_progress: i64,
    pub overdue: i64,
    pub follow_up: i64,
    /// Reviews due this quarter so far.
    pub due_this_quarter: i64,
    /// Of those, signed by their due date.
    pub on_time_this_quarter: i64,
}

/// A page of the plan's reviews, by due date.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsOverviewBody {
    pub practices: Vec<OverviewLine>,
    pub totals: OverviewTotals,
    /// The percentage of this quarter's due reviews signed on time (`null`: none due yet).
    pub on_time_percent: Option<i64>,
    pub page: i64,
    /// Whether the next page has practices.
    pub has_next: bool,
}

/// Lists every practice's open review by due date with its status and last signed review,
/// filtered and paged; the plan's totals and this quarter's on-time percentage.
#[utoipa::path(get, path = "/reviews", operation_id = "list_reviews", params(OverviewQuery), security(("bearer" = [])),
    responses((status = 200, body = ReviewsOverviewBody), (status = 403, description = NOT_STAFF)))]
pub async fn overview(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> Result<Json<ReviewsOverviewBody>, ApiError> {
    let req = OverviewRequest {
        status: q.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        tax_id: tax_id_query(q.tax_id)?,
        page: Some(page(q.page)?),
    };
    let o = st.svc.reviews_overview(&c.grant, &c.plan.0, &req).await.map_err(error)?;
    let t = o.totals;
    Ok(Json(ReviewsOverviewBody {
        practices: o
            .rows
            .into_iter()
            .map(|(r, status, follow_up)| OverviewLine {
                review_id: r.open.as_ref().map(|o| o.id.0),
                due_at: r.open.as_ref().map(|o| o.due_at),
                practice: ReviewPractice { id: r.practice_id.0, name: r.practice_name, tax_id: r.tax_id },
                status: status.into(),
                follow_up,
                last_signed: r.last.as_ref().and_then(ReviewSignature::of),
            })
            .collect(),
        totals: OverviewTotals {
            not_started: t.not_started,
            in_progress: t.in_progress,
            overdue: t.overdue,
            follow_up: t.follow_up,
            due_this_quarter: t.due_this_quarter,
            on_time_this_quarter: t.on_time_this_quarter,
        },
        on_time_percent: o.on_time_percent,
        page: o.page,
        has_next: o.has_next,
    }))
}

/// Over how many weeks the first reviews fall due.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"weeks": 4}))]
pub struct StartBody {
    #[schema(minimum = 1, maximum = 52)]
    pub weeks: i64,
}

/// What starting the reviews did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsStartedBody {
    /// Practices whose review was started.
    pub practices: i64,
    /// The first and last due dates (Unix seconds), when any was started.
    pub first_due: Option<i64>,
    pub last_due: Option<i64>,
}

/// Starts a review for every practice with active users and none open, the due dates spread
/// evenly over the given weeks from two weeks on (plans that imported a roster of practices).
#[utoipa::path(post, path = "/reviews/start", operation_id = "start_reviews", request_body = StartBody, security(("bearer" = [])),
    responses((status = 200, body = ReviewsStartedBody), (status = 403, description = NOT_MANAGER),
        (status = 422, description = "`invalid_input`: the number of weeks is not 1 to 52 (field `weeks`)")))]
pub async fn start(
    State(st): State<AppState>,
    c: StaffCaller,
    ObjectBody(b): ObjectBody<StartBody>,
) -> Result<Json<ReviewsStartedBody>, ApiError> {
    require((1..=MAX_SPREAD_WEEKS).contains(&b.weeks), "weeks", "weeks is 1 to 52")?;
    let s = st.svc.start_reviews(&c.grant, &c.plan.0, &b.weeks.to_string(), &c.meta).await.map_err(error)?;
    Ok(Json(ReviewsStartedBody { practices: count(s.practices), first_due: s.first_due, last_due: s.last_due }))
}

/// The evidence's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// One row per decision.
    Csv,
    /// One signed review per page.
    Pdf,
}

/// Which signed reviews to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EvidenceQuery {
    #[param(inline)]
    pub format: EvidenceKind,
    /// One practice (left out: the whole plan).
    #[param(schema_with = super::schema::tax_id, required = false)]
    pub tax_id: Option<String>,
    /// The first day, in the plan's time zone (inclusive).
    #[param(value_type = String, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2027-03-31")]
    pub from: String,
    /// The last day, in the plan's time zone (inclusive; at most a year after `from`).
    #[param(value_type = String, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2027-03-31")]
    pub to: String,
}

/// Downloads the signed reviews of one practice or the whole plan, signed within the days:
/// CSV (one row per decision) or PDF (one review per page), read from the frozen records and
/// checked against their digests. Audited.
#[utoipa::path(get, path = "/reviews/evidence", operation_id = "export_review_evidence", params(EvidenceQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The file, as a download.",
            content((inline(UploadFile) = "text/csv"), (inline(UploadFile) = "application/pdf")),
            headers(("Content-Disposition" = String, description = "`attachment`, with the file's name."))),
        (status = 403, description = NOT_STAFF),
        (status = 422, description = "`invalid_input`: a day that does not exist, `to` before `from` or more than a year after it, or no practice of the plan with that Tax ID; `field` names it"),
    ))]
pub async fn evidence(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiQuery(q): ApiQuery<EvidenceQuery>,
) -> Result<Response, ApiError> {
    let tax_id = tax_id_query(q.tax_id)?;
    for (field, value) in [("from", &q.from), ("to", &q.to)] {
        if !is_day(value) {
            return Err(refuse_query(field, "a day is YYYY-MM-DD"));
        }
    }
    let format = match q.format {
        EvidenceKind::Csv => "csv",
        EvidenceKind::Pdf => "pdf",
    };
    let req = ExportRequest { format: format.to_owned(), tax_id, from: q.from, to: q.to };
    let f = st.svc.export_review_evidence(&c.grant, &c.plan.0, &req, &c.meta).await.map_err(error)?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", f.file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(f.content_type)),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, f.bytes).into_response())
}

/// Reads one page of any review of the plan (staff with the reviews-read permission).
#[utoipa::path(get, path = "/reviews/{id}", operation_id = "get_review", params(("id" = i64, Path, description = "The review's id"), ReviewPageQuery), security(("bearer" = [])),
    responses((status = 200, body = ReviewBody), (status = 403, description = NOT_STAFF), (status = 404, description = NOT_FOUND_STAFF_REVIEW)))]
pub async fn staff_review(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
    ApiQuery(q): ApiQuery<ReviewPageQuery>,
) -> Result<Json<ReviewBody>, ApiError> {
    let page = page(q.page)?;
    let p = st.svc.review_page(Reviewer::Staff(&c.grant), &c.plan.0, id, page).await.map_err(error)?;
    Ok(Json(p.into()))
}

/// Records (or replaces) a decision on one user, on the practice's behalf (recorded as such);
/// staff may also confirm the practice's administrators.
#[utoipa::path(put, path = "/reviews/{id}/users/{user}", operation_id = "decide_review", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id"), ("user" = i64, Path, description = "The user's id")),
    request_body(content = DecisionBody, example = json!({"decision": "keep"})),
    responses(
        (status = 204),
        (status = 403, description = NOT_MANAGER),
        (status = 404, description = NOT_FOUND_STAFF_SUBJECT),
        (status = 409, description = SIGNED),
        (status = 422, description = DECISION_REFUSED),
    ))]
pub async fn staff_decide(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath((id, user)): ApiPath<(AccessReviewId, UserId)>,
    ObjectBody(b): ObjectBody<DecisionBody>,
) -> Result<StatusCode, ApiError> {
    let form = b.form()?;
    let reviewer = Reviewer::Staff(&c.grant);
    st.svc.decide_review(reviewer, &c.plan.0, id, user, &form, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads what a change decision on one user may choose, on the practice's behalf.
#[utoipa::path(get, path = "/reviews/{id}/users/{user}", operation_id = "get_review_choices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id"), ("user" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, body = ChangeChoices),
        (status = 403, description = NOT_MANAGER),
        (status = 404, description = NOT_FOUND_STAFF_SUBJECT),
        (status = 409, description = SIGNED),
        (status = 422, description = CHOICES_REFUSED),
    ))]
pub async fn staff_choices(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath((id, user)): ApiPath<(AccessReviewId, UserId)>,
) -> Result<Json<ChangeChoices>, ApiError> {
    let v = st.svc.review_change_view(Reviewer::Staff(&c.grant), &c.plan.0, id, user).await.map_err(error)?;
    Ok(Json(ChangeChoices::new(user, v)))
}

/// Records keep for every user not yet decided, on the practice's behalf.
#[utoipa::path(post, path = "/reviews/{id}/keep-remaining", operation_id = "keep_remaining_review", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id")),
    responses(
        (status = 200, body = KeptRemaining),
        (status = 403, description = NOT_MANAGER),
        (status = 404, description = NOT_FOUND_STAFF_REVIEW),
        (status = 409, description = SIGNED),
    ))]
pub async fn staff_keep_remaining(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<KeptRemaining>, ApiError> {
    let kept = st.svc.keep_remaining(Reviewer::Staff(&c.grant), &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(Json(KeptRemaining { kept: count(kept) }))
}

/// Signs the review on the practice's behalf with the staff member's own typed name.
#[utoipa::path(post, path = "/reviews/{id}/sign", operation_id = "sign_review", request_body = SignBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id")),
    responses(
        (status = 200, body = ReviewSigned),
        (status = 403, description = NOT_MANAGER),
        (status = 404, description = NOT_FOUND_STAFF_REVIEW),
        (status = 409, description = SIGN_CONFLICT),
        (status = 422, description = SIGN_REFUSED),
    ))]
pub async fn staff_sign(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
    ObjectBody(b): ObjectBody<SignBody>,
) -> Result<Json<ReviewSigned>, ApiError> {
    b.check()?;
    let reviewer = Reviewer::Staff(&c.grant);
    let s = st.svc.sign_review(reviewer, &c.plan.0, id, &b.first_name, &b.last_name, &c.meta).await.map_err(error)?;
    Ok(Json(s.into()))
}

/// How many administrators a reminder went to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewReminded {
    pub emails: i64,
}

/// Reminds the practice's administrators again by email (the email names no user).
#[utoipa::path(post, path = "/reviews/{id}/remind", operation_id = "remind_review", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The review's id")),
    responses(
        (status = 200, body = ReviewReminded),
        (status = 403, description = NOT_MANAGER),
        (status = 404, description = NOT_FOUND_STAFF_REVIEW),
        (status = 409, description = SIGNED),
        (status = 422, description = "`invalid`: the practice has no active administrator to remind"),
    ))]
pub async fn remind(
    State(st): State<AppState>,
    c: StaffCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<ReviewReminded>, ApiError> {
    let n = st.svc.remind_review(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(Json(ReviewReminded { emails: count(n) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's words are the domain's stored forms.
    #[test]
    fn decisions_and_statuses_are_the_domains() {
        for d in Decision::ALL {
            let api = ReviewDecision::from(d);
            assert_eq!(serde_json::to_value(api).ok(), Some(json!(d.as_str())));
            assert_eq!(Decision::from(api), d);
        }
        for s in ReviewStatus::ALL {
            assert_eq!(serde_json::to_value(ReviewState::from(s)).ok(), Some(json!(s.as_str())));
        }
    }

    fn decision(body: serde_json::Value) -> Result<DecisionForm, ApiError> {
        let b: DecisionBody = super::super::body::parse(body.to_string().as_bytes())?;
        b.form()
    }

    #[test]
    fn decision_bodies_are_read_strictly() {
        let f =
            decision(json!({"decision": "change", "user_type": "clinical_staff", "providers": [3, 4]})).expect("ok");
        assert_eq!(f.providers, ProviderChoice::Listed(vec![ProviderRowId(3), ProviderRowId(4)]));
        assert_eq!((f.decision.as_str(), f.user_type.as_str()), ("change", "clinical_staff"));
        assert_eq!(
            decision(json!({"decision": "keep", "providers": "all"})).expect("ok").providers,
            ProviderChoice::All
        );
        assert_eq!(
            decision(json!({"decision": "keep", "providers": "unchanged", "reason": null})).expect("ok").providers,
            ProviderChoice::Unchanged
        );
        let refused = |body: serde_json::Value| {
            let e = decision(body).expect_err("refused");
            (e.status, e.code, e.field)
        };
        let invalid = |f: &str| (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", Some(f.to_owned()));
        assert_eq!(refused(json!({"decision": "fire"})), invalid("decision"));
        assert_eq!(refused(json!({"decision": "keep", "bogus": 1})), invalid("bogus"));
        assert_eq!(refused(json!({"decision": "keep", "reason": "x".repeat(501)})), invalid("reason"));
        assert_eq!(refused(json!({"decision": "keep", "providers": []})), invalid("providers"));
        assert_eq!(refused(json!({"decision": "keep", "providers": "some"})), invalid("providers"));
        assert_eq!(refused(json!({"decision": "change", "user_type": "Billing Staff"})), invalid("user_type"));
        assert!(decision(json!({"decision": "keep", "reason": "x".repeat(500)})).is_ok());
    }

    #[test]
    fn days_are_iso() {
        // The pattern `from` and `to` state, which `is_day` reads.
        const DAY_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
        let re = regex::Regex::new(DAY_PATTERN).expect("pattern");
        let doc = crate::api::document();
        for p in doc["paths"]["/api/v1/reviews/evidence"]["get"]["parameters"].as_array().into_iter().flatten() {
            if p["name"] == "from" || p["name"] == "to" {
                assert_eq!((p["required"].as_bool(), p["schema"]["pattern"].as_str()), (Some(true), Some(DAY_PATTERN)));
            }
        }
        for (s, ok) in [("2027-03-31", true), ("2027-3-31", false), (" 2027-03-31", false), ("2027/03/31", false)] {
            assert_eq!(is_day(s), ok, "{s}");
            assert_eq!(re.is_match(s), ok, "{s}");
        }
    }
}
