//! One user of the administrator's practices ("Portal User Information"): their affiliations with
//! the practices the administrator administers (never the others), and the changes an
//! administrator makes — user type, provider association, adding and removing a Tax ID
//! affiliation, revoking the user from all of the administrator's Tax IDs, deactivating and
//! reactivating the account, and handing the administrator role over. Each change locks the
//! practice, re-checks the actor, applies, checks that the practice keeps an active
//! administrator, audits, and records the access change, in one transaction.

use super::{PracticeError, PracticeGrant};
use crate::access_requests::Scope;
use crate::affiliations::{changed, ensure_admin_remains, require_admin};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::profile::ProfileErrors;
use gatehouse_domain::registration::FieldError;
use gatehouse_domain::username::Username;
use gatehouse_domain::{UserId, UserStatus};
use gatehouse_store::affiliations::{self as store, AffiliationRow, NewAffiliation};
use gatehouse_store::roster::practices;
use gatehouse_store::users::UserRow;
use gatehouse_store::{Conn, sessions, user_types, users};
use serde_json::json;

/// A Tax ID affiliation an administrator adds to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMemberAffiliation {
    /// One of the administrator's practices.
    pub practice_id: i64,
    /// A user type key of the plan.
    pub user_type: String,
    pub scope: Scope,
}

/// A provider an affiliation lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProvider {
    /// The provider's row id (what forms send back).
    pub id: i64,
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

/// A user as their administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDetail {
    pub user: UserRow,
    pub affiliations: Vec<MemberAffiliation>,
    /// Whether the user also acts for practices this administrator does not administer (then
    /// the administrator may revoke them from their own Tax IDs but not deactivate the account).
    pub elsewhere: bool,
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

impl From<Internal> for EditMemberError {
    fn from(e: Internal) -> Self {
        Self::Practice(e.into())
    }
}

impl From<gatehouse_store::StoreError> for EditMemberError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Practice(e.into())
    }
}

/// Most providers a chooser lists for one practice.
pub const PROVIDERS_LISTED: i64 = 500;

impl Services {
    /// The current providers of one of the administrator's practices, by provider ID, for
    /// choosing a provider association; `q` (optional) narrows by name, provider ID or NPI.
    pub async fn practice_providers(
        &self,
        grant: &PracticeGrant,
        practice_id: i64,
        q: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<practices::ProviderBrief>, PracticeError> {
        if !grant.administers(practice_id) {
            return Err(self.practice_denied(grant, meta, json!({"practice": practice_id})).await);
        }
        let mut conn = self.db.acquire().await?;
        let (list, _) = practices::providers_of(&mut conn, practice_id, PROVIDERS_LISTED).await?;
        let q = q.trim().to_lowercase();
        Ok(list
            .into_iter()
            .filter(|p| {
                q.is_empty()
                    || p.name.to_lowercase().contains(&q)
                    || p.provider_id.to_lowercase().contains(&q)
                    || p.npi.contains(&q)
            })
            .collect())
    }

    /// The user's information and their affiliations with the administrator's practices.
    pub async fn member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<MemberDetail, PracticeError> {
        let mut conn = self.db.acquire().await?;
        let Some((row, mine, elsewhere)) = visible(&mut conn, grant, plan, user).await? else {
            drop(conn);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        let types = user_types::list(&mut conn, plan.id()).await?;
        let mut affiliations = Vec::with_capacity(mine.len());
        for a in mine {
            let providers = if a.all_providers {
                Vec::new()
            } else {
                store::providers_of(&mut conn, a.id)
                    .await?
                    .into_iter()
                    .map(|(id, provider_id, npi, name)| ListedProvider { id, provider_id, npi, name })
                    .collect()
            };
            let user_type_name = types
                .iter()
                .find(|t| t.key.as_str() == a.user_type)
                .map_or_else(|| a.user_type.clone(), |t| t.name.clone());
            affiliations.push(MemberAffiliation { row: a, user_type_name, providers });
        }
        Ok(MemberDetail { user: row, affiliations, elsewhere })
    }

    /// The user's contact details, for the edit form.
    pub async fn member_contact(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<users::ContactRow, PracticeError> {
        let mut conn = self.db.acquire().await?;
        if visible(&mut conn, grant, plan, user).await?.is_none() {
            drop(conn);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        }
        Ok(users::contact(&mut conn, plan.id(), user).await?.unwrap_or_default())
    }

    /// Edits a user's names, email and contact details (audited old → new). Like deactivation,
    /// only for a user all of whose Tax IDs the administrator administers: the account is shared
    /// by every practice the person works for.
    pub async fn edit_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        form: &gatehouse_domain::profile::ProfileForm,
        meta: &RequestMeta,
    ) -> Result<(), EditMemberError> {
        let typed = form.username.trim();
        let username = (!typed.is_empty()).then(|| Username::parse_as(typed, plan.username_format()));
        let p = match (form.parse(), username.clone().transpose()) {
            (Ok(p), Ok(_)) => p,
            (parsed, u) => {
                let mut errs = match u {
                    Err(e) => vec![FieldError { field: "username", message: e.to_string() }],
                    Ok(_) => Vec::new(),
                };
                errs.extend(parsed.err().map(|e| e.0).unwrap_or_default());
                return Err(ProfileErrors(errs).into());
            }
        };
        let username = username.and_then(Result::ok);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some((row, _, elsewhere)) = visible(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await.into());
        };
        if elsewhere {
            return Err(invalid(
                "This user also works for practices you do not administer, so their information can only be changed by them or by provider services.",
            )
            .into());
        }
        let old = users::contact(&mut tx, plan.id(), user).await?.unwrap_or_default();
        let new = crate::profile::contact_row(&p.office);
        let names = users::NamesAndEmail {
            first_name: p.name.first(),
            middle_name: &p.middle_name,
            last_name: p.name.last(),
            email: p.email.as_str(),
        };
        users::update_profile(&mut tx, plan.id(), user, &names, &new, now).await?;
        let mut changes = crate::profile::contact_changes(&old, &new);
        // A new username, for a user who has one (an invited user chooses theirs at sign-up).
        if let (Some(before), Some(u)) = (&row.username, &username)
            && before != u.as_str()
        {
            if users::name_taken(&mut tx, plan.id(), &u.normalized(), user).await? {
                let taken = FieldError { field: "username", message: "This username is taken. Choose another.".into() };
                return Err(ProfileErrors(vec![taken]).into());
            }
            users::set_username(&mut tx, plan.id(), user, u.as_str(), now).await?;
            changes.insert("username".into(), json!({"old": before, "new": u.as_str()}));
            let link = format!("{}/signin", self.plan_url(plan));
            let msg = self
                .self_service_email(plan, &row.first_name, u.as_str(), &link)
                .username_changed(before, p.email.as_str())?;
            crate::messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
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
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Changes the user type of an affiliation with one of the administrator's practices.
    pub async fn set_member_user_type(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: i64,
        user_type: &str,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let key = user_type_key(user_type)?;
        let now = self.now();
        let (mut tx, a) = self.locked_affiliation(self.db.begin().await?, grant, plan, affiliation, meta).await?;
        user_types::get(&mut tx, plan.id(), &key).await?.ok_or_else(|| invalid("Choose one of the user types."))?;
        store::set_user_type(&mut tx, a.id, key.as_str()).await?;
        let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "old": a.user_type, "new": key.as_str()});
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.user_type_changed").by(grant.actor()).on(a.user_id).detail(detail),
            now,
            a.user_id,
        )
        .await
    }

    /// Sets which providers of the practice an affiliation covers.
    pub async fn set_member_providers(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: i64,
        scope: &Scope,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let (mut tx, a) = self.locked_affiliation(self.db.begin().await?, grant, plan, affiliation, meta).await?;
        let (all, listed) = checked_scope(&mut tx, a.practice_id, scope).await?;
        store::set_scope(&mut tx, a.id, all, &listed).await?;
        let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "all_providers": all, "provider_rows": listed});
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.providers_changed").by(grant.actor()).on(a.user_id).detail(detail),
            now,
            a.user_id,
        )
        .await
    }

    /// Adds an affiliation with another of the administrator's practices to a user they can see.
    pub async fn add_member_affiliation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        new: &NewMemberAffiliation,
        meta: &RequestMeta,
    ) -> Result<i64, PracticeError> {
        let (practice_id, scope) = (new.practice_id, &new.scope);
        let key = user_type_key(&new.user_type)?;
        if !grant.administers(practice_id) {
            return Err(self.practice_denied(grant, meta, json!({"practice": practice_id})).await);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if visible(&mut tx, grant, plan, user).await?.is_none() {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        }
        practices::lock(&mut tx, practice_id).await?;
        require_admin(&mut tx, grant.actor(), practice_id).await?;
        user_types::get(&mut tx, plan.id(), &key).await?.ok_or_else(|| invalid("Choose one of the user types."))?;
        let (all, listed) = checked_scope(&mut tx, practice_id, scope).await?;
        let new = NewAffiliation {
            plan_id: plan.id(),
            user_id: user,
            practice_id,
            user_type: key.as_str(),
            is_admin: false,
            all_providers: all,
        };
        if !store::insert(&mut tx, &new, now).await? {
            return Err(invalid("This user already has this Tax ID."));
        }
        let row = store::of_user_at(&mut tx, user, practice_id)
            .await?
            .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
        store::set_scope(&mut tx, row.id, all, &listed).await?;
        let detail = json!({
            "affiliation": row.id, "tax_id": row.tax_id, "user_type": key.as_str(),
            "all_providers": all, "provider_rows": listed,
        });
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.added").by(grant.actor()).on(user).detail(detail),
            now,
            user,
        )
        .await?;
        Ok(row.id)
    }

    /// Removes one Tax ID affiliation (refused if it would leave the practice without an active
    /// administrator while it has active users).
    pub async fn remove_member_affiliation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: i64,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let (mut tx, a) = self.locked_affiliation(self.db.begin().await?, grant, plan, affiliation, meta).await?;
        store::delete(&mut tx, a.id).await?;
        ensure_admin_remains(&mut tx, a.practice_id).await?;
        let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "was_admin": a.is_admin});
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.removed").by(grant.actor()).on(a.user_id).detail(detail),
            now,
            a.user_id,
        )
        .await
    }

    /// Removes the user from every Tax ID the administrator administers ("Revoke User").
    pub async fn revoke_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<usize, PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some((_, mine, _)) = visible(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        let mut mine = mine;
        mine.sort_by_key(|a| a.practice_id);
        for a in &mine {
            practices::lock(&mut tx, a.practice_id).await?;
            require_admin(&mut tx, grant.actor(), a.practice_id).await?;
        }
        for a in &mine {
            store::delete(&mut tx, a.id).await?;
        }
        for a in &mine {
            ensure_admin_remains(&mut tx, a.practice_id).await?;
        }
        let detail = json!({"tax_ids": mine.iter().map(|a| a.tax_id.as_str()).collect::<Vec<_>>()});
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.user_revoked").by(grant.actor()).on(user).detail(detail),
            now,
            user,
        )
        .await?;
        Ok(mine.len())
    }

    /// Deactivates the account: every session ends at once and every permission check denies.
    /// Only for a user all of whose affiliations are with the administrator's practices.
    pub async fn deactivate_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        self.member_status(grant, plan, user, false, meta).await
    }

    /// Reactivates an account the administrator could deactivate.
    pub async fn reactivate_member(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        self.member_status(grant, plan, user, true, meta).await
    }

    async fn member_status(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        active: bool,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some((row, mut mine, elsewhere)) = visible(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        if elsewhere {
            return Err(invalid(
                "This user also works for practices you do not administer, so you cannot deactivate or reactivate their account. Use Revoke User to remove them from your Tax IDs.",
            ));
        }
        if user == grant.actor() {
            return Err(invalid("You cannot deactivate your own account. Hand over the administrator role first."));
        }
        mine.sort_by_key(|a| a.practice_id);
        for a in &mine {
            practices::lock(&mut tx, a.practice_id).await?;
            require_admin(&mut tx, grant.actor(), a.practice_id).await?;
        }
        let (action, ended) = if active {
            if row.status != UserStatus::Deactivated {
                return Err(invalid("Only a deactivated user can be reactivated."));
            }
            let window = gatehouse_domain::Duration::days(plan.row.reactivation_days).as_secs();
            if users::deactivated_at(&mut tx, plan.id(), user).await?.is_some_and(|at| now >= at + window) {
                return Err(PracticeError::Invalid(format!(
                    "This account was deactivated more than {} days ago, so only provider services can reactivate it: call them at {}.",
                    plan.row.reactivation_days, plan.row.support_phone
                )));
            }
            let status = if row.password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
            users::set_status(&mut tx, plan.id(), user, status, now).await?;
            ("user.reactivated", 0)
        } else {
            if row.status == UserStatus::Deactivated {
                return Err(invalid("This user is already deactivated."));
            }
            users::set_status(&mut tx, plan.id(), user, UserStatus::Deactivated, now).await?;
            for a in &mine {
                ensure_admin_remains(&mut tx, a.practice_id).await?;
            }
            ("user.deactivated", sessions::end_all_except(&mut tx, user, None, now).await?)
        };
        let detail = json!({"sessions_ended": ended});
        self.finish(tx, plan, meta, Event::new(action).by(grant.actor()).on(user).detail(detail), now, user).await
    }

    /// Makes `to` an administrator of the practice and steps the actor down, in one confirmed
    /// action (seed 004, "replace the administrator").
    pub async fn hand_over_admin(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        practice_id: i64,
        to: UserId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        if !grant.administers(practice_id) {
            return Err(self.practice_denied(grant, meta, json!({"practice": practice_id})).await);
        }
        if to == grant.actor() {
            return Err(invalid("Choose someone other than yourself."));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        practices::lock(&mut tx, practice_id).await?;
        let mine = require_admin(&mut tx, grant.actor(), practice_id).await?;
        let Some(target) = store::of_user_at(&mut tx, to, practice_id).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": to.0, "practice": practice_id})).await);
        };
        let active = users::get(&mut tx, plan.id(), to).await?.is_some_and(|u| u.status == UserStatus::Active);
        if !active {
            return Err(invalid("The new administrator must be an active user who has signed up."));
        }
        store::set_admin(&mut tx, target.id, true).await?;
        store::set_admin(&mut tx, mine.id, false).await?;
        ensure_admin_remains(&mut tx, practice_id).await?;
        changed(&mut tx, plan.id(), grant.actor(), now).await?;
        let detail = json!({"tax_id": target.tax_id, "practice_id": practice_id, "from_affiliation": mine.id, "to_affiliation": target.id});
        self.finish(
            tx,
            plan,
            meta,
            Event::new("affiliation.admin_handed_over").by(grant.actor()).on(to).detail(detail),
            now,
            to,
        )
        .await?;
        self.access_changed(plan.id(), Some(grant.actor())).await;
        Ok(())
    }

    /// The affiliation, if it is with one of the administrator's practices, with that practice
    /// locked and the actor's administrator flag checked again under the lock. A refusal is
    /// audited after the transaction is given up (SQLite has one writer).
    async fn locked_affiliation(
        &self,
        mut tx: gatehouse_store::Tx,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: i64,
        meta: &RequestMeta,
    ) -> Result<(gatehouse_store::Tx, AffiliationRow), PracticeError> {
        let found = store::get(&mut tx, plan.id(), affiliation).await?.filter(|a| grant.administers(a.practice_id));
        let Some(a) = found else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"affiliation": affiliation})).await);
        };
        practices::lock(&mut tx, a.practice_id).await?;
        require_admin(&mut tx, grant.actor(), a.practice_id).await?;
        let a = store::get(&mut tx, plan.id(), affiliation).await?.ok_or(PracticeError::NotFound)?;
        Ok((tx, a))
    }

    /// Audits, records the access change, commits, and refreshes this instance's index.
    async fn finish(
        &self,
        mut tx: gatehouse_store::Tx,
        plan: &Plan,
        meta: &RequestMeta,
        event: Event,
        now: i64,
        user: UserId,
    ) -> Result<(), PracticeError> {
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        changed(&mut tx, plan.id(), user, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(user)).await;
        Ok(())
    }
}

fn invalid(m: &str) -> PracticeError {
    PracticeError::Invalid(m.to_owned())
}

fn user_type_key(raw: &str) -> Result<UserTypeKey, PracticeError> {
    UserTypeKey::parse(raw.trim()).map_err(|_| invalid("Choose one of the user types."))
}

/// The user, their affiliations with the administrator's practices, and whether they have
/// others; `None` when they have none with the administrator's practices (not visible).
async fn visible(
    conn: &mut Conn,
    grant: &PracticeGrant,
    plan: &Plan,
    user: UserId,
) -> Result<Option<(UserRow, Vec<AffiliationRow>, bool)>, PracticeError> {
    let Some(row) = users::get(conn, plan.id(), user).await? else { return Ok(None) };
    let (mine, others): (Vec<_>, Vec<_>) =
        store::of_user(conn, user).await?.into_iter().partition(|a| grant.administers(a.practice_id));
    if mine.is_empty() {
        return Ok(None);
    }
    Ok(Some((row, mine, !others.is_empty())))
}

/// All providers, or a non-empty list of the practice's current providers.
async fn checked_scope(tx: &mut Conn, practice_id: i64, scope: &Scope) -> Result<(bool, Vec<i64>), PracticeError> {
    match scope {
        Scope::All => Ok((true, Vec::new())),
        Scope::Providers(ids) if ids.is_empty() => Err(invalid("Choose at least one provider, or all providers.")),
        Scope::Providers(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let found = practices::current_providers_among(tx, practice_id, &ids).await?;
            if found.len() != ids.len() {
                return Err(PracticeError::NotFound);
            }
            Ok((false, found))
        }
    }
}
