//! Two-step verification by text or voice: set up a phone (a code to the new number proves it),
//! and enter a code at every sign-in. Codes are 6 digits, valid 10 minutes, 5 tries, and at most
//! 5 are sent per hour per user (all per plan settings), counted separately for password-reset
//! codes. A code is stored only as an HMAC. A try is counted before the code is compared, in one
//! conditional statement, so concurrent wrong codes cannot get more tries judged than allowed.

use crate::audit::{self, Event};
use crate::authenticator_app::{self, APP_METHOD};
use crate::messages;
use crate::plans::Plan;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::strong_factor;
use crate::tokens::{hash_code, random_u64, same};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::phone::PhoneError;
use gatehouse_domain::recovery_codes::RecoveryCode;
use gatehouse_domain::session::{AuthMethods, SessionStage};
use gatehouse_domain::two_step::{AnswerGate, CodeCheck, FREE_WRONG_ANSWERS, answer_gate, check_code};
use gatehouse_domain::{Duration, PhoneNumber, SessionId, TwoStepMethod, UserId};
use gatehouse_store::{Conn, authenticator_apps, codes, recovery_codes, throttle, users};
use serde_json::json;
use thiserror::Error;

/// What a code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The phone on record, at sign-in.
    SignIn,
    /// A new phone being set up.
    Setup,
    /// The phone on record, to reset a forgotten password.
    Reset,
    /// The phone on record, when a signed-in user confirms it is them before editing their profile.
    Reauth,
    /// A new phone replacing the one on record, from the profile page.
    NewPhone,
}

impl Purpose {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "signin",
            Self::Setup => "setup",
            Self::Reset => "reset",
            Self::Reauth => "reauth",
            Self::NewPhone => "new_phone",
        }
    }

    /// The send budget this purpose's codes count against. Reset codes have their own, so that
    /// someone who knows a username and email and asks for reset codes cannot use up the
    /// sign-in codes of the hour and keep the owner out; every other purpose is the owner's own
    /// doing (signing in, or a signed-in session) and shares the sign-in budget.
    pub(crate) fn budget(self) -> codes::Sent<'static> {
        match self {
            Self::Reset => codes::Sent::Only(Self::Reset.as_str()),
            Self::SignIn | Self::Setup | Self::Reauth | Self::NewPhone => codes::Sent::AllBut(Self::Reset.as_str()),
        }
    }

    /// The counter of wrong answers in a row ([`gatehouse_domain::two_step::answer_gate`]) this
    /// purpose's answers feed: signing in and "Confirm it's you" share one (both give the account
    /// to whoever answers, and only someone with the password reaches them). None for a password
    /// reset's code: anyone who knows a username and email can answer those, so a pause would let
    /// them keep the owner from resetting, while a guessed reset code still leaves the sign-in's
    /// second step to pass (each reset has its own tries, and the send budget bounds them). None
    /// for a new phone's code either: it goes to the phone just typed.
    pub(crate) fn wrong_answers_key(self, user: UserId) -> Option<String> {
        match self {
            Self::SignIn | Self::Reauth => Some(format!("second_step|u:{}", user.0)),
            Self::Reset | Self::Setup | Self::NewPhone => None,
        }
    }

    fn for_stage(stage: SessionStage) -> Option<Self> {
        match stage {
            SessionStage::TwoStepCode => Some(Self::SignIn),
            SessionStage::TwoStepSetup => Some(Self::Setup),
            _ => None,
        }
    }
}

/// Why a two-step action was refused.
#[derive(Debug, Error)]
pub enum TwoStepError {
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("Too many codes were requested. Wait an hour before asking for another, or call the help desk.")]
    TooManySends,
    #[error("Enter the {0}-digit code.")]
    Malformed(u32),
    #[error("That code is not correct. You have {}.", more_tries(*.0))]
    Wrong(i64),
    #[error("Too many wrong codes. Ask for a new code.")]
    TooManyTries,
    #[error("That code has expired. Ask for a new code.")]
    Expired,
    #[error("That code was already used. Ask for a new code if you need one.")]
    Used,
    #[error("No code has been sent yet. Ask for a code first.")]
    NoCode,
    #[error("That code was already used. Wait for your authenticator app to show a new code, then enter it.")]
    Replayed,
    #[error("Enter one of your recovery codes, like abcde-12345.")]
    MalformedRecovery,
    #[error("That recovery code is not correct, or was already used. You have {}.", more_tries(*.0))]
    WrongRecovery(i64),
    #[error("This step is not available now. Start again from sign in.")]
    WrongStage,
    #[error(
        "Your plan requires an authenticator app or a passkey for your account: text and voice codes cannot be used. Use your app, a passkey or a recovery code."
    )]
    StrongFactorRequired,
    #[error("Your plan does not offer codes by voice call. Choose a text message.")]
    VoiceNotOffered,
    #[error(
        "Too many wrong codes were entered for this account. Wait {}, then try again. If you did not enter them, choose a new password with \"Forgot password\".",
        minutes(*.0)
    )]
    AnswersPaused(i64),
    #[error(
        "Too many wrong codes were entered for this account, so codes are no longer taken. Reset your password with \"Forgot password\", or call the help desk."
    )]
    AnswersClosed,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl TwoStepError {
    /// Whether the account takes no second-step answers now, whatever the answer (too many wrong
    /// ones in a row): a refusal to meet with 429, not a wrong answer.
    pub fn is_answer_refusal(&self) -> bool {
        matches!(self, Self::AnswersPaused(_) | Self::AnswersClosed)
    }

    /// Seconds until answers are taken again, when that is known (`Retry-After`).
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            Self::AnswersPaused(minutes) => Some(minutes * 60),
            _ => None,
        }
    }
}

/// "1 more try", "4 more tries".
fn more_tries(n: i64) -> String {
    if n == 1 { "1 more try".to_owned() } else { format!("{n} more tries") }
}

/// "1 minute", "5 minutes".
fn minutes(n: i64) -> String {
    if n == 1 { "1 minute".to_owned() } else { format!("{n} minutes") }
}

impl From<gatehouse_store::StoreError> for TwoStepError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// What the person answered a challenge with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer<'a> {
    /// A code: texted or called (compared with the stored HMAC), or from the authenticator app
    /// when the challenge is the app's.
    Code(&'a str),
    /// One of the user's recovery codes, whatever the challenge.
    Recovery(&'a RecoveryCode),
}

/// Where the session went after a correct code.
#[derive(Debug)]
pub struct Verified {
    pub session: SessionToken,
    pub stage: SessionStage,
}

fn code_context(user: UserId, purpose: Purpose) -> String {
    format!("code:{}:{}", user.0, purpose.as_str())
}

/// Generates, stores and queues a code, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_code(
    svc: &Services,
    conn: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    phone: &str,
    method: TwoStepMethod,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), TwoStepError> {
    match send_code_unaudited(svc, conn, plan, user, purpose, phone, method, now).await? {
        CodeSend::Sent(e) => {
            audit::record(conn, now, plan.id(), meta, e).await?;
            Ok(())
        }
        CodeSend::Refused(e) => {
            audit::record(conn, now, plan.id(), meta, e).await?;
            Err(TwoStepError::TooManySends)
        }
    }
}

/// What [`send_code_unaudited`] did, with the event to record for it.
pub(crate) enum CodeSend {
    /// The code was stored and queued.
    Sent(Event),
    /// The hour's limit was reached: nothing was sent.
    Refused(Event),
}

/// [`send_code`] without recording its event: the caller records it in the same transaction
/// (a sign-in appends it with its own, in one append).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_code_unaudited(
    svc: &Services,
    conn: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    phone: &str,
    method: TwoStepMethod,
    now: i64,
) -> Result<CodeSend, TwoStepError> {
    let code = CodeToSend::new(svc, plan, user, purpose, phone, method, now);
    gatehouse_store::users::lock(conn, user).await?;
    let stored = !code.insert_stmt().fetch_all(conn).await?.is_empty();
    let (message, send) = code.outcome(plan, stored)?;
    if let Some(m) = message {
        messages::enqueue(conn, plan.id(), &m, now).await?;
    }
    Ok(send)
}

/// A code made for `user` and about to be stored and sent: [`CodeToSend::insert_stmt`] stores it
/// if the hour's limit allows, and [`CodeToSend::outcome`] says what follows.
pub(crate) struct CodeToSend<'a> {
    code: String,
    hash: String,
    plan: gatehouse_domain::PlanId,
    user: UserId,
    purpose: Purpose,
    phone: &'a str,
    method: TwoStepMethod,
    now: i64,
    expires_at: i64,
    max_per_hour: i64,
}

impl<'a> CodeToSend<'a> {
    /// A new code of `purpose` for `user`'s `phone`.
    pub(crate) fn new(
        svc: &Services,
        plan: &Plan,
        user: UserId,
        purpose: Purpose,
        phone: &'a str,
        method: TwoStepMethod,
        now: i64,
    ) -> Self {
        let policy = plan.code_policy();
        let code = policy.code_from(random_u64());
        let hash = hash_code(&svc.code_key, &code_context(user, purpose), &code);
        Self {
            code,
            hash,
            plan: plan.id(),
            user,
            purpose,
            phone,
            method,
            now,
            expires_at: policy.expires_at(gatehouse_domain::Timestamp(now)).as_secs(),
            max_per_hour: policy.max_sends_per_hour,
        }
    }

    /// The statement that stores the code, only while fewer than the hour's limit were sent
    /// ([`gatehouse_domain::two_step::CodePolicy::may_send`], checked by the insert itself): it
    /// returns a row when the code was stored.
    pub(crate) fn insert_stmt(&self) -> gatehouse_store::Stmt<'_> {
        let new = codes::NewCode {
            plan_id: self.plan,
            user_id: self.user,
            purpose: self.purpose.as_str(),
            phone: self.phone,
            method: self.method.as_str(),
            code_hash: &self.hash,
            expires_at: self.expires_at,
        };
        let since = self.now - Duration::hours(1).as_secs();
        codes::insert_within_limit_stmt(&new, self.now, since, self.purpose.budget(), self.max_per_hour)
    }

    /// The message to queue (when the code was `stored`) and the event to record.
    pub(crate) fn outcome(self, plan: &Plan, stored: bool) -> Result<(Option<messages::Rendered>, CodeSend), Internal> {
        let (user, purpose, method) = (self.user, self.purpose.as_str(), self.method);
        if !stored {
            return Ok((
                None,
                CodeSend::Refused(
                    Event::new("two_step.code_sent")
                        .by_self(user)
                        .outcome(Outcome::Denied)
                        .detail(json!({"reason": "send_limit", "purpose": purpose})),
                ),
            ));
        }
        let minutes = plan.code_policy().lifetime.as_secs() / 60;
        let voice = method == TwoStepMethod::Voice;
        let msg = messages::two_step_code(&plan.row.name, &self.code, minutes, voice, self.phone)?;
        let event = Event::new("two_step.code_sent").by_self(user).detail(json!({
            "purpose": purpose,
            "method": method.as_str(),
            "phone": gatehouse_domain::phone::mask_digits(self.phone),
        }));
        Ok((Some(msg), CodeSend::Sent(event)))
    }
}

/// When the next code of `purpose` may be sent to `user`, or `None` when one may be sent now.
/// A code leaves the hour's count an hour after it was sent; one more may be sent once enough
/// have left that fewer than the plan's limit remain.
pub(crate) async fn next_send_at(
    conn: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    now: i64,
) -> Result<Option<i64>, gatehouse_store::StoreError> {
    let policy = plan.code_policy();
    let hour = Duration::hours(1).as_secs();
    let sent = codes::sent_since(conn, user, now - hour, purpose.budget()).await?;
    let count = i64::try_from(sent.len()).unwrap_or(i64::MAX);
    if policy.may_send(count) {
        return Ok(None);
    }
    let leaving = usize::try_from(count - policy.max_sends_per_hour).unwrap_or(0);
    Ok(sent.get(leaving).map(|t| t + hour))
}

/// Whether a sign-in code went out for this sign-in, and when the next may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInCodeStatus {
    /// A sign-in code was sent since the session started (at sign-in, or asked for since).
    pub sent: bool,
    /// The code asked for now is the authenticator app's (not a texted one).
    pub app: bool,
    /// The user has an authenticator app (so "Use another way" can offer it).
    pub has_app: bool,
    /// When the next code may be sent, if none may be now (the hour's codes are used up).
    pub next_at: Option<i64>,
    /// The plan requires an app or passkey of this user, who has one: no text or voice code is
    /// sent or accepted.
    pub strong_only: bool,
    /// Unused recovery codes are held (one may be entered instead).
    pub has_recovery: bool,
    /// Voice calls may be asked for.
    pub voice: bool,
}

/// Checks `typed` against the user's newest code for `purpose` (sent at or after `not_before`)
/// and consumes it, in the caller's transaction. A refusal writes the counted try and its audit
/// event to the transaction: the caller commits it before answering.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn check_and_consume(
    svc: &Services,
    tx: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    typed: &str,
    not_before: i64,
    meta: &RequestMeta,
    now: i64,
) -> Result<codes::CodeRow, TwoStepError> {
    check_answer(svc, tx, plan, user, purpose, Answer::Code(typed), not_before, meta, now).await
}

/// Checks an answer to the user's newest challenge for `purpose` (sent at or after
/// `not_before`) and consumes the challenge, in the caller's transaction. Every answer (a texted
/// code, an app code, a recovery code) first takes one of the challenge's tries, so all count
/// toward the same limit. An app code is then accepted only for a step newer than the last one
/// accepted; a recovery code is used by the same conditional update that checks it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn check_answer(
    svc: &Services,
    tx: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    answer: Answer<'_>,
    not_before: i64,
    meta: &RequestMeta,
    now: i64,
) -> Result<codes::CodeRow, TwoStepError> {
    let policy = plan.code_policy();
    let code = codes::latest(tx, user, purpose.as_str())
        .await?
        .filter(|c| c.created_at >= not_before)
        .ok_or(TwoStepError::NoCode)?;
    // Answers for one user one at a time (PostgreSQL; SQLite's writer already is): the count of
    // wrong answers read here is then the latest, and a pause cannot be passed by answering
    // several at once.
    users::lock(tx, user).await?;
    let guard = WrongAnswers::read(tx, plan, user, purpose).await?;
    if let Err(e) = guard.open(now) {
        let reason = if matches!(e, TwoStepError::AnswersClosed) { "answers_closed" } else { "answers_paused" };
        let event = Event::new("two_step.verify")
            .by_self(user)
            .outcome(Outcome::Denied)
            .detail(json!({"purpose": purpose.as_str(), "reason": reason}));
        audit::record(tx, now, plan.id(), meta, event).await?;
        return Err(e);
    }
    let expires_at = gatehouse_domain::Timestamp(code.expires_at);
    let mut app_step = None;
    let mut wrong = false;
    // The try is counted before the code is compared, in one conditional statement: concurrent
    // tries each get their own count, and a code whose tries are spent is dead even typed right.
    let verdict = match codes::claim_try(tx, code.id, policy.max_tries, now).await? {
        Some(tries) => {
            let matches = match answer {
                Answer::Code(typed) if code.method == APP_METHOD => {
                    app_step = authenticator_app::matching_step(svc, tx, plan.id(), user, typed, now).await?;
                    app_step.is_some()
                }
                Answer::Code(typed) => {
                    same(&hash_code(&svc.code_key, &code_context(user, purpose), typed), &code.code_hash)
                }
                Answer::Recovery(rc) => {
                    let hash = authenticator_app::recovery_hash(svc, user, rc);
                    recovery_codes::use_code(tx, plan.id(), user, &hash, now).await?
                }
            };
            let verdict = check_code(&policy, matches, tries - 1, expires_at, false, gatehouse_domain::Timestamp(now));
            // Compared and wrong (on the code's last try too): one more in a row for the account.
            wrong = !matches && matches!(verdict, CodeCheck::Wrong { .. } | CodeCheck::TooManyTries);
            verdict
        }
        None => {
            // Used, expired or spent, perhaps by a concurrent try: the row as it is now says which.
            let dead = codes::latest(tx, user, purpose.as_str())
                .await?
                .filter(|c| c.id == code.id)
                .unwrap_or_else(|| code.clone());
            let (consumed, expires_at) = (dead.consumed_at.is_some(), gatehouse_domain::Timestamp(dead.expires_at));
            check_code(&policy, false, policy.max_tries, expires_at, consumed, gatehouse_domain::Timestamp(now))
        }
    };
    let recovery = matches!(answer, Answer::Recovery(_));
    let err = match verdict {
        CodeCheck::Accepted => None,
        CodeCheck::Wrong { tries_left } if recovery => Some((TwoStepError::WrongRecovery(tries_left), "wrong")),
        CodeCheck::Wrong { tries_left } => Some((TwoStepError::Wrong(tries_left), "wrong")),
        CodeCheck::TooManyTries => Some((TwoStepError::TooManyTries, "too_many_tries")),
        CodeCheck::Expired => Some((TwoStepError::Expired, "expired")),
        CodeCheck::AlreadyUsed => Some((TwoStepError::Used, "used")),
    };
    let answered_with = match answer {
        Answer::Recovery(_) => "recovery_code",
        Answer::Code(_) if code.method == APP_METHOD => APP_METHOD,
        Answer::Code(_) => "code",
    };
    if let Some((e, reason)) = err {
        let event = Event::new("two_step.verify")
            .by_self(user)
            .outcome(Outcome::Failure)
            .detail(json!({"purpose": purpose.as_str(), "reason": reason, "answer": answered_with}));
        audit::record(tx, now, plan.id(), meta, event).await?;
        if wrong {
            guard.count_wrong(tx, plan, meta, now).await?;
        }
        return Err(e);
    }
    if let Some(step) = app_step
        && !authenticator_apps::accept_step(tx, user, step.0, now).await?
    {
        let event = Event::new("authenticator_app.replay_refused")
            .by_self(user)
            .outcome(Outcome::Denied)
            .detail(json!({"purpose": purpose.as_str(), "step": step.0}));
        audit::record(tx, now, plan.id(), meta, event).await?;
        return Err(TwoStepError::Replayed);
    }
    if !codes::consume(tx, code.id, now).await? {
        return Err(TwoStepError::Used);
    }
    guard.clear(tx, plan).await?;
    Ok(code)
}

/// An account's wrong answers in a row to the second step, for one purpose's counter
/// ([`Purpose::wrong_answers_key`]), kept in the sign-in throttle's table.
struct WrongAnswers {
    user: UserId,
    key: Option<String>,
    counter: Option<throttle::Counter>,
}

impl WrongAnswers {
    async fn read(conn: &mut Conn, plan: &Plan, user: UserId, purpose: Purpose) -> Result<Self, Internal> {
        let key = purpose.wrong_answers_key(user);
        let counter = match &key {
            Some(k) => throttle::get(conn, plan.id(), k).await?,
            None => None,
        };
        Ok(Self { user, key, counter })
    }

    /// Whether an answer may be taken now.
    fn open(&self, now: i64) -> Result<(), TwoStepError> {
        let Some(c) = self.counter else { return Ok(()) };
        if answer_gate(c.failures) == AnswerGate::Closed {
            return Err(TwoStepError::AnswersClosed);
        }
        match c.locked_until {
            Some(until) if until > now => Err(TwoStepError::AnswersPaused((until - now + 59) / 60)),
            _ => Ok(()),
        }
    }

    /// Counts one more wrong answer, pauses answers when the count calls for it, and emails
    /// the owner the first time it does: someone may have their password.
    async fn count_wrong(&self, conn: &mut Conn, plan: &Plan, meta: &RequestMeta, now: i64) -> Result<(), Internal> {
        let Some(key) = &self.key else { return Ok(()) };
        let wrong = throttle::add_failure(conn, plan.id(), key, now).await?;
        let (pause, detail) = match answer_gate(wrong) {
            AnswerGate::Open => return Ok(()),
            AnswerGate::PausedFor(d) => (d.as_secs(), json!({"wrong_answers": wrong, "pause_seconds": d.as_secs()})),
            // Shown as a lock to the help desk until cleared; answers are refused by the count.
            AnswerGate::Closed => {
                (Duration::days(365 * 100).as_secs(), json!({"wrong_answers": wrong, "closed": true}))
            }
        };
        throttle::lock(conn, plan.id(), key, now + pause).await?;
        let e = Event::new("two_step.answers_paused").by_self(self.user).outcome(Outcome::Denied).detail(detail);
        audit::record(conn, now, plan.id(), meta, e).await?;
        if wrong == FREE_WRONG_ANSWERS
            && let Some(user) = users::get(conn, plan.id(), self.user).await?
        {
            let event = messages::factors::FactorEvent::WrongCodes { count: wrong };
            tell_factor_change(conn, plan, &user, event, now).await?;
        }
        Ok(())
    }

    /// Forgets the wrong answers after a right one.
    async fn clear(&self, conn: &mut Conn, plan: &Plan) -> Result<(), Internal> {
        if let (Some(key), Some(_)) = (&self.key, self.counter) {
            throttle::clear_prefix(conn, plan.id(), key).await?;
        }
        Ok(())
    }
}

/// Forgets `user`'s wrong answers to the second step of signing in (after a new password: the
/// guesser's password no longer works; or the help desk's reset of two-step).
pub(crate) async fn forget_wrong_answers(conn: &mut Conn, plan: &Plan, user: UserId) -> Result<(), Internal> {
    if let Some(key) = Purpose::SignIn.wrong_answers_key(user) {
        throttle::clear_prefix(conn, plan.id(), &key).await?;
    }
    Ok(())
}

/// Makes `phone` (by `method`) the two-step phone of `user`, ends the user's sessions other than
/// `keep` (a changed phone signs them out everywhere else) and password resets in progress (one
/// may have passed a code texted to the old phone), and emails them that it is now
/// `phone` (set up when they had none, changed otherwise), in the caller's transaction. Every
/// path that sets the phone calls this once. Returns how many other sessions ended.
pub(crate) async fn set_phone(
    conn: &mut Conn,
    plan: &Plan,
    user: &users::UserRow,
    keep: SessionId,
    phone: &str,
    method: &str,
    now: i64,
) -> Result<u64, Internal> {
    users::set_two_step(conn, user.id, phone, method, now).await?;
    gatehouse_store::resets::end_open(conn, user.id, None, now).await?;
    let ended = gatehouse_store::sessions::end_all_except(conn, user.id, Some(keep), now).await?;
    let masked = gatehouse_domain::phone::mask_digits(phone);
    let when = plan.when(gatehouse_domain::Timestamp(now));
    let method = match TwoStepMethod::parse(method) {
        Some(TwoStepMethod::Voice) => "voice call",
        _ => "text message",
    };
    let msg = messages::two_step_phone::TwoStepPhoneSetV1 {
        first_name: &user.first_name,
        username: user.username.as_deref().unwrap_or_default(),
        plan_name: &plan.row.name,
        masked_phone: &masked,
        method,
        when: &when,
        replaced: user.two_step_phone.is_some(),
        signed_out_elsewhere: ended > 0,
        support_phone: &plan.row.support_phone,
        support_hours: &plan.row.support_hours,
    }
    .render_to(&user.email)?;
    messages::enqueue(conn, plan.id(), &msg, now).await?;
    Ok(ended)
}

/// Records that one of `user`'s recovery codes was just used (`recovery_codes.used`, with how
/// many are left) and emails them, in the caller's transaction. Every path that accepts a
/// recovery code (sign-in, confirming it is you on My Profile) calls this once.
pub(crate) async fn tell_recovery_code_used(
    conn: &mut Conn,
    plan: &Plan,
    user: &users::UserRow,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), Internal> {
    let left = recovery_codes::count_unused(conn, plan.id(), user.id).await?;
    audit::record(
        conn,
        now,
        plan.id(),
        meta,
        Event::new("recovery_codes.used").by_self(user.id).detail(json!({"left": left})),
    )
    .await?;
    tell_factor_change(conn, plan, user, messages::factors::FactorEvent::RecoveryCodeUsed { left }, now).await
}

/// Queues the email that tells `user` their sign-in factors changed, in the caller's
/// transaction (sent after commit). Every change of a factor by its owner sends one.
pub(crate) async fn tell_factor_change(
    conn: &mut Conn,
    plan: &Plan,
    user: &users::UserRow,
    event: messages::factors::FactorEvent<'_>,
    now: i64,
) -> Result<(), Internal> {
    let when = plan.when(gatehouse_domain::Timestamp(now));
    let msg = messages::factors::FactorNoticeV1 {
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

impl Services {
    /// Sends a code to a new phone during set-up. Returns the masked number.
    pub async fn send_setup_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        country_code: &str,
        number: &str,
        method: TwoStepMethod,
        meta: &RequestMeta,
    ) -> Result<String, TwoStepError> {
        if session.stage != SessionStage::TwoStepSetup {
            return Err(TwoStepError::WrongStage);
        }
        let phone = PhoneNumber::parse(country_code, number)?;
        if method == TwoStepMethod::Voice && !plan.factor_policy().voice_allowed {
            return Err(TwoStepError::VoiceNotOffered);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let r = send_code(self, &mut tx, plan, session.user_id, Purpose::Setup, phone.e164(), method, meta, now).await;
        // The refusal is audited too, so commit either way.
        gatehouse_store::commit(tx).await?;
        r.map(|()| phone.masked())
    }

    /// Sends a new sign-in code to the phone on record, by `method` (or the one on record).
    pub async fn resend_signin_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        method: Option<TwoStepMethod>,
        meta: &RequestMeta,
    ) -> Result<String, TwoStepError> {
        if session.stage != SessionStage::TwoStepCode {
            return Err(TwoStepError::WrongStage);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(TwoStepError::WrongStage)?;
        if strong_factor::strong_only(&mut tx, plan, &user).await? {
            let e = Event::new("two_step.code_sent")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"reason": "strong_factor_required", "purpose": Purpose::SignIn.as_str()}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(TwoStepError::StrongFactorRequired);
        }
        let on_record = user.two_step_method.as_deref().and_then(TwoStepMethod::parse);
        let method = method.or(on_record).unwrap_or(TwoStepMethod::Text);
        // A phone set up for voice calls keeps them; nobody else may start them once disallowed.
        if method == TwoStepMethod::Voice
            && !plan.factor_policy().voice_allowed
            && on_record != Some(TwoStepMethod::Voice)
        {
            return Err(TwoStepError::VoiceNotOffered);
        }
        let phone = user.two_step_phone.clone().ok_or(TwoStepError::WrongStage)?;
        let r = send_code(self, &mut tx, plan, session.user_id, Purpose::SignIn, &phone, method, meta, now).await;
        gatehouse_store::commit(tx).await?;
        r.map(|()| gatehouse_domain::phone::mask_digits(&phone))
    }

    /// Whether a sign-in code was sent for this session's sign-in, and when the next may be.
    pub async fn signin_code_status(&self, plan: &Plan, session: &SessionInfo) -> Result<SignInCodeStatus, Internal> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let latest = codes::latest(&mut conn, session.user_id, Purpose::SignIn.as_str())
            .await?
            .filter(|c| c.created_at >= session.created_at);
        let next_at = next_send_at(&mut conn, plan, session.user_id, Purpose::SignIn, now).await?;
        let has_app = authenticator_app::has_app(&mut conn, plan.id(), session.user_id).await?;
        let app = latest.as_ref().is_some_and(|c| c.method == APP_METHOD);
        let user = users::get(&mut conn, plan.id(), session.user_id).await?;
        let strong_only = match &user {
            Some(u) => strong_factor::strong_only(&mut conn, plan, u).await?,
            None => false,
        };
        let has_recovery = recovery_codes::count_unused(&mut conn, plan.id(), session.user_id).await? > 0;
        let voice = plan.factor_policy().voice_allowed
            || user.as_ref().and_then(|u| u.two_step_method.as_deref()) == Some(TwoStepMethod::Voice.as_str());
        Ok(SignInCodeStatus { sent: latest.is_some(), app, has_app, next_at, strong_only, has_recovery, voice })
    }

    /// The masked number codes go to at this stage: the phone on record, or the one being set up.
    pub async fn pending_phone(&self, plan: &Plan, session: &SessionInfo) -> Result<Option<String>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(match Purpose::for_stage(session.stage) {
            Some(Purpose::SignIn | Purpose::Reset | Purpose::Reauth | Purpose::NewPhone) => {
                users::get(&mut conn, plan.id(), session.user_id).await?.and_then(|u| u.two_step_phone)
            }
            Some(Purpose::Setup) => {
                codes::latest(&mut conn, session.user_id, Purpose::Setup.as_str()).await?.map(|c| c.phone)
            }
            None => None,
        }
        .map(|p| gatehouse_domain::phone::mask_digits(&p)))
    }

    /// Checks a typed code. On success the session moves on (terms, or fully signed in) under a
    /// new token; a set-up code also makes its phone the one on record. At sign-in the code
    /// answers the newest challenge: a texted (or called) code, or the authenticator app's.
    pub async fn verify_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<Verified, TwoStepError> {
        let purpose = Purpose::for_stage(session.stage).ok_or(TwoStepError::WrongStage)?;
        let policy = plan.code_policy();
        let typed = typed.trim();
        let app_shaped = purpose == Purpose::SignIn && authenticator_app::looks_like_app_code(typed);
        if !policy.well_formed(typed) && !app_shaped {
            return Err(TwoStepError::Malformed(policy.length));
        }
        self.finish_two_step(plan, session, purpose, Answer::Code(typed), meta).await
    }

    /// Signs in with one of the user's recovery codes instead of the code asked for. It takes a
    /// try of this sign-in's challenge like any code, works once, and the user is emailed.
    pub async fn verify_recovery_code(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<Verified, TwoStepError> {
        if session.stage != SessionStage::TwoStepCode {
            return Err(TwoStepError::WrongStage);
        }
        let code = RecoveryCode::parse(typed).ok_or(TwoStepError::MalformedRecovery)?;
        self.finish_two_step(plan, session, Purpose::SignIn, Answer::Recovery(&code), meta).await
    }

    /// Checks an answer to the session's challenge and, when right, moves the session on.
    async fn finish_two_step(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        purpose: Purpose,
        answer: Answer<'_>,
        meta: &RequestMeta,
    ) -> Result<Verified, TwoStepError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if purpose == Purpose::SignIn
            && matches!(answer, Answer::Code(_))
            && let Some(user) = users::get(&mut tx, plan.id(), session.user_id).await?
            && strong_factor::strong_only(&mut tx, plan, &user).await?
            && codes::latest(&mut tx, user.id, purpose.as_str()).await?.is_none_or(|c| c.method != APP_METHOD)
        {
            // Someone the plan requires to use an app or passkey, who has one: no texted or
            // called code signs them in, even one sent before the policy applied.
            let e = Event::new("two_step.verify")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"purpose": purpose.as_str(), "reason": "strong_factor_required"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(TwoStepError::StrongFactorRequired);
        }
        let code = match check_answer(self, &mut tx, plan, session.user_id, purpose, answer, 0, meta, now).await {
            Ok(c) => c,
            Err(e) => {
                // A wrong try and its audit event are kept.
                gatehouse_store::commit(tx).await?;
                return Err(e);
            }
        };
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(TwoStepError::WrongStage)?;
        let other_sessions_ended = if purpose == Purpose::Setup {
            Some(set_phone(&mut tx, plan, &user, session.id, &code.phone, &code.method, now).await?)
        } else {
            None
        };
        // Someone the plan requires to use an app or passkey, who has neither, adds one next: the
        // phone's code was the bridge.
        let next = strong_factor::stage_after_factors(&mut tx, plan, &user).await?;
        let token = sessions::advance(&mut tx, session, next, now).await?.ok_or(TwoStepError::Used)?;
        // The last factor is done: when and how, for the ID tokens of this session (`auth_time`, `amr`).
        let amr = match answer {
            Answer::Recovery(_) => AuthMethods::password_and_recovery_code(),
            Answer::Code(_) if code.method == APP_METHOD => AuthMethods::password_and_app(),
            Answer::Code(_) => {
                AuthMethods::password_and_code(TwoStepMethod::parse(&code.method).unwrap_or(TwoStepMethod::Text))
            }
        };
        gatehouse_store::sessions::record_authentication(&mut tx, session.id, now, &amr.as_stored()).await?;
        if next == SessionStage::Complete {
            users::record_signin(&mut tx, session.user_id, now).await?;
        }
        let action = if purpose == Purpose::Setup { "two_step.phone_set" } else { "two_step.verify" };
        let mut detail = match answer {
            Answer::Recovery(_) => json!({"answer": "recovery_code", "amr": amr.as_stored(), "next": next.as_str()}),
            Answer::Code(_) if code.method == APP_METHOD => {
                json!({"answer": APP_METHOD, "amr": amr.as_stored(), "next": next.as_str()})
            }
            Answer::Code(_) => {
                json!({"phone": gatehouse_domain::phone::mask_digits(&code.phone), "method": code.method, "amr": amr.as_stored(), "next": next.as_str()})
            }
        };
        if let (Some(n), Some(d)) = (other_sessions_ended, detail.as_object_mut()) {
            d.insert("other_sessions_ended".into(), json!(n));
        }
        audit::record(&mut tx, now, plan.id(), meta, Event::new(action).by_self(session.user_id).detail(detail))
            .await?;
        if matches!(answer, Answer::Recovery(_)) {
            tell_recovery_code_used(&mut tx, plan, &user, meta, now).await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(Verified { session: token, stage: next })
    }

    /// Asks for the authenticator app's code at this sign-in (after "Use another way" sent a
    /// text): a new challenge, counted like a sent code.
    pub async fn use_app_for_signin(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<(), TwoStepError> {
        if session.stage != SessionStage::TwoStepCode {
            return Err(TwoStepError::WrongStage);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !authenticator_app::has_app(&mut tx, plan.id(), session.user_id).await? {
            return Err(TwoStepError::WrongStage);
        }
        let r = authenticator_app::start_challenge(&mut tx, plan, session.user_id, Purpose::SignIn, meta, now).await;
        gatehouse_store::commit(tx).await?;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_codes_have_their_own_budget() {
        assert_eq!(Purpose::Reset.budget(), codes::Sent::Only("reset"));
        for p in [Purpose::SignIn, Purpose::Setup, Purpose::Reauth, Purpose::NewPhone] {
            assert_eq!(p.budget(), codes::Sent::AllBut("reset"), "{p:?}");
        }
    }
}
