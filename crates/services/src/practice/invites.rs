//! Inviting users to the administrator's practices (seeds 000 and 001): a list of people sent at
//! once with a result per row, a warning of likely duplicates before sending, and "Manage Pending
//! Users" — the invitations this administrator sent, shown until the invitee signs up or
//! [`PENDING_SHOWN`] after the link was last sent, with resend (new link, old one dead, clocks
//! restarted) and cancel.
//!
//! Each row is its own transaction, so one bad row does not hold back the others. An email that
//! already belongs to an account of the plan gets no second account and is given nothing: the
//! person is *offered* the Tax ID (`super::offers`) and joins the directory only on accepting. An
//! email of plan staff is refused (staff are never given a practice).

use super::offers::OfferRequest;
use super::{PracticeError, PracticeGrant};
use crate::access_requests::Scope;
use crate::affiliations::{changed, require_admin};
use crate::audit::{self, Event};
use crate::invitations::{InviteRequest, LINK_LIFETIME};
use crate::messages::{self, InvitationV1Text};
use crate::plans::Plan;
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::email::EmailError;
use gatehouse_domain::names::NameError;
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{Duration, Email, PersonName, PracticeId, UserId, UserStatus};
use gatehouse_store::affiliations::{self as aff_store, NewAffiliation};
use gatehouse_store::invitations::{self, PendingInvitation};
use gatehouse_store::roster::practices;
use gatehouse_store::{Conn, user_types, users};
use serde_json::json;

/// How long after the link was last sent an invitation stays on "Manage Pending Users".
pub const PENDING_SHOWN: Duration = Duration::days(7);
/// Most people one list may invite.
pub const MAX_BATCH: usize = 100;

/// One row of the list, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteRow {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub email_confirm: String,
    /// Practice ids of the administrator's.
    pub practices: Vec<i64>,
    pub user_type: String,
    /// `Scope::Providers` lists provider row ids; each practice gets those that are its own.
    pub scope: Scope,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub email: String,
    /// The new invited account, or the existing account offered the Tax ID(s).
    pub user_id: UserId,
    /// A new invited account was made (and given the Tax IDs; signing up is accepting).
    pub new_account: bool,
    /// An existing account was offered the Tax IDs: nothing is attached until its person accepts.
    pub offered: bool,
    /// The sign-up link sent, when one was (also in the outbox).
    pub link: Option<String>,
}

/// What a row's result tells the administrator when an existing account was offered the Tax ID.
pub const OFFERED_NOTE: &str = "An account already uses this email: we asked that person to accept your Tax ID. \
     They will appear in your directory once they accept.";

/// What a row says when this administrator's own invitation of that person is still pending.
pub const ALREADY_INVITED: &str = "Already invited: to send a new link, use Resend under Manage Pending Users.";

/// Likely duplicates of a person about to be invited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Users of the administrator's practices with the same name (first and last): "First Last (username or email)".
    pub same_name: Vec<String>,
    /// An account of the plan already uses this email (its details are not shown: it may be
    /// another practice's); inviting offers that account the Tax ID.
    pub email_in_use: bool,
    /// This administrator's own invitation of this email is still pending: resend it instead.
    pub invited_by_you: bool,
}

impl Services {
    /// Warns of likely duplicates before an invitation is sent.
    pub async fn invite_duplicates(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        first: &str,
        last: &str,
        email: &str,
    ) -> Result<Duplicates, PracticeError> {
        let mut conn = self.db.acquire().await?;
        let same = if email.trim().is_empty() {
            Vec::new()
        } else {
            users::by_email(&mut conn, plan.id(), &email.trim().to_lowercase()).await?
        };
        let email_in_use = !same.is_empty();
        let mut invited_by_you = false;
        for u in same.iter().filter(|u| u.status == UserStatus::Invited) {
            invited_by_you |= sent_pending(&mut conn, grant, plan, u.id, self.now()).await?.is_some();
        }
        let mut same_name = Vec::new();
        if !first.trim().is_empty() && !last.trim().is_empty() {
            let needle = format!("{} {}", first.trim(), last.trim()).to_lowercase();
            let ids: Vec<i64> = grant.practice_ids().into_iter().map(|p| p.0).collect();
            let q = gatehouse_store::directory::DirectoryQuery {
                practices: &ids,
                needle: &needle,
                limit: 20,
                ..Default::default()
            };
            let (rows, _) = self.directory_page(&mut conn, plan.id(), &q).await?;
            same_name = rows
                .into_iter()
                .filter(|r| format!("{} {}", r.first_name, r.last_name).to_lowercase() == needle)
                .map(|r| format!("{} {} ({})", r.first_name, r.last_name, r.username.unwrap_or(r.email)))
                .collect();
        }
        Ok(Duplicates { same_name, email_in_use, invited_by_you })
    }

    /// Sends the whole list; one result per row, in order. A row naming no Tax ID, sent by the
    /// administrator of exactly one practice, is for that practice ([`chosen_practices`]).
    pub async fn invite_batch(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        rows: &[InviteRow],
        meta: &RequestMeta,
    ) -> Result<Vec<Result<Invited, String>>, PracticeError> {
        if rows.is_empty() {
            return Err(PracticeError::Invalid("Add at least one person to the list.".into()));
        }
        if rows.len() > MAX_BATCH {
            return Err(PracticeError::Invalid(format!("Send at most {MAX_BATCH} invitations at once.")));
        }
        let inviter = super::offers::admin_name(&mut *self.db.acquire().await?, grant, plan).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(match self.invite_one(grant, plan, row, &inviter, meta).await {
                Ok(i) => Ok(i),
                Err(PracticeError::Internal(e)) => return Err(PracticeError::Internal(e)),
                Err(e) => Err(e.to_string()),
            });
        }
        Ok(out)
    }

    async fn invite_one(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        row: &InviteRow,
        inviter: &str,
        meta: &RequestMeta,
    ) -> Result<Invited, PracticeError> {
        let row = &InviteRow { practices: chosen_practices(grant, row), ..row.clone() };
        if let Some(p) = row.practices.iter().find(|p| !grant.administers(PracticeId(**p))) {
            return Err(self.practice_denied(grant, meta, json!({"practice": p})).await);
        }
        let (name, email, key) = check_row(grant, row)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        user_types::get(&mut tx, plan.id(), &key).await?.ok_or_else(|| invalid("Choose a user type."))?;
        let mut chosen = row.practices.clone();
        chosen.sort_unstable();
        chosen.dedup();
        let mut scopes = Vec::with_capacity(chosen.len());
        for p in &chosen {
            practices::lock(&mut tx, *p).await?;
            require_admin(&mut tx, grant.actor(), *p).await?;
            scopes.push(match &row.scope {
                Scope::All => (true, Vec::new()),
                Scope::Providers(ids) => {
                    let ids: Vec<i64> = ids.iter().map(|r| r.0).collect();
                    let own = practices::current_providers_among(&mut tx, *p, &ids).await?;
                    if own.is_empty() {
                        return Err(invalid("Choose at least one provider for each Tax ID, or all providers."));
                    }
                    (false, own)
                }
            });
        }
        let same = users::by_email(&mut tx, plan.id(), &email.as_str().to_lowercase()).await?;
        if same.iter().any(|u| u.status != UserStatus::Deactivated && u.staff_role.is_some()) {
            drop(tx);
            return Err(self.staff_email_refused(grant, plan, &email, meta).await);
        }
        if let Some(u) = crate::invitations::account_for_address(&same) {
            let held = aff_store::of_user(&mut tx, u.id).await?;
            if held.iter().any(|a| chosen.contains(&a.practice_id)) {
                let mine =
                    u.status == UserStatus::Invited && sent_pending(&mut tx, grant, plan, u.id, now).await?.is_some();
                return Err(invalid(if mine { ALREADY_INVITED } else { "Already a user of this Tax ID." }));
            }
            let req =
                OfferRequest { user: u, email: &email, chosen: &chosen, scopes: &scopes, user_type: &key, inviter };
            self.offer_in(&mut tx, grant, plan, &req, meta, now).await?;
            gatehouse_store::commit(tx).await?;
            return Ok(Invited {
                email: email.as_str().to_owned(),
                user_id: u.id,
                new_account: false,
                offered: true,
                link: None,
            });
        }
        let by = Some((grant.actor(), inviter));
        let req = InviteRequest { name: name.clone(), email: email.clone() };
        let invited = self.invite_in(&mut tx, plan, by, &req, meta).await.map_err(|e| match e {
            crate::invitations::InviteError::Internal(i) => PracticeError::Internal(i),
            other => invalid(&other.to_string()),
        })?;
        let user_id = invited.user_id;
        for (p, (all, listed)) in chosen.iter().zip(&scopes) {
            let new = NewAffiliation {
                plan_id: plan.id(),
                user_id,
                practice_id: *p,
                user_type: key.as_str(),
                is_admin: false,
                all_providers: *all,
            };
            aff_store::insert(&mut tx, &new, now).await?;
            let a = aff_store::of_user_at(&mut tx, user_id, *p)
                .await?
                .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
            aff_store::set_scope(&mut tx, a.id, *all, listed).await?;
        }
        let tax_ids: Vec<_> =
            grant.practices().iter().filter(|p| chosen.contains(&p.id.0)).map(|p| p.tax_id.as_str()).collect();
        let event = Event::new("practice.user_invited").by(grant.actor()).on(user_id).detail(json!({
            "email": email.as_str(), "tax_ids": tax_ids, "user_type": key.as_str(), "new_account": true,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        changed(&mut tx, plan.id(), user_id, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(user_id)).await;
        Ok(Invited {
            email: email.as_str().to_owned(),
            user_id,
            new_account: true,
            offered: false,
            link: Some(invited.link),
        })
    }

    /// "Manage Pending Users": the invitations this administrator sent, still open, last sent
    /// within [`PENDING_SHOWN`].
    pub async fn pending_invitations(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
    ) -> Result<Vec<PendingInvitation>, PracticeError> {
        let since = self.now() - PENDING_SHOWN.as_secs();
        let mut conn = self.db.acquire().await?;
        Ok(invitations::pending_sent_by(&mut conn, plan.id(), grant.actor(), since).await?)
    }

    /// Sends a new link for one of this administrator's pending invitations (their old link
    /// stops working; both clocks restart). Returns the new link.
    pub async fn resend_invitation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<String, PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(p) = self.own_pending(&mut tx, grant, plan, user, now).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"invitation_for": user.0})).await);
        };
        let inviter = users::get(&mut tx, plan.id(), grant.actor())
            .await?
            .map(|u| format!("{} {}", u.first_name, u.last_name))
            .unwrap_or_default();
        // This administrator's own links die; a link others sent (a registration's approval)
        // keeps working.
        invitations::cancel_open_sent_by(&mut tx, user, grant.actor(), now).await?;
        let link = self.send_link(&mut tx, plan, user, &p.first_name, &p.email, grant.actor(), &inviter, now).await?;
        let event =
            Event::new("practice.invitation_resent").by(grant.actor()).on(user).detail(json!({"email": p.email}));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(link)
    }

    /// Cancels one of this administrator's pending invitations: the link dies and the invitee
    /// loses the administrator's Tax IDs (an invited account left with none is deactivated).
    pub async fn cancel_invitation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(p) = self.own_pending(&mut tx, grant, plan, user, now).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"invitation_for": user.0})).await);
        };
        let held = aff_store::of_user(&mut tx, user).await?;
        let (mine, others): (Vec<_>, Vec<_>) =
            held.into_iter().partition(|a| grant.administers(PracticeId(a.practice_id)));
        for a in &mine {
            aff_store::delete(&mut tx, a.id).await?;
        }
        if others.is_empty() {
            invitations::cancel_open(&mut tx, user, now).await?;
            users::set_status(&mut tx, plan.id(), user, UserStatus::Deactivated, now).await?;
        } else {
            // Invited by others too (e.g. named administrator of a practice whose registration
            // the plan approved): only this administrator's links die.
            invitations::cancel_open_sent_by(&mut tx, user, grant.actor(), now).await?;
        }
        let event = Event::new("practice.invitation_cancelled").by(grant.actor()).on(user).detail(json!({
            "email": p.email, "tax_ids": mine.iter().map(|a| a.tax_id.as_str()).collect::<Vec<_>>(),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        changed(&mut tx, plan.id(), user, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(user)).await;
        Ok(())
    }

    /// The administrator's own pending invitation of `user`, if there is one and the invitee
    /// still works for a practice the administrator administers now (locked, and their flag on
    /// it checked again): having sent a link does not outlast the role it was sent in.
    async fn own_pending(
        &self,
        tx: &mut Conn,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        now: i64,
    ) -> Result<Option<PendingInvitation>, PracticeError> {
        let Some(p) = sent_pending(tx, grant, plan, user, now).await? else { return Ok(None) };
        Ok(super::members::reachable_locked(tx, grant, plan, user).await?.map(|_| p))
    }

    /// Emails the user a new sign-up link from `by`; returns it. The caller ends the links it
    /// replaces first.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_link(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        user: UserId,
        first_name: &str,
        email: &str,
        by: UserId,
        inviter: &str,
        now: i64,
    ) -> Result<String, PracticeError> {
        let token = new_token();
        let link = self.signup_link(plan, &token);
        invitations::insert(tx, plan.id(), user, Some(by), &hash_token(&token), now, now + LINK_LIFETIME.as_secs())
            .await?;
        let msg = InvitationV1Text {
            first_name,
            invited_by: Some(inviter),
            plan_name: &plan.row.name,
            link: &link,
            hours: LINK_LIFETIME.as_secs() / 3600,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        }
        .render_to(email)?;
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        Ok(link)
    }
}

/// The pending invitation of `user` this administrator sent, if any.
async fn sent_pending(
    tx: &mut Conn,
    grant: &PracticeGrant,
    plan: &Plan,
    user: UserId,
    now: i64,
) -> Result<Option<PendingInvitation>, PracticeError> {
    let since = now - PENDING_SHOWN.as_secs();
    Ok(invitations::pending_sent_by(tx, plan.id(), grant.actor(), since).await?.into_iter().find(|p| p.user_id == user))
}

/// A field of an invitation row, for a problem shown beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowField {
    FirstName,
    LastName,
    Email,
    EmailConfirm,
    TaxIds,
    UserType,
    Providers,
}

/// One problem of a row: the field it belongs beside, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub field: RowField,
    pub message: String,
}

/// The row's Tax IDs: those named, or, when none is named, the administrator's only practice.
pub fn chosen_practices(grant: &PracticeGrant, row: &InviteRow) -> Vec<i64> {
    match grant.practices() {
        [only] if row.practices.is_empty() => vec![only.id.0],
        _ => row.practices.clone(),
    }
}

/// Every problem of one row that needs no database, in the order of the form's fields: names,
/// email entered twice, at least one Tax ID (the administrator's only one counts when none is
/// named), all of them the administrator's, a user type, and providers when some are asked for.
pub fn row_problems(grant: &PracticeGrant, row: &InviteRow) -> Vec<RowProblem> {
    let mut out = Vec::new();
    let mut add = |field, message: String| out.push(RowProblem { field, message });
    if let Err(e @ (NameError::FirstEmpty | NameError::TooLong | NameError::BadCharacter)) =
        PersonName::parse(&row.first_name, "x")
    {
        add(RowField::FirstName, e.to_string());
    }
    if let Err(e @ (NameError::LastEmpty | NameError::TooLong | NameError::BadCharacter)) =
        PersonName::parse("x", &row.last_name)
    {
        add(RowField::LastName, e.to_string());
    }
    match Email::parse_confirmed(&row.email, &row.email_confirm) {
        Ok(_) => {}
        Err(EmailError::Mismatch) => add(RowField::EmailConfirm, EmailError::Mismatch.to_string()),
        Err(e) => add(RowField::Email, e.to_string()),
    }
    let practices = chosen_practices(grant, row);
    if practices.is_empty() {
        add(RowField::TaxIds, "Choose at least one Tax ID.".into());
    } else if practices.iter().any(|p| !grant.administers(PracticeId(*p))) {
        add(RowField::TaxIds, PracticeError::NotFound.to_string());
    }
    if UserTypeKey::parse(row.user_type.trim()).is_err() {
        add(RowField::UserType, "Choose a user type.".into());
    }
    if matches!(&row.scope, Scope::Providers(ids) if ids.is_empty()) {
        add(RowField::Providers, "Choose at least one provider, or all providers.".into());
    }
    out
}

/// The checks of one row that need no database ([`row_problems`]), the first problem as the
/// refusal; a Tax ID the administrator does not administer reads as "not found".
pub fn check_row(grant: &PracticeGrant, row: &InviteRow) -> Result<(PersonName, Email, UserTypeKey), PracticeError> {
    if chosen_practices(grant, row).iter().any(|p| !grant.administers(PracticeId(*p))) {
        return Err(PracticeError::NotFound);
    }
    if let Some(p) = row_problems(grant, row).into_iter().next() {
        return Err(PracticeError::Invalid(p.message));
    }
    let name = PersonName::parse(&row.first_name, &row.last_name).map_err(|e| invalid(&e.to_string()))?;
    let email = Email::parse_confirmed(&row.email, &row.email_confirm).map_err(|e| invalid(&e.to_string()))?;
    let key = UserTypeKey::parse(row.user_type.trim()).map_err(|_| invalid("Choose a user type."))?;
    Ok((name, email, key))
}

fn invalid(m: &str) -> PracticeError {
    PracticeError::Invalid(m.to_owned())
}
