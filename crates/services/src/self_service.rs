//! Self-service tools for people who cannot sign in: "forgot username" (every username of an
//! email address, by email) and "reset password" (username and email, then a two-step code to the
//! phone on record, then a new password), and the reset link that plan staff or a practice
//! administrator can email instead.
//!
//! Enumeration: the lookups answer the same whether or not anything matched, and are throttled
//! per client address and per email or username typed, counted in the database. A password reset
//! sends its code at the lookup, only when the username and email match an account with two-step,
//! and every step after it answers the same for a match and a mismatch: the same page, no masked
//! phone, and the same answer to a wrong code (tries and the code's lifetime are counted per
//! reset, matched or not). A mismatch does the same work short of storing and sending a code.
//!
//! State: a reset is a `password_resets` row found by the SHA-256 of a random token that the
//! browser holds in a cookie (or that the emailed link carries). The token changes when the code
//! is accepted; the row is used once.

use crate::audit::{self, Event};
use crate::messages::{self, self_service::SelfServiceV1};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::staff::Denied;
use crate::support::SupportError;
use crate::tokens::{hash_code, hash_token, new_token, random_u64, same};
use crate::two_step::{self, Purpose, TwoStepError};
use crate::{HashError, Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::email::EmailError;
use gatehouse_domain::lockout::address_key;
use gatehouse_domain::password::PasswordProblem;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{Duration, Email, TwoStepMethod, UserId, UserStatus};
use gatehouse_store::resets::{self as store, NewReset, ResetRow};
use gatehouse_store::users::UserRow;
use gatehouse_store::{Conn, codes, plans, throttle, users};
use serde_json::json;
use thiserror::Error;

/// The window in which lookups are counted.
pub const LOOKUP_WINDOW: Duration = Duration::hours(1);
/// Lookups (of either tool) from one client address per window.
pub const LOOKUPS_PER_ADDRESS: i64 = 20;
/// Lookups naming one email address or username per window.
pub const LOOKUPS_PER_NAME: i64 = 5;
/// How long a reset started with username and email may take.
pub const SELF_RESET_LIFETIME: Duration = Duration::minutes(30);
/// How long an emailed reset link works.
pub const RESET_LINK_LIFETIME: Duration = Duration::hours(72);

/// Why a reset token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ResetProblem {
    #[error(
        "This password reset is not valid. If it came from an email, check that you opened the whole link; otherwise start again from Forgot password."
    )]
    Invalid,
    #[error("This password reset has expired. Start again from Forgot password, or ask for a new reset link.")]
    Expired,
    #[error(
        "This password reset was already used. Sign in with your new password, or start again from Forgot password."
    )]
    Used,
    #[error("This step is not available now. Start again from Forgot password.")]
    WrongStep,
}

/// Why a self-service request was refused. Field errors name their field.
#[derive(Debug, Error)]
pub enum SelfServiceError {
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("Enter your username.")]
    Username,
    #[error("Too many requests. Wait an hour and try again, or call provider services.")]
    Throttled,
    #[error(transparent)]
    Reset(#[from] ResetProblem),
    #[error(transparent)]
    Code(TwoStepError),
    #[error("That code has expired. Start again from Forgot password to get a new code.")]
    CodeExpired,
    #[error("Too many wrong codes. Start again from Forgot password to get a new code.")]
    CodeTries,
    #[error(transparent)]
    Password(#[from] PasswordProblem),
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("That user was not found.")]
    NotFound,
    #[error("Give a reason (at most 500 characters); it is kept in the audit log.")]
    Reason,
    #[error("{0}")]
    NotApplicable(&'static str),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SelfServiceError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<HashError> for SelfServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Busy,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<TwoStepError> for SelfServiceError {
    fn from(e: TwoStepError) -> Self {
        match e {
            TwoStepError::Internal(i) => Self::Internal(i),
            other => Self::Code(other),
        }
    }
}

impl From<SupportError> for SelfServiceError {
    fn from(e: SupportError) -> Self {
        match e {
            SupportError::Denied(d) => Self::Denied(d),
            SupportError::NotFound => Self::NotFound,
            SupportError::AboveYourRole | SupportError::OwnAccount => Self::Denied(Denied::NotPermitted),
            SupportError::Reason => Self::Reason,
            SupportError::NotApplicable(m) => Self::NotApplicable(m),
            SupportError::LastPracticeAdmin(p) => Self::Internal(Internal::Other(p)),
            SupportError::Internal(i) => Self::Internal(i),
        }
    }
}

impl SelfServiceError {
    /// The form field the error belongs beside, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Email(_) => Some("email"),
            Self::Username => Some("username"),
            Self::Code(TwoStepError::Malformed(_) | TwoStepError::Wrong(_)) => Some("code"),
            Self::Password(PasswordProblem::Mismatch) => Some("confirm_password"),
            Self::Password(_) => Some("password"),
            _ => None,
        }
    }
}

/// A reset's secret, held by the browser (cookie) or the API client. Never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ResetToken(pub String);

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetToken(..)")
    }
}

/// Where a password reset stands, and what its page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetStep {
    /// The code step, the same whether or not the username and email matched: if they matched an
    /// account with two-step, a code was sent to its phone at the lookup (if they matched an
    /// imported account without two-step, a reset link was emailed instead).
    Code,
    /// A new password may be chosen for `username` (after a correct code, or from a reset link).
    NewPassword { username: String },
}

fn lookup_keys(kind: &str, name: &str, ip: &str) -> (String, String) {
    (format!("ip:{}", address_key(ip)), format!("{kind}:{name}"))
}

/// An active account imported from the old portal that has not signed in here yet.
fn imported_without_two_step(u: &UserRow) -> bool {
    u.status == UserStatus::Active && u.legacy_hash.is_some() && u.two_step_phone.is_none()
}

/// Whether the user may reset a password online: signed up, active, with two-step set up.
fn has_two_step(u: &UserRow) -> bool {
    u.status == UserStatus::Active && u.two_step_phone.is_some() && u.password_hash.is_some()
}

impl Services {
    /// Counts a lookup for the address and the name; refuses when either is over its limit.
    /// Runs in the caller's transaction, which holds the plan lock.
    #[allow(clippy::too_many_arguments)]
    async fn count_lookup(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        kind: &str,
        name: &str,
        per_name: i64,
        ip: &str,
        now: i64,
    ) -> Result<bool, SelfServiceError> {
        plans::lock(tx, plan.id()).await?;
        let since = now - LOOKUP_WINDOW.as_secs();
        let (ip_key, name_key) = lookup_keys(kind, name, ip);
        let by_ip = store::attempts_since(tx, plan.id(), &ip_key, since).await?;
        let by_name = store::attempts_since(tx, plan.id(), &name_key, since).await?;
        if by_ip >= LOOKUPS_PER_ADDRESS || by_name >= per_name {
            return Ok(false);
        }
        store::record_attempts(tx, plan.id(), &[&ip_key, &name_key], now, since).await?;
        Ok(true)
    }

    pub(crate) fn self_service_email<'a>(
        &'a self,
        plan: &'a Plan,
        first_name: &'a str,
        username: &'a str,
        link: &'a str,
    ) -> SelfServiceV1<'a> {
        SelfServiceV1 {
            first_name,
            username,
            plan_name: &plan.row.name,
            link,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        }
    }

    /// "Forgot username": emails every username of `email` in this plan to that address. The
    /// answer is the same whether or not the address belongs to anyone.
    pub async fn send_username_reminder(
        &self,
        plan: &Plan,
        email: &str,
        meta: &RequestMeta,
    ) -> Result<(), SelfServiceError> {
        let email = Email::parse(email)?;
        let address = email.as_str().to_lowercase();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !self.count_lookup(&mut tx, plan, "email", &address, LOOKUPS_PER_NAME, &meta.ip, now).await? {
            // Nothing changed, and a flood must not cost a write each: not audited.
            drop(tx);
            return Err(SelfServiceError::Throttled);
        }
        let accounts: Vec<UserRow> = users::by_email(&mut tx, plan.id(), &address)
            .await?
            .into_iter()
            .filter(|u| u.username.is_some() && u.status == UserStatus::Active)
            .collect();
        let names: Vec<String> = accounts.iter().filter_map(|u| u.username.clone()).collect();
        let first = match accounts.as_slice() {
            [one] => one.first_name.as_str(),
            _ => "",
        };
        let link = format!("{}/signin", self.plan_url(plan));
        // Rendered either way, so both answers do the same work.
        let to = accounts.first().map_or(email.as_str(), |u| u.email.as_str());
        let msg = self.self_service_email(plan, first, "", &link).usernames(&names, to)?;
        if !names.is_empty() {
            messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        }
        let mut e =
            Event::new("self_service.username_reminder").detail(json!({"email": address, "accounts": names.len()}));
        if let [one] = accounts.as_slice() {
            e = e.on(one.id);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// "Forgot password", first step: username and email. Always starts a reset, and the answer
    /// is the same whether or not they match. When they match an account with two-step, the
    /// reset code is sent to its phone, by the way set up for two-step (text or voice); an
    /// imported account without two-step is emailed a reset link instead. Lookups of a username
    /// are limited per hour to the plan's code budget (at most [`LOOKUPS_PER_NAME`]), so the
    /// budget of reset codes is never what refuses a lookup, and a refusal says nothing.
    pub async fn start_password_reset(
        &self,
        plan: &Plan,
        username: &str,
        email: &str,
        meta: &RequestMeta,
    ) -> Result<ResetToken, SelfServiceError> {
        let name = username.trim().to_lowercase();
        let email = Email::parse(email);
        if name.is_empty() || name.chars().count() > gatehouse_domain::username::MAX_LEN {
            return Err(SelfServiceError::Username);
        }
        let email = email?;
        let address = email.as_str().to_lowercase();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let per_name = LOOKUPS_PER_NAME.min(plan.code_policy().max_sends_per_hour);
        if !self.count_lookup(&mut tx, plan, "username", &name, per_name, &meta.ip, now).await? {
            // Nothing changed, and a flood must not cost a write each: not audited.
            drop(tx);
            return Err(SelfServiceError::Throttled);
        }
        let user = users::by_username(&mut tx, plan.id(), &name).await?.filter(|u| u.email.to_lowercase() == address);
        // An imported account without two-step resets by a link to its address on record.
        if let Some(u) = user.as_ref().filter(|u| imported_without_two_step(u)) {
            self.issue_reset_link(&mut tx, plan, u, None, now).await?;
        }
        let token = new_token();
        store::insert(
            &mut tx,
            &NewReset {
                plan_id: plan.id(),
                user_id: user.as_ref().map(|u| u.id),
                token_hash: &hash_token(&token),
                origin: "self",
                stage: "code",
                requested_by: None,
                expires_at: now + SELF_RESET_LIFETIME.as_secs(),
            },
            now,
        )
        .await?;
        let mut code_sent = false;
        match user.as_ref().filter(|u| has_two_step(u)) {
            Some(u) => {
                let phone = u.two_step_phone.clone().unwrap_or_default();
                let method = u.two_step_method.as_deref().and_then(TwoStepMethod::parse).unwrap_or(TwoStepMethod::Text);
                match two_step::send_code(self, &mut tx, plan, u.id, Purpose::Reset, &phone, method, meta, now).await {
                    Ok(()) => code_sent = true,
                    // Audited by send_code; the answer stays the same (see the lookup limit above).
                    Err(TwoStepError::TooManySends) => {}
                    Err(TwoStepError::Internal(i)) => return Err(i.into()),
                    Err(e) => return Err(Internal::Other(e.to_string()).into()),
                }
            }
            None => self.rehearse_reset_code(&mut tx, plan, now).await?,
        }
        let mut e = Event::new("self_service.password_reset_started")
            .detail(json!({"matched": user.is_some(), "code_sent": code_sent}))
            .typed_username(&self.code_key, &name, user.is_some());
        if let Some(u) = &user {
            e = e.on(u.id);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(ResetToken(token))
    }

    /// The work of sending a reset code, short of storing and sending it: for a lookup that
    /// matched no account with two-step, so that it takes about as long as one that did.
    async fn rehearse_reset_code(&self, conn: &mut Conn, plan: &Plan, now: i64) -> Result<(), Internal> {
        let policy = plan.code_policy();
        let since = now - Duration::hours(1).as_secs();
        codes::count_since(conn, UserId(0), since, Purpose::Reset.budget()).await?;
        let code = policy.code_from(random_u64());
        let _ = hash_code(&self.code_key, "code:0:reset", &code);
        let minutes = policy.lifetime.as_secs() / 60;
        messages::two_step_code(&plan.row.name, &code, minutes, false, "+10000000000")?;
        Ok(())
    }

    /// The live reset for a token, and its user.
    async fn live_reset(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        token: &str,
        now: i64,
    ) -> Result<(ResetRow, Option<UserRow>), SelfServiceError> {
        if token.is_empty() || token.len() > 100 {
            return Err(ResetProblem::Invalid.into());
        }
        let row = store::by_token_hash(conn, plan.id(), &hash_token(token)).await?.ok_or(ResetProblem::Invalid)?;
        if row.used_at.is_some() {
            return Err(ResetProblem::Used.into());
        }
        if now >= row.expires_at {
            return Err(ResetProblem::Expired.into());
        }
        let user = match row.user_id {
            Some(id) => users::get(conn, plan.id(), id).await?,
            None => None,
        };
        Ok((row, user))
    }

    /// Where the reset of `token` stands. At the code step the answer is the same whether or
    /// not the lookup matched an account.
    pub async fn password_reset_step(&self, plan: &Plan, token: &str) -> Result<ResetStep, SelfServiceError> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let (row, user) = self.live_reset(&mut conn, plan, token, now).await?;
        if row.stage != "password" {
            return Ok(ResetStep::Code);
        }
        match user {
            Some(UserRow { username: Some(u), status: UserStatus::Active, .. }) => {
                Ok(ResetStep::NewPassword { username: u })
            }
            _ => Err(ResetProblem::WrongStep.into()),
        }
    }

    /// Checks the reset code. On success the reset moves to the new-password step under a new
    /// token, which replaces the old one. Tries and the code's lifetime are counted on the reset
    /// itself, so that a reset whose lookup matched nothing (and so has no code) answers a wrong
    /// code exactly as one that did: "not correct, n more tries", then "too many", or "expired".
    pub async fn verify_reset_code(
        &self,
        plan: &Plan,
        token: &str,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<ResetToken, SelfServiceError> {
        let policy = plan.code_policy();
        let typed = typed.trim();
        if !policy.well_formed(typed) {
            return Err(SelfServiceError::Code(TwoStepError::Malformed(policy.length)));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (row, user) = self.live_reset(&mut tx, plan, token, now).await?;
        if row.stage != "code" {
            return Err(ResetProblem::WrongStep.into());
        }
        // The code was sent (or not) with the reset: it expires with the reset's first minutes.
        if now >= policy.expires_at(gatehouse_domain::Timestamp(row.created_at)).as_secs() {
            return Err(SelfServiceError::CodeExpired);
        }
        // One try at a time per plan, counted before the code is compared.
        plans::lock(&mut tx, plan.id()).await?;
        let key = format!("reset-try:{}", row.id);
        let tries = store::attempts_since(&mut tx, plan.id(), &key, row.created_at).await?;
        if tries >= policy.max_tries {
            return Err(SelfServiceError::CodeTries);
        }
        store::record_attempts(&mut tx, plan.id(), &[&key], now, now - LOOKUP_WINDOW.as_secs()).await?;
        let left = policy.max_tries - tries - 1;
        let wrong =
            if left > 0 { SelfServiceError::Code(TwoStepError::Wrong(left)) } else { SelfServiceError::CodeTries };
        let Some(user) = user.filter(has_two_step) else {
            // No code was sent for this reset: compared all the same, and the try is audited.
            let none = hash_code(&self.code_key, "code:0:reset", "");
            let _ = same(&hash_code(&self.code_key, "code:0:reset", typed), &none);
            let e = Event::new("two_step.verify")
                .outcome(Outcome::Failure)
                .detail(json!({"purpose": Purpose::Reset.as_str(), "reason": "no_code"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(wrong);
        };
        match two_step::check_and_consume(
            self,
            &mut tx,
            plan,
            user.id,
            Purpose::Reset,
            typed,
            row.created_at,
            meta,
            now,
        )
        .await
        {
            Ok(_) => {}
            Err(TwoStepError::Internal(i)) => return Err(i.into()),
            Err(_) => {
                gatehouse_store::commit(tx).await?;
                return Err(wrong);
            }
        }
        let next = new_token();
        if !store::advance(&mut tx, row.id, "code", "password", &hash_token(&next)).await? {
            return Err(ResetProblem::Used.into());
        }
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("self_service.password_reset_verified").by_self(user.id),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(ResetToken(next))
    }

    /// Sets the new password (the plan's policy, typed twice). Every session of the user ends,
    /// other resets and links of the user stop working, and an email tells the user. Returns the
    /// username, to sign in with.
    pub async fn complete_password_reset(
        &self,
        plan: &Plan,
        token: &str,
        password: &str,
        confirm: &str,
        meta: &RequestMeta,
    ) -> Result<String, SelfServiceError> {
        let (row, user) = {
            let mut conn = self.db.acquire().await?;
            self.live_reset(&mut conn, plan, token, self.now()).await?
        };
        let user = user
            .filter(|u| row.stage == "password" && u.status == UserStatus::Active)
            .ok_or(ResetProblem::WrongStep)?;
        let username = user.username.clone().ok_or(ResetProblem::WrongStep)?;
        plan.password_policy().check(password, confirm, Some(&username))?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::finish(&mut tx, row.id, now).await? {
            return Err(ResetProblem::Used.into());
        }
        self.password_changed_in(&mut tx, plan, &user, &hash, &row.origin, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(username)
    }

    /// Stores a new password hash for `user` and does what every password change does: ends
    /// their sessions and open resets, clears sign-in failures, audits, and emails the notice.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn password_changed_in(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        user: &UserRow,
        hash: &str,
        how: &str,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<(), Internal> {
        users::set_password_hash(tx, user.id, hash, now).await?;
        // An imported account's old hash goes too.
        users::replace_legacy_hash(tx, user.id, hash, now).await?;
        // Other resets, sessions and links end with the old password.
        let ended = crate::sessions::end_everything(tx, user.id, now).await?;
        let username = user.username.clone().unwrap_or_default();
        throttle::clear_prefix(tx, plan.id(), &format!("u:{}", username.to_lowercase())).await?;
        // Whoever guessed at the codes with the old password has no password now.
        crate::two_step::forget_wrong_answers(tx, plan, user.id).await?;
        let link = format!("{}/signin", self.plan_url(plan));
        let msg = self.self_service_email(plan, &user.first_name, &username, &link).password_changed(&user.email)?;
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        let e = Event::new("password.changed").by_self(user.id).detail(json!({"how": how, "sessions_ended": ended}));
        audit::record(tx, now, plan.id(), meta, e).await?;
        Ok(())
    }

    /// Creates a reset link for `user` (any earlier unused link of theirs stops working) and
    /// queues the email, in the caller's transaction.
    pub(crate) async fn issue_reset_link(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        user: &UserRow,
        by: Option<UserId>,
        now: i64,
    ) -> Result<(), Internal> {
        store::end_open(tx, user.id, Some("link"), now).await?;
        let token = new_token();
        store::insert(
            tx,
            &NewReset {
                plan_id: plan.id(),
                user_id: Some(user.id),
                token_hash: &hash_token(&token),
                origin: "link",
                stage: "password",
                requested_by: by,
                expires_at: now + RESET_LINK_LIFETIME.as_secs(),
            },
            now,
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", self.plan_url(plan));
        let username = user.username.clone().unwrap_or_default();
        let msg = self
            .self_service_email(plan, &user.first_name, &username, &link)
            .reset_link(RESET_LINK_LIFETIME.as_secs() / 3600, &user.email)?;
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        Ok(())
    }
}

impl Services {
    /// The username of a session's user ("" if it has none).
    pub async fn username_of(&self, plan: &Plan, session: &SessionInfo) -> Result<String, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(users::get(&mut conn, plan.id(), session.user_id).await?.and_then(|u| u.username).unwrap_or_default())
    }

    /// An imported account's first sign-in, after its old password was accepted: sets the new
    /// password (the plan's policy; the old one may be reused if it meets it), stores it as
    /// Argon2id and erases the legacy hash. The session moves on to the terms (or two-step
    /// set-up) under a new token.
    pub async fn set_first_password(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        password: &str,
        confirm: &str,
        meta: &RequestMeta,
    ) -> Result<(crate::SessionToken, SessionStage), SelfServiceError> {
        if session.stage != SessionStage::NewPassword || session.plan_id != plan.id() {
            return Err(ResetProblem::WrongStep.into());
        }
        let user = {
            let mut conn = self.db.acquire().await?;
            users::get(&mut conn, plan.id(), session.user_id).await?.ok_or(ResetProblem::WrongStep)?
        };
        let username = user.username.clone().ok_or(ResetProblem::WrongStep)?;
        plan.password_policy().check(password, confirm, Some(&username))?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !users::replace_legacy_hash(&mut tx, user.id, &hash, now).await? {
            return Err(ResetProblem::Used.into());
        }
        let current_terms = plans::get(&mut tx, plan.id()).await?.map_or(plan.row.terms_version, |p| p.terms_version);
        let next = if gatehouse_domain::terms::must_sign(user.terms_version_signed, current_terms) {
            SessionStage::Terms
        } else if user.two_step_phone.is_none() {
            SessionStage::TwoStepSetup
        } else {
            SessionStage::TwoStepCode
        };
        let token = crate::sessions::advance(&mut tx, session, next, now).await?.ok_or(ResetProblem::Used)?;
        let e = Event::new("password.changed").by_self(user.id).detail(json!({"how": "legacy_first_signin"}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok((token, next))
    }
}

/// Whether a reset link can be sent to this user: signed up and active.
pub(crate) fn check_link_applies(user: &UserRow) -> Result<(), SelfServiceError> {
    match user.status {
        UserStatus::Active if user.username.is_some() => Ok(()),
        UserStatus::Invited => {
            Err(SelfServiceError::NotApplicable("This user has not signed up yet: resend the invitation instead."))
        }
        _ => Err(SelfServiceError::NotApplicable("Only an active account can get a password reset link.")),
    }
}
