//! "Portal User Information": one user of the administrator's practices, one section per Tax ID
//! affiliation, and every change: user type, provider association, administrator flag, adding
//! and removing a Tax ID, revoking, deactivating and reactivating, handing the administrator role
//! over. Destructive changes go through a confirmation page.

use super::{PracticeAdmin, status_label};
use crate::pages::ConfirmPage;
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::{AffiliationId, PracticeId, ProviderRowId, UserId};
use gatehouse_services::access_requests::Scope;
use gatehouse_services::practice::PracticeError;
use gatehouse_services::practice::access::{MemberAdded, NewMemberAffiliation};
use gatehouse_services::practice::members::MemberDetail;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/practice/users/{id}", get(detail))
        .route("/practice/users/{id}/edit", get(edit_form).post(edit_save))
        .route("/practice/users/{id}/affiliations", post(add))
        .route("/practice/users/{id}/affiliations/new", get(add_form))
        .route("/practice/users/{id}/affiliations/{aid}/type", post(set_type))
        .route("/practice/users/{id}/affiliations/{aid}/admin", post(set_admin))
        .route("/practice/users/{id}/affiliations/{aid}/providers", get(providers_form).post(providers_save))
        .route("/practice/users/{id}/affiliations/{aid}/{action}", get(confirm_affiliation).post(act_affiliation))
        .route("/practice/users/{id}/{action}", get(confirm_user).post(act_user))
}

/// What a `?done=` notice says.
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "type" => "The user type was saved. This change is effective immediately.",
        "edited" => "The user's information was saved.",
        "edited-relinked" => {
            "The user's information was saved. They have not signed up yet, so a new sign-up link went to their new email address; the link sent before no longer works."
        }
        "providers" => "The provider association was saved. This change is effective immediately.",
        "added" => {
            "The user's Tax ID and Provider Associations have been successfully added. This change is effective immediately."
        }
        "offered" => {
            "We asked the user to accept this Tax ID: it is added to their account when they accept it, after they sign in. You can see or withdraw the offer under Manage Pending Users."
        }
        "removed" => "The Tax ID affiliation was removed. This change is effective immediately.",
        "admin" => "The user is now an administrator of this Tax ID.",
        "unadmin" => "The user is no longer an administrator of this Tax ID.",
        "handed-over" => "The user is now the administrator; you are no longer an administrator of this Tax ID.",
        "deactivated" => "The user was deactivated and signed out everywhere. They can no longer sign in.",
        "reactivated" => "The user was reactivated and can sign in again.",
        "reset-sent" => "A password reset link was emailed to the user. It works once, for 72 hours.",
        _ => return None,
    })
}

struct ProviderView {
    provider_id: String,
    npi: String,
    name: String,
}

struct AffiliationView {
    id: i64,
    tax_id: String,
    practice_name: String,
    user_type: String,
    is_admin: bool,
    all_providers: bool,
    providers: Vec<ProviderView>,
}

#[derive(Template)]
#[template(path = "practice/member.html")]
struct MemberPage {
    chrome: Chrome,
    id: i64,
    name: String,
    username: String,
    email: String,
    phone: String,
    status: &'static str,
    deactivated: bool,
    /// Signed up and active: may be made an administrator.
    active: bool,
    is_self: bool,
    elsewhere: bool,
    last_signin: String,
    idle: bool,
    /// Contact details given: (label, value).
    contact: Vec<(&'static str, String)>,
    affiliations: Vec<AffiliationView>,
    user_types: Vec<(String, String)>,
    /// Administered practices the user does not have yet.
    addable: Vec<(i64, String)>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

async fn detail(admin: PracticeAdmin, Path(id): Path<UserId>, Query(d): Query<Done>) -> Response {
    let st = admin.state();
    let m = match st.svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    let types = match st.svc.list_user_types(&admin.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let c = m.contact.clone();
    let state_zip = format!("{} {}", c.state, c.zip);
    let address = [c.street.as_str(), c.city.as_str(), state_zip.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let contact: Vec<(&'static str, String)> = [
        ("Mobile phone", crate::pages::phone_for_form(&c.mobile_phone)),
        ("Office phone", crate::pages::phone_for_form(&c.office_phone)),
        ("Fax", crate::pages::phone_for_form(&c.fax)),
        ("Office address", address),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let mut p = page(&admin, m, &types, notice(&d.done)).await;
    p.contact = contact;
    render(StatusCode::OK, &p)
}

async fn page(
    admin: &PracticeAdmin,
    m: MemberDetail,
    types: &[gatehouse_services::user_types::UserTypeRow],
    notice: Option<&'static str>,
) -> MemberPage {
    let held: Vec<PracticeId> = m.affiliations.iter().map(|a| PracticeId(a.row.practice_id)).collect();
    MemberPage {
        chrome: admin.chrome().await,
        id: m.user.id.0,
        name: [m.user.first_name.as_str(), m.user.middle_name.as_str(), m.user.last_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        username: m.user.username.clone().unwrap_or_else(|| "(not signed up yet)".into()),
        email: m.user.email.clone(),
        phone: m.user.two_step_phone.as_deref().map(gatehouse_domain::phone::mask_digits).unwrap_or_else(|| "—".into()),
        status: status_label(m.user.status),
        deactivated: m.user.status == gatehouse_domain::UserStatus::Deactivated,
        active: m.user.status == gatehouse_domain::UserStatus::Active,
        is_self: m.user.id == admin.grant.actor(),
        elsewhere: m.elsewhere,
        last_signin: m.user.last_signin_at.map(|t| when(&admin.plan.0, t)).unwrap_or_else(|| "Never".into()),
        idle: m.idle,
        contact: Vec::new(),
        affiliations: m
            .affiliations
            .into_iter()
            .map(|a| AffiliationView {
                id: a.row.id,
                tax_id: a.row.tax_id,
                practice_name: a.row.practice_name,
                user_type: a.row.user_type,
                is_admin: a.row.is_admin,
                all_providers: a.row.all_providers,
                providers: a
                    .providers
                    .into_iter()
                    .map(|p| ProviderView { provider_id: p.provider_id, npi: p.npi, name: p.name })
                    .collect(),
            })
            .collect(),
        user_types: types.iter().map(|t| (t.key.as_str().to_owned(), t.name.clone())).collect(),
        addable: admin
            .grant
            .practices()
            .iter()
            .filter(|p| !held.contains(&p.id))
            .map(|p| (p.id.0, format!("{} – {}", p.tax_id, p.name)))
            .collect(),
        notice,
    }
}

fn back(id: UserId, done: &str) -> Response {
    Redirect::to(&format!("/practice/users/{id}?done={done}")).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TypeForm {
    user_type: String,
}

async fn set_type(
    admin: PracticeAdmin,
    Path((id, aid)): Path<(UserId, AffiliationId)>,
    Form(f): Form<TypeForm>,
) -> Response {
    match admin.state().svc.set_member_user_type(&admin.grant, &admin.plan.0, aid, &f.user_type, &admin.meta).await {
        Ok(()) => back(id, "type"),
        Err(e) => admin.refused(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdminForm {
    admin: String,
}

/// Makes the user an administrator of the affiliation's practice (after the confirmation page),
/// or revokes that.
async fn set_admin(
    admin: PracticeAdmin,
    Path((id, aid)): Path<(UserId, AffiliationId)>,
    Form(f): Form<AdminForm>,
) -> Response {
    let make = f.admin == "1";
    match admin.state().svc.set_member_admin(&admin.grant, &admin.plan.0, aid, make, &admin.meta).await {
        Ok(()) => back(id, if make { "admin" } else { "unadmin" }),
        Err(e) => admin.refused(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddChoice {
    practice: i64,
    user_type: String,
}

#[derive(Template)]
#[template(path = "practice/add_affiliation.html")]
struct AddAffiliationPage {
    chrome: Chrome,
    id: i64,
    name: String,
    practice_id: i64,
    practice_label: String,
    user_type: String,
    user_type_name: String,
    all: bool,
    /// (row id, provider ID, NPI, name, chosen)
    providers: Vec<(i64, String, String, String, bool)>,
    error: Option<String>,
}

/// The last step of adding a Tax ID: the providers (for a Tax ID with more than one), then
/// confirm. Nothing is granted before the form on this page is sent.
async fn add_form(admin: PracticeAdmin, Path(id): Path<UserId>, Query(c): Query<AddChoice>) -> Response {
    add_page(&admin, id, c, false, &[], None).await
}

async fn add_page(
    admin: &PracticeAdmin,
    id: UserId,
    c: AddChoice,
    all: bool,
    chosen: &[ProviderRowId],
    error: Option<String>,
) -> Response {
    let st = admin.state();
    let m = match st.svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    let practice = PracticeId(c.practice);
    let Some(p) = admin.grant.practices().iter().find(|p| p.id == practice) else {
        // No Tax ID of theirs chosen (the form was skipped): back to the user's page to choose.
        return Redirect::to(&format!("/practice/users/{id}")).into_response();
    };
    let types = match st.svc.list_user_types(&admin.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let Some(t) = types.iter().find(|t| t.key.as_str() == c.user_type.trim()) else {
        return admin.refused(PracticeError::Invalid("Choose one of the user types.".into()));
    };
    let list = match st.svc.practice_providers(&admin.grant, practice, "", &admin.meta).await {
        Ok(l) => l,
        Err(e) => return admin.refused(e),
    };
    render(
        if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        &AddAffiliationPage {
            chrome: admin.chrome().await,
            id: id.0,
            name: format!("{} {}", m.user.first_name, m.user.last_name),
            practice_id: practice.0,
            practice_label: format!("{} – {}", p.tax_id, p.name),
            user_type: t.key.as_str().to_owned(),
            user_type_name: t.name.clone(),
            all,
            providers: list
                .into_iter()
                .map(|p| {
                    let on = chosen.contains(&ProviderRowId(p.id));
                    (p.id, p.provider_id, p.npi, p.name, on)
                })
                .collect(),
            error,
        },
    )
}

async fn add(admin: PracticeAdmin, Path(id): Path<UserId>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let all = value("scope") == "all";
    let chosen: Vec<ProviderRowId> =
        form.iter().filter(|(k, _)| k == "provider").filter_map(|(_, v)| v.parse().ok().map(ProviderRowId)).collect();
    let choice =
        AddChoice { practice: value("practice").parse().unwrap_or(-1), user_type: value("user_type").to_owned() };
    let scope = if all { Scope::All } else { Scope::Providers(chosen.clone()) };
    let new =
        NewMemberAffiliation { practice_id: PracticeId(choice.practice), user_type: choice.user_type.clone(), scope };
    match admin.state().svc.add_member_affiliation(&admin.grant, &admin.plan.0, id, &new, &admin.meta).await {
        Ok(MemberAdded::Linked(_)) => back(id, "added"),
        Ok(MemberAdded::Offered(_)) => back(id, "offered"),
        Err(PracticeError::Invalid(m)) => add_page(&admin, id, choice, all, &chosen, Some(m)).await,
        Err(e) => admin.refused(e),
    }
}

#[derive(Template)]
#[template(path = "practice/providers.html")]
struct ProvidersPage {
    chrome: Chrome,
    id: i64,
    aid: i64,
    practice_label: String,
    all: bool,
    q: String,
    new: bool,
    /// (row id, provider ID, NPI, name, chosen)
    providers: Vec<(i64, String, String, String, bool)>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProvidersQuery {
    q: String,
    new: String,
}

async fn providers_form(
    admin: PracticeAdmin,
    Path((id, aid)): Path<(UserId, AffiliationId)>,
    Query(q): Query<ProvidersQuery>,
) -> Response {
    providers_page(&admin, id, aid, &q.q, q.new == "1", None).await
}

async fn providers_page(
    admin: &PracticeAdmin,
    id: UserId,
    aid: AffiliationId,
    q: &str,
    new: bool,
    error: Option<String>,
) -> Response {
    let st = admin.state();
    let m = match st.svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    let Some(a) = m.affiliations.into_iter().find(|a| a.id() == aid) else {
        return admin.refused(PracticeError::NotFound);
    };
    let list = match st.svc.practice_providers(&admin.grant, PracticeId(a.row.practice_id), q, &admin.meta).await {
        Ok(l) => l,
        Err(e) => return admin.refused(e),
    };
    let chosen: Vec<i64> = a.providers.iter().map(|p| p.id.0).collect();
    render(
        if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        &ProvidersPage {
            chrome: admin.chrome().await,
            id: id.0,
            aid: aid.0,
            practice_label: format!("{} – {}", a.row.tax_id, a.row.practice_name),
            all: a.row.all_providers,
            q: q.to_owned(),
            new,
            providers: list
                .into_iter()
                .map(|p| {
                    let on = chosen.contains(&p.id);
                    (p.id, p.provider_id, p.npi, p.name, on)
                })
                .collect(),
            error,
        },
    )
}

async fn providers_save(
    admin: PracticeAdmin,
    Path((id, aid)): Path<(UserId, AffiliationId)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let all = form.iter().any(|(k, v)| k == "scope" && v == "all");
    let ids: Vec<ProviderRowId> =
        form.iter().filter(|(k, _)| k == "provider").filter_map(|(_, v)| v.parse().ok().map(ProviderRowId)).collect();
    let scope = if all { Scope::All } else { Scope::Providers(ids) };
    match admin.state().svc.set_member_providers(&admin.grant, &admin.plan.0, aid, &scope, &admin.meta).await {
        Ok(()) => back(id, "providers"),
        Err(PracticeError::Invalid(m)) => providers_page(&admin, id, aid, "", false, Some(m)).await,
        Err(e) => admin.refused(e),
    }
}

/// The confirmation of an action on one affiliation: (heading, question, button).
fn affiliation_question(action: &str, name: &str, label: &str) -> Option<(String, String, String)> {
    Some(match action {
        "remove" => (
            "Remove Tax ID affiliation".into(),
            format!("Remove {name}'s access to {label}? They can no longer act for this Tax ID or its providers."),
            "Remove".into(),
        ),
        "make-admin" => (
            "Make administrator".into(),
            format!(
                "Make {name} an administrator of {label}? They will be able to invite, change and deactivate users of this Tax ID."
            ),
            "Make administrator".into(),
        ),
        "hand-over" => (
            "Hand over the administrator role".into(),
            format!(
                "Make {name} the administrator of {label} and step down yourself? You will keep your access, but no longer manage this Tax ID's users."
            ),
            "Hand over and step down".into(),
        ),
        _ => return None,
    })
}

/// The confirmation of an action on the user: (heading, question, button).
fn user_question(action: &str, name: &str) -> Option<(String, String, String)> {
    Some(match action {
        "revoke" => (
            "Revoke user".into(),
            format!(
                "Remove {name} from all of the Tax IDs you administer? Their account stays, for any other practice they work for."
            ),
            "Revoke user".into(),
        ),
        "deactivate" => (
            "Deactivate user".into(),
            format!("Deactivate {name}? They are signed out everywhere at once and cannot sign in until reactivated."),
            "Deactivate".into(),
        ),
        "reactivate" => {
            ("Reactivate user".into(), format!("Reactivate {name}? They can sign in again."), "Reactivate".into())
        }
        "reset-password" => (
            "Reset password".into(),
            "Are you sure you want to reset the password for this user? They will receive an email with a link and instructions to reset their password.".into(),
            "Reset password".into(),
        ),
        _ => return None,
    })
}

async fn confirm_affiliation(
    admin: PracticeAdmin,
    Path((id, aid, action)): Path<(UserId, AffiliationId, String)>,
) -> Response {
    let m = match admin.state().svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    let Some(a) = m.affiliations.iter().find(|a| a.id() == aid) else {
        return admin.refused(PracticeError::NotFound);
    };
    let name = format!("{} {}", m.user.first_name, m.user.last_name);
    let Some((heading, question, confirm_label)) =
        affiliation_question(&action, &name, &format!("{} – {}", a.row.tax_id, a.row.practice_name))
    else {
        return admin.refused(PracticeError::NotFound);
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome: admin.chrome().await,
            heading,
            question,
            action: format!("/practice/users/{id}/affiliations/{aid}/{action}"),
            confirm_label,
            cancel_href: format!("/practice/users/{id}"),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn act_affiliation(
    admin: PracticeAdmin,
    Path((id, aid, action)): Path<(UserId, AffiliationId, String)>,
) -> Response {
    let st = admin.state();
    let (plan, grant, meta) = (&admin.plan.0, &admin.grant, &admin.meta);
    let r = match action.as_str() {
        "remove" => match st.svc.remove_member_affiliation(grant, plan, aid, meta).await {
            Ok(r) if r.still_yours => Ok("removed"),
            // Their page is no longer this administrator's: say what happened on its own page.
            Ok(r) => {
                return admin.message(
                    StatusCode::OK,
                    "Tax ID affiliation removed",
                    &format!(
                        "{} was removed from {}. This change is effective immediately.",
                        r.user_name, r.practice_name
                    ),
                    "/practice/users",
                    "Back to User Management",
                );
            }
            Err(e) => Err(e),
        },
        "make-admin" => st.svc.set_member_admin(grant, plan, aid, true, meta).await.map(|()| "admin"),
        "hand-over" => st.svc.hand_over_admin(grant, plan, aid, meta).await.map(|()| "handed-over"),
        _ => Err(PracticeError::NotFound),
    };
    match r {
        Ok(done) => back(id, done),
        Err(e) => admin.refused(e),
    }
}

async fn confirm_user(admin: PracticeAdmin, Path((id, action)): Path<(UserId, String)>) -> Response {
    let m = match admin.state().svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    if action != "revoke"
        && let Err(e) = m.require_whole_account("change their account")
    {
        return admin.refused(e);
    }
    if action == "reset-password"
        && let Err(e) = gatehouse_services::practice::members::require_not_own(&admin.grant, id)
    {
        return admin.refused(e);
    }
    let name = format!("{} {}", m.user.first_name, m.user.last_name);
    let Some((heading, question, confirm_label)) = user_question(&action, &name) else {
        return admin.refused(PracticeError::NotFound);
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome: admin.chrome().await,
            heading,
            question,
            action: format!("/practice/users/{id}/{action}"),
            confirm_label,
            cancel_href: format!("/practice/users/{id}"),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn act_user(admin: PracticeAdmin, Path((id, action)): Path<(UserId, String)>) -> Response {
    let st = admin.state();
    let (plan, grant, meta) = (&admin.plan.0, &admin.grant, &admin.meta);
    let r = match action.as_str() {
        "revoke" => match st.svc.revoke_member(grant, plan, id, meta).await {
            Ok(_) => {
                return admin.message(
                    StatusCode::OK,
                    "User revoked",
                    "The user was removed from your Tax IDs. This change is effective immediately.",
                    "/practice/users",
                    "Back to User Management",
                );
            }
            Err(e) => Err(e),
        },
        "deactivate" => st.svc.deactivate_member(grant, plan, id, meta).await.map(|()| "deactivated"),
        "reset-password" => return reset_password(&admin, id).await,
        "reactivate" => st.svc.reactivate_member(grant, plan, id, meta).await.map(|()| "reactivated"),
        _ => Err(PracticeError::NotFound),
    };
    match r {
        Ok(done) => back(id, done),
        Err(e) => admin.refused(e),
    }
}

#[derive(Template)]
#[template(path = "practice/edit.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    name: String,
    fields: Vec<crate::pages::EditField>,
    has_errors: bool,
}

const EDIT_FIELDS: [(&str, &str, &str, &str); 13] = [
    ("username", "Username", "text", "The user signs in with it; we email them when it changes."),
    ("first_name", "First name", "text", ""),
    ("middle_name", "Middle name", "text", "Optional."),
    ("last_name", "Last name", "text", ""),
    ("email", "Email", "email", ""),
    ("email_confirm", "Email again", "email", ""),
    (
        "mobile_phone",
        "Mobile phone",
        "tel",
        "Optional. This is not the two-step phone, which only the user can change.",
    ),
    ("office_phone", "Office phone", "tel", "Optional."),
    ("fax", "Fax", "tel", "Optional."),
    ("street", "Street address", "text", "Optional."),
    ("city", "City", "text", "Optional."),
    ("state", "State", "text", "Optional. Two letters, like WA."),
    ("zip", "ZIP code", "text", "Optional."),
];

fn form_value(f: &gatehouse_domain::profile::ProfileForm, name: &str) -> String {
    match name {
        "username" => &f.username,
        "first_name" => &f.first_name,
        "middle_name" => &f.middle_name,
        "last_name" => &f.last_name,
        "email" => &f.email,
        "email_confirm" => &f.email_confirm,
        "mobile_phone" => &f.mobile_phone,
        "office_phone" => &f.office_phone,
        "fax" => &f.fax,
        "street" => &f.street,
        "city" => &f.city,
        "state" => &f.state,
        _ => &f.zip,
    }
    .clone()
}

fn edit_page(
    admin_chrome: Chrome,
    id: i64,
    name: String,
    f: &gatehouse_domain::profile::ProfileForm,
    errors: Option<&gatehouse_domain::profile::ProfileErrors>,
) -> Response {
    let fields = EDIT_FIELDS
        .iter()
        // An invited user has no username yet: they choose it at sign-up.
        .filter(|(n, ..)| *n != "username" || !f.username.is_empty() || errors.is_some_and(|e| e.get(n).is_some()))
        .map(|(n, label, kind, hint)| crate::pages::EditField {
            name: n,
            label,
            kind,
            value: form_value(f, n),
            error: errors.and_then(|e| e.get(n)).map(str::to_owned),
            hint,
        })
        .collect();
    let status = if errors.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(status, &EditPage { chrome: admin_chrome, id, name, fields, has_errors: errors.is_some() })
}

async fn edit_form(admin: PracticeAdmin, Path(id): Path<UserId>) -> Response {
    let st = admin.state();
    let m = match st.svc.member(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(m) => m,
        Err(e) => return admin.refused(e),
    };
    let allowed = gatehouse_services::practice::members::require_not_own(&admin.grant, id)
        .and_then(|()| m.require_whole_account("change their account"));
    if let Err(e) = allowed {
        return admin.refused(e);
    }
    let c = m.contact;
    let f = gatehouse_domain::profile::ProfileForm {
        username: m.user.username.clone().unwrap_or_default(),
        first_name: m.user.first_name.clone(),
        middle_name: m.user.middle_name.clone(),
        last_name: m.user.last_name.clone(),
        email: m.user.email.clone(),
        email_confirm: m.user.email.clone(),
        mobile_phone: crate::pages::phone_for_form(&c.mobile_phone),
        office_phone: crate::pages::phone_for_form(&c.office_phone),
        fax: crate::pages::phone_for_form(&c.fax),
        street: c.street,
        city: c.city,
        state: c.state,
        zip: c.zip,
    };
    let name = format!("{} {}", m.user.first_name, m.user.last_name);
    edit_page(admin.chrome().await, id.0, name, &f, None)
}

async fn edit_save(
    admin: PracticeAdmin,
    Path(id): Path<UserId>,
    Form(f): Form<gatehouse_domain::profile::ProfileForm>,
) -> Response {
    use gatehouse_services::practice::members::EditMemberError;
    match admin.state().svc.edit_member(&admin.grant, &admin.plan.0, id, &f, &admin.meta).await {
        Ok(done) if done.new_link_sent => back(id, "edited-relinked"),
        Ok(_) => back(id, "edited"),
        Err(EditMemberError::Invalid(e)) => {
            let name = format!("{} {}", f.first_name.trim(), f.last_name.trim());
            edit_page(admin.chrome().await, id.0, name, &f, Some(&e))
        }
        Err(EditMemberError::Practice(e)) => admin.refused(e),
    }
}

/// Emails the user a password reset link, as their administrator (the service checks that
/// they administer every Tax ID the user works for).
async fn reset_password(admin: &PracticeAdmin, id: UserId) -> Response {
    match admin.state().svc.send_member_reset_link(&admin.grant, &admin.plan.0, id, &admin.meta).await {
        Ok(()) => back(id, "reset-sent"),
        Err(e) => admin.refused(e),
    }
}
