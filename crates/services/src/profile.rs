//! "My profile": a signed-in user edits their own two-step phone and method, email address and
//! office details (seed 000, Self Service Tools).
//!
//! Nothing can be changed until the user confirms it is them again, on this session: username
//! and password (a wrong password counts toward the lock like a failed sign-in), then a second
//! step: the authenticator app's code for a user with an app; a passkey (or a recovery code) for a
//! user with a passkey, offered first, nothing texted; otherwise a two-step code to the
//! **current** phone. Someone the plan requires to use an app or passkey, who holds one, is never
//! texted here: no code is sent, none may be asked for, a texted one is refused (as at sign-in).
//! The profile then stays open for [`UNLOCK_WINDOW`]. A new phone
//! is proven by a code sent to it; a new email address by a link sent to it, and the old address
//! is told once the change is made. A user who lost the old phone cannot get past the code and
//! is told to call the help desk, which can reset two-step.

use crate::audit::{self, Event};
use crate::messages;
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::signin::SignInError;
use crate::tokens::{hash_token, new_token};
use crate::two_step::{self, Answer, Purpose, TwoStepError};
use crate::{Internal, RequestMeta, Services, authenticator_app, strong_factor};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::email::EmailError;
use gatehouse_domain::phone::{PhoneError, mask_digits};
use gatehouse_domain::profile::{OfficeDetails, OfficeForm, ProfileErrors};
use gatehouse_domain::recovery_codes::RecoveryCode;
use gatehouse_domain::session::AuthMethods;
use gatehouse_domain::{Duration, Email, PhoneNumber, TwoStepMethod, UserStatus};
use gatehouse_store::profile::{self as store, UnlockRow};
use gatehouse_store::users::{self, ContactRow, UserRow};
use gatehouse_store::{Conn, codes, recovery_codes};
use serde_json::json;
use thiserror::Error;

/// How long the profile stays open after the code was entered.
pub const UNLOCK_WINDOW: Duration = Duration::minutes(15);
/// How long after the password the code may be entered.
pub const CODE_WINDOW: Duration = Duration::minutes(10);
/// How long the link confirming a new email address works.
pub const EMAIL_LINK_LIFETIME: Duration = Duration::hours(24);

/// Email changes one user may ask for in an hour: each emails a link to an address they typed,
/// so without a limit the plan's mail server would write to any address as often as asked.
pub const EMAIL_CHANGES_PER_HOUR: i64 = 5;

/// Why a profile action was refused. Field errors name their field.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// Wrong username or password, locked, or busy (the sign-in messages).
    #[error(transparent)]
    Password(#[from] SignInError),
    #[error("For your security, confirm it is you again before changing your profile.")]
    NotUnlocked,
    #[error(transparent)]
    Code(TwoStepError),
    #[error(transparent)]
    Office(#[from] ProfileErrors),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("That is already your email address.")]
    SameEmail,
    #[error("You asked to change your email address too often in the last hour. Wait an hour, then try again.")]
    TooManyEmailChanges,
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error(
        "This link is not valid. Check that you opened the whole link from the email, or change your email again from your profile."
    )]
    LinkInvalid,
    #[error("This link has expired. Change your email again from your profile to get a new one.")]
    LinkExpired,
    #[error("This link was already used, or a newer one was sent. Your profile shows the email address in use.")]
    LinkUsed,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for ProfileError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<TwoStepError> for ProfileError {
    fn from(e: TwoStepError) -> Self {
        match e {
            TwoStepError::Internal(i) => Self::Internal(i),
            TwoStepError::Phone(p) => Self::Phone(p),
            other => Self::Code(other),
        }
    }
}

impl ProfileError {
    /// The form field the error belongs beside, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Password(SignInError::Invalid) => Some("password"),
            Self::Code(TwoStepError::Malformed(_) | TwoStepError::Wrong(_)) => Some("code"),
            Self::Code(TwoStepError::MalformedRecovery | TwoStepError::WrongRecovery(_)) => Some("recovery_code"),
            Self::Email(EmailError::Mismatch) => Some("email_confirm"),
            Self::Email(_) | Self::SameEmail => Some("email"),
            Self::Phone(_) => Some("phone"),
            _ => None,
        }
    }
}

/// How far the user got in confirming it is them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// Username and password are asked for.
    Password,
    /// The code sent to `masked_phone` is asked for.
    Code { masked_phone: String },
    /// The profile may be edited until `until` (Unix seconds).
    Open { until: i64 },
}

/// The signed-in user's profile, as their page shows it.
#[derive(Debug, Clone)]
pub struct MyProfile {
    pub username: String,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
    /// The two-step phone, masked (`XXX-XXX-9975`).
    pub masked_phone: String,
    pub method: TwoStepMethod,
    pub contact: ContactRow,
    pub unlock: Unlock,
    /// A new email address waiting for its link to be opened.
    pub pending_email: Option<String>,
    /// A new phone (masked) waiting for its code, and the method it is for.
    pub pending_phone: Option<(String, TwoStepMethod)>,
    /// At [`Unlock::Code`]: the second steps offered (default otherwise).
    pub steps: SecondSteps,
    /// The user has a confirmed authenticator app.
    pub has_app: bool,
    /// The user has at least one passkey.
    pub has_passkey: bool,
    /// Unused recovery codes (they belong to the strong factors).
    pub recovery_codes_left: i64,
}

impl MyProfile {
    /// The user holds a strong factor (an app or a passkey), so has recovery codes to renew.
    pub fn has_strong_factor(&self) -> bool {
        self.has_app || self.has_passkey
    }
}

/// The second steps of confirming it is you, after the password, as offered to the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondSteps {
    /// The code asked for is the authenticator app's (nothing was sent to the phone).
    pub app: bool,
    /// A code went to the phone, by text or voice, for this confirmation.
    pub code_sent: bool,
    /// The user holds a passkey, which may answer ([`Services::start_passkey_reauth`]); offered
    /// first when there is no app, and then nothing is texted unless asked for.
    pub passkey: bool,
    /// The user holds unused recovery codes; one may answer (single use, the user is emailed).
    pub recovery_code: bool,
    /// A code by text or voice may be asked for ([`Services::profile_send_code`]). False for
    /// someone the plan requires to use an app or passkey who holds one.
    pub phone: bool,
}

/// What the password step of confirming it is you asked for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAsked {
    /// The current two-step phone, masked (`XXX-XXX-9975`).
    pub masked_phone: String,
    /// How the code went to the phone (when it was sent there).
    pub method: TwoStepMethod,
    /// What may answer now.
    pub steps: SecondSteps,
}

/// An email change link, as its confirmation page shows it.
#[derive(Debug, Clone)]
pub struct EmailChangeView {
    pub username: String,
    pub new_email: String,
}

/// The stored form of an office form's details.
pub(crate) fn contact_row(o: &OfficeDetails) -> ContactRow {
    let [mobile, office, fax, street, city, state, zip] = o.stored().map(|(_, v)| v);
    ContactRow { mobile_phone: mobile, office_phone: office, fax, street, city, state, zip }
}

/// The fields that differ, as `{field: {old, new}}` for the audit log.
pub(crate) fn contact_changes(old: &ContactRow, new: &ContactRow) -> serde_json::Map<String, serde_json::Value> {
    let mut changes = serde_json::Map::new();
    for (field, before, after) in [
        ("mobile_phone", &old.mobile_phone, &new.mobile_phone),
        ("office_phone", &old.office_phone, &new.office_phone),
        ("fax", &old.fax, &new.fax),
        ("street", &old.street, &new.street),
        ("city", &old.city, &new.city),
        ("state", &old.state, &new.state),
        ("zip", &old.zip, &new.zip),
    ] {
        if before != after {
            changes.insert(field.to_owned(), json!({"old": before, "new": after}));
        }
    }
    changes
}

fn method_of(user: &UserRow) -> TwoStepMethod {
    user.two_step_method.as_deref().and_then(TwoStepMethod::parse).unwrap_or(TwoStepMethod::Text)
}

/// The unlock as it stands at `now`.
fn unlock_at(row: Option<&UnlockRow>, user: &UserRow, now: i64) -> Unlock {
    let phone = || mask_digits(user.two_step_phone.as_deref().unwrap_or_default());
    match row {
        Some(r) if r.stage == "open" && now < r.updated_at + UNLOCK_WINDOW.as_secs() => {
            Unlock::Open { until: r.updated_at + UNLOCK_WINDOW.as_secs() }
        }
        Some(r) if r.stage == "code" && now < r.updated_at + CODE_WINDOW.as_secs() => {
            Unlock::Code { masked_phone: phone() }
        }
        _ => Unlock::Password,
    }
}

/// The second steps offered to `user`, whose password step was done at `since`: what the newest
/// challenge since then asks for, and what else they hold.
async fn second_steps(conn: &mut Conn, plan: &Plan, user: &UserRow, since: i64) -> Result<SecondSteps, Internal> {
    let challenge = codes::latest(conn, user.id, Purpose::Reauth.as_str()).await?.filter(|c| c.created_at >= since);
    let method = challenge.as_ref().map(|c| c.method.as_str());
    let (app, keys) = strong_factor::held(conn, plan, user).await?;
    let strong_only = (app || keys > 0) && strong_factor::required(conn, plan, user).await?;
    Ok(SecondSteps {
        app: method == Some(authenticator_app::APP_METHOD),
        code_sent: method.is_some_and(|m| TwoStepMethod::parse(m).is_some()),
        passkey: keys > 0,
        recovery_code: recovery_codes::count_unused(conn, plan.id(), user.id).await? > 0,
        phone: !strong_only,
    })
}

/// Opens the profile of `session` after its second step, and records `profile.unlocked` with
/// the factor used (`detail`: `factor` and the `amr` of the confirmation), in the caller's
/// transaction. Every second step (code, app, recovery code, passkey) ends here.
pub(crate) async fn open_after_second_step(
    conn: &mut Conn,
    plan: &Plan,
    session: &SessionInfo,
    user: &UserRow,
    detail: serde_json::Value,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), Internal> {
    store::set_unlock(conn, session.id, user.id, "open", now).await?;
    audit::record(conn, now, plan.id(), meta, Event::new("profile.unlocked").by_self(user.id).detail(detail)).await?;
    Ok(())
}

impl Services {
    /// The session's user and the time of their password step, while the second step of
    /// confirming it is them is awaited ([`Unlock::Code`]); `NotUnlocked` otherwise.
    pub(crate) async fn reauth_user(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<(UserRow, i64), ProfileError> {
        match self.unlock_state(conn, plan, session, now).await? {
            (user, Unlock::Code { .. }, Some(moved_at)) => Ok((user, moved_at)),
            _ => Err(ProfileError::NotUnlocked),
        }
    }

    /// The session's user, if the session is fully signed in and the account active.
    pub(crate) async fn profile_user(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
    ) -> Result<UserRow, ProfileError> {
        if !session.is_signed_in_to(plan.id()) {
            return Err(ProfileError::NotUnlocked);
        }
        users::get(conn, plan.id(), session.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active && u.two_step_phone.is_some())
            .ok_or(ProfileError::NotUnlocked)
    }

    /// The session's user and the time the profile was opened, or `NotUnlocked`.
    pub(crate) async fn open_profile(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<(UserRow, i64), ProfileError> {
        match self.unlock_state(conn, plan, session, now).await? {
            (user, Unlock::Open { .. }, moved_at) => Ok((user, moved_at.unwrap_or(now))),
            _ => Err(ProfileError::NotUnlocked),
        }
    }

    /// The session's user, how far they got in unlocking their profile, and when that last
    /// moved (none before they started).
    async fn unlock_state(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<(UserRow, Unlock, Option<i64>), ProfileError> {
        let user = self.profile_user(conn, plan, session).await?;
        let row = store::unlock(conn, session.id).await?;
        let unlock = unlock_at(row.as_ref(), &user, now);
        Ok((user, unlock, row.map(|r| r.updated_at)))
    }

    /// The signed-in user's profile and how far they got in unlocking it.
    pub async fn my_profile(&self, plan: &Plan, session: &SessionInfo) -> Result<MyProfile, ProfileError> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let (user, unlock, moved_at) = self.unlock_state(&mut conn, plan, session, now).await?;
        let contact = users::contact(&mut conn, plan.id(), user.id).await?.unwrap_or_default();
        let pending_email = store::pending_email_change(&mut conn, user.id, now).await?.map(|c| c.new_email);
        let pending_phone = match (&unlock, moved_at) {
            (Unlock::Open { .. }, Some(opened)) => codes::latest(&mut conn, user.id, Purpose::NewPhone.as_str())
                .await?
                .filter(|c| c.created_at >= opened && c.consumed_at.is_none() && c.expires_at > now)
                .map(|c| (mask_digits(&c.phone), TwoStepMethod::parse(&c.method).unwrap_or(TwoStepMethod::Text))),
            _ => None,
        };
        let steps = match (&unlock, moved_at) {
            (Unlock::Code { .. }, Some(asked)) => second_steps(&mut conn, plan, &user, asked).await?,
            _ => SecondSteps::default(),
        };
        let (has_app, keys) = strong_factor::held(&mut conn, plan, &user).await?;
        let recovery_codes_left = recovery_codes::count_unused(&mut conn, plan.id(), user.id).await?;
        Ok(MyProfile {
            steps,
            has_app,
            has_passkey: keys > 0,
            recovery_codes_left,
            username: user.username.clone().unwrap_or_default(),
            first_name: user.first_name.clone(),
            middle_name: user.middle_name.clone(),
            last_name: user.last_name.clone(),
            email: user.email.clone(),
            masked_phone: mask_digits(user.two_step_phone.as_deref().unwrap_or_default()),
            method: method_of(&user),
            contact,
            unlock,
            pending_email,
            pending_phone,
        })
    }

    /// First step of unlocking: the user's username and password. On success the second step
    /// is asked for: for a user with an authenticator app, the app's code (nothing is sent); for
    /// a user with a passkey, the passkey or a recovery code (nothing is sent: a challenge that
    /// carries the recovery codes' tries is stored); otherwise a code goes to the current phone
    /// by the method on record. If no code could be sent (too many this hour) the step still
    /// passes and the error says so. Returns the masked phone and the second steps offered.
    pub async fn profile_confirm_password(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<CodeAsked, ProfileError> {
        let user = {
            let mut conn = self.db.acquire().await?;
            self.profile_user(&mut conn, plan, session).await?
        };
        if let Err(e) = self.confirm_password(plan, &user, username, password, meta).await {
            return Err(e.into());
        }
        let now = self.now();
        let phone = user.two_step_phone.clone().unwrap_or_default();
        let mut tx = self.db.begin().await?;
        // The user's row before the plan's audit chain, as every path that counts a per-user
        // limit takes them (one order everywhere: no deadlock on PostgreSQL).
        users::lock(&mut tx, user.id).await?;
        store::set_unlock(&mut tx, session.id, user.id, "code", now).await?;
        audit::record(&mut tx, now, plan.id(), meta, Event::new("profile.password_confirmed").by_self(user.id)).await?;
        let (app, keys) = strong_factor::held(&mut tx, plan, &user).await?;
        let sent = if app {
            authenticator_app::start_challenge(&mut tx, plan, user.id, Purpose::Reauth, meta, now).await
        } else if keys > 0 {
            // The passkey first: nothing is texted (a required user may not ask for a text at all).
            let method = strong_factor::PASSKEY_METHOD;
            authenticator_app::start_challenge_as(&mut tx, plan, user.id, Purpose::Reauth, method, meta, now).await
        } else {
            two_step::send_code(self, &mut tx, plan, user.id, Purpose::Reauth, &phone, method_of(&user), meta, now)
                .await
        };
        let steps = second_steps(&mut tx, plan, &user, now).await?;
        gatehouse_store::commit(tx).await?;
        sent?;
        Ok(CodeAsked { masked_phone: mask_digits(&phone), method: method_of(&user), steps })
    }

    /// Sends another code to the current phone, by `method` (for a passkey user: "text me a
    /// code instead"). Refused (`StrongFactorRequired`, audited) for someone the plan requires to
    /// use an app or passkey who holds one. Returns the masked number.
    pub async fn profile_send_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        method: TwoStepMethod,
        meta: &RequestMeta,
    ) -> Result<String, ProfileError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.profile_user(&mut tx, plan, session).await?;
        let row = store::unlock(&mut tx, session.id).await?;
        if !matches!(unlock_at(row.as_ref(), &user, now), Unlock::Code { .. }) {
            return Err(ProfileError::NotUnlocked);
        }
        if strong_factor::strong_only(&mut tx, plan, &user).await? {
            let e = Event::new("two_step.code_sent")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"reason": "strong_factor_required", "purpose": Purpose::Reauth.as_str()}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(ProfileError::Code(TwoStepError::StrongFactorRequired));
        }
        // A phone set up for voice calls keeps them; nobody else may start them once disallowed.
        if method == TwoStepMethod::Voice && !plan.factor_policy().voice_allowed && method_of(&user) != method {
            return Err(ProfileError::Code(TwoStepError::VoiceNotOffered));
        }
        let phone = user.two_step_phone.clone().unwrap_or_default();
        let sent = two_step::send_code(self, &mut tx, plan, user.id, Purpose::Reauth, &phone, method, meta, now).await;
        gatehouse_store::commit(tx).await?;
        sent?;
        Ok(mask_digits(&phone))
    }

    /// Second step of unlocking: the code sent to the current phone (or the authenticator
    /// app's). The profile is then open for [`UNLOCK_WINDOW`]. For someone the plan requires to
    /// use an app or passkey who holds one, only the app's code is accepted: a texted or called
    /// code is refused (`StrongFactorRequired`, audited), even one sent before the rule applied.
    pub async fn profile_verify_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<(), ProfileError> {
        let policy = plan.code_policy();
        let typed = typed.trim();
        if !policy.well_formed(typed) && !crate::authenticator_app::looks_like_app_code(typed) {
            return Err(ProfileError::Code(TwoStepError::Malformed(policy.length)));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, since) = self.reauth_user(&mut tx, plan, session, now).await?;
        if strong_factor::strong_only(&mut tx, plan, &user).await?
            && codes::latest(&mut tx, user.id, Purpose::Reauth.as_str())
                .await?
                .is_none_or(|c| c.method != authenticator_app::APP_METHOD)
        {
            let e = Event::new("two_step.verify")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"purpose": Purpose::Reauth.as_str(), "reason": "strong_factor_required"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(ProfileError::Code(TwoStepError::StrongFactorRequired));
        }
        let code =
            match two_step::check_and_consume(self, &mut tx, plan, user.id, Purpose::Reauth, typed, since, meta, now)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    gatehouse_store::commit(tx).await?;
                    return Err(e.into());
                }
            };
        let (factor, amr) = if code.method == authenticator_app::APP_METHOD {
            ("app", AuthMethods::password_and_app())
        } else {
            ("code", AuthMethods::password_and_code(TwoStepMethod::parse(&code.method).unwrap_or(TwoStepMethod::Text)))
        };
        let detail = json!({"factor": factor, "amr": amr.as_stored()});
        open_after_second_step(&mut tx, plan, session, &user, detail, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Second step of unlocking with one of the user's recovery codes, instead of the code or
    /// passkey asked for. It takes a try of this confirmation's challenge like any code, works
    /// once (the same consumption as at sign-in), and the user is emailed.
    pub async fn profile_verify_recovery_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<(), ProfileError> {
        let rc = RecoveryCode::parse(typed).ok_or(ProfileError::Code(TwoStepError::MalformedRecovery))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, since) = self.reauth_user(&mut tx, plan, session, now).await?;
        let answer = Answer::Recovery(&rc);
        if let Err(e) =
            two_step::check_answer(self, &mut tx, plan, user.id, Purpose::Reauth, answer, since, meta, now).await
        {
            gatehouse_store::commit(tx).await?;
            return Err(e.into());
        }
        let amr = AuthMethods::password_and_recovery_code();
        let detail = json!({"factor": "recovery_code", "amr": amr.as_stored()});
        open_after_second_step(&mut tx, plan, session, &user, detail, meta, now).await?;
        two_step::tell_recovery_code_used(&mut tx, plan, &user, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Locks the profile again ("Done"), recorded as `profile.locked` when it was open (not
    /// half-way, nor past its window), so the log shows when the person closed it and not only
    /// when it opened.
    pub async fn profile_lock(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<(), ProfileError> {
        if session.plan_id != plan.id() {
            return Err(ProfileError::NotUnlocked);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let was = store::unlock(&mut tx, session.id).await?;
        let open = matches!(&was, Some(r) if r.stage == "open" && now < r.updated_at + UNLOCK_WINDOW.as_secs());
        if store::clear_unlock(&mut tx, session.id).await? && open {
            let e = Event::new("profile.locked").by_self(session.user_id);
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Saves the office details (mobile, office phone, fax, address). Audited old → new.
    pub async fn profile_update_office(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        form: &OfficeForm,
        meta: &RequestMeta,
    ) -> Result<(), ProfileError> {
        let details = form.parse()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.open_profile(&mut tx, plan, session, now).await?;
        let old = users::contact(&mut tx, plan.id(), user.id).await?.unwrap_or_default();
        let new = contact_row(&details);
        let changes = contact_changes(&old, &new);
        if changes.is_empty() {
            return Ok(());
        }
        users::update_contact(&mut tx, plan.id(), user.id, &new, now).await?;
        let e = Event::new("profile.office_edited").by_self(user.id).detail(json!({"changes": changes}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Sends a code to a new two-step phone (or the same phone by a new method). Nothing
    /// changes until [`Services::profile_confirm_phone`]. Returns the masked number.
    pub async fn profile_start_phone_change(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        country_code: &str,
        number: &str,
        method: TwoStepMethod,
        meta: &RequestMeta,
    ) -> Result<String, ProfileError> {
        let phone = PhoneNumber::parse(country_code, number)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.open_profile(&mut tx, plan, session, now).await?;
        if method == TwoStepMethod::Voice && !plan.factor_policy().voice_allowed {
            return Err(ProfileError::Code(TwoStepError::VoiceNotOffered));
        }
        let sent =
            two_step::send_code(self, &mut tx, plan, user.id, Purpose::NewPhone, phone.e164(), method, meta, now).await;
        gatehouse_store::commit(tx).await?;
        sent?;
        Ok(phone.masked())
    }

    /// Checks the code sent to the new phone; on success it becomes the phone on record, with
    /// its method, and an email tells the user.
    pub async fn profile_confirm_phone(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<String, ProfileError> {
        let policy = plan.code_policy();
        let typed = typed.trim();
        if !policy.well_formed(typed) {
            return Err(ProfileError::Code(TwoStepError::Malformed(policy.length)));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, opened) = self.open_profile(&mut tx, plan, session, now).await?;
        let code = match two_step::check_and_consume(
            self,
            &mut tx,
            plan,
            user.id,
            Purpose::NewPhone,
            typed,
            opened,
            meta,
            now,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                gatehouse_store::commit(tx).await?;
                return Err(e.into());
            }
        };
        // The phone on record, the user's other sessions ended, and the one email of this change
        // (the same as every other path that sets the phone).
        let ended = two_step::set_phone(&mut tx, plan, &user, session.id, &code.phone, &code.method, now).await?;
        let masked = mask_digits(&code.phone);
        let old = mask_digits(user.two_step_phone.as_deref().unwrap_or_default());
        let e = Event::new("profile.phone_changed").by_self(user.id).detail(json!({
            "old": {"phone": old, "method": method_of(&user).as_str()},
            "new": {"phone": masked, "method": code.method},
            "other_sessions_ended": ended,
        }));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(masked)
    }

    /// Sends a link to a new email address (typed twice). Nothing changes until the link is
    /// opened; an earlier link of the user stops working.
    pub async fn profile_start_email_change(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        email: &str,
        confirm: &str,
        meta: &RequestMeta,
    ) -> Result<(), ProfileError> {
        let email = Email::parse_confirmed(email, confirm)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (user, _) = self.open_profile(&mut tx, plan, session, now).await?;
        // The same address again is refused, unless it is not proven (an administrator set it):
        // then the link proves it, and invitations to it reach this account again.
        if email.as_str().eq_ignore_ascii_case(&user.email) && user.email_verified_at.is_some() {
            return Err(ProfileError::SameEmail);
        }
        if users::is_someones_username(&mut tx, plan.id(), &email.as_str().to_lowercase(), Some(user.id)).await? {
            return Err(ProfileError::Email(EmailError::SomeonesUsername));
        }
        users::lock(&mut tx, user.id).await?;
        let since = now - Duration::hours(1).as_secs();
        if store::email_changes_since(&mut tx, user.id, since).await? >= EMAIL_CHANGES_PER_HOUR {
            let e = Event::new("profile.email_change_requested")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"reason": "send_limit"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(ProfileError::TooManyEmailChanges);
        }
        let token = new_token();
        let expires = now + EMAIL_LINK_LIFETIME.as_secs();
        store::insert_email_change(&mut tx, plan.id(), user.id, email.as_str(), &hash_token(&token), now, expires)
            .await?;
        let link = format!("{}/profile/email?token={token}", self.plan_url(plan));
        let username = user.username.clone().unwrap_or_default();
        let msg = self
            .self_service_email(plan, &user.first_name, &username, &link)
            .email_change_link(EMAIL_LINK_LIFETIME.as_secs() / 3600, email.as_str())?;
        messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        let e = Event::new("profile.email_change_requested").by_self(user.id).detail(json!({"new": email.as_str()}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The live email change of a link.
    async fn live_email_change(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        token: &str,
        now: i64,
    ) -> Result<(gatehouse_store::profile::EmailChangeRow, UserRow), ProfileError> {
        if token.is_empty() || token.len() > 100 {
            return Err(ProfileError::LinkInvalid);
        }
        let row = store::email_change_by_token(conn, plan.id(), &hash_token(token))
            .await?
            .ok_or(ProfileError::LinkInvalid)?;
        if row.used_at.is_some() {
            return Err(ProfileError::LinkUsed);
        }
        if now >= row.expires_at {
            return Err(ProfileError::LinkExpired);
        }
        let user = users::get(conn, plan.id(), row.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or(ProfileError::LinkInvalid)?;
        Ok((row, user))
    }

    /// What an email change link would do, for its confirmation page (opening the link changes
    /// nothing: mail scanners open links too).
    pub async fn email_change_view(&self, plan: &Plan, token: &str) -> Result<EmailChangeView, ProfileError> {
        let mut conn = self.db.acquire().await?;
        let (row, user) = self.live_email_change(&mut conn, plan, token, self.now()).await?;
        Ok(EmailChangeView { username: user.username.unwrap_or_default(), new_email: row.new_email })
    }

    /// Makes the link's address the account's email. The old address is told. Works once.
    pub async fn confirm_email_change(
        &self,
        plan: &Plan,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<EmailChangeView, ProfileError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (row, user) = self.live_email_change(&mut tx, plan, token, now).await?;
        // Someone may have chosen the address as their username since the link was sent.
        if users::is_someones_username(&mut tx, plan.id(), &row.new_email.to_lowercase(), Some(user.id)).await? {
            return Err(ProfileError::Email(EmailError::SomeonesUsername));
        }
        if !store::use_email_change(&mut tx, row.id, now).await? {
            return Err(ProfileError::LinkUsed);
        }
        users::set_email(&mut tx, plan.id(), user.id, &row.new_email, now).await?;
        // Offers waiting for this person follow the address they proved.
        gatehouse_store::offers::follow_new_address(&mut tx, user.id, &user.email.to_lowercase(), &row.new_email)
            .await?;
        let username = user.username.clone().unwrap_or_default();
        let link = format!("{}/signin", self.plan_url(plan));
        let msg = self
            .self_service_email(plan, &user.first_name, &username, &link)
            .email_changed(&row.new_email, &user.email)?;
        messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        let e = Event::new("profile.email_changed")
            .by_self(user.id)
            .detail(json!({"old": user.email, "new": row.new_email}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(EmailChangeView { username, new_email: row.new_email })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gatehouse_domain::{PlanId, UserId};

    /// An active account of plan 1, for unit tests across the services.
    pub(crate) fn user() -> UserRow {
        UserRow {
            id: UserId(1),
            plan_id: PlanId(1),
            username: Some("ann".into()),
            first_name: "Ann".into(),
            middle_name: String::new(),
            last_name: "Lee".into(),
            email: "ann@x.example".into(),
            status: UserStatus::Active,
            password_hash: None,
            two_step_phone: Some("+12065559975".into()),
            two_step_method: Some("voice".into()),
            terms_version_signed: None,
            last_signin_at: None,
            previous_signin_at: None,
            staff_role: None,
            created_at: 0,
            legacy_hash: None,
            idle_since: None,
            email_verified_at: None,
            email_set_by_other_at: None,
        }
    }

    #[test]
    fn unlock_expires_stage_by_stage() {
        let u = user();
        let code = UnlockRow { stage: "code".into(), updated_at: 1_000 };
        assert_eq!(unlock_at(Some(&code), &u, 1_000), Unlock::Code { masked_phone: "XXX-XXX-9975".into() });
        assert_eq!(unlock_at(Some(&code), &u, 1_000 + CODE_WINDOW.as_secs()), Unlock::Password);
        let open = UnlockRow { stage: "open".into(), updated_at: 1_000 };
        let until = 1_000 + UNLOCK_WINDOW.as_secs();
        assert_eq!(unlock_at(Some(&open), &u, until - 1), Unlock::Open { until });
        assert_eq!(unlock_at(Some(&open), &u, until), Unlock::Password);
        assert_eq!(unlock_at(None, &u, 0), Unlock::Password);
        assert_eq!(method_of(&u), TwoStepMethod::Voice);
    }

    #[test]
    fn changes_list_only_what_differs() {
        let old = ContactRow { city: "Tacoma".into(), zip: "98402".into(), ..ContactRow::default() };
        let new = ContactRow { city: "Seattle".into(), zip: "98402".into(), ..ContactRow::default() };
        let c = contact_changes(&old, &new);
        assert_eq!(c.len(), 1);
        assert_eq!(c["city"], json!({"old": "Tacoma", "new": "Seattle"}));
    }
}
