//! Practice administrators over JSON: the directory, one user, every change to their Tax ID
//! affiliations and account, inviting a list, and pending invitations. The caller is a signed-in
//! user (bearer session) who administers at least one Tax ID (else 403 `not_practice_admin`);
//! another practice's ids answer 404 `not_found`, as ids that do not exist do.
//!
//! Values are read as the document states them. The services forgive what a person types into a
//! page's form (surrounding spaces, a tab inside a name, a state in lower case), but a request to
//! the API with a value outside its schema is refused with 422 `invalid_body` naming the field,
//! so a client can trust the schema both ways. What no schema can state (a phone number that
//! does not exist, two emails that differ, a user type the plan does not have) is refused by the
//! services' own rules: 422 `invalid_input` or `invalid`.

use super::ApiError;
use super::body::{ApiPath, ApiQuery, JsonBody};
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::profile::ProfileChanges;
use gatehouse_domain::{AffiliationId, Email, PracticeId, ProviderRowId, UserId, UserStatus, Username};
use gatehouse_services::RequestMeta;
use gatehouse_services::access_requests::Scope;
use gatehouse_services::practice::access::{AffiliationChange, MemberAdded, NewMemberAffiliation};
use gatehouse_services::practice::directory::{DirectoryRequest, MAX_SEARCH};
use gatehouse_services::practice::invites::{InviteRow, MAX_BATCH, OFFERED_NOTE};
use gatehouse_services::practice::members::MemberDetail;
use gatehouse_services::practice::{PracticeError, PracticeGrant};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(directory))
        .routes(routes!(member, edit_member))
        .routes(routes!(add_affiliation))
        .routes(routes!(revoke))
        .routes(routes!(deactivate))
        .routes(routes!(reactivate))
        .routes(routes!(reset_password))
        .routes(routes!(change_affiliation, remove_affiliation))
        .routes(routes!(hand_over))
        .routes(routes!(pending, invite))
        .routes(routes!(resend))
        .routes(routes!(cancel))
}

/// The caller's practice grant.
pub(super) struct Caller {
    pub grant: PracticeGrant,
    pub plan: CurrentPlan,
    pub meta: RequestMeta,
}

/// The practice grant of the bearer session's user: 401 without a session, 403 for a user who
/// administers no practice. An extractor, so it runs before the body is read: a caller without
/// the grant learns nothing about what the body should hold.
impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = axum::response::Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, axum::response::Response> {
        use axum::response::IntoResponse;
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let sess = BearerSession::from_request_parts(parts, st).await?;
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, st).await;
        let session = sess.0.ok_or_else(|| ApiError::unauthenticated().into_response())?;
        let grant = st.svc.practice_grant(&plan.0, &session).await.map_err(|e| error(e).into_response())?;
        Ok(Caller { grant, plan, meta })
    }
}

pub(super) fn error(e: PracticeError) -> ApiError {
    match e {
        PracticeError::Internal(i) => ApiError::internal(i),
        PracticeError::NotSignedIn => ApiError::unauthenticated(),
        PracticeError::NotAdmin => ApiError::new(StatusCode::FORBIDDEN, "not_practice_admin", e.to_string()),
        PracticeError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        PracticeError::LastAdmin { .. } => ApiError::new(StatusCode::CONFLICT, "last_admin", e.to_string()),
        PracticeError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
        PracticeError::NotYours(m) => ApiError::new(StatusCode::FORBIDDEN, "not_all_practices_yours", m),
        PracticeError::OwnAccount => ApiError::new(StatusCode::FORBIDDEN, "own_account", e.to_string()),
    }
}

// The sentences of the statuses most operations share, as the document shows them.
const NOT_ADMIN: &str = "`not_practice_admin`: the caller administers no practice";
const NOT_YOURS_OR_ADMIN: &str = "`not_practice_admin`: the caller administers no practice; `not_all_practices_yours`: the user also works for a practice the caller does not administer, so their account is not the caller's to change";
/// [`NOT_YOURS_OR_ADMIN`], and the caller's own account, which changes on My Profile.
const NOT_YOURS_ADMIN_OR_OWN: &str = "`not_practice_admin`: the caller administers no practice; `not_all_practices_yours`: the user also works for a practice the caller does not administer, so their account is not the caller's to change; `own_account`: the user is the caller, whose own information and password change on My Profile after confirming it is them";
const NOT_FOUND_USER: &str =
    "`not_found`: no such user among the caller's practices (another practice's user reads the same)";
const NOT_FOUND_AFFILIATION: &str =
    "`not_found`: no such affiliation with the caller's practices (another practice's reads the same)";
const LAST_ADMIN: &str =
    "`last_admin`: the change would leave a practice that has active users without an active administrator";

// ---------------------------------------------------------------------------------------------
// Values as the document states them

/// Control characters, as a character-class range (C0, DEL and C1: what `char::is_control` is).
const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";

fn string(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(min)).max_length(Some(max))
}

/// The schema of a string, also allowing `null`.
fn or_null(mut schema: Object) -> Object {
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    if let Some(values) = &mut schema.enum_values {
        values.push(serde_json::Value::Null);
    }
    schema
}

/// A user type's key, as the plan defines it (`billing_staff`): 1–40 lower-case letters, digits
/// and underscores.
pub fn user_type_key() -> Object {
    let max = UserTypeKey::MAX_LEN;
    string(1, max)
        .pattern(Some(format!("^[a-z0-9_]{{1,{max}}}$")))
        .description(Some("A user type's key, as the plan defines it."))
        .examples([json!("billing_staff")])
        .build()
}

fn user_type_key_or_null() -> Object {
    or_null(user_type_key())
}

/// A middle name, street or city: at most 100 characters, no control characters; `""` clears it.
pub fn optional_text() -> Object {
    string(0, gatehouse_domain::profile::MAX_TEXT).pattern(Some(format!("^[^{CONTROL}]*$"))).build()
}

/// A US phone number as typed (`206-555-0143`, `+12065550143`); `""` clears it.
pub fn optional_phone() -> Object {
    string(0, gatehouse_domain::phone::MAX_NATIONAL_LEN).examples([json!("206-555-0143")]).build()
}

/// A USPS state or territory code in capitals (`WA`); `""` clears it.
pub fn optional_state() -> Object {
    let codes = std::iter::once("").chain(gatehouse_domain::roster::state::CODES);
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes)).examples([json!("WA")]).build()
}

/// A US ZIP code, five digits or ZIP+4 (`98402-1234`); `""` clears it.
pub fn optional_zip() -> Object {
    string(0, 10).pattern(Some("^([0-9]{5}(-?[0-9]{4})?)?$".to_owned())).examples([json!("98402")]).build()
}

fn username_or_null() -> Object {
    or_null(super::schema::username())
}

fn person_name_or_null() -> Object {
    or_null(super::schema::person_name())
}

fn email_or_null() -> Object {
    or_null(super::schema::email())
}

fn text_or_null() -> Object {
    or_null(optional_text())
}

fn phone_or_null() -> Object {
    or_null(optional_phone())
}

fn state_or_null() -> Object {
    or_null(optional_state())
}

fn zip_or_null() -> Object {
    or_null(optional_zip())
}

/// The length of `s` fits `schema`'s bounds, in characters as JSON Schema counts them.
fn within(schema: &Object, s: &str) -> bool {
    let n = s.chars().count();
    schema.min_length.is_none_or(|m| n >= m) && schema.max_length.is_none_or(|m| n <= m)
}

/// What [`super::schema::username`] allows.
fn is_username(s: &str) -> bool {
    Username::parse(s).is_ok()
}

/// What [`super::schema::email`] allows: the domain's address, with nothing around it.
fn is_email(s: &str) -> bool {
    within(&super::schema::email(), s) && s.trim() == s && Email::parse(s).is_ok()
}

/// What [`super::schema::person_name`] allows: no control characters (a tab included, though a
/// page's form makes it a space), no `<` or `>`, at least one character not white space.
pub(super) fn is_person_name(s: &str) -> bool {
    within(&super::schema::person_name(), s)
        && !s.chars().any(|c| (c.is_control() && !c.is_whitespace()) || c == '<' || c == '>')
        && s.chars().any(|c| !c.is_whitespace())
}

fn is_user_type_key(s: &str) -> bool {
    UserTypeKey::parse(s).is_ok()
}

fn is_text(s: &str) -> bool {
    within(&optional_text(), s) && !s.chars().any(char::is_control)
}

fn is_phone(s: &str) -> bool {
    within(&optional_phone(), s)
}

fn is_state(s: &str) -> bool {
    s.is_empty() || gatehouse_domain::roster::state::CODES.contains(&s)
}

fn is_zip(s: &str) -> bool {
    s.is_empty() || (s.trim() == s && gatehouse_domain::roster::Zip::parse(s).is_ok())
}

/// A body that is a JSON object. serde reads a struct from an array too (`[null, null]` as its
/// first two fields), which the document does not allow: this refuses it (422 `invalid_body`).
#[derive(Debug)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData)).map(Obj)
    }
}

/// Refuses a value its schema does not allow: 422 `invalid_body`, naming the field.
fn require(ok: bool, field: impl Into<String>, what: &str) -> Result<(), ApiError> {
    if ok {
        return Ok(());
    }
    let message = format!("The body does not fit: {what}.");
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).field(Some(field)))
}

/// [`require`] for a value that may be left out.
fn require_given(value: &Option<String>, fits: fn(&str) -> bool, field: &str, what: &str) -> Result<(), ApiError> {
    value.as_deref().map_or(Ok(()), |v| require(fits(v), field, what))
}

const A_USERNAME: &str = "a username is 1 to 64 characters without white space, control characters or ; : < > , [ ] ( ) \\ \" ' ~ ` % ^ & + = { } | ? /";
const A_NAME: &str = "a name is 1 to 60 characters, not only white space, without < > or control characters";
const AN_EMAIL: &str = "an email address looks like name@example.com, without spaces around it";
const A_USER_TYPE: &str = "a user type key is 1 to 40 lower-case letters, digits or underscores";

// ---------------------------------------------------------------------------------------------
// The directory

/// An account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Signed up and may sign in.
    Active,
    /// Invited, not signed up yet.
    Invited,
    /// May not sign in.
    Deactivated,
}

impl From<UserStatus> for AccountStatus {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Active => Self::Active,
            UserStatus::Invited => Self::Invited,
            UserStatus::Deactivated => Self::Deactivated,
        }
    }
}

impl AccountStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => UserStatus::Active.as_str(),
            Self::Invited => UserStatus::Invited.as_str(),
            Self::Deactivated => UserStatus::Deactivated.as_str(),
        }
    }
}

/// The column the directory is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectorySort {
    Name,
    Username,
    Email,
    Status,
}

/// Which way the directory is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// What the directory lists (every parameter optional). Deliberately open: a query parameter it
/// does not know is ignored, as query strings carry cache breakers and the like.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Words of a name, a username, an email address or digits of a phone number (the first
    /// 100 characters are searched).
    pub q: Option<String>,
    /// Only users with this status.
    #[param(inline)]
    pub status: Option<AccountStatus>,
    /// Only users of this user type at one of the caller's practices.
    #[param(schema_with = user_type_key, required = false)]
    pub user_type: Option<String>,
    /// Only users of this practice (one the caller administers; another's answers 404).
    #[param(value_type = Option<i64>)]
    pub practice: Option<PracticeId>,
    /// Only users acting for this provider (its row id from the roster).
    #[param(value_type = Option<i64>)]
    pub provider: Option<ProviderRowId>,
    /// The column to sort by (default `name`).
    #[param(inline)]
    pub sort: Option<DirectorySort>,
    /// Ascending (default) or descending.
    #[param(inline)]
    pub dir: Option<SortDirection>,
    /// The page, from 1 (25 users a page).
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

impl DirectoryQuery {
    /// The service's request; a value outside its schema is refused with 400 `invalid_query`.
    fn request(self) -> Result<DirectoryRequest, ApiError> {
        let refuse = |field: &str, message: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("The query string does not fit: {message}."),
            )
            .field(Some(field))
        };
        if self.user_type.as_deref().is_some_and(|t| !is_user_type_key(t)) {
            return Err(refuse("user_type", A_USER_TYPE));
        }
        if self.page.is_some_and(|p| p < 1) {
            return Err(refuse("page", "pages are numbered from 1"));
        }
        let sort = match self.sort {
            None | Some(DirectorySort::Name) => "name",
            Some(DirectorySort::Username) => "username",
            Some(DirectorySort::Email) => "email",
            Some(DirectorySort::Status) => "status",
        };
        Ok(DirectoryRequest {
            q: self.q.unwrap_or_default().chars().take(MAX_SEARCH).collect(),
            status: self.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            user_type: self.user_type.unwrap_or_default(),
            practice: self.practice.map(|p| p.0),
            provider: self.provider.map(|p| p.0),
            sort: sort.to_owned(),
            dir: if self.dir == Some(SortDirection::Desc) { "desc" } else { "asc" }.to_owned(),
            page: self.page,
        })
    }
}

/// One user in the directory.
#[derive(Serialize, ToSchema)]
pub struct DirectoryUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    /// None until the user signs up.
    pub username: Option<String>,
    pub email: String,
    pub status: AccountStatus,
    /// The names of the user types they hold at the caller's practices.
    pub user_types: Vec<String>,
    /// The last completed sign-in (Unix seconds), if any.
    pub last_signin_at: Option<i64>,
    /// Flagged as idle: an active account without a sign-in for the plan's idle threshold
    /// (default 90 days). Idle portal accounts are deactivated at the plan's deactivation
    /// threshold (default 180 days), after a warning email 14 days before.
    pub idle: bool,
}

/// One page of the directory.
#[derive(Serialize, ToSchema)]
pub struct DirectoryBody {
    pub users: Vec<DirectoryUser>,
    /// Users found, counted up to 1,000 (see `total_is_exact`).
    pub total: i64,
    /// False when counting stopped at `total` and more users match (add to `q` to narrow).
    pub total_is_exact: bool,
    pub page: i64,
    /// Pages of the users counted.
    pub pages: i64,
    /// Whether the next page has users.
    pub has_next: bool,
}

/// Lists the users of the caller's practices, searched, filtered, sorted and paged.
#[utoipa::path(get, path = "/practice/users", operation_id = "list_practice_users", params(DirectoryQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = DirectoryBody),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = "`not_found`: `practice` is not one the caller administers"),
    ))]
pub async fn directory(
    State(st): State<AppState>,
    c: Caller,
    ApiQuery(query): ApiQuery<DirectoryQuery>,
) -> Result<Json<DirectoryBody>, ApiError> {
    let req = query.request()?;
    let p = st.svc.practice_directory(&c.grant, &c.plan.0, &req).await.map_err(error)?;
    Ok(Json(DirectoryBody {
        users: p
            .entries
            .into_iter()
            .map(|e| DirectoryUser {
                id: e.row.id.0,
                first_name: e.row.first_name,
                last_name: e.row.last_name,
                username: e.row.username,
                email: e.row.email,
                status: e.row.status.into(),
                user_types: e.user_types,
                last_signin_at: e.row.last_signin_at,
                idle: e.idle,
            })
            .collect(),
        total: p.total.shown(),
        total_is_exact: p.total.is_exact(),
        page: p.page,
        pages: p.pages,
        has_next: p.has_next,
    }))
}

// ---------------------------------------------------------------------------------------------
// One user

/// A provider an affiliation covers.
#[derive(Serialize, ToSchema)]
pub struct MemberProvider {
    /// The provider's row id: what `providers` in a request lists.
    pub id: i64,
    /// The billing number.
    pub provider_id: String,
    pub npi: String,
    pub name: String,
}

/// One Tax ID affiliation of a user, with a practice the caller administers.
#[derive(Serialize, ToSchema)]
pub struct MemberAffiliation {
    /// The affiliation's id (for `/practice/affiliations/{id}` and the hand-over).
    pub id: i64,
    /// The practice's id (as `practice_id` and `practice_ids` in requests name it).
    pub practice_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    /// The user type's key.
    pub user_type: String,
    /// The user type's name.
    pub user_type_name: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// The billing numbers of the providers covered, when not all (as in `providers`).
    pub provider_ids: Vec<String>,
    /// The providers covered, when not all.
    pub providers: Vec<MemberProvider>,
}

/// A user as their administrator sees them.
#[derive(Serialize, ToSchema)]
pub struct MemberBody {
    pub id: i64,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    /// None until the user signs up.
    pub username: Option<String>,
    pub email: String,
    pub status: AccountStatus,
    /// In E.164 (`+12065550143`), or `""`.
    pub mobile_phone: String,
    /// In E.164, or `""`.
    pub office_phone: String,
    /// In E.164, or `""`.
    pub fax: String,
    pub street: String,
    pub city: String,
    /// A USPS code, or `""`.
    pub state: String,
    pub zip: String,
    /// Only the affiliations with the caller's practices.
    pub affiliations: Vec<MemberAffiliation>,
    /// Also works for practices the caller does not administer: then the account itself (its
    /// information, status and password) is not the caller's to change.
    pub elsewhere: bool,
}

impl From<MemberDetail> for MemberBody {
    fn from(m: MemberDetail) -> Self {
        let c = m.contact;
        Self {
            id: m.user.id.0,
            first_name: m.user.first_name,
            middle_name: m.user.middle_name,
            last_name: m.user.last_name,
            username: m.user.username,
            email: m.user.email,
            status: m.user.status.into(),
            mobile_phone: c.mobile_phone,
            office_phone: c.office_phone,
            fax: c.fax,
            street: c.street,
            city: c.city,
            state: c.state,
            zip: c.zip,
            affiliations: m
                .affiliations
                .into_iter()
                .map(|a| MemberAffiliation {
                    id: a.row.id,
                    practice_id: a.row.practice_id,
                    tax_id: a.row.tax_id,
                    practice_name: a.row.practice_name,
                    user_type: a.row.user_type,
                    user_type_name: a.user_type_name,
                    is_admin: a.row.is_admin,
                    all_providers: a.row.all_providers,
                    provider_ids: a.providers.iter().map(|p| p.provider_id.clone()).collect(),
                    providers: a
                        .providers
                        .into_iter()
                        .map(|p| MemberProvider { id: p.id.0, provider_id: p.provider_id, npi: p.npi, name: p.name })
                        .collect(),
                })
                .collect(),
            elsewhere: m.elsewhere,
        }
    }
}

/// Shows one user of the caller's practices, with only those practices' affiliations.
#[utoipa::path(get, path = "/practice/users/{id}", operation_id = "get_practice_user", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, body = MemberBody),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_USER),
    ))]
pub async fn member(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<MemberBody>, ApiError> {
    let m = st.svc.member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(Json(m.into()))
}

/// Changes to a user's information: a field left out (or `null`) stays as it is; `""` clears an
/// optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EditMemberBody {
    /// A new username, for a user who has signed up (an invited user chooses theirs when
    /// signing up). In a plan whose usernames are email addresses, an email address.
    #[schema(schema_with = username_or_null)]
    pub username: Option<String>,
    #[schema(schema_with = person_name_or_null)]
    pub first_name: Option<String>,
    #[schema(schema_with = text_or_null)]
    pub middle_name: Option<String>,
    #[schema(schema_with = person_name_or_null)]
    pub last_name: Option<String>,
    /// A new email address; the old one is told of the change.
    #[schema(schema_with = email_or_null)]
    pub email: Option<String>,
    /// The new email address again: required with `email`, and equal to it (case aside).
    #[schema(schema_with = email_or_null)]
    pub email_confirm: Option<String>,
    #[schema(schema_with = phone_or_null)]
    pub mobile_phone: Option<String>,
    #[schema(schema_with = phone_or_null)]
    pub office_phone: Option<String>,
    #[schema(schema_with = phone_or_null)]
    pub fax: Option<String>,
    #[schema(schema_with = text_or_null)]
    pub street: Option<String>,
    #[schema(schema_with = text_or_null)]
    pub city: Option<String>,
    #[schema(schema_with = state_or_null)]
    pub state: Option<String>,
    #[schema(schema_with = zip_or_null)]
    pub zip: Option<String>,
}

impl EditMemberBody {
    /// Refuses a value outside its schema.
    fn check(&self) -> Result<(), ApiError> {
        const TEXT: &str = "at most 100 characters, without control characters";
        require_given(&self.username, is_username, "username", A_USERNAME)?;
        require_given(&self.first_name, is_person_name, "first_name", A_NAME)?;
        require_given(&self.middle_name, is_text, "middle_name", TEXT)?;
        require_given(&self.last_name, is_person_name, "last_name", A_NAME)?;
        require_given(&self.email, is_email, "email", AN_EMAIL)?;
        require_given(&self.email_confirm, is_email, "email_confirm", AN_EMAIL)?;
        for (field, value) in
            [("mobile_phone", &self.mobile_phone), ("office_phone", &self.office_phone), ("fax", &self.fax)]
        {
            require_given(value, is_phone, field, "a phone number is at most 32 characters")?;
        }
        require_given(&self.street, is_text, "street", TEXT)?;
        require_given(&self.city, is_text, "city", TEXT)?;
        require_given(&self.state, is_state, "state", "a state is a USPS code in capitals, like WA, or \"\"")?;
        require_given(&self.zip, is_zip, "zip", "a ZIP code is five digits or ZIP+4, like 98402-1234, or \"\"")
    }

    /// The fields sent, for the service to lay over what is stored.
    fn changes(self) -> ProfileChanges {
        ProfileChanges {
            username: self.username,
            first_name: self.first_name,
            middle_name: self.middle_name,
            last_name: self.last_name,
            email: self.email,
            email_confirm: self.email_confirm,
            mobile_phone: self.mobile_phone,
            office_phone: self.office_phone,
            fax: self.fax,
            street: self.street,
            city: self.city,
            state: self.state,
            zip: self.zip,
        }
    }
}

/// Changes a user's names, email, phones or office address (only the fields sent).
///
/// Only for a user all of whose Tax IDs the caller administers. A changed email is told to the
/// old address, and is not proven until its owner proves it (it routes no other practice's
/// invitation to this account); a user who has not signed up gets a new sign-up link at the new
/// address, and the old links stop working. A changed username is emailed to the user; a caller
/// gets ten "taken" answers an hour.
#[utoipa::path(patch, path = "/practice/users/{id}", operation_id = "edit_practice_user", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    request_body(content = EditMemberBody,
        example = json!({"email": "maria.lopez@clinic.example", "email_confirm": "maria.lopez@clinic.example", "office_phone": "206-555-0143"})),
    responses(
        (status = 204),
        (status = 403, description = NOT_YOURS_ADMIN_OR_OWN),
        (status = 404, description = NOT_FOUND_USER),
        (status = 422, description = "`invalid_input`: a value breaks a rule no schema states (a phone number that does not exist, `email_confirm` not equal to `email`, a username taken or not in the plan's format, a username for a user who has not signed up, too many taken usernames tried in an hour); `field` names it"),
    ))]
pub async fn edit_member(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
    JsonBody(Obj(b)): JsonBody<Obj<EditMemberBody>>,
) -> Result<StatusCode, ApiError> {
    use gatehouse_services::practice::members::EditMemberError;
    b.check()?;
    match st.svc.edit_member_fields(&c.grant, &c.plan.0, id, b.changes(), &c.meta).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(EditMemberError::Invalid(e)) => {
            let first = e.0.first();
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string())
                .field(first.map(|f| f.field)))
        }
        Err(EditMemberError::Practice(e)) => Err(error(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Affiliations

/// The providers of an affiliation: all of the Tax ID's, or the listed provider row ids.
fn scope(all_providers: bool, providers: &[ProviderRowId]) -> Scope {
    if all_providers { Scope::All } else { Scope::Providers(providers.to_vec()) }
}

fn all() -> bool {
    true
}

/// A Tax ID affiliation to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAffiliationBody {
    /// One of the caller's practices.
    #[schema(value_type = i64)]
    pub practice_id: PracticeId,
    #[schema(schema_with = user_type_key)]
    pub user_type: String,
    /// All of the Tax ID's providers (`true`, the default), or those in `providers`.
    #[serde(default = "all")]
    #[schema(default = true)]
    pub all_providers: bool,
    /// Provider row ids (from the roster) when not all: at least one, each the practice's.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// The new affiliation's id.
#[derive(Serialize, ToSchema)]
pub struct AffiliationCreated {
    pub id: i64,
}

/// The offer made instead: the user has an account of their own and must accept.
#[derive(Serialize, ToSchema)]
pub struct AffiliationOffered {
    /// The offer's id (see `GET /practice/offers`; `DELETE /practice/offers/{id}` withdraws it).
    pub offer_id: i64,
}

/// Adds a Tax ID (one of the caller's practices) to a user of the caller's practices.
///
/// A user with an account of their own is offered the Tax ID (202): an account gains a practice
/// only when its person accepts. A user who has not signed up yet gets it at once (201).
#[utoipa::path(post, path = "/practice/users/{id}/affiliations", operation_id = "add_practice_affiliation", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    request_body(content = AddAffiliationBody,
        example = json!({"practice_id": 1, "user_type": "billing_staff", "all_providers": true})),
    responses(
        (status = 201, body = AffiliationCreated, description = "Added: the user has not signed up yet"),
        (status = 202, body = AffiliationOffered, description = "Offered: the user accepts or declines after signing in"),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = "`not_found`: the user, the practice or a provider is not among the caller's practices (another practice's reads the same)"),
        (status = 422, description = "`invalid`: the plan has no such user type, the user already has this Tax ID, no provider is chosen, or the account is deactivated"),
    ))]
pub async fn add_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
    JsonBody(Obj(b)): JsonBody<Obj<AddAffiliationBody>>,
) -> Result<Response, ApiError> {
    require(is_user_type_key(&b.user_type), "user_type", A_USER_TYPE)?;
    let new = NewMemberAffiliation {
        practice_id: b.practice_id,
        user_type: b.user_type,
        scope: scope(b.all_providers, &b.providers),
    };
    Ok(match st.svc.add_member_affiliation(&c.grant, &c.plan.0, id, &new, &c.meta).await.map_err(error)? {
        MemberAdded::Linked(aid) => (StatusCode::CREATED, Json(AffiliationCreated { id: aid.0 })).into_response(),
        MemberAdded::Offered(offer) => {
            (StatusCode::ACCEPTED, Json(AffiliationOffered { offer_id: offer.0 })).into_response()
        }
    })
}

/// Changes to one affiliation: a field left out (or `null`) stays as it is; at least one is
/// given.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ChangeAffiliationBody {
    #[schema(schema_with = user_type_key_or_null)]
    pub user_type: Option<String>,
    /// `true` to make the user an administrator of the practice, `false` to revoke that.
    pub admin: Option<bool>,
    /// All of the Tax ID's providers (`true`), or those in `providers` (`false`).
    pub all_providers: Option<bool>,
    /// Provider row ids (from the roster) when `all_providers` is `false`.
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// Changes an affiliation's user type, providers or administrator flag, all in one change.
#[utoipa::path(patch, path = "/practice/affiliations/{id}", operation_id = "change_practice_affiliation", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The affiliation's id (from `GET /practice/users/{id}`)")),
    request_body(content = ChangeAffiliationBody,
        example = json!({"user_type": "clinical_staff", "all_providers": false, "providers": [3, 4]})),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = "`not_found`: no such affiliation with the caller's practices, or a provider not the practice's (another practice's reads the same)"),
        (status = 409, description = LAST_ADMIN),
        (status = 422, description = "`invalid`: nothing to change, no such user type, no provider chosen, the flag already so, or only an active user who has signed up can be made an administrator"),
    ))]
pub async fn change_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AffiliationId>,
    JsonBody(Obj(b)): JsonBody<Obj<ChangeAffiliationBody>>,
) -> Result<StatusCode, ApiError> {
    require_given(&b.user_type, is_user_type_key, "user_type", A_USER_TYPE)?;
    let change = AffiliationChange {
        user_type: b.user_type,
        scope: b.all_providers.map(|all| scope(all, &b.providers)),
        admin: b.admin,
    };
    st.svc.change_member_affiliation(&c.grant, &c.plan.0, id, &change, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a Tax ID affiliation.
#[utoipa::path(delete, path = "/practice/affiliations/{id}", operation_id = "remove_practice_affiliation", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The affiliation's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_AFFILIATION),
        (status = 409, description = LAST_ADMIN),
    ))]
pub async fn remove_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AffiliationId>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_member_affiliation(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// The account

/// Removes a user from every Tax ID the caller administers ("Revoke User"); their account stays.
#[utoipa::path(post, path = "/practice/users/{id}/revoke", operation_id = "revoke_practice_user", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_USER),
        (status = 409, description = LAST_ADMIN),
    ))]
pub async fn revoke(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.revoke_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivates a user all of whose Tax IDs the caller administers: signed out everywhere at once.
#[utoipa::path(post, path = "/practice/users/{id}/deactivate", operation_id = "deactivate_practice_user", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_YOURS_OR_ADMIN),
        (status = 404, description = NOT_FOUND_USER),
        (status = 409, description = LAST_ADMIN),
        (status = 422, description = "`invalid`: the user is the caller, or is already deactivated"),
    ))]
pub async fn deactivate(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.deactivate_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reactivates a user the caller's practice deactivated (not one deactivated by plan staff).
#[utoipa::path(post, path = "/practice/users/{id}/reactivate", operation_id = "reactivate_practice_user", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_YOURS_OR_ADMIN),
        (status = 404, description = NOT_FOUND_USER),
        (status = 422, description = "`invalid`: the user is the caller or is not deactivated, plan staff deactivated them, or the plan's reactivation window has passed"),
    ))]
pub async fn reactivate(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.reactivate_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Emails a user a single-use link (72 hours) to choose a new password.
///
/// Only for an active user all of whose Tax IDs the caller administers.
#[utoipa::path(post, path = "/practice/users/{id}/password-reset", operation_id = "send_practice_password_reset", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_YOURS_ADMIN_OR_OWN),
        (status = 404, description = NOT_FOUND_USER),
        (status = 422, description = "`invalid`: the user has not signed up yet (resend the invitation instead) or is deactivated"),
    ))]
pub async fn reset_password(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.send_member_reset_link(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who takes over as administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    /// The new administrator's affiliation with the practice (from `GET /practice/users/{id}`).
    #[schema(value_type = i64)]
    pub affiliation_id: AffiliationId,
}

/// Makes another user the administrator of a Tax ID and steps the caller down, in one change.
///
/// The caller stays a user of the practice; if it was the only practice they administered, their
/// next call to these paths answers 403.
#[utoipa::path(post, path = "/practice/hand-over", operation_id = "hand_over_practice_admin", security(("bearer" = [])),
    request_body(content = HandOverBody, example = json!({"affiliation_id": 2})),
    responses(
        (status = 204),
        (status = 403, description = NOT_ADMIN),
        (status = 404, description = NOT_FOUND_AFFILIATION),
        (status = 409, description = LAST_ADMIN),
        (status = 422, description = "`invalid`: the affiliation is the caller's own, or its user is not active and signed up"),
    ))]
pub async fn hand_over(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(Obj(b)): JsonBody<Obj<HandOverBody>>,
) -> Result<StatusCode, ApiError> {
    st.svc.hand_over_admin(&c.grant, &c.plan.0, b.affiliation_id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// One person to invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRowBody {
    #[schema(schema_with = super::schema::person_name)]
    pub first_name: String,
    #[schema(schema_with = super::schema::person_name)]
    pub last_name: String,
    #[schema(schema_with = super::schema::email)]
    pub email: String,
    /// The email address again (case aside): a row whose two differ is not sent.
    #[schema(schema_with = super::schema::email)]
    pub email_confirm: String,
    /// Practices of the caller's. May be left out by the administrator of exactly one practice:
    /// that practice is meant.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub practice_ids: Vec<PracticeId>,
    #[schema(schema_with = user_type_key)]
    pub user_type: String,
    /// All of the Tax IDs' providers (`true`, the default), or those in `providers`.
    #[serde(default = "all")]
    #[schema(default = true)]
    pub all_providers: bool,
    /// Provider row ids (from the roster) when not all; each practice gets those that are its own.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// The rows of a list: 1 to [`MAX_BATCH`].
fn invite_rows() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new().items(InviteRowBody::schema()).min_items(Some(1)).max_items(Some(MAX_BATCH)).build()
}

/// A list to invite at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// One person a row, each sent on its own: one refused row does not hold back the others.
    #[schema(schema_with = invite_rows)]
    pub rows: Vec<InviteRowBody>,
}

impl InviteBody {
    /// Refuses a row with a value outside its schema, naming it (`rows[2].email`); the rows'
    /// own rules are answered row by row.
    fn check(&self) -> Result<(), ApiError> {
        for (i, r) in self.rows.iter().enumerate() {
            let at = |field: &str| format!("rows[{i}].{field}");
            require(is_person_name(&r.first_name), at("first_name"), A_NAME)?;
            require(is_person_name(&r.last_name), at("last_name"), A_NAME)?;
            require(is_email(&r.email), at("email"), AN_EMAIL)?;
            require(is_email(&r.email_confirm), at("email_confirm"), AN_EMAIL)?;
            require(is_user_type_key(&r.user_type), at("user_type"), A_USER_TYPE)?;
        }
        Ok(())
    }
}

/// The result of one row.
#[derive(Serialize, ToSchema)]
pub struct InviteResult {
    pub email: String,
    /// Whether the row was sent (an invitation or an offer).
    pub ok: bool,
    /// The new invited account (not given for an offer: that account is not yours to see).
    pub user_id: Option<i64>,
    /// True when a new invited account was made and given the Tax IDs.
    pub new_account: Option<bool>,
    /// True when an account already used the email: it was *offered* the Tax IDs and nothing is
    /// attached until its person accepts (the offer is listed under `/api/v1/practice/offers`).
    pub offered: Option<bool>,
    /// What happened, for a person (e.g. that the account was asked to accept).
    pub note: Option<String>,
    /// Why the row was not sent (a Tax ID not the caller's, emails that differ, already a user,
    /// already invited, an email of plan staff, …).
    pub error: Option<String>,
}

/// Invites a list of people, with a result per row, in order.
///
/// An email that already has an account is offered the Tax IDs (`offered: true`) instead of
/// being given them.
#[utoipa::path(post, path = "/practice/invitations", operation_id = "invite_practice_users", security(("bearer" = [])),
    request_body(content = InviteBody, example = json!({"rows": [{
        "first_name": "Ann", "last_name": "Newhire", "email": "ann.newhire@clinic.example",
        "email_confirm": "ann.newhire@clinic.example", "practice_ids": [1], "user_type": "billing_staff",
        "all_providers": true
    }]})),
    responses(
        (status = 200, body = [InviteResult]),
        (status = 403, description = NOT_ADMIN),
        (status = 422, description = "`invalid`: the list is empty or longer than the caller may send at once"),
    ))]
pub async fn invite(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(Obj(b)): JsonBody<Obj<InviteBody>>,
) -> Result<Json<Vec<InviteResult>>, ApiError> {
    b.check()?;
    let rows: Vec<InviteRow> = b
        .rows
        .iter()
        .map(|r| InviteRow {
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            email: r.email.clone(),
            email_confirm: r.email_confirm.clone(),
            practices: r.practice_ids.iter().map(|p| p.0).collect(),
            user_type: r.user_type.clone(),
            scope: scope(r.all_providers, &r.providers),
        })
        .collect();
    let results = st.svc.invite_batch(&c.grant, &c.plan.0, &rows, &c.meta).await.map_err(error)?;
    Ok(Json(
        b.rows
            .iter()
            .zip(results)
            .map(|(r, res)| match res {
                Ok(i) => InviteResult {
                    email: i.email,
                    ok: true,
                    user_id: (!i.offered).then_some(i.user_id.0),
                    new_account: Some(i.new_account),
                    offered: Some(i.offered),
                    note: i.offered.then(|| OFFERED_NOTE.to_owned()),
                    error: None,
                },
                Err(e) => InviteResult {
                    email: r.email.clone(),
                    ok: false,
                    user_id: None,
                    new_account: None,
                    offered: None,
                    note: None,
                    error: Some(e),
                },
            })
            .collect(),
    ))
}

/// A pending invitation.
#[derive(Serialize, ToSchema)]
pub struct PendingBody {
    /// The invited account (for resend and cancel).
    pub user_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// When the link was last sent (Unix seconds).
    pub sent_at: i64,
    /// When the link stops working (Unix seconds).
    pub expires_at: i64,
}

/// Lists the caller's pending invitations.
///
/// An invitation is pending until its person signs up, or 7 days after the link was last sent.
#[utoipa::path(get, path = "/practice/invitations", operation_id = "list_practice_invitations", security(("bearer" = [])),
    responses(
        (status = 200, body = [PendingBody]),
        (status = 403, description = NOT_ADMIN),
    ))]
pub async fn pending(State(st): State<AppState>, c: Caller) -> Result<Json<Vec<PendingBody>>, ApiError> {
    let list = st.svc.pending_invitations(&c.grant, &c.plan.0).await.map_err(error)?;
    Ok(Json(
        list.into_iter()
            .map(|p| PendingBody {
                user_id: p.user_id.0,
                first_name: p.first_name,
                last_name: p.last_name,
                email: p.email,
                sent_at: p.sent_at,
                expires_at: p.expires_at,
            })
            .collect(),
    ))
}

const NOT_FOUND_INVITATION: &str =
    "`not_found`: the caller has no pending invitation of this user (another administrator's reads the same)";

/// Sends a pending invitation's link again (the old link stops working; both clocks restart).
#[utoipa::path(post, path = "/practice/invitations/{user}/resend", operation_id = "resend_practice_invitation", security(("bearer" = [])),
    params(("user" = i64, Path, description = "The invited user's id (`user_id` of the pending invitation)")),
    responses((status = 204), (status = 403, description = NOT_ADMIN), (status = 404, description = NOT_FOUND_INVITATION)))]
pub async fn resend(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(user): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.resend_invitation(&c.grant, &c.plan.0, user, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a pending invitation: the link dies and the invited user loses the caller's Tax IDs.
#[utoipa::path(delete, path = "/practice/invitations/{user}", operation_id = "cancel_practice_invitation", security(("bearer" = [])),
    params(("user" = i64, Path, description = "The invited user's id (`user_id` of the pending invitation)")),
    responses((status = 204), (status = 403, description = NOT_ADMIN), (status = 404, description = NOT_FOUND_INVITATION)))]
pub async fn cancel(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(user): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.cancel_invitation(&c.grant, &c.plan.0, user, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `s` fits `schema` as a JSON Schema validator reads it (length in characters, the
    /// pattern, the enum).
    fn fits(schema: &Object, s: &str) -> bool {
        let pattern = schema.pattern.as_deref().unwrap_or(".*");
        let re = regex::Regex::new(pattern).expect("pattern");
        let listed = schema.enum_values.as_ref().is_none_or(|values| values.iter().any(|v| v == &json!(s)));
        within(schema, s) && re.is_match(s) && listed
    }

    /// Edge values, with the white space and control characters a page's form forgives.
    fn edges(extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["", " ", "\t", "a", " a", "a ", "a\tb", "a\nb", "a b", "a\u{7}b", "a\u{85}b", "<b>"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    }

    /// Each check refuses exactly what its schema refuses, on the edges.
    #[test]
    fn checks_agree_with_their_schemas() {
        let long = |n: usize| "x".repeat(n);
        type Case = (Object, fn(&str) -> bool, Vec<String>);
        let cases: [Case; 9] = [
            (super::super::schema::username(), is_username, edges(&["jdoe", "j;doe", &long(64), &long(65)])),
            (
                super::super::schema::email(),
                is_email,
                edges(&["a@b.co", "a@b.c", " a@b.co", "a@b.co ", "a b@c.de", "a@b", &format!("{}@b.co", long(65))]),
            ),
            (super::super::schema::person_name(), is_person_name, edges(&["Maria", " Maria", &long(60), &long(61)])),
            (user_type_key(), is_user_type_key, edges(&["billing_staff", "Billing", "a-b", &long(40), &long(41)])),
            (optional_text(), is_text, edges(&["1 Main St", &long(100), &long(101)])),
            (optional_phone(), is_phone, edges(&["206-555-0143", "+12065550143", &long(32), &long(33)])),
            (optional_state(), is_state, edges(&["WA", "wa", " WA", "DC", "AA", "XX"])),
            (optional_zip(), is_zip, edges(&["98402", "98402-1234", "984021234", " 98402", "9840", "98402-", "abcde"])),
            (
                super::super::schema::username(),
                |s| Username::parse(s).is_ok(),
                edges(&["J.Doe-2", "j@clinic.example", "a'b"]),
            ),
        ];
        for (schema, check, values) in cases {
            for v in values {
                assert_eq!(fits(&schema, &v), check(&v), "{v:?} against {:?}", schema.pattern);
            }
        }
    }

    /// A value the check accepts is one the domain accepts too (so positive data reaches the
    /// service's rules, never a refusal of the schema's own).
    #[test]
    fn checked_values_parse_in_the_domain() {
        for v in ["98402", "98402-1234", "984021234"] {
            assert!(is_zip(v) && gatehouse_domain::roster::Zip::parse(v).is_ok(), "{v}");
        }
        for v in gatehouse_domain::roster::state::CODES {
            assert!(is_state(v) && gatehouse_domain::roster::UsState::parse(v).is_some(), "{v}");
        }
        for v in ["Maria", " Mary  Ann ", "O'Brien"] {
            assert!(is_person_name(v) && gatehouse_domain::PersonName::parse(v, v).is_ok(), "{v}");
        }
        for v in ["billing_staff", "a", "x9_"] {
            assert!(is_user_type_key(v), "{v}");
        }
    }

    #[test]
    fn the_directory_query_refuses_what_its_schema_does() {
        let q = |s: &str| serde_urlencoded::from_str::<DirectoryQuery>(s).expect("parses").request();
        let r = q("q=lee&status=invited&user_type=billing_staff&practice=3&sort=email&dir=desc&page=2").expect("fits");
        assert_eq!((r.status.as_str(), r.sort.as_str(), r.dir.as_str(), r.page), ("invited", "email", "desc", Some(2)));
        let r = q("").expect("all optional");
        assert_eq!((r.status.as_str(), r.sort.as_str(), r.dir.as_str(), r.page), ("", "name", "asc", None));
        assert_eq!(q("user_type=Billing").map_err(|e| e.field).expect_err("key"), Some("user_type".to_owned()));
        assert_eq!(q("page=0").map_err(|e| e.field).expect_err("page"), Some("page".to_owned()));
        assert!(serde_urlencoded::from_str::<DirectoryQuery>("status=gone").is_err());
        assert!(serde_urlencoded::from_str::<DirectoryQuery>("sort=").is_err());
        assert_eq!(q(&format!("q={}", "a".repeat(500))).expect("long").q.chars().count(), MAX_SEARCH);
    }

    #[test]
    fn a_body_is_an_object() {
        use super::super::body::parse;
        let refused = |body: &str| parse::<Obj<EditMemberBody>>(body.as_bytes()).map(|_| ()).expect_err(body);
        for body in ["[null, null]", "[]", "null", "\"x\"", "1"] {
            assert_eq!(refused(body).code, "invalid_body", "{body}");
        }
        let e = parse::<Obj<HandOverBody>>(b"{\"affiliation_id\": \"x\"}").expect_err("type");
        assert_eq!((e.code, e.field.as_deref()), ("invalid_body", Some("affiliation_id")));
        let e = parse::<Obj<InviteBody>>(b"{\"rows\": [{\"first_name\": \"A\"}]}").expect_err("missing");
        assert_eq!(e.field.as_deref(), Some("rows[0].last_name"));
        let Obj(b) = parse::<Obj<HandOverBody>>(b"{\"affiliation_id\": 7}").expect("fits");
        assert_eq!(b.affiliation_id, AffiliationId(7));
    }

    #[test]
    fn an_edit_reads_only_what_is_sent() {
        let b: EditMemberBody = serde_json::from_str(r#"{"city": "", "first_name": null}"#).expect("fits");
        assert_eq!(b.city.as_deref(), Some(""));
        assert!(b.first_name.is_none() && b.email.is_none());
        assert!(serde_json::from_str::<EditMemberBody>(r#"{"nickname": "x"}"#).is_err());
        let bad: EditMemberBody = serde_json::from_str(r#"{"state": "wa"}"#).expect("shape");
        assert_eq!(
            bad.check().map_err(|e| (e.code, e.field)).expect_err("state"),
            ("invalid_body", Some("state".into()))
        );
    }
}
