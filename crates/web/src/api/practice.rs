//! Practice administrators over JSON: the directory, one user, every change to their Tax ID
//! affiliations and account, inviting a list, and pending invitations. The caller is a signed-in
//! user (bearer session) who administers at least one Tax ID; another practice's ids answer 404.

use super::ApiError;
use super::body::{ApiPath, ApiQuery, JsonBody};
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::{AffiliationId, PracticeId, ProviderRowId, UserId};
use gatehouse_services::RequestMeta;
use gatehouse_services::access_requests::Scope;
use gatehouse_services::practice::access::{AffiliationChange, NewMemberAffiliation};
use gatehouse_services::practice::directory::DirectoryRequest;
use gatehouse_services::practice::invites::{InviteRow, OFFERED_NOTE};
use gatehouse_services::practice::{PracticeError, PracticeGrant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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
    }
}

/// One user in the directory.
#[derive(Serialize, ToSchema)]
pub struct DirectoryUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub username: Option<String>,
    pub email: String,
    /// `active`, `invited` or `deactivated`.
    pub status: String,
    pub user_types: Vec<String>,
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

/// The users of the caller's practices: `q`, `status`, `user_type`, `practice`, `provider`,
/// `sort` (name, username, email, status), `dir` (`desc`), `page`.
#[utoipa::path(get, path = "/practice/users", security(("bearer" = [])),
    responses((status = 200, body = DirectoryBody), (status = 403, body = super::ErrorBody)))]
pub async fn directory(
    State(st): State<AppState>,
    c: Caller,
    ApiQuery(req): ApiQuery<DirectoryRequest>,
) -> Result<Json<DirectoryBody>, ApiError> {
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
                status: e.row.status.as_str().to_owned(),
                user_types: e.user_types,
            })
            .collect(),
        total: p.total.shown(),
        total_is_exact: p.total.is_exact(),
        page: p.page,
        pages: p.pages,
        has_next: p.has_next,
    }))
}

/// One Tax ID affiliation of a user.
#[derive(Serialize, ToSchema)]
pub struct AffiliationBody {
    pub id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// Provider IDs, when not all.
    pub provider_ids: Vec<String>,
}

/// A user as their administrator sees them.
#[derive(Serialize, ToSchema)]
pub struct MemberBody {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub username: Option<String>,
    pub email: String,
    pub status: String,
    pub affiliations: Vec<AffiliationBody>,
    /// Also works for practices the caller does not administer.
    pub elsewhere: bool,
}

/// One user of the caller's practices (only those practices' affiliations).
#[utoipa::path(get, path = "/practice/users/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = MemberBody), (status = 404, body = super::ErrorBody)))]
pub async fn member(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<MemberBody>, ApiError> {
    let m = st.svc.member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(Json(MemberBody {
        id: m.user.id.0,
        first_name: m.user.first_name,
        last_name: m.user.last_name,
        username: m.user.username,
        email: m.user.email,
        status: m.user.status.as_str().to_owned(),
        affiliations: m
            .affiliations
            .into_iter()
            .map(|a| AffiliationBody {
                id: a.row.id,
                tax_id: a.row.tax_id,
                practice_name: a.row.practice_name,
                user_type: a.row.user_type,
                is_admin: a.row.is_admin,
                all_providers: a.row.all_providers,
                provider_ids: a.providers.into_iter().map(|p| p.provider_id).collect(),
            })
            .collect(),
        elsewhere: m.elsewhere,
    }))
}

/// The providers of an affiliation, from a body's `all_providers` and `providers`: all of the
/// Tax ID's, or the listed provider row ids; `None` when `all_providers` is not given.
fn scope(all_providers: Option<bool>, providers: &[ProviderRowId]) -> Option<Scope> {
    match all_providers {
        Some(true) => Some(Scope::All),
        Some(false) => Some(Scope::Providers(providers.to_vec())),
        None => None,
    }
}

/// A Tax ID affiliation to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAffiliationBody {
    #[schema(value_type = i64)]
    pub practice_id: PracticeId,
    pub user_type: String,
    /// All of the Tax ID's providers (`true`), or those in `providers` (`false`).
    pub all_providers: Option<bool>,
    /// Provider row ids (from the roster) when not all.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// The new affiliation's id.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Adds a Tax ID affiliation (one of the caller's) to a user of the caller's practices.
#[utoipa::path(post, path = "/practice/users/{id}/affiliations", params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = AddAffiliationBody,
    responses((status = 201, body = Created), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn add_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
    JsonBody(b): JsonBody<AddAffiliationBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new = NewMemberAffiliation {
        practice_id: b.practice_id,
        user_type: b.user_type,
        scope: scope(b.all_providers, &b.providers).unwrap_or(Scope::All),
    };
    let aid = st.svc.add_member_affiliation(&c.grant, &c.plan.0, id, &new, &c.meta).await.map_err(error)?;
    Ok((StatusCode::CREATED, Json(Created { id: aid.0 })))
}

/// Changes to one affiliation (each optional).
#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ChangeAffiliationBody {
    pub user_type: Option<String>,
    /// `true` to make administrator, `false` to revoke (refused with 409 for the last one).
    pub admin: Option<bool>,
    /// All of the Tax ID's providers (`true`), or those in `providers` (`false`).
    pub all_providers: Option<bool>,
    /// Provider row ids (from the roster) when not all.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// Changes an affiliation's user type, providers or administrator flag, all in one change.
#[utoipa::path(patch, path = "/practice/affiliations/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = ChangeAffiliationBody,
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn change_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AffiliationId>,
    JsonBody(b): JsonBody<ChangeAffiliationBody>,
) -> Result<StatusCode, ApiError> {
    let change = AffiliationChange {
        user_type: b.user_type.clone(),
        scope: scope(b.all_providers, &b.providers),
        admin: b.admin,
    };
    st.svc.change_member_affiliation(&c.grant, &c.plan.0, id, &change, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a Tax ID affiliation (409 if it would leave the Tax ID without an administrator).
#[utoipa::path(delete, path = "/practice/affiliations/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn remove_affiliation(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<AffiliationId>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_member_affiliation(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from every Tax ID the caller administers ("Revoke User"); their account stays.
#[utoipa::path(post, path = "/practice/users/{id}/revoke", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn revoke(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.revoke_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivates a user all of whose Tax IDs the caller administers: signed out everywhere at once.
#[utoipa::path(post, path = "/practice/users/{id}/deactivate", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn deactivate(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.deactivate_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reactivates a user the caller's practice deactivated (not one deactivated by plan staff).
#[utoipa::path(post, path = "/practice/users/{id}/reactivate", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn reactivate(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.reactivate_member(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Emails the user a single-use link (72 hours) to choose a new password; only for a user all of
/// whose Tax IDs the caller administers.
#[utoipa::path(post, path = "/practice/users/{id}/password-reset", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn reset_password(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    st.svc.send_member_reset_link(&c.grant, &c.plan.0, id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who takes over as administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    /// The new administrator's affiliation with the practice (from `GET /practice/users/{id}`).
    #[schema(value_type = i64)]
    pub affiliation_id: AffiliationId,
}

/// Makes another user the administrator of a Tax ID and steps the caller down, in one change.
#[utoipa::path(post, path = "/practice/hand-over", security(("bearer" = [])), request_body = HandOverBody,
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn hand_over(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(b): JsonBody<HandOverBody>,
) -> Result<StatusCode, ApiError> {
    st.svc.hand_over_admin(&c.grant, &c.plan.0, b.affiliation_id, &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One person to invite.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRowBody {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub email_confirm: String,
    /// May be left out by the administrator of exactly one practice: that practice is meant.
    #[serde(default)]
    pub practice_ids: Vec<i64>,
    pub user_type: String,
    /// All of the Tax ID's providers (`true`), or those in `providers` (`false`).
    pub all_providers: Option<bool>,
    /// Provider row ids (from the roster) when not all.
    #[serde(default)]
    #[schema(value_type = Vec<i64>)]
    pub providers: Vec<ProviderRowId>,
}

/// A list to invite at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub rows: Vec<InviteRowBody>,
}

/// The result of one row.
#[derive(Serialize, ToSchema)]
pub struct InviteResult {
    pub email: String,
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
    /// Why the row was not sent.
    pub error: Option<String>,
}

/// Invites a list; a result per row, in order. An email that already has an account is offered
/// the Tax IDs (`offered: true`) instead of being given them.
#[utoipa::path(post, path = "/practice/invitations", security(("bearer" = [])), request_body = InviteBody,
    responses((status = 200, body = [InviteResult]), (status = 422, body = super::ErrorBody)))]
pub async fn invite(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(b): JsonBody<InviteBody>,
) -> Result<Json<Vec<InviteResult>>, ApiError> {
    let rows: Vec<InviteRow> = b
        .rows
        .iter()
        .map(|r| InviteRow {
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            email: r.email.clone(),
            email_confirm: r.email_confirm.clone(),
            practices: r.practice_ids.clone(),
            user_type: r.user_type.clone(),
            scope: scope(r.all_providers, &r.providers).unwrap_or(Scope::All),
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
    pub user_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// The caller's pending invitations (until signed up, or 7 days after the link was last sent).
#[utoipa::path(get, path = "/practice/invitations", security(("bearer" = [])),
    responses((status = 200, body = [PendingBody])))]
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

/// Sends a new link (the old one stops working).
#[utoipa::path(post, path = "/practice/invitations/{user}/resend", params(("user" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn resend(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(user): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    st.svc.resend_invitation(&c.grant, &c.plan.0, UserId(user), &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a pending invitation.
#[utoipa::path(delete, path = "/practice/invitations/{user}", params(("user" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn cancel(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(user): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    st.svc.cancel_invitation(&c.grant, &c.plan.0, UserId(user), &c.meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Edits a user's names, email and contact details (the whole form; blank optional fields clear
/// them). 422 names the field at fault; refused for a user who also works for other practices.
#[utoipa::path(patch, path = "/practice/users/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    request_body(content = Object, description = "username (optional; only for users who signed up, in the plan's username format), first_name, middle_name, last_name, email, email_confirm, mobile_phone, office_phone, fax, street, city, state, zip"),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn edit_member(
    State(st): State<AppState>,
    c: Caller,
    ApiPath(id): ApiPath<UserId>,
    // The domain's form, shared with the page (whose form posts carry a CSRF token besides):
    // deliberately open, so a field it does not know is ignored rather than refused.
    JsonBody(form): JsonBody<gatehouse_domain::profile::ProfileForm>,
) -> Result<StatusCode, ApiError> {
    use gatehouse_services::practice::members::EditMemberError;
    match st.svc.edit_member(&c.grant, &c.plan.0, id, &form, &c.meta).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(EditMemberError::Invalid(e)) => {
            let first = e.0.first();
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string())
                .field(first.map(|f| f.field)))
        }
        Err(EditMemberError::Practice(e)) => Err(error(e)),
    }
}
