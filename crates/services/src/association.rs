//! Self-service association (seed 001, "Associate Your Account" and "Link Your Account").
//!
//! Step 1 ([`Services::check_association`]) matches what the user knows about a provider (type,
//! name, Tax ID, provider ID, ZIP) against the roster. Every attempt is stored: failed ones are
//! throttled per user and per Tax ID, so provider IDs cannot be guessed, and a failure never
//! says which field was wrong (that would confirm the others). A match is usable once, for
//! [`MATCH_LIFETIME`].
//!
//! Step 2 ([`Services::accept_association`]) is the provider agreement: accepting it makes the
//! user the administrator of that Tax ID, for the provider matched (practitioner) or all of the
//! Tax ID's providers (group). When the practice already has an administrator there is no
//! takeover: the user sees the administrators' names (nothing more) and may send them an access
//! request ([`Services::request_access`]); see [`crate::access_requests`] for their side.
//!
//! Linking a further provider repeats the same two steps: for a practice the user already
//! administers, the provider is added to their affiliation.

use crate::affiliations::{self, AffiliationError, signed_in};
use crate::audit::{self, Event};
use crate::messages::{self, access::AccessV1};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::association::{AssociationErrors, AssociationForm, RosterCandidate};
use gatehouse_domain::roster::ProviderKind;
use gatehouse_domain::{Duration, MatchId, UserId, UserStatus};
use gatehouse_store::affiliations::{self as aff_store, NewAffiliation};
use gatehouse_store::association::{self as store, AttemptRow, NewAttempt, Outcome};
use gatehouse_store::roster::practices::{self, PracticeRow};
use gatehouse_store::{Conn, access_requests, users};
use serde_json::json;
use thiserror::Error;

/// Failed attempts one user may make in [`THROTTLE_WINDOW`].
pub const MAX_FAILED_PER_USER: i64 = 5;
/// Failed attempts naming one Tax ID, by anyone, in [`THROTTLE_WINDOW`].
pub const MAX_FAILED_PER_TAX_ID: i64 = 20;
/// The throttle's window.
pub const THROTTLE_WINDOW: Duration = Duration::hours(1);
/// How long a match may be used for step 2 or an access request.
pub const MATCH_LIFETIME: Duration = Duration::minutes(30);
/// The provider agreement's version, recorded with each acceptance.
pub const AGREEMENT_VERSION: &str = "provider-administrator-agreement-2026-1";
/// The user type of a self-associated administrator.
pub const ADMIN_USER_TYPE: &str = "office_manager";

/// Why an association step was refused.
#[derive(Debug, Error)]
pub enum AssociationError {
    #[error("Sign in first.")]
    NotSignedIn,
    /// Fields are missing or malformed; each problem names its field.
    #[error(transparent)]
    Invalid(#[from] AssociationErrors),
    #[error(
        "Too many attempts did not match our records in the last hour. For your practice's security, please wait an hour and try again, or call provider services."
    )]
    Throttled,
    #[error(
        "The information you entered does not match our provider records. Check each item against your welcome letter (provider type, name, Tax ID, provider ID and a ZIP code of one of the provider's addresses) and try again."
    )]
    NoMatch,
    #[error("Your account is already linked to this provider at {practice}.")]
    AlreadyLinked { practice: String },
    #[error("This step has expired or was already completed. Please start again.")]
    MatchExpired,
    /// No match of this user has that id (another user's reads the same as none).
    #[error("That step was not found. Please start again.")]
    MatchNotFound,
    #[error("To continue, check the box to accept the provider agreement.")]
    AgreementRequired,
    #[error(
        "{practice} already has an administrator: {}. Contact them for access, or send them an access request.",
        names.join(", ")
    )]
    HasAdmin { practice: String, names: Vec<String> },
    #[error("You already sent an access request for this practice. Its administrator will review it.")]
    AlreadyRequested,
    #[error("This practice has no administrator to ask. Go back and accept the provider agreement instead.")]
    NoAdminToAsk,
    /// Plan staff work for the plan, not for a practice: their accounts are never linked to one
    /// (as no invitation or offer links them).
    #[error(
        "Plan staff accounts are not linked to practices. Practice work is done with a practice's own portal account."
    )]
    StaffAccount,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AssociationError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<AffiliationError> for AssociationError {
    fn from(e: AffiliationError) -> Self {
        match e {
            AffiliationError::Internal(i) => Self::Internal(i),
            _ => Self::NotSignedIn,
        }
    }
}

/// A provider matched in step 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Pass this to step 2 or to the access request.
    pub attempt_id: MatchId,
    pub practice_name: String,
    pub tax_id: String,
    /// The practitioner matched (provider ID, name); `None` for a group: all of the Tax ID's providers.
    pub provider: Option<(String, String)>,
    /// The practice's administrators by name when it already has some (no takeover): the user
    /// may ask them for access instead of becoming one.
    pub admins: Vec<String>,
}

/// What step 2 did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Associated {
    pub affiliation_id: i64,
    pub practice_name: String,
    /// A new affiliation (rather than a provider added to an existing one).
    pub new_affiliation: bool,
}

/// "First Last" of the practice's administrators (active or invited), other than `user`.
async fn admin_names(conn: &mut Conn, practice_id: i64, user: UserId) -> Result<Vec<String>, AssociationError> {
    Ok(aff_store::admins_of(conn, practice_id)
        .await?
        .into_iter()
        .filter(|a| a.user_id != user)
        .map(|a| format!("{} {}", a.first_name, a.last_name))
        .collect())
}

/// The user's usable match `id` (matched, unused, not expired).
/// Refuses a plan staff account: an association would make it a practice's administrator.
async fn require_portal_user(conn: &mut Conn, plan: &Plan, user: UserId) -> Result<(), AssociationError> {
    let row = users::get(conn, plan.id(), user).await?.ok_or(AssociationError::NotSignedIn)?;
    if row.staff_role.is_some() {
        return Err(AssociationError::StaffAccount);
    }
    Ok(())
}

async fn usable(conn: &mut Conn, plan: &Plan, user: UserId, id: i64, now: i64) -> Result<AttemptRow, AssociationError> {
    let a = store::get(conn, plan.id(), user, id).await?.ok_or(AssociationError::MatchNotFound)?;
    let fresh = a.used_at.is_none() && a.at + MATCH_LIFETIME.as_secs() >= now;
    if !fresh || a.outcome == Outcome::NoMatch || a.practice_id.is_none() {
        return Err(AssociationError::MatchExpired);
    }
    Ok(a)
}

/// The match's practice and the provider's (ID, name).
async fn describe(
    conn: &mut Conn,
    plan: &Plan,
    a: &AttemptRow,
) -> Result<(PracticeRow, Option<(String, String)>), AssociationError> {
    let practice_id = a.practice_id.ok_or(AssociationError::MatchExpired)?;
    let practice = practices::get(conn, plan.id(), practice_id).await?.ok_or(AssociationError::MatchExpired)?;
    let provider = match a.provider_id {
        Some(row) => {
            let (list, _) = practices::providers_of(conn, practice_id, i64::MAX).await?;
            list.into_iter().find(|p| p.id == row).map(|p| (p.provider_id, p.name))
        }
        None => None,
    };
    Ok((practice, provider))
}

impl Services {
    /// Step 1: matches the form against the roster (see the module documentation).
    pub async fn check_association(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        form: &AssociationForm,
        meta: &RequestMeta,
    ) -> Result<Matched, AssociationError> {
        let user = signed_in(plan, s)?;
        // Staff first: whatever they type, this is not for them.
        {
            let mut conn = self.db.acquire().await?;
            require_portal_user(&mut conn, plan, user).await?;
        }
        let claim = form.parse()?;
        let now = self.now();
        let since = now - THROTTLE_WINDOW.as_secs();
        let tax_id = claim.tax_id.as_str();
        let mut tx = self.db.begin().await?;
        // Attempts of a plan one at a time, so concurrent submits cannot pass the throttle together.
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        if store::count_failed_by_user(&mut tx, plan.id(), user, since).await? >= MAX_FAILED_PER_USER
            || store::count_failed_by_tax_id(&mut tx, plan.id(), tax_id, since).await? >= MAX_FAILED_PER_TAX_ID
        {
            let event = Event::new("association.throttled").by_self(user).detail(json!({"tax_id": tax_id}));
            audit::record(&mut tx, now, plan.id(), meta, event).await?;
            gatehouse_store::commit(tx).await?;
            return Err(AssociationError::Throttled);
        }
        let practice = practices::by_tax_id(&mut tx, plan.id(), tax_id).await?;
        let provider = match &practice {
            Some(p) => practices::provider_in(&mut tx, p.id, claim.provider_id.as_str()).await?,
            None => None,
        };
        let found = practice.zip(provider).filter(|(p, v)| {
            let zips = [v.zip.as_str(), p.zip.as_str()];
            ProviderKind::parse(&v.kind).is_some_and(|kind| {
                claim.matches(&RosterCandidate {
                    kind,
                    first_name: &v.first_name,
                    last_name: &v.last_name,
                    org_name: &v.org_name,
                    zips: &zips,
                    end_dated: v.end_dated,
                })
            })
        });
        let Some((practice, provider)) = found else {
            let attempt = NewAttempt {
                plan_id: plan.id(),
                user_id: user,
                tax_id,
                outcome: Outcome::NoMatch,
                practice_id: None,
                provider_id: None,
            };
            store::record(&mut tx, &attempt, now).await?;
            let event = Event::new("association.no_match")
                .by_self(user)
                .detail(json!({"tax_id": tax_id, "provider_id": claim.provider_id.as_str()}));
            audit::record(&mut tx, now, plan.id(), meta, event).await?;
            gatehouse_store::commit(tx).await?;
            return Err(AssociationError::NoMatch);
        };
        let is_group = provider.kind != ProviderKind::Practitioner.as_str();
        let existing = aff_store::of_user_at(&mut tx, user, practice.id).await?;
        if let Some(e) = &existing {
            let covered = e.all_providers
                || (!is_group && aff_store::providers_of(&mut tx, e.id).await?.iter().any(|p| p.0 == provider.id));
            if covered {
                return Err(AssociationError::AlreadyLinked { practice: practice.name });
            }
        }
        let admins = if existing.as_ref().is_some_and(|e| e.is_admin) {
            Vec::new()
        } else {
            admin_names(&mut tx, practice.id, user).await?
        };
        let outcome = if admins.is_empty() { Outcome::Matched } else { Outcome::HasAdmin };
        let attempt = NewAttempt {
            plan_id: plan.id(),
            user_id: user,
            tax_id,
            outcome,
            practice_id: Some(practice.id),
            provider_id: (!is_group).then_some(provider.id),
        };
        let attempt_id = store::record(&mut tx, &attempt, now).await?;
        let event = Event::new("association.matched").by_self(user).detail(json!({
            "tax_id": tax_id,
            "provider_id": claim.provider_id.as_str(),
            "scope": if is_group { "all_providers" } else { "provider" },
            "has_administrator": !admins.is_empty(),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        let name = if is_group {
            None
        } else {
            Some((claim.provider_id.as_str().to_owned(), format!("{} {}", provider.first_name, provider.last_name)))
        };
        Ok(Matched {
            attempt_id: MatchId(attempt_id),
            practice_name: practice.name,
            tax_id: practice.tax_id,
            provider: name,
            admins,
        })
    }

    /// A usable match of step 1 again (for step 2's page).
    pub async fn association_match(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: MatchId,
    ) -> Result<Matched, AssociationError> {
        let id = id.0;
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let a = usable(&mut conn, plan, user, id, now).await?;
        let (practice, provider) = describe(&mut conn, plan, &a).await?;
        let existing_admin = aff_store::of_user_at(&mut conn, user, practice.id).await?.is_some_and(|e| e.is_admin);
        let admins = if existing_admin { Vec::new() } else { admin_names(&mut conn, practice.id, user).await? };
        Ok(Matched {
            attempt_id: MatchId(a.id),
            practice_name: practice.name,
            tax_id: practice.tax_id,
            provider,
            admins,
        })
    }

    /// Step 2: the user accepts the provider agreement and becomes the practice's administrator
    /// for the matched provider (or all its providers). Refused, with the administrators' names,
    /// if the practice gained an administrator meanwhile.
    pub async fn accept_association(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: MatchId,
        agreed: bool,
        meta: &RequestMeta,
    ) -> Result<Associated, AssociationError> {
        let id = id.0;
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let a = usable(&mut tx, plan, user, id, now).await?;
        require_portal_user(&mut tx, plan, user).await?;
        if !agreed {
            return Err(AssociationError::AgreementRequired);
        }
        let practice_id = a.practice_id.ok_or(AssociationError::MatchExpired)?;
        practices::lock(&mut tx, practice_id).await?;
        let (practice, _) = describe(&mut tx, plan, &a).await?;
        let existing = aff_store::of_user_at(&mut tx, user, practice_id).await?;
        if !existing.as_ref().is_some_and(|e| e.is_admin) {
            let names = admin_names(&mut tx, practice_id, user).await?;
            if !names.is_empty() {
                return Err(AssociationError::HasAdmin { practice: practice.name, names });
            }
        }
        if !store::mark_used(&mut tx, a.id, now).await? {
            return Err(AssociationError::MatchExpired);
        }
        let all = a.provider_id.is_none();
        let (affiliation_id, new_affiliation) = match existing {
            Some(e) => {
                aff_store::set_admin(&mut tx, e.id, true).await?;
                match a.provider_id {
                    Some(p) if !e.all_providers => {
                        aff_store::add_provider(&mut tx, e.id, p).await?;
                    }
                    _ => aff_store::set_scope(&mut tx, e.id, true, &[]).await?,
                }
                (e.id, false)
            }
            None => {
                let new = NewAffiliation {
                    plan_id: plan.id(),
                    user_id: user,
                    practice_id,
                    user_type: ADMIN_USER_TYPE,
                    is_admin: true,
                    all_providers: all,
                };
                aff_store::insert(&mut tx, &new, now).await?;
                let row = aff_store::of_user_at(&mut tx, user, practice_id)
                    .await?
                    .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
                if let Some(p) = a.provider_id {
                    aff_store::add_provider(&mut tx, row.id, p).await?;
                }
                (row.id, true)
            }
        };
        let event = Event::new("affiliation.associated").by_self(user).detail(json!({
            "affiliation": affiliation_id,
            "tax_id": practice.tax_id,
            "practice_id": practice_id,
            "provider_row": a.provider_id,
            "all_providers": all,
            "administrator": true,
            "agreement": AGREEMENT_VERSION,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        affiliations::changed(&mut tx, plan.id(), user, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(user)).await;
        Ok(Associated { affiliation_id, practice_name: practice.name, new_affiliation })
    }

    /// Sends the practice's administrators an access request from a match (no takeover: they
    /// decide the user type and providers). Returns the request's id.
    pub async fn request_access(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: MatchId,
        meta: &RequestMeta,
    ) -> Result<i64, AssociationError> {
        let id = id.0;
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let a = usable(&mut tx, plan, user, id, now).await?;
        require_portal_user(&mut tx, plan, user).await?;
        let practice_id = a.practice_id.ok_or(AssociationError::MatchExpired)?;
        let (practice, _) = describe(&mut tx, plan, &a).await?;
        let admins = aff_store::admins_of(&mut tx, practice_id).await?;
        let admins: Vec<_> = admins.into_iter().filter(|x| x.user_id != user).collect();
        if admins.is_empty() {
            return Err(AssociationError::NoAdminToAsk);
        }
        let request = access_requests::insert(&mut tx, plan.id(), user, practice_id, a.provider_id, now)
            .await?
            .ok_or(AssociationError::AlreadyRequested)?;
        store::mark_used(&mut tx, a.id, now).await?;
        let me = users::get(&mut tx, plan.id(), user).await?.ok_or(AssociationError::NotSignedIn)?;
        let requester = format!("{} {}", me.first_name, me.last_name);
        let link = format!("{}/access-requests", self.plan_url(plan));
        for admin in admins.iter().filter(|x| x.status == UserStatus::Active) {
            let msg = AccessV1 {
                first_name: &admin.first_name,
                plan_name: &plan.row.name,
                practice_name: &practice.name,
                requester_name: &requester,
                link: &link,
                support_phone: &plan.row.support_phone,
                support_hours: &plan.row.support_hours,
            }
            .requested(&admin.email)?;
            messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        }
        let event = Event::new("access.requested").by_self(user).detail(json!({
            "request": request,
            "tax_id": practice.tax_id,
            "practice_id": practice_id,
            "provider_row": a.provider_id,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(request)
    }
}
