//! The UserInfo endpoint (OIDC Core 5.3): the claims of the scopes granted, for an access token
//! whose grant is not revoked, whose session is live and whose account is active.

use crate::affiliations::LinkedAccount;
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, Services};
use gatehouse_domain::AffiliationId;
use gatehouse_domain::permissions::{Permission, PermissionSet, UserTypeKey};
use gatehouse_domain::scopes::{Scope, ScopeSet};
use gatehouse_domain::session::SessionStage;
use gatehouse_store::oidc_grants as store;
use gatehouse_store::{affiliations, user_types, users};
use serde_json::{Value, json};
use thiserror::Error;

/// Why the claims were not given.
#[derive(Debug, Error)]
pub enum UserinfoError {
    /// Not an access token of this plan, expired, or its grant, session or account has ended.
    #[error("The access token is not valid.")]
    InvalidToken,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for UserinfoError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl Services {
    /// The claims an access token may read.
    pub async fn oidc_userinfo(&self, plan: &Plan, access_token: &str) -> Result<Value, UserinfoError> {
        let claims = self.oidc_verify(plan, access_token).await.map_err(|e| match e {
            crate::oidc::OidcError::Internal(i) => UserinfoError::Internal(i),
            _ => UserinfoError::InvalidToken,
        })?;
        // An application's own token speaks for no person.
        if claims.get(super::client_credentials::KIND_CLAIM).is_some() {
            return Err(UserinfoError::InvalidToken);
        }
        // An ID token is no access token: only these carry the grant and the client.
        let (Some(grant_id), Some(_), Some(sub)) = (
            claims.get("gh_grant").and_then(Value::as_i64),
            claims.get("client_id").and_then(Value::as_str),
            claims.get("sub").and_then(Value::as_str),
        ) else {
            return Err(UserinfoError::InvalidToken);
        };
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let grant = store::grant(&mut conn, plan.id(), grant_id).await?.filter(|g| g.revoked_at.is_none());
        let grant = grant.ok_or(UserinfoError::InvalidToken)?;
        if !self.session_and_account_live(&mut conn, plan, &grant, now, false).await? {
            return Err(UserinfoError::InvalidToken);
        }
        if store::subject_of(&mut conn, plan.id(), grant.user_id).await?.as_deref() != Some(sub) {
            return Err(UserinfoError::InvalidToken);
        }
        let user = users::get(&mut conn, plan.id(), grant.user_id).await?.ok_or(UserinfoError::InvalidToken)?;
        let scopes = ScopeSet::split_known(&grant.scopes).0;
        let mut out = json!({"sub": sub});
        if scopes.contains(Scope::Profile) {
            let name = [user.first_name.as_str(), user.middle_name.as_str(), user.last_name.as_str()]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            out["name"] = json!(name);
            out["given_name"] = json!(user.first_name);
            out["family_name"] = json!(user.last_name);
            if !user.middle_name.is_empty() {
                out["middle_name"] = json!(user.middle_name);
            }
            if let Some(u) = &user.username {
                out["preferred_username"] = json!(u);
            }
        }
        if scopes.contains(Scope::Email) {
            out["email"] = json!(user.email);
            // Proven by a link sent to it (sign-up, a confirmed change, an imported account's
            // first-sign-in proof); not an address someone else set, nor an imported one unproven.
            out["email_verified"] = json!(user.email_verified_at.is_some());
        }
        if scopes.contains(Scope::Phone)
            && let Some(p) = &user.two_step_phone
        {
            out["phone_number"] = json!(p);
            // The two-step phone is proven by a code sent to it when it is set.
            out["phone_number_verified"] = json!(true);
        }
        if scopes.contains(Scope::Affiliations) {
            let session = gatehouse_store::sessions::get(&mut conn, plan.id(), grant.session_id).await?;
            let active = session.and_then(|s| s.active_affiliation_id);
            drop(conn);
            let info = SessionInfo {
                id: grant.session_id,
                plan_id: plan.id(),
                user_id: grant.user_id,
                stage: SessionStage::Complete,
                created_at: 0,
                active_affiliation: active,
            };
            let linked = self.linked_accounts(plan, &info).await.map_err(|e| Internal::Other(e.to_string()))?;
            let permissions = self.affiliation_permissions(plan, grant.user_id).await?;
            out["affiliations"] = json!(linked.iter().map(|a| affiliation(a, &permissions)).collect::<Vec<_>>());
            out["active_affiliation"] = json!(linked.iter().find(|a| a.active).map(|a| a.tax_id.clone()));
        }
        Ok(out)
    }

    /// Each of the user's affiliations' effective permissions (the user type's, and managing
    /// users for an administrator), by affiliation id.
    async fn affiliation_permissions(
        &self,
        plan: &Plan,
        user: gatehouse_domain::UserId,
    ) -> Result<Vec<(AffiliationId, PermissionSet)>, Internal> {
        let mut conn = self.db.acquire().await?;
        let types = user_types::list(&mut conn, plan.id()).await?;
        let rows = affiliations::of_user(&mut conn, user).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut set = UserTypeKey::parse(&r.user_type)
                    .ok()
                    .and_then(|k| types.iter().find(|t| t.key == k))
                    .map_or_else(PermissionSet::default, |t| t.permissions);
                if r.is_admin {
                    set.insert(Permission::UsersManage);
                }
                (AffiliationId(r.id), set)
            })
            .collect())
    }
}

/// One affiliation as the `gatehouse:affiliations` claim shows it.
fn affiliation(a: &LinkedAccount, permissions: &[(AffiliationId, PermissionSet)]) -> Value {
    let perms = permissions.iter().find(|(id, _)| *id == a.id).map(|(_, p)| p.names()).unwrap_or_default();
    let providers = if a.all_providers {
        json!("all")
    } else {
        json!(
            a.providers
                .iter()
                .map(|p| json!({"provider_id": p.provider_id, "npi": p.npi, "name": p.name}))
                .collect::<Vec<_>>()
        )
    };
    json!({
        "tax_id": a.tax_id,
        "practice": a.practice_name,
        "user_type": a.user_type,
        "administrator": a.is_admin,
        "permissions": perms,
        "providers": providers,
        "active": a.active,
    })
}
