//! "Invite New User" (a list: Add to List, then Send Invitation, a result per row) and "Manage
//! Pending Users" (resend, cancel). Works without JavaScript: the list travels in hidden fields
//! and every row is checked again by the service when the list is sent.

use super::PracticeAdmin;
use crate::pages::ConfirmPage;
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::ids::OfferId;
use gatehouse_domain::{ProviderRowId, UserId};
use gatehouse_services::access_requests::Scope;
use gatehouse_services::offers::OfferStatus;
use gatehouse_services::practice::PracticeError;
use gatehouse_services::practice::invites::Duplicates;
use gatehouse_services::practice::invites::{
    InviteRow, MAX_BATCH, OFFERED_NOTE, RowField, RowProblem, chosen_practices, row_problems,
};

pub fn routes() -> Routes {
    Routes::new()
        .route("/practice/invite", get(invite_form).post(invite_submit))
        .route("/practice/pending", get(pending))
        .route("/practice/pending/{id}/resend", crate::routing::post(resend))
        .route("/practice/pending/{id}/cancel", get(cancel_confirm).post(cancel))
        .route("/practice/offers/{id}/cancel", get(cancel_offer_confirm).post(cancel_offer))
}

/// One row of the list as shown: name and email in fields that can be corrected where they are,
/// the rest carried in hidden fields.
struct ListRow {
    first: String,
    last: String,
    email: String,
    /// Practice ids, comma-separated.
    practices: String,
    user_type: String,
    /// Provider row ids, comma-separated; empty for all providers.
    providers: String,
    /// For people: Tax IDs, user type name, providers.
    tax_ids: String,
    type_name: String,
    scope: String,
    /// What is wrong with the row, found when the list is sent.
    errors: RowErrors,
}

/// The person being added, as typed.
#[derive(Default)]
struct Person {
    first: String,
    last: String,
    email: String,
    email_confirm: String,
    practices: Vec<i64>,
    user_type: String,
    all: bool,
    providers: Vec<i64>,
}

/// The problems of the person being added or of one row of the list, each shown beside its field.
#[derive(Default)]
struct RowErrors {
    first: Option<String>,
    last: Option<String>,
    email: Option<String>,
    email_confirm: Option<String>,
    tax_ids: Option<String>,
    user_type: Option<String>,
    providers: Option<String>,
}

impl RowErrors {
    /// The first problem of each field.
    fn of(problems: &[RowProblem]) -> Self {
        let mut e = Self::default();
        for p in problems {
            let slot = match p.field {
                RowField::FirstName => &mut e.first,
                RowField::LastName => &mut e.last,
                RowField::Email => &mut e.email,
                RowField::EmailConfirm => &mut e.email_confirm,
                RowField::TaxIds => &mut e.tax_ids,
                RowField::UserType => &mut e.user_type,
                RowField::Providers => &mut e.providers,
            };
            slot.get_or_insert_with(|| p.message.clone());
        }
        e
    }

    /// (field, its name in the summary, the problem), in the form's order.
    fn listed(&self) -> Vec<(RowField, &'static str, &str)> {
        [
            (RowField::FirstName, "First name", &self.first),
            (RowField::LastName, "Last name", &self.last),
            (RowField::Email, "Email", &self.email),
            (RowField::EmailConfirm, "Email again", &self.email_confirm),
            (RowField::TaxIds, "Tax ID(s)", &self.tax_ids),
            (RowField::UserType, "User type", &self.user_type),
            (RowField::Providers, "Providers", &self.providers),
        ]
        .into_iter()
        .filter_map(|(f, label, m)| m.as_deref().map(|m| (f, label, m)))
        .collect()
    }
}

/// What was wrong with what was sent: a sentence about the whole form, and the problems of the
/// person being added (the list's are on its rows).
#[derive(Default)]
struct Problems {
    form: Option<String>,
    person: RowErrors,
}

impl Problems {
    fn form(m: impl Into<String>) -> Self {
        Self { form: Some(m.into()), ..Default::default() }
    }
}

/// A provider to choose: (row id, provider ID, name).
type ProviderChoice = (i64, String, String);

#[derive(Template)]
#[template(path = "practice/invite.html")]
struct InvitePage {
    chrome: Chrome,
    list: Vec<ListRow>,
    person: Person,
    practices: Vec<(i64, String)>,
    user_types: Vec<(String, String)>,
    /// (practice label, [(row id, provider ID, name)])
    providers: Vec<(String, Vec<ProviderChoice>)>,
    error: Option<String>,
    /// The person's problems, beside their fields.
    errs: RowErrors,
    /// Every problem on the page: (id of the field to go to, its name, the problem).
    summary: Vec<(String, String, String)>,
    duplicates: Vec<String>,
    email_in_use: bool,
    /// This administrator's own invitation of the email is still pending.
    invited_by_you: bool,
    max: usize,
}

fn ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
}

fn has(form: &[(String, String)], key: &str) -> bool {
    form.iter().any(|(k, _)| k == key)
}

impl ListRow {
    fn to_row(&self) -> InviteRow {
        let providers = ids(&self.providers);
        InviteRow {
            first_name: self.first.clone(),
            last_name: self.last.clone(),
            email: self.email.clone(),
            email_confirm: self.email.clone(),
            practices: ids(&self.practices),
            user_type: self.user_type.clone(),
            scope: if providers.is_empty() {
                Scope::All
            } else {
                Scope::Providers(providers.into_iter().map(ProviderRowId).collect())
            },
        }
    }
}

impl Person {
    fn to_row(&self) -> InviteRow {
        InviteRow {
            first_name: self.first.clone(),
            last_name: self.last.clone(),
            email: self.email.clone(),
            email_confirm: self.email_confirm.clone(),
            practices: self.practices.clone(),
            user_type: self.user_type.clone(),
            scope: if self.all {
                Scope::All
            } else {
                Scope::Providers(self.providers.iter().copied().map(ProviderRowId).collect())
            },
        }
    }
}

/// The summary at the top: every problem, linked to its field (the person's first, then the list's).
fn summary_of(person: &RowErrors, first_tin: Option<i64>, list: &[ListRow]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (f, label, m) in person.listed() {
        let id = match f {
            RowField::FirstName => "first_name".to_owned(),
            RowField::LastName => "last_name".to_owned(),
            RowField::Email => "email".to_owned(),
            RowField::EmailConfirm => "email_confirm".to_owned(),
            RowField::TaxIds => first_tin.map_or_else(|| "tax_ids-error".to_owned(), |p| format!("tin-{p}")),
            RowField::UserType => "user_type".to_owned(),
            RowField::Providers => "scope-some".to_owned(),
        };
        out.push((id, label.to_owned(), m.to_owned()));
    }
    for (i, r) in list.iter().enumerate() {
        for (f, label, m) in r.errors.listed() {
            let id = match f {
                RowField::FirstName => format!("l{i}_first"),
                RowField::LastName => format!("l{i}_last"),
                RowField::Email | RowField::EmailConfirm => format!("l{i}_email"),
                RowField::TaxIds => format!("l{i}_tax_ids-error"),
                RowField::UserType => format!("l{i}_type-error"),
                RowField::Providers => format!("l{i}_providers-error"),
            };
            out.push((id, format!("Person {} on the list, {}", i + 1, label.to_lowercase()), m.to_owned()));
        }
    }
    out
}

async fn build_page(admin: &PracticeAdmin, list: Vec<ListRow>, person: Person, problems: Problems) -> Response {
    page_with(admin, list, person, problems, Duplicates::default()).await
}

async fn page_with(
    admin: &PracticeAdmin,
    list: Vec<ListRow>,
    person: Person,
    problems: Problems,
    dups: Duplicates,
) -> Response {
    let st = admin.state();
    let types = match st.svc.list_user_types(&admin.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let mut providers = Vec::new();
    for p in admin.grant.practices() {
        match st.svc.practice_providers(&admin.grant, p.id, "", &admin.meta).await {
            Ok(list) => providers.push((
                format!("{} – {}", p.tax_id, p.name),
                list.into_iter().map(|v| (v.id, v.provider_id, v.name)).collect(),
            )),
            Err(e) => return admin.refused(e),
        }
    }
    let mut person = person;
    if person.practices.is_empty() && admin.grant.practices().len() == 1 {
        person.practices = admin.grant.practice_ids().into_iter().map(|p| p.0).collect();
    }
    let summary = summary_of(&problems.person, admin.grant.practices().first().map(|p| p.id.0), &list);
    let status =
        if problems.form.is_some() || !summary.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(
        status,
        &InvitePage {
            chrome: admin.chrome().await,
            list,
            person,
            practices: admin.grant.practices().iter().map(|p| (p.id.0, format!("{} – {}", p.tax_id, p.name))).collect(),
            user_types: types.into_iter().map(|t| (t.key.as_str().to_owned(), t.name)).collect(),
            providers,
            error: problems.form,
            errs: problems.person,
            summary,
            duplicates: dups.same_name,
            email_in_use: dups.email_in_use,
            invited_by_you: dups.invited_by_you,
            max: MAX_BATCH,
        },
    )
}

/// The empty form. The Tax ID the session acts for is ticked (the only one, for the
/// administrator of one practice).
async fn invite_form(admin: PracticeAdmin) -> Response {
    let practices = admin.grant.active_practice().map(|p| vec![p.0]).unwrap_or_default();
    build_page(&admin, Vec::new(), Person { all: true, practices, ..Default::default() }, Problems::default()).await
}

/// The list carried in the form's fields (a row is there while its hidden fields are, even if
/// its name was cleared).
fn list_of(admin: &PracticeAdmin, form: &[(String, String)], types: &[(String, String)]) -> Vec<ListRow> {
    let mut out = Vec::new();
    for i in 0..MAX_BATCH {
        if !has(form, &format!("l{i}_first")) && !has(form, &format!("l{i}_practices")) {
            break;
        }
        out.push(describe(
            admin,
            types,
            ListRow {
                first: field(form, &format!("l{i}_first")).to_owned(),
                last: field(form, &format!("l{i}_last")).to_owned(),
                email: field(form, &format!("l{i}_email")).to_owned(),
                practices: field(form, &format!("l{i}_practices")).to_owned(),
                user_type: field(form, &format!("l{i}_type")).to_owned(),
                providers: field(form, &format!("l{i}_providers")).to_owned(),
                tax_ids: String::new(),
                type_name: String::new(),
                scope: String::new(),
                errors: RowErrors::default(),
            },
        ));
    }
    out
}

/// Fills in the row's labels for people.
fn describe(admin: &PracticeAdmin, types: &[(String, String)], mut r: ListRow) -> ListRow {
    let chosen = chosen_practices(&admin.grant, &r.to_row());
    r.tax_ids = admin
        .grant
        .practices()
        .iter()
        .filter(|p| chosen.contains(&p.id.0))
        .map(|p| p.tax_id.clone())
        .collect::<Vec<_>>()
        .join(", ");
    r.type_name = types.iter().find(|(k, _)| *k == r.user_type).map_or_else(|| r.user_type.clone(), |(_, n)| n.clone());
    let n = ids(&r.providers).len();
    r.scope = if n == 0 { "All providers".into() } else { format!("{n} chosen provider(s)") };
    r
}

async fn invite_submit(admin: PracticeAdmin, Form(form): Form<Vec<(String, String)>>) -> Response {
    let st = admin.state();
    let types: Vec<(String, String)> = match st.svc.list_user_types(&admin.plan.0).await {
        Ok(t) => t.into_iter().map(|t| (t.key.as_str().to_owned(), t.name)).collect(),
        Err(e) => return internal_error(e),
    };
    let mut list = list_of(&admin, &form, &types);
    let action = field(&form, "action");
    let person = Person {
        first: field(&form, "first_name").to_owned(),
        last: field(&form, "last_name").to_owned(),
        email: field(&form, "email").to_owned(),
        email_confirm: field(&form, "email_confirm").to_owned(),
        practices: form.iter().filter(|(k, _)| k == "practice").filter_map(|(_, v)| v.parse().ok()).collect(),
        user_type: field(&form, "user_type").to_owned(),
        all: field(&form, "scope") != "some",
        providers: form.iter().filter(|(k, _)| k == "provider").filter_map(|(_, v)| v.parse().ok()).collect(),
    };
    if let Some(i) = action.strip_prefix("remove_").and_then(|i| i.parse::<usize>().ok()) {
        if i < list.len() {
            list.remove(i);
        }
        return build_page(&admin, list, person, Problems::default()).await;
    }
    if action == "send" {
        if list.is_empty() {
            return build_page(&admin, list, person, Problems::form("Add at least one person to the list first."))
                .await;
        }
        // Every row is checked before any is sent: a problem is shown beside its field and
        // nobody is invited until the list is right.
        let mut wrong = false;
        for r in &mut list {
            let found = row_problems(&admin.grant, &r.to_row());
            wrong |= !found.is_empty();
            r.errors = RowErrors::of(&found);
        }
        if wrong {
            return build_page(&admin, list, person, Problems::default()).await;
        }
        let rows: Vec<InviteRow> = list.iter().map(ListRow::to_row).collect();
        return match st.svc.invite_batch(&admin.grant, &admin.plan.0, &rows, &admin.meta).await {
            Ok(results) => results_page(&admin, &list, results).await,
            Err(PracticeError::Invalid(m)) => build_page(&admin, list, person, Problems::form(m)).await,
            Err(e) => admin.refused(e),
        };
    }
    // Add to List: the person's own checks now, duplicates pointed out once.
    let mut person = person;
    person.practices = chosen_practices(&admin.grant, &person.to_row());
    let found = row_problems(&admin.grant, &person.to_row());
    if !found.is_empty() {
        let problems = Problems { form: None, person: RowErrors::of(&found) };
        return build_page(&admin, list, person, problems).await;
    }
    if list.len() >= MAX_BATCH {
        let m = format!("A list holds at most {MAX_BATCH} people. Send this one first.");
        return build_page(&admin, list, person, Problems::form(m)).await;
    }
    if list.iter().any(|r| r.email.trim().eq_ignore_ascii_case(person.email.trim())) {
        let person_errors =
            RowErrors { email: Some("This email is already on the list.".into()), ..Default::default() };
        return build_page(&admin, list, person, Problems { form: None, person: person_errors }).await;
    }
    if field(&form, "dup_ok") != "1" {
        match st.svc.invite_duplicates(&admin.grant, &admin.plan.0, &person.first, &person.last, &person.email).await {
            Ok(d) if !d.same_name.is_empty() || d.email_in_use => {
                return page_with(&admin, list, person, Problems::default(), d).await;
            }
            Ok(_) => {}
            Err(e) => return admin.refused(e),
        }
    }
    let new = ListRow {
        first: person.first.trim().to_owned(),
        last: person.last.trim().to_owned(),
        email: person.email.trim().to_owned(),
        practices: join(&person.practices),
        user_type: person.user_type.clone(),
        providers: if person.all { String::new() } else { join(&person.providers) },
        tax_ids: String::new(),
        type_name: String::new(),
        scope: String::new(),
        errors: RowErrors::default(),
    };
    list.push(describe(&admin, &types, new));
    let next = Person { all: true, practices: person.practices, user_type: person.user_type, ..Default::default() };
    build_page(&admin, list, next, Problems::default()).await
}

struct ResultRow {
    name: String,
    email: String,
    ok: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "practice/invite_results.html")]
struct ResultsPage {
    chrome: Chrome,
    rows: Vec<ResultRow>,
    sent: usize,
}

async fn results_page(
    admin: &PracticeAdmin,
    list: &[ListRow],
    results: Vec<Result<gatehouse_services::practice::invites::Invited, String>>,
) -> Response {
    let rows: Vec<ResultRow> = list
        .iter()
        .zip(results)
        .map(|(l, r)| {
            let (ok, message) = match r {
                Ok(i) if i.offered => (true, OFFERED_NOTE.to_owned()),
                Ok(_) => (true, "Invitation sent. The link works for 72 hours.".to_owned()),
                Err(m) => (false, m),
            };
            ResultRow { name: format!("{} {}", l.first, l.last), email: l.email.clone(), ok, message }
        })
        .collect();
    let sent = rows.iter().filter(|r| r.ok).count();
    render(StatusCode::OK, &ResultsPage { chrome: admin.chrome().await, rows, sent })
}

struct PendingRow {
    id: i64,
    name: String,
    email: String,
    sent: String,
    expires: String,
    expired: bool,
}

/// An offer to an existing account, on "Manage Pending Users".
struct OfferRow {
    id: i64,
    name: String,
    email: String,
    tax_id: String,
    sent: String,
    expires: String,
    /// "Waiting for them", "Accepted", …
    status: &'static str,
    pending: bool,
}

#[derive(Template)]
#[template(path = "practice/pending.html")]
struct PendingPage {
    chrome: Chrome,
    rows: Vec<PendingRow>,
    offers: Vec<OfferRow>,
    notice: Option<String>,
}

fn offer_status(s: OfferStatus) -> &'static str {
    match s {
        OfferStatus::Pending => "Waiting for them to accept",
        OfferStatus::Accepted => "Accepted",
        OfferStatus::Declined => "Declined",
        OfferStatus::Cancelled => "Withdrawn",
        OfferStatus::Expired => "Expired",
    }
}

async fn pending_page(admin: &PracticeAdmin, notice: Option<String>) -> Response {
    let st = admin.state();
    let now = st.svc.now();
    let offers = match st.svc.offers_made(&admin.grant, &admin.plan.0).await {
        Ok(list) => list
            .into_iter()
            .map(|m| OfferRow {
                id: m.row.id.0,
                name: format!("{} {}", m.row.first_name, m.row.last_name),
                email: m.row.email,
                tax_id: m.row.tax_id,
                sent: when(&admin.plan.0, m.row.created_at),
                expires: when(&admin.plan.0, m.row.expires_at),
                status: offer_status(m.status),
                pending: m.status == OfferStatus::Pending,
            })
            .collect(),
        Err(e) => return admin.refused(e),
    };
    match st.svc.pending_invitations(&admin.grant, &admin.plan.0).await {
        Ok(list) => {
            let rows = list
                .into_iter()
                .map(|p| PendingRow {
                    id: p.user_id.0,
                    name: format!("{} {}", p.first_name, p.last_name),
                    email: p.email,
                    sent: when(&admin.plan.0, p.sent_at),
                    expires: when(&admin.plan.0, p.expires_at),
                    expired: p.expires_at <= now,
                })
                .collect();
            render(StatusCode::OK, &PendingPage { chrome: admin.chrome().await, rows, offers, notice })
        }
        Err(e) => admin.refused(e),
    }
}

async fn pending(admin: PracticeAdmin) -> Response {
    pending_page(&admin, None).await
}

async fn resend(admin: PracticeAdmin, Path(id): Path<i64>) -> Response {
    match admin.state().svc.resend_invitation(&admin.grant, &admin.plan.0, UserId(id), &admin.meta).await {
        Ok(_) => pending_page(&admin, Some("A new link was emailed; the old one no longer works.".into())).await,
        Err(e) => admin.refused(e),
    }
}

async fn cancel_confirm(admin: PracticeAdmin, Path(id): Path<i64>) -> Response {
    let list = match admin.state().svc.pending_invitations(&admin.grant, &admin.plan.0).await {
        Ok(l) => l,
        Err(e) => return admin.refused(e),
    };
    let Some(p) = list.into_iter().find(|p| p.user_id.0 == id) else {
        return admin.refused(PracticeError::NotFound);
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome: admin.chrome().await,
            heading: "Cancel invitation".into(),
            question: format!(
                "Cancel the invitation of {} {} ({})? Their link stops working. To give them access later, invite them again.",
                p.first_name, p.last_name, p.email
            ),
            action: format!("/practice/pending/{id}/cancel"),
            confirm_label: "Cancel invitation".into(),
            cancel_href: "/practice/pending".into(),
            cancel_label: "Keep invitation".into(),
        },
    )
}

async fn cancel(admin: PracticeAdmin, Path(id): Path<i64>) -> Response {
    match admin.state().svc.cancel_invitation(&admin.grant, &admin.plan.0, UserId(id), &admin.meta).await {
        Ok(()) => pending_page(&admin, Some("The invitation was cancelled.".into())).await,
        Err(e) => admin.refused(e),
    }
}

async fn cancel_offer_confirm(admin: PracticeAdmin, Path(id): Path<i64>) -> Response {
    let list = match admin.state().svc.offers_made(&admin.grant, &admin.plan.0).await {
        Ok(l) => l,
        Err(e) => return admin.refused(e),
    };
    let Some(m) = list.into_iter().find(|m| m.row.id.0 == id && m.status == OfferStatus::Pending) else {
        return admin.refused(PracticeError::NotFound);
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome: admin.chrome().await,
            heading: "Withdraw offer".into(),
            question: format!(
                "Withdraw the offer of Tax ID {} to {} {} ({})? They can no longer accept it. To offer it again, invite them again.",
                m.row.tax_id, m.row.first_name, m.row.last_name, m.row.email
            ),
            action: format!("/practice/offers/{id}/cancel"),
            confirm_label: "Withdraw offer".into(),
            cancel_href: "/practice/pending".into(),
            cancel_label: "Keep the offer".into(),
        },
    )
}

async fn cancel_offer(admin: PracticeAdmin, Path(id): Path<i64>) -> Response {
    match admin.state().svc.cancel_offer(&admin.grant, &admin.plan.0, OfferId(id), &admin.meta).await {
        Ok(()) => pending_page(&admin, Some("The offer was withdrawn.".into())).await,
        Err(e) => admin.refused(e),
    }
}
