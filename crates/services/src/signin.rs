//! Signing in, first step: username and password. The answer for a wrong password and for an
//! unknown username is the same, and takes the same time (a dummy hash is verified). Failures
//! are counted per username as typed, so a lock looks the same whether or not the account
//! exists; the lock grows with failures but is capped, and is kept per username and client
//! address, with a much higher per-username limit across all addresses (NIST SP 800-63B 5.2.2)
//! that counts only the failures of a sliding window, so that nobody can keep another person
//! out for long.

use crate::audit::{self, Event};
use crate::known_devices::{self, KnownDevice};
use crate::plans::Plan;
use crate::sessions::{self, SessionToken};
use crate::two_step::{self, Purpose};
use crate::{HashError, Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::known_device::DeviceTokens;
use gatehouse_domain::legacy::LegacyHash;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{Duration, Timestamp, TwoStepMethod, UserStatus, password, username};
use gatehouse_store::audit as audit_store;
use gatehouse_store::users::UserRow;
use gatehouse_store::{Batch, throttle, users};
use serde_json::json;
use thiserror::Error;

/// Failures from all addresses together, within the policy's window, before a username is
/// locked everywhere.
pub use gatehouse_domain::lockout::ACCOUNT_WIDE_LIMIT;

/// Why sign-in did not proceed.
#[derive(Debug, Error)]
pub enum SignInError {
    #[error("The username or password is not correct.")]
    Invalid,
    #[error("Too many unsuccessful sign-in attempts. Wait {minutes} minute(s) and try again, or use Forgot password.")]
    Locked { minutes: i64 },
    #[error("This account is deactivated. Contact your practice administrator.")]
    Deactivated,
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SignInError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<HashError> for SignInError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Busy,
            other => Self::Internal(other.into()),
        }
    }
}

/// A session after the password step, and what it must do next.
#[derive(Debug)]
pub struct SignedIn {
    pub session: SessionToken,
    pub stage: SessionStage,
    /// The masked phone a code was sent to, when the next stage is the code.
    pub masked_phone: Option<String>,
    /// Whether the code (at `TwoStepCode`) or the link (at `EmailProof`) was sent. False when
    /// none could be (the hour's limit was reached), and at stages that send nothing.
    pub code_sent: bool,
    /// When no code could be sent at `TwoStepCode`: when the next one can be.
    pub next_code_at: Option<i64>,
    /// The address on record the link was sent to, masked, when the next stage is the email proof.
    pub masked_email: Option<String>,
    /// The code asked for is the authenticator app's (nothing was texted; the phone remains
    /// "another way").
    pub app: bool,
    /// The plan requires an app or passkey of this user, who holds one: nothing was texted, and
    /// only the app, a passkey or a recovery code will do.
    pub strong_only: bool,
    /// The browser's tokens for the usernames whose password it has passed, this one's renewed:
    /// to keep (the pages' `gh_device` cookie) and present at the next sign-in
    /// ([`gatehouse_domain::known_device`]).
    pub devices: DeviceTokens,
}

fn user_key(name: &str) -> String {
    format!("u:{name}")
}

/// The per-address count's key: the username and the address as the lockout counts it (an
/// IPv6 address by its /64, see [`gatehouse_domain::lockout::address_key`]).
fn ip_key(name: &str, ip: &str) -> String {
    format!("u:{name}|ip:{}", gatehouse_domain::lockout::address_key(ip))
}

/// A known browser's own failure count for the username: [`gatehouse_domain::known_device`].
fn device_key(name: &str, device: &KnownDevice) -> String {
    format!("u:{name}|dev:{}", device.nonce_hex())
}

/// When the username is locked until from this address, and whether it has failures counted
/// from there, for someone who has already shown they hold the account in a way no one can
/// guess (a passkey, [`crate::passkeys`]; a signed-in session confirming it is them). The lock
/// across addresses stops a password being guessed from many networks; it does not hold them,
/// or whoever has those networks could keep them out.
pub(crate) async fn address_lock_state(
    conn: &mut gatehouse_store::Conn,
    plan: &Plan,
    name: &str,
    ip: &str,
    now: i64,
) -> Result<(Option<i64>, bool), gatehouse_store::StoreError> {
    let counter = throttle::get(conn, plan.id(), &ip_key(name, ip)).await?;
    Ok(lock_of([None, counter], now))
}

/// When the counters (the username's, and the username's from one address) lock it until, and
/// whether either has failures counted.
fn lock_of(counters: [Option<throttle::Counter>; 2], now: i64) -> (Option<i64>, bool) {
    let mut until = None;
    let mut had_failures = false;
    for c in counters.into_iter().flatten() {
        had_failures = true;
        if let Some(t) = c.locked_until.filter(|t| *t > now) {
            until = Some(until.map_or(t, |u: i64| u.max(t)));
        }
    }
    (until, had_failures)
}

/// When the counters lock the username until for this attempt, and whether there are failures
/// to forget if it succeeds. A known browser is held to its own count alone (the second): neither
/// the lock across addresses nor its address's apply to it, and it forgets only its own.
fn lock_for(counters: [Option<throttle::Counter>; 2], known_browser: bool, now: i64) -> (Option<i64>, bool) {
    if !known_browser {
        return lock_of(counters, now);
    }
    let [_, own] = counters;
    lock_of([None, own], now)
}

/// A failure just counted against a username.
pub(crate) struct Failure {
    /// Consecutive failures from this address.
    pub per_ip: i64,
    /// How long the username is locked now (from this address, or everywhere), if it is.
    pub locked_for: Option<Duration>,
}

/// Counts a failure against `name` from `ip` in the caller's transaction and locks the name as
/// the plan's lockout policy says: the wrong password's rule, which a failed passkey of a known
/// user keeps too.
pub(crate) async fn count_failure(
    tx: &mut gatehouse_store::Conn,
    plan: &Plan,
    name: &str,
    ip: &str,
    now: i64,
) -> Result<Failure, gatehouse_store::StoreError> {
    let policy = plan.lockout_policy();
    let per_ip = throttle::add_failure(tx, plan.id(), &ip_key(name, ip), now).await?;
    // Across addresses only the window's failures count: a trickle never locks the name.
    let since = policy.account_window_start(gatehouse_domain::Timestamp(now)).0;
    let overall = throttle::add_failure_in_window(tx, plan.id(), &user_key(name), now, since).await?;
    let mut locked_for = None;
    if let Some(d) = policy.lock_for(per_ip) {
        throttle::lock(tx, plan.id(), &ip_key(name, ip), now + d.as_secs()).await?;
        locked_for = Some(d);
    }
    if let Some(d) = policy.account_lock_for(overall) {
        throttle::lock(tx, plan.id(), &user_key(name), now + d.as_secs()).await?;
        locked_for = Some(locked_for.map_or(d, |x: Duration| x.max(d)));
    }
    Ok(Failure { per_ip, locked_for })
}

/// Counts a failure against `name` from a browser that has passed its password before: on the
/// browser's own count only, with the same growing lock.
async fn count_device_failure(
    tx: &mut gatehouse_store::Conn,
    plan: &Plan,
    name: &str,
    device: &KnownDevice,
    now: i64,
) -> Result<Failure, gatehouse_store::StoreError> {
    let key = device_key(name, device);
    let per_ip = throttle::add_failure(tx, plan.id(), &key, now).await?;
    let locked_for = plan.lockout_policy().lock_for(per_ip);
    if let Some(d) = locked_for {
        throttle::lock(tx, plan.id(), &key, now + d.as_secs()).await?;
    }
    Ok(Failure { per_ip, locked_for })
}

/// Forgets the failures counted against `name` from one address (after someone there proved
/// they hold it, while the lock others put on the name stays for them).
pub(crate) async fn clear_address_failures(
    tx: &mut gatehouse_store::Conn,
    plan: &Plan,
    name: &str,
    ip: &str,
) -> Result<(), gatehouse_store::StoreError> {
    throttle::clear_prefix(tx, plan.id(), &ip_key(name, ip)).await
}

/// Forgets the failures counted against `name` (after it proved itself).
pub(crate) async fn clear_failures(
    tx: &mut gatehouse_store::Conn,
    plan: &Plan,
    name: &str,
) -> Result<(), gatehouse_store::StoreError> {
    throttle::clear_prefix(tx, plan.id(), &user_key(name)).await
}

impl Services {
    /// Checks, for a signed-in user confirming it is them, that `username` is theirs and
    /// `password` is their password. A wrong answer counts toward the username's lock exactly
    /// like a failed sign-in; the lock from their own address refuses them, the lock others put
    /// on the name from elsewhere does not.
    pub(crate) async fn confirm_password(
        &self,
        plan: &Plan,
        user: &gatehouse_store::users::UserRow,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(), SignInError> {
        let name = username.trim().to_lowercase();
        if name.is_empty()
            || name.chars().count() > username::MAX_LEN
            || password.is_empty()
            || password.chars().count() > password::MAX_CHECKED_LEN
        {
            return Err(SignInError::Invalid);
        }
        let slot = self.hasher.reserve()?;
        let now = self.now();
        let (locked_until, had_failures) = {
            let mut conn = self.db.acquire().await?;
            address_lock_state(&mut conn, plan, &name, &meta.ip, now).await?
        };
        if let Some(until) = locked_until {
            return Err(SignInError::Locked { minutes: ((until - now) + 59) / 60 });
        }
        let own = user.username.as_deref().is_some_and(|u| u.to_lowercase() == name);
        let stored = user.password_hash.as_deref().filter(|_| own);
        // Verified even when the username is not theirs, so both answers take the same time.
        let ok = slot.verify(password, stored).await? && stored.is_some();
        let now = self.now();
        if !ok {
            // The failure is recorded on whoever holds the typed username, as at sign-in.
            let subject = if own {
                Some(user.id)
            } else {
                let mut conn = self.db.acquire().await?;
                users::by_username(&mut conn, plan.id(), &name).await?.map(|u| u.id)
            };
            return Err(self.record_failure(plan, &name, subject, None, meta, now).await?);
        }
        if had_failures {
            let mut tx = self.db.begin().await?;
            clear_address_failures(&mut tx, plan, &name, &meta.ip).await?;
            gatehouse_store::commit(tx).await?;
        }
        Ok(())
    }

    /// Checks a username and password and starts a session at the two-step stage, from a
    /// browser that presents no tokens of known usernames.
    pub async fn sign_in(
        &self,
        plan: &Plan,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<SignedIn, SignInError> {
        self.sign_in_from(plan, username, password, &DeviceTokens::default(), meta).await
    }

    /// Checks a username and password and starts a session at the two-step stage. `devices` are
    /// the tokens the browser holds: with one for this username, the username's lock across
    /// addresses and its address's lock do not apply, and a wrong password counts against that
    /// browser alone.
    pub async fn sign_in_from(
        &self,
        plan: &Plan,
        username: &str,
        password: &str,
        devices: &DeviceTokens,
        meta: &RequestMeta,
    ) -> Result<SignedIn, SignInError> {
        let name = username.trim().to_lowercase();
        if name.is_empty()
            || name.chars().count() > username::MAX_LEN
            || password.is_empty()
            || password.chars().count() > password::MAX_CHECKED_LEN
        {
            return Err(SignInError::Invalid);
        }
        // Take a place in the hashing pool first: a sign-in the pool cannot serve costs nothing more.
        let slot = self.hasher.reserve()?;
        let now = self.now();
        // A browser that passed this username's password before answers to its own count; any
        // other, to its address's.
        let known = known_devices::recognise(&self.code_key, plan.id(), &name, devices, Timestamp(now));
        let own_key = match &known {
            Some(d) => device_key(&name, d),
            None => ip_key(&name, &meta.ip),
        };
        // Whether the user has an authenticator app is read with the user, before the hash: an
        // app added or removed in the meantime only changes which code is asked for first.
        let read = {
            let mut conn = self.db.acquire().await?;
            users::for_password_step(&mut conn, plan.id(), &name, [&user_key(&name), &own_key]).await?
        };
        let (locked_until, had_failures) = lock_for(read.counters, known.is_some(), now);
        let has_app = read.user.as_ref().is_some_and(|(_, app)| *app);
        let user = read.user.map(|(u, _)| u);
        if let Some(until) = locked_until {
            // Refused before any hashing, and not written down: nothing changed (the failures
            // that locked the name were audited), and a flood of tries at a locked name must not
            // cost a write each.
            return Err(SignInError::Locked { minutes: ((until - now) + 59) / 60 });
        }
        let stored = user.as_ref().filter(|u| u.status != UserStatus::Invited).and_then(|u| u.password_hash.clone());
        // An imported account that has not signed in here yet: its old system's hash.
        // After the plan's migration deadline the old system's hashes are no longer accepted:
        // those accounts reset their password by email ("Forgot password").
        let deadline_passed =
            plan.legacy_deadline().is_some_and(|d| d.passed(gatehouse_domain::Timestamp(now), plan.time_zone()));
        let legacy = match (&stored, &user) {
            (None, Some(u)) if u.status != UserStatus::Invited && !deadline_passed => {
                u.legacy_hash.as_deref().and_then(|h| LegacyHash::parse_stored(h).ok())
            }
            _ => None,
        };
        let first_signin = legacy.is_some();
        let ok = match legacy {
            Some(l) => slot.verify_legacy(password, l).await?,
            None => slot.verify(password, stored.as_deref()).await? && stored.is_some(),
        };
        let now = self.now();
        let subject = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|_| ok) else {
            return Err(self.record_failure(plan, &name, subject, known.as_ref(), meta, now).await?);
        };
        if user.status == UserStatus::Deactivated {
            let mut tx = self.db.begin().await?;
            audit::record(
                &mut tx,
                now,
                plan.id(),
                meta,
                Event::new("signin.password")
                    .on(user.id)
                    .outcome(Outcome::Denied)
                    .detail(json!({"reason": "deactivated"})),
            )
            .await?;
            gatehouse_store::commit(tx).await?;
            return Err(SignInError::Deactivated);
        }
        let rehash = match &stored {
            Some(h) if self.hasher.needs_rehash(h) => self.hasher.hash(password).await.ok(),
            _ => None,
        };
        let (stage, phone) = match (&user.two_step_phone, &user.two_step_method) {
            _ if first_signin => {
                (gatehouse_domain::email_proof::stage_after_old_password(plan.legacy_email_proof()), None)
            }
            (Some(p), Some(m)) => (SessionStage::TwoStepCode, Some((p.clone(), m.clone()))),
            _ => (SessionStage::TwoStepSetup, None),
        };
        let devices = known_devices::renew(&self.code_key, plan.id(), &name, devices, known.as_ref(), Timestamp(now));
        if let Some((phone, method)) = &phone {
            // Most sign-ins: nothing to clear or rehash, and a code to text or call.
            let plain = !had_failures && rehash.is_none() && !has_app;
            if plain && !crate::strong_factor::may_be_required(plan, &user) {
                let signed_in = self.password_step_with_code(plan, &user, phone, method, meta, now).await?;
                return Ok(SignedIn { devices, ..signed_in });
            }
        }
        let mut tx = self.db.begin().await?;
        // Every failure counts on the username's own key too, so without it there is nothing to
        // clear. A known browser forgets only its own: the lock others' failures put on the name
        // stays for them.
        if had_failures {
            match &known {
                Some(d) => throttle::clear_prefix(&mut tx, plan.id(), &device_key(&name, d)).await?,
                None => clear_failures(&mut tx, plan, &name).await?,
            }
        }
        if let Some(h) = rehash {
            users::set_password_hash(&mut tx, user.id, &h, now).await?;
        }
        let session = sessions::start(&mut tx, plan.id(), user.id, stage, meta, now).await?;
        let password_step = password_event(user.id, stage, first_signin);
        // With a code to send, the password step's event and the code's are appended together.
        let mut events = vec![password_step];
        if phone.is_none() {
            // The user's row before the plan's audit chain: the email-proof link below counts
            // the hour's links under it (one order everywhere: no deadlock on PostgreSQL).
            users::lock(&mut tx, user.id).await?;
            audit::record_all(&mut tx, now, plan.id(), meta, std::mem::take(&mut events)).await?;
        }
        let mut masked_phone = None;
        let mut code_sent = false;
        let mut next_code_at = None;
        let mut masked_email = None;
        if stage == SessionStage::EmailProof {
            match crate::first_signin::send_link(self, &mut tx, plan, &user, meta, now).await {
                Ok(()) => code_sent = true,
                Err(crate::first_signin::EmailProofError::Throttled) => {}
                Err(crate::first_signin::EmailProofError::Internal(e)) => return Err(e.into()),
                Err(e) => return Err(Internal::Other(e.to_string()).into()),
            }
            masked_email = Some(gatehouse_domain::email::mask(&user.email));
        }
        // The strongest factor first: a user with an authenticator app is asked for its code.
        let app = phone.is_some() && has_app;
        // Someone the plan requires to use an app or passkey who holds only passkeys: nothing is
        // texted either (asked only of people the policy can reach, so most sign-ins read nothing).
        let strong_only = phone.is_some() && (app || crate::strong_factor::strong_only(&mut tx, plan, &user).await?);
        if let Some((phone, method)) = phone {
            let method =
                gatehouse_domain::TwoStepMethod::parse(&method).unwrap_or(gatehouse_domain::TwoStepMethod::Text);
            if app || strong_only {
                let challenge =
                    if app { crate::authenticator_app::APP_METHOD } else { crate::strong_factor::PASSKEY_METHOD };
                let started = crate::authenticator_app::start_challenge_as(
                    &mut tx,
                    plan,
                    user.id,
                    Purpose::SignIn,
                    challenge,
                    meta,
                    now,
                )
                .await;
                match started {
                    Ok(()) => code_sent = true,
                    Err(two_step::TwoStepError::TooManySends) => {
                        next_code_at = two_step::next_send_at(&mut tx, plan, user.id, Purpose::SignIn, now).await?;
                    }
                    Err(e) => return Err(Internal::Other(e.to_string()).into()),
                }
            } else {
                let sent =
                    two_step::send_code_unaudited(self, &mut tx, plan, user.id, Purpose::SignIn, &phone, method, now)
                        .await;
                match sent {
                    Ok(two_step::CodeSend::Sent(event)) => {
                        events.push(event);
                        code_sent = true;
                    }
                    Ok(two_step::CodeSend::Refused(event)) => {
                        events.push(event);
                        next_code_at = two_step::next_send_at(&mut tx, plan, user.id, Purpose::SignIn, now).await?;
                    }
                    Err(e) => return Err(Internal::Other(e.to_string()).into()),
                }
            }
            masked_phone = Some(gatehouse_domain::phone::mask_digits(&phone));
        }
        audit::record_all(&mut tx, now, plan.id(), meta, events).await?;
        gatehouse_store::commit(tx).await?;
        Ok(SignedIn { session, stage, masked_phone, code_sent, next_code_at, masked_email, app, strong_only, devices })
    }

    /// The end of the password step for a user who is texted (or called with) a code: the common
    /// case, in two commands to the database. The first begins the transaction, starts the
    /// session, stores the code if the hour's limit allows and reserves the two events' places in
    /// the audit chain; the second queues the message, appends the events and commits. On SQLite
    /// each is one round trip to the connection's thread (see `gatehouse_store::batch`).
    async fn password_step_with_code(
        &self,
        plan: &Plan,
        user: &UserRow,
        phone: &str,
        method: &str,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<SignedIn, SignInError> {
        let stage = SessionStage::TwoStepCode;
        let method = TwoStepMethod::parse(method).unwrap_or(TwoStepMethod::Text);
        let code = two_step::CodeToSend::new(self, plan, user.id, Purpose::SignIn, phone, method, now);
        let mut first = Batch::new();
        let session = sessions::start_in(&mut first, plan.id(), user.id, stage, meta, now);
        if let Some(lock) = gatehouse_store::users::lock_stmt(self.db.kind(), user.id) {
            first.push(lock);
        }
        let stored_at = first.push(code.insert_stmt());
        let head_at = first.push(audit_store::reserve_stmt(plan.id(), 2));
        let (mut tx, answers) = self.db.begin_with(first).await?;
        let code_sent = answers.first(stored_at).is_some();
        let head = audit_store::Head::of(plan.id(), answers.first(head_at))?;
        let (message, send) = code.outcome(plan, code_sent)?;
        let next_code_at =
            if code_sent { None } else { two_step::next_send_at(&mut tx, plan, user.id, Purpose::SignIn, now).await? };
        let (two_step::CodeSend::Sent(code_event) | two_step::CodeSend::Refused(code_event)) = send;
        let events = [password_event(user.id, stage, false), code_event];
        let details = audit::details_of(&events);
        let mut last = Batch::new();
        if let Some(m) = &message {
            last.push(crate::messages::enqueue_stmt(plan.id(), m, now));
        }
        last.push(audit::append_stmt(head, now, plan.id(), meta, &events, &details)?);
        gatehouse_store::commit_with(tx, last).await?;
        Ok(SignedIn {
            session,
            stage,
            masked_phone: Some(gatehouse_domain::phone::mask_digits(phone)),
            code_sent,
            next_code_at,
            masked_email: None,
            app: false,
            strong_only: false,
            devices: DeviceTokens::default(),
        })
    }

    /// Counts a wrong password for `name` and audits it on `subject`, the user who holds that
    /// username (already read by the caller), if anyone does.
    async fn record_failure(
        &self,
        plan: &Plan,
        name: &str,
        subject: Option<gatehouse_domain::UserId>,
        known: Option<&KnownDevice>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<SignInError, SignInError> {
        let mut tx = self.db.begin().await?;
        let Failure { per_ip, locked_for } = match known {
            Some(d) => count_device_failure(&mut tx, plan, name, d, now).await?,
            None => count_failure(&mut tx, plan, name, &meta.ip, now).await?,
        };
        let mut e = Event::new("signin.password")
            .outcome(Outcome::Failure)
            .detail(json!({"failures": per_ip, "known_browser": known.is_some()}))
            .typed_username(&self.code_key, name, subject.is_some());
        if let Some(s) = subject {
            e = e.on(s);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(match locked_for {
            Some(d) => SignInError::Locked { minutes: (d.as_secs() + 59) / 60 },
            None => SignInError::Invalid,
        })
    }
}

/// The password step's event: the stage it led to, and whether an old system's password passed.
fn password_event(user: gatehouse_domain::UserId, next: SessionStage, legacy_password: bool) -> Event {
    Event::new("signin.password")
        .by_self(user)
        .detail(json!({"next": next.as_str(), "legacy_password": legacy_password}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(failures: i64, locked_until: Option<i64>) -> Option<throttle::Counter> {
        Some(throttle::Counter { failures, locked_until })
    }

    #[test]
    fn no_counters_mean_no_lock_and_nothing_to_clear() {
        assert_eq!(lock_of([None, None], 100), (None, false));
    }

    #[test]
    fn a_past_lock_still_leaves_failures_to_clear() {
        assert_eq!(lock_of([counter(3, Some(99)), None], 100), (None, true));
        assert_eq!(lock_of([None, counter(1, None)], 100), (None, true));
    }

    #[test]
    fn the_later_of_two_locks_holds() {
        assert_eq!(lock_of([counter(10, Some(500)), counter(5, Some(300))], 100), (Some(500), true));
        assert_eq!(lock_of([counter(10, Some(50)), counter(5, Some(300))], 100), (Some(300), true));
    }

    #[test]
    fn a_known_browser_answers_to_its_own_count_alone() {
        let name_locked = counter(100, Some(900));
        // Anyone else: the lock across addresses holds.
        assert_eq!(lock_for([name_locked, None], false, 100), (Some(900), true));
        // The known browser: it does not, and there is nothing of its own to forget.
        assert_eq!(lock_for([name_locked, None], true, 100), (None, false));
        // Its own failures lock it, and are what it forgets.
        assert_eq!(lock_for([name_locked, counter(5, Some(160))], true, 100), (Some(160), true));
        assert_eq!(lock_for([None, counter(2, None)], true, 100), (None, true));
    }
}
