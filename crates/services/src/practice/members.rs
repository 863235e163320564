//! One user of the administrator's practices ("Portal User Information"): who they are, their
//! affiliations with the practices the administrator administers (never the others), and the
//! changes to the account itself (information, password reset link). Changes to what the user
//! may act for are in [`super::access`]; deactivation in [`super::account_status`].
//!
//! Who may be reached ([`Target`]): a user with at least one affiliation with the
//! administrator's practices who holds no staff role; anyone else reads as "not found". The
//! account itself (details, password, status) is changed only when the administrator
//! administers every practice the user works for ([`Target::require_whole_account`]): the
//! account belongs to the person, and is shared by every practice they work for.

use super::{PracticeError, PracticeGrant};
use crate::affiliations::{changed, require_admin};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{RequestMeta, Services};
use gatehouse_domain::profile::{Profile, ProfileChanges, ProfileErrors, ProfileForm, StoredProfile};
use gatehouse_domain::registration::FieldError;
use gatehouse_domain::username::Username;
use gatehouse_domain::{AffiliationId, PracticeId, ProviderRowId, UserId, UserStatus};
use gatehouse_store::affiliations::{self as store, AffiliationRow};
use gatehouse_store::roster::practices;
use gatehouse_store::users::{ContactRow, UserRow};
use gatehouse_store::{Conn, throttle, user_types, users};
use serde_json::json;

/// A provider an affiliation lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProvider {
    /// The provider's row id (what forms send back).
    pub id: ProviderRowId,
    pub provider_id: String,
    pub npi: String,
    pub name: String,
}

/// One affiliation of the user with a practice the administrator administers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAffiliation {
    pub row: AffiliationRow,
    /// The user type's display name.
    pub user_type_name: String,
    /// The providers listed (empty when it covers all).
    pub providers: Vec<ListedProvider>,
}

impl MemberAffiliation {
    /// The affiliation's id.
    pub fn id(&self) -> AffiliationId {
        AffiliationId(self.row.id)
    }
}

/// A user as their administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDetail {
    pub user: UserRow,
    /// Office details (phones, fax, address).
    pub contact: ContactRow,
    pub affiliations: Vec<MemberAffiliation>,
    /// Whether the user also acts for practices this administrator does not administer (then
    /// the administrator may remove them from their own Tax IDs but not change the account).
    pub elsewhere: bool,
    /// Flagged as idle: unused for the plan's idle threshold.
    pub idle: bool,
}

/// Why an edit of a user's information was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditMemberError {
    /// Fields are wrong; each problem names its field.
    #[error(transparent)]
    Invalid(#[from] gatehouse_domain::profile::ProfileErrors),
    #[error(transparent)]
    Practice(#[from] PracticeError),
}

/// What an edit of a user's information did besides saving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberEdited {
    /// The user has not signed up and their address changed: their old sign-up links stopped
    /// working and a new one went to the new address.
    pub new_link_sent: bool,
}

/// What an administrator sent: the page's whole form, already checked, or the API's changed
/// fields, checked once laid over what is stored.
enum MemberEdit {
    Checked(Box<(Profile, Option<Username>)>),
    Changes(Box<ProfileChanges>),
}

/// Every field of `form` checked, the username in the plan's format (`None`: keep it).
fn checked(form: &ProfileForm, plan: &Plan) -> Result<(Profile, Option<Username>), EditMemberError> {
    let typed = form.username.trim();
    let username = (!typed.is_empty()).then(|| Username::parse_as(typed, plan.username_format()));
    match (form.parse(), username.transpose()) {
        (Ok(p), Ok(u)) => Ok((p, u)),
        (parsed, u) => {
            let mut errs = match u {
                Err(e) => vec![FieldError { field: "username", message: e.to_string() }],
                Ok(_) => Vec::new(),
            };
            errs.extend(parsed.err().map(|e| e.0).unwrap_or_default());
            Err(ProfileErrors(errs).into())
        }
    }
}

/// A user's profile as stored, for changes over it.
fn stored<'a>(row: &'a UserRow, contact: &'a ContactRow) -> StoredProfile<'a> {
    StoredProfile {
        first_name: &row.first_name,
        middle_name: &row.middle_name,
        last_name: &row.last_name,
        email: &row.email,
        mobile_phone: &contact.mobile_phone,
        office_phone: &contact.office_phone,
        fax: &contact.fax,
        street: &contact.street,
        city: &contact.city,
        state: &contact.state,
        zip: &contact.zip,
    }
}

impl From<crate::Internal> for EditMemberError {
    fn from(e: crate::Internal) -> Self {
        Self::Practice(e.into())
    }
}

impl From<gatehouse_store::StoreError> for EditMemberError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Practice(e.into())
    }
}

/// A user the administrator may reach, as read in the current transaction.
pub(crate) struct Target {
    pub row: UserRow,
    /// Their affiliations with the administrator's practices (never empty).
    pub mine: Vec<AffiliationRow>,
    /// Whether they also work for practices the administrator does not administer.
    pub elsewhere: bool,
}

impl Target {
    /// Refuses unless the administrator administers every practice the user works for, the
    /// condition for changing the account itself. `what` ends the sentence "…, so you cannot …".
    pub fn require_whole_account(&self, what: &str) -> Result<(), PracticeError> {
        whole_account(self.elsewhere, what)
    }
}

impl MemberDetail {
    /// The same rule on what was read, for pages that offer a change of the account (edit,
    /// deactivate, reset) before they make it: refused unless the administrator administers
    /// every practice the user works for.
    pub fn require_whole_account(&self, what: &str) -> Result<(), PracticeError> {
        whole_account(self.elsewhere, what)
    }
}

fn whole_account(elsewhere: bool, what: &str) -> Result<(), PracticeError> {
    if elsewhere {
        return Err(PracticeError::NotYours(format!(
            "This user also works for practices you do not administer, so you cannot {what}. Provider services can; use Revoke User to remove them from your Tax IDs."
        )));
    }
    Ok(())
}

impl Services {
    /// The user's information and their affiliations with the administrator's practices.
    pub async fn member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<MemberDetail, PracticeError> {
        let mut conn = self.db.acquire().await?;
        let Some(t) = reachable(&mut conn, grant, plan, user).await? else {
            drop(conn);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        let types = user_types::list(&mut conn, plan.id()).await?;
        let mut affiliations = Vec::with_capacity(t.mine.len());
        for a in t.mine {
            let providers = if a.all_providers {
                Vec::new()
            } else {
                store::providers_of(&mut conn, a.id)
                    .await?
                    .into_iter()
                    .map(|(id, provider_id, npi, name)| ListedProvider {
                        id: ProviderRowId(id),
                        provider_id,
                        npi,
                        name,
                    })
                    .collect()
            };
            let user_type_name = types
                .iter()
                .find(|t| t.key.as_str() == a.user_type)
                .map_or_else(|| a.user_type.clone(), |t| t.name.clone());
            affiliations.push(MemberAffiliation { row: a, user_type_name, providers });
        }
        let contact = users::contact(&mut conn, plan.id(), user).await?.unwrap_or_default();
        let idle = crate::idle::flagged(plan, t.row.status, t.row.idle_since, t.row.staff_role.is_some(), self.now());
        Ok(MemberDetail { user: t.row, contact, affiliations, elsewhere: t.elsewhere, idle })
    }

    /// Edits a user's names, email and contact details (audited old → new). Only for a user all
    /// of whose Tax IDs the administrator administers. A changed email is told to the old
    /// address; a changed username is emailed and refreshes the permission index.
    pub async fn edit_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        form: &ProfileForm,
        meta: &RequestMeta,
    ) -> Result<MemberEdited, EditMemberError> {
        // A whole form is checked before anything is read.
        let checked = checked(form, plan)?;
        self.edit_member_as(grant, plan, user, MemberEdit::Checked(Box::new(checked)), meta).await
    }

    /// [`Self::edit_member`] for only the fields `changes` names, applied over what is stored when
    /// the change is made (in the same transaction), so that a change made meanwhile (an email
    /// the user just proved, say) is not written back. A new username for a user who has not
    /// signed up is refused: they choose theirs when they do.
    pub async fn edit_member_fields(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        changes: ProfileChanges,
        meta: &RequestMeta,
    ) -> Result<MemberEdited, EditMemberError> {
        self.edit_member_as(grant, plan, user, MemberEdit::Changes(Box::new(changes)), meta).await
    }

    async fn edit_member_as(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        edit: MemberEdit,
        meta: &RequestMeta,
    ) -> Result<MemberEdited, EditMemberError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(t) = reachable_locked(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await.into());
        };
        require_not_own(grant, user)?;
        t.require_whole_account("change their information")?;
        let row = t.row;
        let old = users::contact(&mut tx, plan.id(), user).await?.unwrap_or_default();
        let (p, username) = match edit {
            MemberEdit::Checked(checked) => *checked,
            MemberEdit::Changes(changes) => {
                if changes.renames() && row.username.is_none() {
                    let message = "This user has not signed up yet: they choose their username when they do.";
                    return Err(ProfileErrors(vec![FieldError { field: "username", message: message.into() }]).into());
                }
                checked(&changes.over(stored(&row, &old)), plan)?
            }
        };
        if !row.email.eq_ignore_ascii_case(p.email.as_str())
            && users::is_someones_username(&mut tx, plan.id(), &p.email.as_str().to_lowercase(), Some(user)).await?
        {
            let e = gatehouse_domain::email::EmailError::SomeonesUsername;
            return Err(ProfileErrors(vec![FieldError { field: "email", message: e.to_string() }]).into());
        }
        let new = crate::profile::contact_row(&p.office);
        let names = users::NamesAndEmail {
            first_name: p.name.first(),
            middle_name: &p.middle_name,
            last_name: p.name.last(),
            email: p.email.as_str(),
        };
        users::update_profile(&mut tx, plan.id(), user, &names, &new, now).await?;
        let mut changes = crate::profile::contact_changes(&old, &new);
        let signin = format!("{}/signin", self.plan_url(plan));
        // A new username, for a user who has one (an invited user chooses theirs at sign-up).
        let mut renamed = false;
        if let (Some(before), Some(u)) = (&row.username, &username)
            && before != u.as_str()
        {
            // "Taken" says a username (or email) exists in the plan: an administrator gets a
            // few such answers an hour, as a sign-up link does, not a way to list the plan's.
            let key = rename_key(grant.actor());
            let since = now - RENAME_WINDOW.as_secs();
            if throttle::failures_since(&mut tx, plan.id(), &key, since).await? >= TAKEN_ANSWERS_PER_HOUR {
                let message = "You have tried too many usernames that are taken. Try again in an hour.";
                return Err(ProfileErrors(vec![FieldError { field: "username", message: message.into() }]).into());
            }
            if users::name_taken(&mut tx, plan.id(), &u.normalized(), user).await? {
                drop(tx);
                let mut tx = self.db.begin().await?;
                throttle::add_failure_in_window(&mut tx, plan.id(), &key, now, since).await?;
                let e = Event::new("user.rename_refused")
                    .by(grant.actor())
                    .on(user)
                    .outcome(gatehouse_domain::audit::Outcome::Failure)
                    .detail(json!({"username": u.as_str(), "reason": "taken"}));
                audit::record(&mut tx, now, plan.id(), meta, e).await?;
                gatehouse_store::commit(tx).await?;
                let taken = FieldError { field: "username", message: "This username is taken. Choose another.".into() };
                return Err(ProfileErrors(vec![taken]).into());
            }
            users::set_username(&mut tx, plan.id(), user, u.as_str(), now).await?;
            changes.insert("username".into(), json!({"old": before, "new": u.as_str()}));
            let msg = self
                .self_service_email(plan, &row.first_name, u.as_str(), &signin)
                .username_changed(before, p.email.as_str())?;
            crate::messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
            renamed = true;
        }
        let mut new_link_sent = false;
        if !row.email.eq_ignore_ascii_case(p.email.as_str()) {
            // Links sent to the old address (a first sign-in's proof, a password reset) die with
            // it: opened later, they would prove, or act for, an address they never went to.
            let ended = gatehouse_store::email_proofs::end_open(&mut tx, user, now).await?
                + gatehouse_store::resets::end_open(&mut tx, user, Some("link"), now).await?;
            if ended > 0 {
                changes.insert("links_ended".into(), json!(ended));
            }
            if row.status == UserStatus::Invited {
                // An invited user's sign-up links went to the old address: they die, and a new
                // one goes to the new address, so that whoever reads the old mailbox cannot sign
                // up as this person (and a mistyped invitation reaches its person once
                // corrected). The old address is not told: nobody proved it was theirs, and
                // the notice would name the new one.
                let inviter = super::offers::admin_name(&mut tx, grant, plan).await?;
                gatehouse_store::invitations::cancel_open(&mut tx, user, now).await?;
                self.send_link(&mut tx, plan, user, names.first_name, p.email.as_str(), grant.actor(), &inviter, now)
                    .await?;
                changes.insert("invitation".into(), json!("sent again to the new address"));
                new_link_sent = true;
            } else {
                // An email changed by someone other than its owner is told to the old address.
                let shown =
                    username.as_ref().map_or_else(|| row.username.clone().unwrap_or_default(), |u| u.to_string());
                let msg = self
                    .self_service_email(plan, &row.first_name, &shown, &signin)
                    .email_changed(p.email.as_str(), &row.email)?;
                crate::messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
            }
        }
        for (field, before, after) in [
            ("first_name", row.first_name.as_str(), names.first_name),
            ("middle_name", &row.middle_name, names.middle_name),
            ("last_name", &row.last_name, names.last_name),
            ("email", &row.email, names.email),
        ] {
            if before != after {
                changes.insert(field.to_owned(), json!({"old": before, "new": after}));
            }
        }
        let event =
            Event::new("user.information_edited").by(grant.actor()).on(user).detail(json!({"changes": changes}));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        if renamed {
            // Who is who changed: the permission index must forget the old username.
            changed(&mut tx, plan.id(), user, now).await?;
        }
        gatehouse_store::commit(tx).await?;
        if renamed {
            self.access_changed(plan.id(), Some(user)).await;
        }
        Ok(MemberEdited { new_link_sent })
    }

    /// Emails the user a single-use link (72 hours) to choose a new password, as their
    /// administrator. Only for a user all of whose Tax IDs the administrator administers.
    pub async fn send_member_reset_link(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(t) = reachable_locked(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        require_not_own(grant, user)?;
        t.require_whole_account("reset their password")?;
        crate::self_service::check_link_applies(&t.row).map_err(|e| PracticeError::Invalid(e.to_string()))?;
        self.issue_reset_link(&mut tx, plan, &t.row, Some(grant.actor()), now).await?;
        let tax_ids: Vec<_> = t.mine.iter().map(|a| a.tax_id.as_str()).collect();
        let e =
            Event::new("user.password_reset_link_sent").by(grant.actor()).on(user).detail(json!({"tax_ids": tax_ids}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}

/// How many "this username is taken" answers an administrator gets in [`RENAME_WINDOW`].
pub const TAKEN_ANSWERS_PER_HOUR: i64 = 10;

/// The window of [`TAKEN_ANSWERS_PER_HOUR`].
const RENAME_WINDOW: gatehouse_domain::Duration = gatehouse_domain::Duration::hours(1);

/// The throttle key counting an administrator's renames refused as taken.
fn rename_key(admin: UserId) -> String {
    format!("rename:{}", admin.0)
}

/// Refuses an administrator's own account where a user's information or password is changed:
/// one's own email, username and password change on My Profile, after "Confirm it's you", and a
/// borrowed session must not get past that here.
pub fn require_not_own(grant: &PracticeGrant, user: UserId) -> Result<(), PracticeError> {
    if user == grant.actor() {
        return Err(PracticeError::OwnAccount);
    }
    Ok(())
}

/// [`reachable`] for a change of the account: the practices through which the administrator
/// reaches the user are locked (in id order) and the administrator's flag on each checked again,
/// then the user is read again under those locks, so that neither a grant made when the request
/// began nor a read made before the locks decides the change.
pub(crate) async fn reachable_locked(
    conn: &mut Conn,
    grant: &PracticeGrant,
    plan: &Plan,
    user: UserId,
) -> Result<Option<Target>, PracticeError> {
    let Some(t) = reachable(conn, grant, plan, user).await? else { return Ok(None) };
    let mut ids: Vec<i64> = t.mine.iter().map(|a| a.practice_id).collect();
    ids.sort_unstable();
    for p in ids {
        practices::lock(conn, p).await?;
        require_admin(conn, grant.actor(), p).await?;
    }
    reachable(conn, grant, plan, user).await
}

/// The user if the administrator may reach them: in the plan, holding no staff role, with at
/// least one affiliation with the administrator's practices. `None` reads as "not found".
pub(crate) async fn reachable(
    conn: &mut Conn,
    grant: &PracticeGrant,
    plan: &Plan,
    user: UserId,
) -> Result<Option<Target>, PracticeError> {
    let Some(row) = users::get(conn, plan.id(), user).await? else { return Ok(None) };
    // No practice administrator reaches an account that holds a staff role.
    if row.staff_role.is_some() {
        return Ok(None);
    }
    let (mine, others): (Vec<_>, Vec<_>) =
        store::of_user(conn, user).await?.into_iter().partition(|a| grant.administers(PracticeId(a.practice_id)));
    if mine.is_empty() {
        return Ok(None);
    }
    Ok(Some(Target { row, mine, elsewhere: !others.is_empty() }))
}
