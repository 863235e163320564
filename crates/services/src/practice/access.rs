//! What a user of the administrator's practices may act for: the user type and providers of an
//! affiliation, adding and removing a Tax ID affiliation, revoking the user from all of the
//! administrator's Tax IDs, the administrator flag, and handing the administrator role over.
//! Each change locks the practice, re-checks the actor's administrator flag under the lock,
//! applies, checks that the practice keeps an active administrator, audits, and records the
//! access change, in one transaction; the permission index is refreshed after commit.

use super::members::reachable;
use super::{PracticeError, PracticeGrant};
use crate::access_requests::Scope;
use crate::affiliations::{changed, ensure_admin_remains, require_admin};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AffiliationId, PracticeId, UserId, UserStatus};
use gatehouse_store::affiliations::{self as store, AffiliationRow, NewAffiliation};
use gatehouse_store::roster::practices;
use gatehouse_store::{Conn, user_types, users};
use serde_json::json;

/// A Tax ID affiliation an administrator adds to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMemberAffiliation {
    /// One of the administrator's practices.
    pub practice_id: PracticeId,
    /// A user type key of the plan.
    pub user_type: String,
    pub scope: Scope,
}

/// What adding a Tax ID to a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAdded {
    /// The affiliation exists now: the user has not signed up yet, and signing up through their
    /// invitation is their acceptance.
    Linked(AffiliationId),
    /// The user has an account of their own: the practice is offered, and attached only when
    /// they accept (an account gains a practice only when its person accepts).
    Offered(gatehouse_domain::ids::OfferId),
}

/// Changes to one affiliation; `None` leaves that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AffiliationChange {
    /// A user type key of the plan.
    pub user_type: Option<String>,
    pub scope: Option<Scope>,
    /// Make the user an administrator of the practice, or revoke that.
    pub admin: Option<bool>,
}

/// What a removal of a Tax ID affiliation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The user's first and last name.
    pub user_name: String,
    /// The practice the user was removed from.
    pub practice_name: String,
    /// Whether the user still works for another of the administrator's practices (else their
    /// page is no longer the administrator's to see).
    pub still_yours: bool,
}

/// Most providers a chooser lists for one practice.
pub const PROVIDERS_LISTED: i64 = 500;

impl Services {
    /// The current providers of one of the administrator's practices, by provider ID, for
    /// choosing a provider association; `q` (optional) narrows by name, provider ID or NPI.
    pub async fn practice_providers(
        &self,
        grant: &PracticeGrant,
        practice_id: PracticeId,
        q: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<practices::ProviderBrief>, PracticeError> {
        if !grant.administers(practice_id) {
            return Err(self.practice_denied(grant, meta, json!({"practice": practice_id.0})).await);
        }
        let mut conn = self.db.acquire().await?;
        let (list, _) = practices::providers_of(&mut conn, practice_id.0, PROVIDERS_LISTED).await?;
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

    /// Changes the user type of an affiliation with one of the administrator's practices.
    pub async fn set_member_user_type(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        user_type: &str,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let change = AffiliationChange { user_type: Some(user_type.to_owned()), ..Default::default() };
        self.change_member_affiliation(grant, plan, affiliation, &change, meta).await
    }

    /// Sets which providers of the practice an affiliation covers.
    pub async fn set_member_providers(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        scope: &Scope,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let change = AffiliationChange { scope: Some(scope.clone()), ..Default::default() };
        self.change_member_affiliation(grant, plan, affiliation, &change, meta).await
    }

    /// Makes the user of an affiliation an administrator of its practice ("Make Admin"), or
    /// revokes that.
    pub async fn set_member_admin(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        admin: bool,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let change = AffiliationChange { admin: Some(admin), ..Default::default() };
        self.change_member_affiliation(grant, plan, affiliation, &change, meta).await
    }

    /// Changes an affiliation's user type, providers and administrator flag (each optional) in
    /// one transaction: all or nothing. Only an active, signed-up user can be made an
    /// administrator; revoking is refused when it would leave the practice with active users
    /// and no active administrator (also when two administrators revoke each other at once: the
    /// practice is locked).
    pub async fn change_member_affiliation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        change: &AffiliationChange,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let key = change.user_type.as_deref().map(user_type_key).transpose()?;
        let now = self.now();
        let (mut tx, a) = self.locked_affiliation(self.db.begin().await?, grant, plan, affiliation, meta).await?;
        let mut events = Vec::new();
        if let Some(key) = key {
            user_types::get(&mut tx, plan.id(), &key).await?.ok_or_else(|| invalid("Choose one of the user types."))?;
            store::set_user_type(&mut tx, a.id, key.as_str()).await?;
            let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "old": a.user_type, "new": key.as_str()});
            events.push(Event::new("affiliation.user_type_changed").detail(detail));
        }
        if let Some(scope) = &change.scope {
            let (all, listed) = checked_scope(&mut tx, a.practice_id, scope).await?;
            store::set_scope(&mut tx, a.id, all, &listed).await?;
            let detail =
                json!({"affiliation": a.id, "tax_id": a.tax_id, "all_providers": all, "provider_rows": listed});
            events.push(Event::new("affiliation.providers_changed").detail(detail));
        }
        if let Some(admin) = change.admin {
            if a.is_admin == admin {
                return Err(invalid(if admin {
                    "This user is already an administrator of this practice."
                } else {
                    "This user is not an administrator of this practice."
                }));
            }
            if admin {
                let active =
                    users::get(&mut tx, plan.id(), a.user_id).await?.is_some_and(|u| u.status == UserStatus::Active);
                if !active {
                    return Err(invalid("Only an active user who has signed up can be made an administrator."));
                }
            }
            store::set_admin(&mut tx, a.id, admin).await?;
            if !admin {
                ensure_admin_remains(&mut tx, a.practice_id).await?;
            }
            let action = if admin { "affiliation.admin_granted" } else { "affiliation.admin_revoked" };
            let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "practice_id": a.practice_id});
            events.push(Event::new(action).detail(detail));
        }
        let Some(last) = events.pop() else {
            return Err(invalid("Say what to change: the user type, the providers or the administrator flag."));
        };
        for e in events {
            audit::record(&mut tx, now, plan.id(), meta, e.by(grant.actor()).on(a.user_id)).await?;
        }
        self.finish(tx, plan, meta, last.by(grant.actor()).on(a.user_id), now, a.user_id).await
    }

    /// Adds another of the administrator's practices to a user they can reach, with its user
    /// type and providers chosen (nothing is granted before this step). A user with an account
    /// of their own is *offered* the practice, as an invitation of their email would; one who
    /// has not signed up yet gets the affiliation; a deactivated account gets neither.
    pub async fn add_member_affiliation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        user: UserId,
        new: &NewMemberAffiliation,
        meta: &RequestMeta,
    ) -> Result<MemberAdded, PracticeError> {
        let (practice_id, scope) = (new.practice_id, &new.scope);
        let key = user_type_key(&new.user_type)?;
        if !grant.administers(practice_id) {
            return Err(self.practice_denied(grant, meta, json!({"practice": practice_id.0})).await);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(target) = reachable(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        practices::lock(&mut tx, practice_id.0).await?;
        require_admin(&mut tx, grant.actor(), practice_id.0).await?;
        user_types::get(&mut tx, plan.id(), &key).await?.ok_or_else(|| invalid("Choose one of the user types."))?;
        let (all, listed) = checked_scope(&mut tx, practice_id.0, scope).await?;
        if store::of_user_at(&mut tx, user, practice_id.0).await?.is_some() {
            return Err(invalid("This user already has this Tax ID."));
        }
        // A deactivated account is a person's too: reactivated later, it must not hold a practice
        // its person never accepted.
        if target.row.status == UserStatus::Deactivated {
            return Err(invalid("This account is deactivated. Reactivate it first, then add the Tax ID."));
        }
        if target.row.status == UserStatus::Active {
            let inviter = super::offers::admin_name(&mut tx, grant, plan).await?;
            let email = gatehouse_domain::Email::parse(&target.row.email)
                .map_err(|_| Internal::Other("stored email is invalid".into()))?;
            let req = super::offers::OfferRequest {
                user: &target.row,
                email: &email,
                chosen: &[practice_id.0],
                scopes: &[(all, listed)],
                user_type: &key,
                inviter: &inviter,
            };
            let ids = self.offer_in(&mut tx, grant, plan, &req, meta, now).await?;
            gatehouse_store::commit(tx).await?;
            let id = ids.first().copied().ok_or_else(|| Internal::Other("no offer was made".into()))?;
            return Ok(MemberAdded::Offered(id));
        }
        let new = NewAffiliation {
            plan_id: plan.id(),
            user_id: user,
            practice_id: practice_id.0,
            user_type: key.as_str(),
            is_admin: false,
            all_providers: all,
        };
        if !store::insert(&mut tx, &new, now).await? {
            return Err(invalid("This user already has this Tax ID."));
        }
        let row = store::of_user_at(&mut tx, user, practice_id.0)
            .await?
            .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
        store::set_scope(&mut tx, row.id, all, &listed).await?;
        let detail = json!({
            "affiliation": row.id, "tax_id": row.tax_id, "user_type": key.as_str(),
            "all_providers": all, "provider_rows": listed,
        });
        let event = Event::new("affiliation.added").by(grant.actor()).on(user).detail(detail);
        self.finish(tx, plan, meta, event, now, user).await?;
        Ok(MemberAdded::Linked(AffiliationId(row.id)))
    }

    /// Removes one Tax ID affiliation (refused if it would leave the practice without an active
    /// administrator while it has active users).
    pub async fn remove_member_affiliation(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        meta: &RequestMeta,
    ) -> Result<Removed, PracticeError> {
        let now = self.now();
        let (mut tx, a) = self.locked_affiliation(self.db.begin().await?, grant, plan, affiliation, meta).await?;
        store::delete(&mut tx, a.id).await?;
        ensure_admin_remains(&mut tx, a.practice_id).await?;
        let user_name = users::get(&mut tx, plan.id(), a.user_id)
            .await?
            .map(|u| format!("{} {}", u.first_name, u.last_name))
            .unwrap_or_default();
        let still_yours = reachable(&mut tx, grant, plan, a.user_id).await?.is_some();
        let detail = json!({"affiliation": a.id, "tax_id": a.tax_id, "was_admin": a.is_admin});
        let event = Event::new("affiliation.removed").by(grant.actor()).on(a.user_id).detail(detail);
        self.finish(tx, plan, meta, event, now, a.user_id).await?;
        Ok(Removed { user_name, practice_name: a.practice_name, still_yours })
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
        let Some(t) = reachable(&mut tx, grant, plan, user).await? else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"user": user.0})).await);
        };
        let mut mine = t.mine;
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
        let event = Event::new("affiliation.user_revoked").by(grant.actor()).on(user).detail(detail);
        self.finish(tx, plan, meta, event, now, user).await?;
        Ok(mine.len())
    }

    /// Makes the user of `to` (an affiliation with one of the administrator's practices) its
    /// administrator and steps the actor down, in one confirmed action (seed 004, "replace the
    /// administrator").
    pub async fn hand_over_admin(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        to: AffiliationId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let (mut tx, target) = self.locked_affiliation(self.db.begin().await?, grant, plan, to, meta).await?;
        if target.user_id == grant.actor() {
            return Err(invalid("Choose someone other than yourself."));
        }
        let mine = require_admin(&mut tx, grant.actor(), target.practice_id).await?;
        let active =
            users::get(&mut tx, plan.id(), target.user_id).await?.is_some_and(|u| u.status == UserStatus::Active);
        if !active {
            return Err(invalid("The new administrator must be an active user who has signed up."));
        }
        store::set_admin(&mut tx, target.id, true).await?;
        store::set_admin(&mut tx, mine.id, false).await?;
        ensure_admin_remains(&mut tx, target.practice_id).await?;
        changed(&mut tx, plan.id(), grant.actor(), now).await?;
        let detail = json!({"tax_id": target.tax_id, "practice_id": target.practice_id, "from_affiliation": mine.id, "to_affiliation": target.id});
        let event = Event::new("affiliation.admin_handed_over").by(grant.actor()).on(target.user_id).detail(detail);
        self.finish(tx, plan, meta, event, now, target.user_id).await?;
        self.access_changed(plan.id(), Some(grant.actor())).await;
        Ok(())
    }

    /// The affiliation, if it is with one of the administrator's practices and its user may be
    /// reached, with that practice locked and the actor's administrator flag checked again under
    /// the lock. A refusal is audited after the transaction is given up (SQLite has one writer).
    async fn locked_affiliation(
        &self,
        mut tx: gatehouse_store::Tx,
        grant: &PracticeGrant,
        plan: &Plan,
        affiliation: AffiliationId,
        meta: &RequestMeta,
    ) -> Result<(gatehouse_store::Tx, AffiliationRow), PracticeError> {
        let found = store::get(&mut tx, plan.id(), affiliation.0)
            .await?
            .filter(|a| grant.administers(PracticeId(a.practice_id)));
        let found = match found {
            Some(a) if reachable(&mut tx, grant, plan, a.user_id).await?.is_some() => Some(a),
            _ => None,
        };
        let Some(a) = found else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"affiliation": affiliation.0})).await);
        };
        practices::lock(&mut tx, a.practice_id).await?;
        require_admin(&mut tx, grant.actor(), a.practice_id).await?;
        // Read again under the lock: a concurrent change may have committed meanwhile.
        let a = store::get(&mut tx, plan.id(), affiliation.0).await?.ok_or(PracticeError::NotFound)?;
        Ok((tx, a))
    }

    /// Audits, records the access change, commits, and refreshes this instance's index.
    pub(super) async fn finish(
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

/// All providers, or a non-empty list of the practice's current providers.
pub(crate) async fn checked_scope(
    tx: &mut Conn,
    practice_id: i64,
    scope: &Scope,
) -> Result<(bool, Vec<i64>), PracticeError> {
    match scope {
        Scope::All => Ok((true, Vec::new())),
        Scope::Providers(ids) if ids.is_empty() => Err(invalid("Choose at least one provider, or all providers.")),
        Scope::Providers(ids) => {
            let mut ids: Vec<i64> = ids.iter().map(|r| r.0).collect();
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
