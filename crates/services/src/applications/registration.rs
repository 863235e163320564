//! Registering an application as an OpenID Connect client, editing its registration and
//! replacing a confidential client's secret. Plan administrators (the staff permission for
//! applications); each change audited in its own transaction, and every instance's in-memory
//! copy refreshed through the access change log.

use super::{ApplicationError, clean_name};
use crate::plans::Plan;
use crate::staff::StaffGrant;
use crate::tokens::{hash_token, new_token, random_u64};
use crate::{RequestMeta, Services, audit};
use gatehouse_domain::ApplicationId;
use gatehouse_domain::client_registration::{
    ClientType, LogoutDestinations, Registration, RegistrationErrors, RegistrationField, RegistrationInput,
};
use gatehouse_domain::redirect_uri::RedirectUri;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_store::access_changes;
use gatehouse_store::applications::{self, ApplicationRow, NewApplication};
use serde_json::{Value, json};

/// What plan staff enter to register or edit an application.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplicationForm<'a> {
    pub name: &'a str,
    /// On an edit the client type entered is ignored: it is fixed at registration.
    pub registration: RegistrationInput<'a>,
}

impl ApplicationForm<'_> {
    /// The cleaned name and the checked registration, or every mistake.
    fn parse(&self, logout_to: LogoutDestinations) -> Result<(String, Registration), RegistrationErrors> {
        let name = clean_name(self.name);
        let reg = self.registration.parse(logout_to);
        match (name, reg) {
            (Some(n), Ok(r)) => Ok((n, r)),
            (name, reg) => {
                let mut errors = reg.err().unwrap_or_default();
                if name.is_none() {
                    errors.0.insert(0, (RegistrationField::Name, ApplicationError::BadName.to_string()));
                }
                Err(errors)
            }
        }
    }
}

/// A newly registered application; a confidential one's secret is in `secret`, shown once.
#[derive(Debug, Clone)]
pub struct RegisteredApplication {
    pub row: ApplicationRow,
    pub secret: Option<String>,
}

/// The registration as the audit log keeps it.
fn audited(name: &str, r: &Registration) -> Value {
    let uris = |l: &[RedirectUri]| l.iter().map(|u| Value::from(u.as_str())).collect::<Vec<_>>();
    json!({
        "name": name,
        "client_type": r.client_type.as_str(),
        "redirect_uris": uris(&r.redirect_uris),
        "post_logout_redirect_uris": uris(&r.post_logout_redirect_uris),
        "scopes": r.scopes.canonical(),
        "first_party": r.first_party,
        "id_token_alg": r.id_token_alg.as_str(),
        "backchannel_logout_uri": r.backchannel_logout_uri.as_ref().map(|u| u.as_str()),
    })
}

impl Services {
    /// Registers an application from the control panel's form. A confidential client's secret
    /// is in the answer, once; a public client gets none. Plan administrators.
    pub async fn register_application(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        form: &ApplicationForm<'_>,
        meta: &RequestMeta,
    ) -> Result<RegisteredApplication, ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let (name, registration) = form.parse(self.config.logout_destinations)?;
        self.register_checked(grant, plan, &name, &registration, meta).await
    }

    /// Stores a checked registration: one transaction with its audit event and change-log row.
    pub(super) async fn register_checked(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        name: &str,
        registration: &Registration,
        meta: &RequestMeta,
    ) -> Result<RegisteredApplication, ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let client_id = format!("gh_{:016x}{:016x}", random_u64(), random_u64());
        let secret = (registration.client_type == ClientType::Confidential).then(new_token);
        let secret_hash = secret.as_deref().map(hash_token).unwrap_or_default();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let new = NewApplication {
            plan_id: plan.id(),
            name,
            client_id: &client_id,
            secret_hash: &secret_hash,
            created_by: grant.actor(),
            registration,
        };
        let id = applications::insert(&mut tx, &new, now).await?;
        let mut detail = audited(name, registration);
        detail["application_id"] = json!(id);
        detail["client_id"] = json!(client_id);
        audit::record(&mut tx, now, plan.id(), meta, grant.event("application.created").detail(detail)).await?;
        access_changes::record(&mut tx, plan.id(), None, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), None).await;
        let row = ApplicationRow {
            id,
            plan_id: plan.id(),
            name: name.to_owned(),
            client_id,
            secret_hash,
            created_at: now,
            created_by: grant.actor(),
            revoked_at: None,
            registration: registration.clone(),
            updated_at: now,
        };
        Ok(RegisteredApplication { row, secret })
    }

    /// One live application of the plan, for its edit page; another plan's, a revoked one or
    /// none is [`ApplicationError::NotFound`]. Plan administrators.
    pub async fn application(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: ApplicationId,
    ) -> Result<ApplicationRow, ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let mut conn = self.db.acquire().await?;
        applications::get(&mut conn, plan.id(), id.0)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .ok_or(ApplicationError::NotFound)
    }

    /// Replaces a live application's name and registration; its client type and secret stay.
    /// A narrower registration (fewer scopes, or consent now asked) revokes the application's
    /// grants. Plan administrators.
    pub async fn update_application(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: ApplicationId,
        form: &ApplicationForm<'_>,
        meta: &RequestMeta,
    ) -> Result<ApplicationRow, ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let before = applications::get(&mut tx, plan.id(), id.0)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .ok_or(ApplicationError::NotFound)?;
        let fixed = RegistrationInput { client_type: before.registration.client_type.as_str(), ..form.registration };
        let (name, registration) =
            ApplicationForm { name: form.name, registration: fixed }.parse(self.config.logout_destinations)?;
        let after = applications::update_registration(&mut tx, plan.id(), id.0, &name, &registration, now)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        // Narrowed (a scope taken away, or people now asked to consent): what was granted under
        // the wider registration ends, so that no refresh goes on reading what it no longer may.
        let narrowed = !before.registration.scopes.is_subset(&after.registration.scopes)
            || (before.registration.first_party && !after.registration.first_party);
        let grants_revoked = if narrowed {
            gatehouse_store::oidc_grants::revoke_grants_of(&mut tx, plan.id(), id.0, now).await?
        } else {
            0
        };
        let detail = json!({
            "application_id": id.0,
            "client_id": after.client_id,
            "before": audited(&before.name, &before.registration),
            "after": audited(&after.name, &after.registration),
            "grants_revoked": grants_revoked,
        });
        audit::record(&mut tx, now, plan.id(), meta, grant.event("application.updated").detail(detail)).await?;
        access_changes::record(&mut tx, plan.id(), None, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), None).await;
        Ok(after)
    }

    /// Gives a live confidential application a new secret, returned once; the old one stops
    /// working at once here, within a second on other instances. Plan administrators.
    pub async fn regenerate_application_secret(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: ApplicationId,
        meta: &RequestMeta,
    ) -> Result<(ApplicationRow, String), ApplicationError> {
        grant.require(plan.id(), StaffPermission::Applications)?;
        let secret = new_token();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let current = applications::get(&mut tx, plan.id(), id.0)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .ok_or(ApplicationError::NotFound)?;
        if current.registration.client_type == ClientType::Public {
            return Err(ApplicationError::PublicClient);
        }
        let row = applications::replace_secret(&mut tx, plan.id(), id.0, &hash_token(&secret), now)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        let detail = json!({"application_id": id.0, "name": row.name, "client_id": row.client_id});
        audit::record(&mut tx, now, plan.id(), meta, grant.event("application.secret_replaced").detail(detail)).await?;
        access_changes::record(&mut tx, plan.id(), None, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), None).await;
        Ok((row, secret))
    }
}
