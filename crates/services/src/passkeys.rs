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
use crate::messages::factors::FactorEvent;
use crate::plans::Plan;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::lockout::address_key;
use gatehouse_domain::passkey::{
    CEREMONY_LIFETIME, CeremonyKind, PasskeyName, PasskeyNameError, SIGNIN_OPTIONS_PER_ADDRESS, SIGNIN_OPTIONS_WINDOW,
    signin_options_retry_after,
};
use gatehouse_domain::session::{AuthMethods, PasskeyProof, SessionStage};
use gatehouse_domain::{PasskeyId, SessionId, Timestamp, UserId, UserStatus};
use gatehouse_store::passkeys::{self as store, NewCeremony, NewPasskey, PasskeyRow};
use gatehouse_store::{Conn, plans, recovery_codes, users};
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
    /// The passkey's user is locked by failures (wrong passwords or failed passkeys): the
    /// password's lock and message.
    #[error("{}", locked_text(.minutes))]
    Locked { minutes: i64 },
    /// This address asked for too many sign-in options within the window.
    #[error(
        "Too many passkey sign-ins were started from your network. Wait {} minute(s) and try again, or sign in with your username and password.",
        (.retry_after + 59) / 60
    )]
    Throttled {
        /// Seconds until the address may ask again.
        retry_after: i64,
    },
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// The password's lock message, word for word.
fn locked_text(minutes: &i64) -> String {
    crate::signin::SignInError::Locked { minutes: *minutes }.to_string()
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

/// A refusal's audit detail.
fn reason(why: &str) -> Value {
    json!({ "reason": why })
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

    /// Audits a refused passkey (`detail` says why) and commits the transaction (the ceremony
    /// stays used).
    #[allow(clippy::too_many_arguments)]
    async fn refuse(
        &self,
        mut tx: gatehouse_store::Tx,
        plan: &Plan,
        meta: &RequestMeta,
        action: &'static str,
        user: Option<UserId>,
        detail: Value,
        now: i64,
        err: PasskeyError,
    ) -> Result<PasskeyError, PasskeyError> {
        let mut e = Event::new(action).outcome(Outcome::Failure).detail(detail);
        if let Some(u) = user {
            e = e.by_self(u);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(err)
    }

    /// Takes the ceremony `asked` answers (which must be `session`'s, when given) and reads the
    /// answer. Either failing is refused and recorded as `asked.action` by `user` (in `tx`,
    /// committed); otherwise `tx` is handed back with the ceremony's state and the answer.
    #[allow(clippy::too_many_arguments)]
    async fn take_answered_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        mut tx: gatehouse_store::Tx,
        plan: &Plan,
        asked: &Answered<'_>,
        session: Option<&SessionInfo>,
        user: Option<UserId>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<(gatehouse_store::Tx, T, PublicKeyCredential), PasskeyError> {
        let action = asked.action;
        let state = match self.take_ceremony(&mut tx, plan, asked.kind, asked.ceremony, session, now).await {
            Ok(s) => s,
            Err(PasskeyError::CeremonyUnusable) => {
                let err = PasskeyError::CeremonyUnusable;
                return Err(self.refuse(tx, plan, meta, action, user, reason("ceremony"), now, err).await?);
            }
            Err(e) => return Err(e),
        };
        match answer(asked.credential) {
            Ok(cred) => Ok((tx, state, cred)),
            Err(e) => Err(self.refuse(tx, plan, meta, action, user, reason("unreadable"), now, e).await?),
        }
    }

    /// The signed-in user's passkeys, oldest first.
    pub async fn my_passkeys(&self, plan: &Plan, session: &SessionInfo) -> Result<Vec<PasskeyView>, PasskeyError> {
        if !session.is_signed_in_to(plan.id()) {
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
                        .refuse(tx, plan, meta, "passkey.register", Some(user.id), reason("ceremony"), now, err)
                        .await?);
                }
                Err(e) => return Err(e),
            };
        let reg: RegisterPublicKeyCredential = match answer(credential) {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .refuse(tx, plan, meta, "passkey.register", Some(user.id), reason("unreadable"), now, e)
                    .await?);
            }
        };
        let passkey = match self.relying_party(plan)?.finish_passkey_registration(&reg, &kept.state) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(error = %e, "passkey registration refused");
                let err = PasskeyError::Refused;
                return Err(self
                    .refuse(tx, plan, meta, "passkey.register", Some(user.id), reason("verification"), now, err)
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
                .refuse(tx, plan, meta, "passkey.register", Some(user.id), reason("already_registered"), now, err)
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
        crate::two_step::tell_factor_change(&mut tx, plan, &user, FactorEvent::PasskeyAdded { name: &kept.name }, now)
            .await?;
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
        crate::two_step::tell_factor_change(&mut tx, plan, &user, FactorEvent::PasskeyRemoved { name: &name }, now)
            .await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Starts a sign-in by passkey alone: the authenticator chooses the key, which names its user.
    /// Anyone may ask (there is no one to bind the ceremony to yet), so each client address may
    /// ask [`SIGNIN_OPTIONS_PER_ADDRESS`] times within a sliding [`SIGNIN_OPTIONS_WINDOW`]; past
    /// that it is refused (`Throttled`, saying when it may ask again) and nothing is stored.
    pub async fn start_passkey_signin(&self, plan: &Plan, meta: &RequestMeta) -> Result<CeremonyOptions, PasskeyError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.count_signin_options(&mut tx, plan, &meta.ip, now).await?;
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
        let ceremony = self.keep_ceremony(&mut tx, plan, CeremonyKind::SignIn, None, &state, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(CeremonyOptions { ceremony, options })
    }

    /// Counts a request for sign-in options from `ip`, or refuses it when the address is at its
    /// limit. Counted with the self-service lookups (`self_service_attempts`, under a key of its
    /// own), with the plan locked as they do, so concurrent requests cannot pass the limit together.
    async fn count_signin_options(&self, tx: &mut Conn, plan: &Plan, ip: &str, now: i64) -> Result<(), PasskeyError> {
        use gatehouse_store::resets;
        plans::lock(tx, plan.id()).await?;
        let key = format!("passkey_signin|ip:{}", address_key(ip));
        let since = now - SIGNIN_OPTIONS_WINDOW.as_secs();
        if resets::attempts_since(tx, plan.id(), &key, since).await? >= SIGNIN_OPTIONS_PER_ADDRESS {
            let oldest = resets::oldest_attempt_since(tx, plan.id(), &key, since).await?.unwrap_or(now);
            let wait = signin_options_retry_after(Timestamp(oldest), Timestamp(now));
            return Err(PasskeyError::Throttled { retry_after: wait.as_secs() });
        }
        // The lookups' own window is the longer: what it forgets, neither counts any more.
        let forget = now - SIGNIN_OPTIONS_WINDOW.as_secs().max(crate::self_service::LOOKUP_WINDOW.as_secs());
        resets::record_attempts(tx, plan.id(), &[&key], now, forget).await?;
        Ok(())
    }

    /// Finishes a sign-in by passkey alone. A user-verifying passkey is both factors: the
    /// session goes on to the terms when they must be signed, else is complete. A known key whose
    /// answer does not verify counts toward its user's lock as a wrong password does, and a locked
    /// user is refused.
    pub async fn finish_passkey_signin(
        &self,
        plan: &Plan,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeySignedIn, PasskeyError> {
        const ACTION: &str = "signin.passkey";
        let now = self.now();
        let asked = Answered { kind: CeremonyKind::SignIn, action: ACTION, ceremony, credential };
        let tx = self.db.begin().await?;
        let (mut tx, state, cred): (_, DiscoverableAuthentication, _) =
            self.take_answered_ceremony(tx, plan, &asked, None, None, meta, now).await?;
        let rp = self.relying_party(plan)?;
        let (handle, cred_id) = match rp.identify_discoverable_authentication(&cred) {
            Ok((h, c)) => (h, credential_id_text(c)),
            Err(_) => {
                return Err(self
                    .refuse(tx, plan, meta, ACTION, None, reason("no_user_handle"), now, PasskeyError::Refused)
                    .await?);
            }
        };
        let row =
            store::by_credential(&mut tx, plan.id(), &cred_id).await?.filter(|r| r.user_handle == handle.to_string());
        let Some(row) = row else {
            return Err(self
                .refuse(tx, plan, meta, ACTION, None, reason("unknown_passkey"), now, PasskeyError::Refused)
                .await?);
        };
        let user = users::get(&mut tx, plan.id(), row.user_id).await?.ok_or(PasskeyError::Refused)?;
        let lock = UserLock::read(&mut tx, plan, &user, &meta.ip, now).await?;
        if let Some(err) = lock.refusal(now) {
            return Err(self.refuse(tx, plan, meta, ACTION, Some(user.id), reason("locked"), now, err).await?);
        }
        let mut passkey = stored_passkey(&row)?;
        let result = match rp.finish_discoverable_authentication(&cred, state, &[DiscoverableKey::from(&passkey)]) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                let (err, detail) = lock.count_failure(&mut tx, plan, &meta.ip, now).await?;
                return Err(self.refuse(tx, plan, meta, ACTION, Some(user.id), detail, now, err).await?);
            }
        };
        if user.status != UserStatus::Active {
            let err =
                if user.status == UserStatus::Deactivated { PasskeyError::Deactivated } else { PasskeyError::Refused };
            return Err(self.refuse(tx, plan, meta, ACTION, Some(user.id), reason("not_active"), now, err).await?);
        }
        let stage = crate::strong_factor::stage_after_factors(&mut tx, plan, &user).await?;
        let session = sessions::start(&mut tx, plan.id(), user.id, stage, meta, now).await?;
        // The new session's id: the row just inserted for this token.
        let started = gatehouse_store::sessions::by_token_hash(&mut tx, plan.id(), &hash_token(&session.0))
            .await?
            .ok_or_else(|| internal("a new session", "not found"))?;
        let used = UsedPasskey { row: &row, passkey: &mut passkey, result: &result, after_password: false };
        self.passkey_signed_in(&mut tx, plan, meta, ACTION, &lock, started.id, used, stage, now).await?;
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
        let options =
            self.own_keys_ceremony(&mut tx, plan, session, session.user_id, CeremonyKind::SecondStep, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(options)
    }

    /// Checks the answer to a ceremony of [`Self::own_keys_ceremony`]: the ceremony must be
    /// `session`'s (and is used up), the user not locked, the answer verified and made with one
    /// of `user`'s own keys. An answer that does not verify counts toward the user's lock as a
    /// wrong password does. Every refusal is recorded as `asked.action` (in `tx`, committed);
    /// on success `tx` is handed back for the caller's change.
    #[allow(clippy::too_many_arguments)]
    async fn check_own_key_answer(
        &self,
        tx: gatehouse_store::Tx,
        plan: &Plan,
        session: &SessionInfo,
        user: &users::UserRow,
        asked: Answered<'_>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<(gatehouse_store::Tx, OwnKeyAnswer), PasskeyError> {
        let (action, user_id) = (asked.action, Some(user.id));
        let (mut tx, state, cred): (_, PasskeyAuthentication, _) =
            self.take_answered_ceremony(tx, plan, &asked, Some(session), user_id, meta, now).await?;
        let lock = UserLock::read(&mut tx, plan, user, &meta.ip, now).await?;
        if let Some(err) = lock.refusal(now) {
            return Err(self.refuse(tx, plan, meta, action, user_id, reason("locked"), now, err).await?);
        }
        let result = match self.relying_party(plan)?.finish_passkey_authentication(&cred, &state) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, action, "passkey answer refused");
                let (err, detail) = lock.count_failure(&mut tx, plan, &meta.ip, now).await?;
                return Err(self.refuse(tx, plan, meta, action, user_id, detail, now, err).await?);
            }
        };
        let cred_id = credential_id_text(result.cred_id().as_ref());
        let row = store::by_credential(&mut tx, plan.id(), &cred_id).await?.filter(|r| r.user_id == user.id);
        let Some(row) = row else {
            return Err(self
                .refuse(tx, plan, meta, action, user_id, reason("unknown_passkey"), now, PasskeyError::Refused)
                .await?);
        };
        Ok((tx, OwnKeyAnswer { lock, row, result }))
    }

    /// Starts an assertion that only `user`'s own passkeys can answer, kept for `session` as a
    /// ceremony of `kind` (the second step of a sign-in, or of confirming it is you).
    async fn own_keys_ceremony(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        user: UserId,
        kind: CeremonyKind,
        now: i64,
    ) -> Result<CeremonyOptions, PasskeyError> {
        let rows = store::of_user(tx, plan.id(), user).await?;
        if rows.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        let keys = rows.iter().map(stored_passkey).collect::<Result<Vec<_>, _>>()?;
        let (rcr, state) = self
            .relying_party(plan)?
            .start_passkey_authentication(&keys)
            .map_err(|e| internal("starting a passkey assertion", e))?;
        let ceremony = self.keep_ceremony(tx, plan, kind, Some(session), &state, now).await?;
        let options = serde_json::to_value(&rcr).map_err(|e| internal("passkey assertion options", e))?;
        Ok(CeremonyOptions { ceremony, options })
    }

    /// Finishes a passkey as the second step: the session moves on (terms, or complete) under a
    /// new token. An answer that does not verify counts toward the user's lock as a wrong
    /// password does, and a locked user is refused.
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
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(PasskeyError::WrongStage)?;
        let asked = Answered { kind: CeremonyKind::SecondStep, action: ACTION, ceremony, credential };
        let (mut tx, OwnKeyAnswer { lock, row, result }) =
            self.check_own_key_answer(tx, plan, session, &user, asked, meta, now).await?;
        let mut passkey = stored_passkey(&row)?;
        let next = crate::strong_factor::stage_after_factors(&mut tx, plan, &user).await?;
        let token = sessions::advance(&mut tx, session, next, now).await?.ok_or(PasskeyError::CeremonyUnusable)?;
        let used = UsedPasskey { row: &row, passkey: &mut passkey, result: &result, after_password: true };
        self.passkey_signed_in(&mut tx, plan, meta, ACTION, &lock, session.id, used, next, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(PasskeySignedIn { session: token, stage: next })
    }

    /// Starts a passkey as the second step of confirming it is you on My Profile, once the
    /// password step is done (the profile waits for its second step). The ceremony is bound to
    /// this session and user, and allows only the user's own passkeys.
    pub async fn start_passkey_reauth(
        &self,
        plan: &Plan,
        session: &SessionInfo,
    ) -> Result<CeremonyOptions, PasskeyError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.reauth_user(&mut tx, plan, session, now).await?;
        let options = self.own_keys_ceremony(&mut tx, plan, session, user.id, CeremonyKind::Reauth, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(options)
    }

    /// Finishes a passkey as the second step of confirming it is you: the profile opens, as
    /// after the code (`profile.unlocked`, with the factor and its `amr`). The ceremony must be
    /// this session's and the key one of its user's. An answer that does not verify counts toward
    /// the user's lock as a wrong password does, and a locked user is refused.
    pub async fn finish_passkey_reauth(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
    ) -> Result<(), PasskeyError> {
        const ACTION: &str = "profile.passkey";
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.reauth_user(&mut tx, plan, session, now).await?;
        let asked = Answered { kind: CeremonyKind::Reauth, action: ACTION, ceremony, credential };
        let (mut tx, OwnKeyAnswer { lock, row, result }) =
            self.check_own_key_answer(tx, plan, session, &user, asked, meta, now).await?;
        let mut passkey = stored_passkey(&row)?;
        self.record_passkey_use(&mut tx, &row, &mut passkey, &result, now).await?;
        lock.clear(&mut tx, plan).await?;
        let amr = AuthMethods::passkey(PasskeyProof { backup_eligible: result.backup_eligible() }, true);
        let detail = json!({"factor": "passkey", "amr": amr.as_stored(), "passkey": row.id});
        crate::profile::open_after_second_step(&mut tx, plan, session, &user, detail, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The end both passkey sign-ins share, once the session (`session_id`) is at `stage`: the
    /// key's use, the user's failures forgotten, the session's factors (`amr`), the user's
    /// sign-in time when the session is complete, and the audit event `action`.
    #[allow(clippy::too_many_arguments)]
    async fn passkey_signed_in(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        meta: &RequestMeta,
        action: &'static str,
        lock: &UserLock,
        session_id: SessionId,
        used: UsedPasskey<'_>,
        stage: SessionStage,
        now: i64,
    ) -> Result<(), PasskeyError> {
        let UsedPasskey { row, passkey, result, after_password } = used;
        self.record_passkey_use(tx, row, passkey, result, now).await?;
        lock.clear(tx, plan).await?;
        let amr = AuthMethods::passkey(PasskeyProof { backup_eligible: result.backup_eligible() }, after_password);
        gatehouse_store::sessions::record_authentication(tx, session_id, now, &amr.as_stored()).await?;
        if stage == SessionStage::Complete {
            users::record_signin(tx, row.user_id, now).await?;
        }
        let detail = json!({"passkey": row.id, "amr": amr.as_stored(), "next": stage.as_str()});
        audit::record(tx, now, plan.id(), meta, Event::new(action).by_self(row.user_id).detail(detail)).await?;
        Ok(())
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

/// A passkey that just verified, and whether the password came before it.
struct UsedPasskey<'a> {
    row: &'a PasskeyRow,
    passkey: &'a mut Passkey,
    result: &'a AuthenticationResult,
    after_password: bool,
}

/// A ceremony's answer as sent: which kind of ceremony, the audit action its refusals are
/// recorded as, and the ceremony id and answer.
struct Answered<'a> {
    kind: CeremonyKind,
    action: &'static str,
    ceremony: &'a str,
    credential: &'a str,
}

/// A verified answer made with one of the user's own passkeys.
struct OwnKeyAnswer {
    lock: UserLock,
    row: PasskeyRow,
    result: AuthenticationResult,
}

/// The lock of a passkey's user, read before its answer is verified. A failed passkey of a known
/// user counts toward their username's lock exactly as a wrong password does
/// (`signin::count_failure`), and a username locked from this address signs in with a passkey
/// no more than with a password (the same lock, the same message). The lock others put on the
/// name from many addresses does not hold a passkey, which cannot be guessed: it would only let
/// them keep the holder out.
struct UserLock {
    /// The username the failures count under (lower case), when the account has one.
    name: Option<String>,
    /// The address the answer came from.
    ip: String,
    until: Option<i64>,
    had_failures: bool,
}

impl UserLock {
    async fn read(
        conn: &mut Conn,
        plan: &Plan,
        user: &users::UserRow,
        ip: &str,
        now: i64,
    ) -> Result<Self, gatehouse_store::StoreError> {
        let Some(name) = user.username.as_deref().map(str::to_lowercase) else {
            return Ok(Self { name: None, ip: ip.to_owned(), until: None, had_failures: false });
        };
        let (until, had_failures) = crate::signin::address_lock_state(conn, plan, &name, ip, now).await?;
        Ok(Self { name: Some(name), ip: ip.to_owned(), until, had_failures })
    }

    /// The refusal while the username is locked.
    fn refusal(&self, now: i64) -> Option<PasskeyError> {
        self.until.map(|until| PasskeyError::Locked { minutes: ((until - now) + 59) / 60 })
    }

    /// Counts a failed answer; returns the refusal (locked when this failure locked the name) and
    /// the audit detail.
    async fn count_failure(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        ip: &str,
        now: i64,
    ) -> Result<(PasskeyError, Value), gatehouse_store::StoreError> {
        let Some(name) = &self.name else {
            return Ok((PasskeyError::Refused, reason("verification")));
        };
        let f = crate::signin::count_failure(tx, plan, name, ip, now).await?;
        let err = match f.locked_for {
            Some(d) => PasskeyError::Locked { minutes: (d.as_secs() + 59) / 60 },
            None => PasskeyError::Refused,
        };
        Ok((err, json!({"reason": "verification", "failures": f.per_ip})))
    }

    /// Forgets the username's failures from this address once the user proved themselves.
    async fn clear(&self, tx: &mut Conn, plan: &Plan) -> Result<(), gatehouse_store::StoreError> {
        match &self.name {
            Some(name) if self.had_failures => crate::signin::clear_address_failures(tx, plan, name, &self.ip).await,
            _ => Ok(()),
        }
    }
}
