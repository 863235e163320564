//! Passkeys (WebAuthn, issue 19) with `webauthn-rs`: a signed-in user registers several (named)
//! from their profile after confirming it is them, lists and removes them; a user-verifying
//! passkey signs in on its own (a discoverable credential: the key names its user), or serves as
//! the second step after the password.
//!
//! The relying party of a plan is its own address ([`Services::plan_url`]): the relying-party id
//! is the plan's host name and the only origin accepted is the plan's URL origin, so a key made
//! at one plan's host is refused at another's; keys are also looked up only within the plan.
//! Every ceremony's state waits in the database (`passkey_ceremonies`, migration 0037) between
//! its two requests, under the SHA-256 of a random handle given to the client, bound to the plan,
//! its kind and (except for a sign-in by passkey alone) the session and user; it is taken once by
//! a conditional update and lives [`CEREMONY_LIFETIME`].

use crate::audit::{self, Event};
use crate::authenticator_app;
use crate::messages::{self, factors::FactorEvent, factors::FactorNoticeV1};
use crate::plans::Plan;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::passkey::{CEREMONY_LIFETIME, CeremonyKind, PasskeyName, PasskeyNameError};
use gatehouse_domain::session::{AuthMethods, PasskeyProof, SessionStage};
use gatehouse_domain::{PasskeyId, UserId, UserStatus};
use gatehouse_store::passkeys::{self as store, NewCeremony, NewPasskey, PasskeyRow};
use gatehouse_store::{Conn, recovery_codes, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// Why a passkey action was refused.
#[derive(Debug, Error)]
pub enum PasskeyError {
    #[error("For your security, confirm it is you again before changing your passkeys.")]
    NotUnlocked,
    #[error(transparent)]
    Name(#[from] PasskeyNameError),
    #[error("This passkey request has expired or was already used. Try again.")]
    CeremonyUnusable,
    #[error("That passkey could not be used here. Try again, or use your username and password.")]
    Refused,
    #[error("That passkey is already registered.")]
    AlreadyRegistered,
    #[error("That passkey was not found.")]
    NotFound,
    #[error("You have no passkey. Use the code we sent instead.")]
    NoPasskey,
    #[error("This account is deactivated. Contact your practice administrator.")]
    Deactivated,
    #[error("Your plan does not offer passkeys.")]
    NotOffered,
    #[error("Your plan requires an app or passkey: add another before removing this one.")]
    StrongFactorRequired,
    #[error("This step is not available now. Start again from sign in.")]
    WrongStage,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for PasskeyError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::profile::ProfileError> for PasskeyError {
    fn from(e: crate::profile::ProfileError) -> Self {
        match e {
            crate::profile::ProfileError::Internal(i) => Self::Internal(i),
            _ => Self::NotUnlocked,
        }
    }
}

impl PasskeyError {
    /// The form field the error belongs beside, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Name(_) => Some("name"),
            _ => None,
        }
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Internal {
    Internal::Other(format!("{what}: {e}"))
}

/// The options a client hands to `navigator.credentials.create` / `get` (`{"publicKey": …}`), and
/// the handle it sends back with the authenticator's answer.
#[derive(Debug, Clone, Serialize)]
pub struct CeremonyOptions {
    pub ceremony: String,
    pub options: Value,
}

/// One of the user's passkeys, as their page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    pub id: PasskeyId,
    pub name: String,
    /// Synced between devices by its provider (the authenticator said it may be copied), rather
    /// than kept on one device.
    pub synced: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<PasskeyRow> for PasskeyView {
    fn from(r: PasskeyRow) -> Self {
        Self {
            id: PasskeyId(r.id),
            name: r.name,
            synced: r.backup_eligible,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A passkey just registered, and the recovery codes made with it: the ten codes, shown this once,
/// when it is the user's first strong factor (no authenticator app, no unused recovery codes).
#[derive(Debug, Clone)]
pub struct PasskeyRegistered {
    pub passkey: PasskeyView,
    pub recovery_codes: Option<Vec<String>>,
}

/// A session after a passkey, and where it goes next.
#[derive(Debug)]
pub struct PasskeySignedIn {
    pub session: SessionToken,
    pub stage: SessionStage,
}

/// What a registration ceremony keeps: the webauthn-rs state, the user handle the key receives
/// and the name the user chose.
#[derive(Serialize, Deserialize)]
struct RegistrationState {
    handle: String,
    name: String,
    state: PasskeyRegistration,
}

fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn stored_passkey(row: &PasskeyRow) -> Result<Passkey, Internal> {
    serde_json::from_str(&row.credential).map_err(|e| internal("a stored passkey", e))
}

fn answer<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, PasskeyError> {
    if json.len() > 64 * 1024 {
        return Err(PasskeyError::Refused);
    }
    serde_json::from_str(json).map_err(|_| PasskeyError::Refused)
}

impl Services {
    /// The plan's relying party: id its host name, origin its URL origin.
    fn relying_party(&self, plan: &Plan) -> Result<Webauthn, Internal> {
        let url = Url::parse(&self.plan_url(plan)).map_err(|e| internal("the plan's address", e))?;
        let host = url.host_str().ok_or_else(|| internal("the plan's address", "no host"))?.to_owned();
        let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|e| internal("the plan's origin", e))?;
        WebauthnBuilder::new(&host, &origin)
            .and_then(|b| b.rp_name(&plan.row.name).build())
            .map_err(|e| internal("the plan's relying party", e))
    }

    /// Stores a ceremony's state and returns its handle, in the caller's transaction.
    async fn keep_ceremony(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        kind: CeremonyKind,
        session: Option<&SessionInfo>,
        state: &impl Serialize,
        now: i64,
    ) -> Result<String, PasskeyError> {
        let token = new_token();
        let state = serde_json::to_string(state).map_err(|e| internal("a ceremony's state", e))?;
        store::insert_ceremony(
            conn,
            &NewCeremony {
                plan_id: plan.id(),
                kind: kind.as_str(),
                token_hash: &hash_token(&token),
                session_id: session.map(|s| s.id),
                user_id: session.map(|s| s.user_id),
                state: &state,
                expires_at: now + CEREMONY_LIFETIME.as_secs(),
            },
            now,
        )
        .await?;
        Ok(token)
    }

    /// Takes a ceremony once, checking that it belongs to `session` (when given).
    async fn take_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        kind: CeremonyKind,
        handle: &str,
        session: Option<&SessionInfo>,
        now: i64,
    ) -> Result<T, PasskeyError> {
        if handle.is_empty() || handle.len() > 100 {
            return Err(PasskeyError::CeremonyUnusable);
        }
        let row = store::take_ceremony(conn, plan.id(), kind.as_str(), &hash_token(handle), now)
            .await?
            .ok_or(PasskeyError::CeremonyUnusable)?;
        if let Some(s) = session
            && (row.session_id != Some(s.id) || row.user_id != Some(s.user_id))
        {
            return Err(PasskeyError::CeremonyUnusable);
        }
        serde_json::from_str(&row.state).map_err(|e| internal("a ceremony's state", e).into())
    }

    /// Audits a refused passkey and commits the transaction (the ceremony stays used).
    #[allow(clippy::too_many_arguments)]
    async fn refuse(
        &self,
        mut tx: gatehouse_store::Tx,
        plan: &Plan,
        meta: &RequestMeta,
        action: &'static str,
        user: Option<UserId>,
        reason: &str,
        now: i64,
        err: PasskeyError,
    ) -> Result<PasskeyError, PasskeyError> {
        let mut e = Event::new(action).outcome(Outcome::Failure).detail(json!({"reason": reason}));
        if let Some(u) = user {
            e = e.by_self(u);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(err)
    }

    /// The signed-in user's passkeys, oldest first.
    pub async fn my_passkeys(&self, plan: &Plan, session: &SessionInfo) -> Result<Vec<PasskeyView>, PasskeyError> {
        if session.plan_id != plan.id() || session.stage != SessionStage::Complete {
            return Err(PasskeyError::WrongStage);
        }
        let mut conn = self.db.acquire().await?;
        Ok(store::of_user(&mut conn, plan.id(), session.user_id).await?.into_iter().map(Into::into).collect())
    }

    /// Starts registering a passkey named `name`, once the profile is open (the user confirmed
    /// it is them). The key is asked to be discoverable and user-verifying.
    pub async fn start_passkey_registration(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        name: &str,
    ) -> Result<CeremonyOptions, PasskeyError> {
        let name = PasskeyName::parse(name)?;
        if !plan.factor_policy().passkeys_allowed {
            return Err(PasskeyError::NotOffered);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.factor_owner(&mut tx, plan, session, now).await?;
        let existing = store::of_user(&mut tx, plan.id(), user.id).await?;
        let handle = match existing.first() {
            Some(p) => Uuid::parse_str(&p.user_handle).map_err(|e| internal("a stored user handle", e))?,
            None => Uuid::from_bytes(rand::random::<[u8; 16]>()),
        };
        let mut exclude = Vec::with_capacity(existing.len());
        for p in &existing {
            exclude.push(stored_passkey(p)?.cred_id().clone());
        }
        let username = user.username.clone().unwrap_or_default();
        let display = format!("{} {}", user.first_name, user.last_name);
        let (ccr, state) = self
            .relying_party(plan)?
            .start_passkey_registration(handle, &username, &display, Some(exclude))
            .map_err(|e| internal("starting a registration", e))?;
        let kept = RegistrationState { handle: handle.to_string(), name: name.as_str().to_owned(), state };
        let ceremony = self.keep_ceremony(&mut tx, plan, CeremonyKind::Register, Some(session), &kept, now).await?;
        gatehouse_store::commit(tx).await?;
        let mut options = serde_json::to_value(&ccr).map_err(|e| internal("registration options", e))?;
        // A key that names its user, so that it can sign in on its own: webauthn-rs leaves that
        // to the authenticator, which the registration's verification does not depend on.
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
            sel.insert("residentKey".into(), json!("required"));
            sel.insert("requireResidentKey".into(), json!(true));
        }
        Ok(CeremonyOptions { ceremony, options })
    }

    /// Finishes a registration with the authenticator's answer (the JSON of the browser's
    /// `PublicKeyCredential`). The profile must still be open. When the passkey is the user's first
    /// strong factor (no authenticator app and no unused recovery codes), ten recovery codes are
    /// made with it and returned, the only time they are shown. The user is told by email.
    pub async fn finish_passkey_registration(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeyRegistered, PasskeyError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.factor_owner(&mut tx, plan, session, now).await?;
        let kept: RegistrationState =
            match self.take_ceremony(&mut tx, plan, CeremonyKind::Register, ceremony, Some(session), now).await {
                Ok(k) => k,
                Err(PasskeyError::CeremonyUnusable) => {
                    let err = PasskeyError::CeremonyUnusable;
                    return Err(self
                        .refuse(tx, plan, meta, "passkey.register", Some(user.id), "ceremony", now, err)
                        .await?);
                }
                Err(e) => return Err(e),
            };
        let reg: RegisterPublicKeyCredential = match answer(credential) {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .refuse(tx, plan, meta, "passkey.register", Some(user.id), "unreadable", now, e)
                    .await?);
            }
        };
        let passkey = match self.relying_party(plan)?.finish_passkey_registration(&reg, &kept.state) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(error = %e, "passkey registration refused");
                let err = PasskeyError::Refused;
                return Err(self
                    .refuse(tx, plan, meta, "passkey.register", Some(user.id), "verification", now, err)
                    .await?);
            }
        };
        let json = serde_json::to_value(&passkey).map_err(|e| internal("a new passkey", e))?;
        let backup_eligible = json.pointer("/cred/backup_eligible").and_then(Value::as_bool).unwrap_or(false);
        let credential_id = credential_id_text(passkey.cred_id().as_ref());
        let new = NewPasskey {
            plan_id: plan.id(),
            user_id: user.id,
            credential_id: &credential_id,
            user_handle: &kept.handle,
            name: &kept.name,
            credential: &json.to_string(),
            backup_eligible,
        };
        let Some(id) = store::insert(&mut tx, &new, now).await? else {
            let err = PasskeyError::AlreadyRegistered;
            return Err(self
                .refuse(tx, plan, meta, "passkey.register", Some(user.id), "already_registered", now, err)
                .await?);
        };
        let recovery_codes = if authenticator_app::has_app(&mut tx, plan.id(), user.id).await?
            || recovery_codes::count_unused(&mut tx, plan.id(), user.id).await? > 0
        {
            None
        } else {
            Some(authenticator_app::new_recovery_codes(self, &mut tx, plan.id(), user.id, now).await?)
        };
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("passkey.registered").by_self(user.id).detail(json!({
                "passkey": id,
                "name": kept.name,
                "synced": backup_eligible,
                "recovery_codes_made": recovery_codes.is_some(),
            })),
        )
        .await?;
        self.tell_of_passkey(&mut tx, plan, &user, FactorEvent::PasskeyAdded { name: &kept.name }, now).await?;
        gatehouse_store::commit(tx).await?;
        let passkey = PasskeyView {
            id: PasskeyId(id),
            name: kept.name,
            synced: backup_eligible,
            created_at: now,
            last_used_at: None,
        };
        Ok(PasskeyRegistered { passkey, recovery_codes })
    }

    /// Queues the email that tells the user a passkey was added or removed, in the caller's
    /// transaction (sent after commit).
    async fn tell_of_passkey(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        user: &users::UserRow,
        event: FactorEvent<'_>,
        now: i64,
    ) -> Result<(), Internal> {
        let when = plan.when(gatehouse_domain::Timestamp(now));
        let msg = FactorNoticeV1 {
            first_name: &user.first_name,
            username: user.username.as_deref().unwrap_or_default(),
            plan_name: &plan.row.name,
            when: &when,
            event,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        }
        .render_to(&user.email)?;
        messages::enqueue(conn, plan.id(), &msg, now).await?;
        Ok(())
    }

    /// Removes one of the user's passkeys, once the profile is open. Another user's passkey is
    /// not found. When it was the user's last strong factor (no other passkey, no authenticator
    /// app), the recovery codes go with it, as when the app is removed. The user is told by email.
    pub async fn remove_passkey(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        id: PasskeyId,
        meta: &RequestMeta,
    ) -> Result<(), PasskeyError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.open_profile(&mut tx, plan, session, now).await?;
        let keys = store::of_user(&mut tx, plan.id(), user.id).await?;
        if !keys.iter().any(|k| k.id == id.0) {
            return Err(PasskeyError::NotFound);
        }
        // A required user keeps a strong factor: the last passkey goes only when an app remains.
        if keys.len() == 1
            && crate::strong_factor::required(&mut tx, plan, &user).await?
            && !crate::authenticator_app::has_app(&mut tx, plan.id(), user.id).await?
        {
            let e = Event::new("passkey.removed")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"passkey": id.0, "reason": "strong_factor_required"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(PasskeyError::StrongFactorRequired);
        }
        let Some(name) = store::delete(&mut tx, plan.id(), user.id, id.0).await? else {
            return Err(PasskeyError::NotFound);
        };
        let last_strong = !store::any(&mut tx, plan.id(), user.id).await?
            && !authenticator_app::has_app(&mut tx, plan.id(), user.id).await?;
        let codes_removed =
            if last_strong { recovery_codes::remove_all(&mut tx, plan.id(), user.id).await? } else { 0 };
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("passkey.removed")
                .by_self(user.id)
                .detail(json!({"passkey": id.0, "name": name, "recovery_codes_removed": codes_removed})),
        )
        .await?;
        self.tell_of_passkey(&mut tx, plan, &user, FactorEvent::PasskeyRemoved { name: &name }, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Starts a sign-in by passkey alone: the authenticator chooses the key, which names its user.
    pub async fn start_passkey_signin(&self, plan: &Plan) -> Result<CeremonyOptions, PasskeyError> {
        let (rcr, state) = self
            .relying_party(plan)?
            .start_discoverable_authentication()
            .map_err(|e| internal("starting a sign-in", e))?;
        let mut options = serde_json::to_value(&rcr).map_err(|e| internal("sign-in options", e))?;
        // A button starts this ceremony: the browser asks at once, rather than in the username's
        // autofill (webauthn-rs's conditional mediation).
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let ceremony = self.keep_ceremony(&mut tx, plan, CeremonyKind::SignIn, None, &state, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(CeremonyOptions { ceremony, options })
    }

    /// Finishes a sign-in by passkey alone. A user-verifying passkey is both factors: the
    /// session goes on to the terms when they must be signed, else is complete.
    pub async fn finish_passkey_signin(
        &self,
        plan: &Plan,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeySignedIn, PasskeyError> {
        const ACTION: &str = "signin.passkey";
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let state: DiscoverableAuthentication =
            match self.take_ceremony(&mut tx, plan, CeremonyKind::SignIn, ceremony, None, now).await {
                Ok(s) => s,
                Err(PasskeyError::CeremonyUnusable) => {
                    let err = PasskeyError::CeremonyUnusable;
                    return Err(self.refuse(tx, plan, meta, ACTION, None, "ceremony", now, err).await?);
                }
                Err(e) => return Err(e),
            };
        let cred: PublicKeyCredential = match answer(credential) {
            Ok(c) => c,
            Err(e) => return Err(self.refuse(tx, plan, meta, ACTION, None, "unreadable", now, e).await?),
        };
        let rp = self.relying_party(plan)?;
        let (handle, cred_id) = match rp.identify_discoverable_authentication(&cred) {
            Ok((h, c)) => (h, credential_id_text(c)),
            Err(_) => {
                return Err(self
                    .refuse(tx, plan, meta, ACTION, None, "no_user_handle", now, PasskeyError::Refused)
                    .await?);
            }
        };
        let row =
            store::by_credential(&mut tx, plan.id(), &cred_id).await?.filter(|r| r.user_handle == handle.to_string());
        let Some(row) = row else {
            return Err(self
                .refuse(tx, plan, meta, ACTION, None, "unknown_passkey", now, PasskeyError::Refused)
                .await?);
        };
        let mut passkey = stored_passkey(&row)?;
        let result = match rp.finish_discoverable_authentication(&cred, state, &[DiscoverableKey::from(&passkey)]) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                let err = PasskeyError::Refused;
                return Err(self.refuse(tx, plan, meta, ACTION, Some(row.user_id), "verification", now, err).await?);
            }
        };
        let user = users::get(&mut tx, plan.id(), row.user_id).await?.ok_or(PasskeyError::Refused)?;
        if user.status != UserStatus::Active {
            let err =
                if user.status == UserStatus::Deactivated { PasskeyError::Deactivated } else { PasskeyError::Refused };
            return Err(self.refuse(tx, plan, meta, ACTION, Some(user.id), "not_active", now, err).await?);
        }
        self.record_passkey_use(&mut tx, &row, &mut passkey, &result, now).await?;
        let stage = crate::strong_factor::stage_after_factors(&mut tx, plan, &user).await?;
        let session = sessions::start(&mut tx, plan.id(), user.id, stage, meta, now).await?;
        let amr = AuthMethods::passkey(PasskeyProof { backup_eligible: result.backup_eligible() }, false);
        // The new session's id: the row just inserted for this token.
        let started = gatehouse_store::sessions::by_token_hash(&mut tx, plan.id(), &hash_token(&session.0))
            .await?
            .ok_or_else(|| internal("a new session", "not found"))?;
        gatehouse_store::sessions::record_authentication(&mut tx, started.id, now, &amr.as_stored()).await?;
        if stage == SessionStage::Complete {
            users::record_signin(&mut tx, user.id, now).await?;
        }
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new(ACTION)
                .by_self(user.id)
                .detail(json!({"passkey": row.id, "amr": amr.as_stored(), "next": stage.as_str()})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(PasskeySignedIn { session, stage })
    }

    /// Whether the session's user (at the two-step code) has a passkey to use instead.
    pub async fn has_passkey(&self, plan: &Plan, session: &SessionInfo) -> Result<bool, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(store::any(&mut conn, plan.id(), session.user_id).await?)
    }

    /// Starts a passkey as the second step, after the password (instead of the code).
    pub async fn start_passkey_second_step(
        &self,
        plan: &Plan,
        session: &SessionInfo,
    ) -> Result<CeremonyOptions, PasskeyError> {
        if session.plan_id != plan.id() || session.stage != SessionStage::TwoStepCode {
            return Err(PasskeyError::WrongStage);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let rows = store::of_user(&mut tx, plan.id(), session.user_id).await?;
        if rows.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        let keys = rows.iter().map(stored_passkey).collect::<Result<Vec<_>, _>>()?;
        let (rcr, state) = self
            .relying_party(plan)?
            .start_passkey_authentication(&keys)
            .map_err(|e| internal("starting a second step", e))?;
        let ceremony = self.keep_ceremony(&mut tx, plan, CeremonyKind::SecondStep, Some(session), &state, now).await?;
        gatehouse_store::commit(tx).await?;
        let options = serde_json::to_value(&rcr).map_err(|e| internal("second-step options", e))?;
        Ok(CeremonyOptions { ceremony, options })
    }

    /// Finishes a passkey as the second step: the session moves on (terms, or complete) under a
    /// new token.
    pub async fn finish_passkey_second_step(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeySignedIn, PasskeyError> {
        const ACTION: &str = "two_step.passkey";
        if session.plan_id != plan.id() || session.stage != SessionStage::TwoStepCode {
            return Err(PasskeyError::WrongStage);
        }
        let user_id = Some(session.user_id);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let state: PasskeyAuthentication =
            match self.take_ceremony(&mut tx, plan, CeremonyKind::SecondStep, ceremony, Some(session), now).await {
                Ok(s) => s,
                Err(PasskeyError::CeremonyUnusable) => {
                    let err = PasskeyError::CeremonyUnusable;
                    return Err(self.refuse(tx, plan, meta, ACTION, user_id, "ceremony", now, err).await?);
                }
                Err(e) => return Err(e),
            };
        let cred: PublicKeyCredential = match answer(credential) {
            Ok(c) => c,
            Err(e) => return Err(self.refuse(tx, plan, meta, ACTION, user_id, "unreadable", now, e).await?),
        };
        let result = match self.relying_party(plan)?.finish_passkey_authentication(&cred, &state) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "passkey second step refused");
                let err = PasskeyError::Refused;
                return Err(self.refuse(tx, plan, meta, ACTION, user_id, "verification", now, err).await?);
            }
        };
        let cred_id = credential_id_text(result.cred_id().as_ref());
        let row = store::by_credential(&mut tx, plan.id(), &cred_id).await?.filter(|r| r.user_id == session.user_id);
        let Some(row) = row else {
            return Err(self
                .refuse(tx, plan, meta, ACTION, user_id, "unknown_passkey", now, PasskeyError::Refused)
                .await?);
        };
        let mut passkey = stored_passkey(&row)?;
        self.record_passkey_use(&mut tx, &row, &mut passkey, &result, now).await?;
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(PasskeyError::WrongStage)?;
        let next = crate::strong_factor::stage_after_factors(&mut tx, plan, &user).await?;
        let token = sessions::advance(&mut tx, session, next, now).await?.ok_or(PasskeyError::CeremonyUnusable)?;
        let amr = AuthMethods::passkey(PasskeyProof { backup_eligible: result.backup_eligible() }, true);
        gatehouse_store::sessions::record_authentication(&mut tx, session.id, now, &amr.as_stored()).await?;
        if next == SessionStage::Complete {
            users::record_signin(&mut tx, session.user_id, now).await?;
        }
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new(ACTION)
                .by_self(session.user_id)
                .detail(json!({"passkey": row.id, "amr": amr.as_stored(), "next": next.as_str()})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(PasskeySignedIn { session: token, stage: next })
    }

    /// Records a passkey's use, and its new counter and backup flags when they changed.
    async fn record_passkey_use(
        &self,
        conn: &mut Conn,
        row: &PasskeyRow,
        passkey: &mut Passkey,
        result: &AuthenticationResult,
        now: i64,
    ) -> Result<(), PasskeyError> {
        let changed = passkey.update_credential(result) == Some(true);
        let json = if changed {
            Some(serde_json::to_string(passkey).map_err(|e| internal("a used passkey", e))?)
        } else {
            None
        };
        store::record_use(conn, row.id, json.as_deref(), now).await?;
        Ok(())
    }
}
