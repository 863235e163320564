//! Authenticator apps (TOTP) and recovery codes, from My Profile: enrol (after confirming it is
//! you on this session, as for every profile change), confirm with a first code, remove, and make
//! a new set of recovery codes. The secret is sealed at rest; the ten recovery codes are shown
//! once, when the first strong factor is confirmed or when a new set is asked for, and only their
//! HMAC is kept.
//!
//! Signing in with the app is a sign-in code like the texted one: the password step stores a
//! *challenge* (a `verification_codes` row of purpose `signin`, method [`APP_METHOD`], nothing
//! sent) that carries the tries, so a wrong app code or recovery code counts toward the same
//! limit as a wrong texted code, and challenges count toward the hour's codes. A right code is
//! then accepted only if its time step is newer than the last one accepted (one conditional
//! update), so a step signs in once.

use crate::audit::{self, Event};
use crate::messages::factors::FactorEvent;
use crate::plans::Plan;
use crate::sealing::Purpose as SealPurpose;
use crate::sessions::SessionInfo;
use crate::tokens::hash_code;
use crate::two_step::{Purpose, TwoStepError};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::recovery_codes::{self, RecoveryCode};
use gatehouse_domain::totp::{Authenticator, SECRET_BYTES, TotpError, TotpSecret, TotpStep};
use gatehouse_domain::{Duration, PlanId, Timestamp, UserId};
use gatehouse_store::{Conn, authenticator_apps, codes, recovery_codes as store_codes};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::json;
use thiserror::Error;

/// The `method` of a sign-in challenge answered with the app.
pub(crate) const APP_METHOD: &str = "app";

/// Why an authenticator or recovery code action was refused.
#[derive(Debug, Error)]
pub enum AuthenticatorError {
    #[error("For your security, confirm it is you again before changing how you sign in.")]
    NotUnlocked,
    #[error("You already have an authenticator app. Remove it first to add another.")]
    AlreadyEnrolled,
    #[error("Start again: choose Add an authenticator app.")]
    NoEnrolment,
    #[error("You have no authenticator app.")]
    NotEnrolled,
    #[error("Your plan does not offer authenticator apps.")]
    NotOffered,
    #[error("Your plan requires an app or passkey: add another before removing this one.")]
    StrongFactorRequired,
    #[error(transparent)]
    Code(#[from] TotpError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AuthenticatorError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A waiting enrolment: what the person copies into their app.
#[derive(Debug, Clone)]
pub struct AppEnrolment {
    /// The secret in base32, in groups of four, to type by hand.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code of `uri`, as an SVG image.
    pub qr_svg: String,
}

/// The user's strong factors, for their profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factors {
    /// When the app was confirmed, if there is one.
    pub app_since: Option<i64>,
    /// An enrolment waits for its first code.
    pub app_pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

fn seal_context(plan: PlanId, user: UserId) -> String {
    format!("plan:{}:user:{}:totp", plan.0, user.0)
}

fn recovery_context(user: UserId) -> String {
    format!("recovery:{}", user.0)
}

/// The stored form of a recovery code.
pub(crate) fn recovery_hash(svc: &Services, user: UserId, code: &RecoveryCode) -> String {
    hash_code(&svc.code_key, &recovery_context(user), code.canonical())
}

fn open_secret(svc: &Services, row: &authenticator_apps::AppRow) -> Result<TotpSecret, Internal> {
    let bytes = svc
        .sealer
        .open(SealPurpose::TotpSecret, &seal_context(row.plan_id, row.user_id), &row.secret_sealed)
        .map_err(|e| Internal::Other(format!("authenticator secret of user {}: {e}", row.user_id.0)))?;
    TotpSecret::from_bytes(&bytes).map_err(|e| Internal::Other(e.to_string()))
}

fn qr_svg(uri: &str) -> Result<String, Internal> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| Internal::Other(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// Whether `typed` has the shape of an app code (six digits, spaces and dashes aside).
pub(crate) fn looks_like_app_code(typed: &str) -> bool {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the user has a confirmed app.
pub(crate) async fn has_app(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<bool, Internal> {
    Ok(authenticator_apps::get(conn, plan, user).await?.is_some_and(|a| a.confirmed_at.is_some()))
}

/// Stores a challenge to be answered with the app, in the caller's transaction (nothing is
/// sent, so it does not count toward the hour's texts). The guesses it allows are bounded like
/// texted codes': each challenge has the plan's tries, and once the app challenges of the last
/// hour have taken as many tries as the hour's texted codes could (tries × codes per hour), no
/// new one is made until the hour moves on.
pub(crate) async fn start_challenge(
    conn: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), TwoStepError> {
    start_challenge_as(conn, plan, user, purpose, APP_METHOD, meta, now).await
}

/// [`start_challenge`] of `method`: [`APP_METHOD`], or [`crate::strong_factor::PASSKEY_METHOD`]
/// for someone who must use a strong factor and holds only passkeys (the challenge then carries
/// the tries of recovery codes; the passkey itself needs none).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_challenge_as(
    conn: &mut Conn,
    plan: &Plan,
    user: UserId,
    purpose: Purpose,
    method: &'static str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), TwoStepError> {
    let policy = plan.code_policy();
    gatehouse_store::users::lock(conn, user).await?;
    let tried = codes::app_tries_since(conn, user, now - Duration::hours(1).as_secs()).await?;
    if tried >= policy.max_tries.saturating_mul(policy.max_sends_per_hour) {
        let e = Event::new("two_step.code_sent")
            .by_self(user)
            .outcome(Outcome::Denied)
            .detail(json!({"reason": "try_limit", "purpose": purpose.as_str(), "method": method}));
        audit::record(conn, now, plan.id(), meta, e).await?;
        return Err(TwoStepError::TooManySends);
    }
    let new = codes::NewCode {
        plan_id: plan.id(),
        user_id: user,
        purpose: purpose.as_str(),
        phone: "",
        method,
        code_hash: "",
        expires_at: policy.expires_at(Timestamp(now)).as_secs(),
    };
    codes::insert(conn, &new, now).await?;
    Ok(())
}

/// The step of the user's confirmed app that `typed` matches now, if any.
pub(crate) async fn matching_step(
    svc: &Services,
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    typed: &str,
    now: i64,
) -> Result<Option<TotpStep>, Internal> {
    let Some(row) = authenticator_apps::get(conn, plan, user).await?.filter(|a| a.confirmed_at.is_some()) else {
        return Ok(None);
    };
    let secret = open_secret(svc, &row)?;
    Ok(Authenticator::new(&secret, "", "x").verify(typed, Timestamp(now)).ok())
}

/// Makes a new set of recovery codes in the caller's transaction (the old set stops working);
/// returns them as shown to people.
pub(crate) async fn new_recovery_codes(
    svc: &Services,
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    now: i64,
) -> Result<Vec<String>, Internal> {
    let codes: Vec<RecoveryCode> = (0..recovery_codes::COUNT)
        .map(|_| {
            let mut b = [0u8; recovery_codes::RANDOM_BYTES];
            OsRng.fill_bytes(&mut b);
            RecoveryCode::from_random(b)
        })
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(svc, user, c)).collect();
    store_codes::replace(conn, plan, user, &hashes, now).await?;
    Ok(codes.iter().map(RecoveryCode::display).collect())
}

/// What to copy into the app for a waiting enrolment.
pub(crate) fn enrolment_for(
    svc: &Services,
    plan: &Plan,
    user: &gatehouse_store::users::UserRow,
    row: &authenticator_apps::AppRow,
) -> Result<AppEnrolment, Internal> {
    let secret = open_secret(svc, row)?;
    svc.enrolment_of(plan, user.username.as_deref().unwrap_or_default(), &secret)
}

/// Removes the app and the recovery codes, in the caller's transaction (help desk's reset).
/// Returns whether there was a confirmed app.
pub(crate) async fn remove_all(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<(bool, u64), Internal> {
    let app = authenticator_apps::remove(conn, plan, user).await?;
    let codes = store_codes::remove_all(conn, plan, user).await?;
    Ok((app, codes))
}

impl Services {
    /// The signed-in user's strong factors.
    pub async fn my_factors(&self, plan: &Plan, session: &SessionInfo) -> Result<Factors, AuthenticatorError> {
        let mut conn = self.db.acquire().await?;
        let user = self.profile_user(&mut conn, plan, session).await.map_err(|_| AuthenticatorError::NotUnlocked)?;
        let app = authenticator_apps::get(&mut conn, plan.id(), user.id).await?;
        let left = store_codes::count_unused(&mut conn, plan.id(), user.id).await?;
        Ok(Factors {
            app_since: app.as_ref().and_then(|a| a.confirmed_at),
            app_pending: app.is_some_and(|a| a.confirmed_at.is_none()),
            recovery_codes_left: left,
        })
    }

    /// The session's user, with the profile open (they confirmed it is them).
    async fn unlocked_user(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<gatehouse_store::users::UserRow, AuthenticatorError> {
        self.open_profile(conn, plan, session, now).await.map(|(u, _)| u).map_err(|e| match e {
            crate::profile::ProfileError::Internal(i) => AuthenticatorError::Internal(i),
            _ => AuthenticatorError::NotUnlocked,
        })
    }

    /// The user adding an app: with the profile open, or at the sign-in's strong-factor step
    /// ([`Services::factor_owner`]).
    async fn enrolling_user(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        session: &SessionInfo,
        now: i64,
    ) -> Result<gatehouse_store::users::UserRow, AuthenticatorError> {
        self.factor_owner(conn, plan, session, now).await.map_err(|e| match e {
            crate::profile::ProfileError::Internal(i) => AuthenticatorError::Internal(i),
            _ => AuthenticatorError::NotUnlocked,
        })
    }

    fn enrolment_of(&self, plan: &Plan, username: &str, secret: &TotpSecret) -> Result<AppEnrolment, Internal> {
        let uri = Authenticator::new(secret, &plan.row.name, username).uri();
        Ok(AppEnrolment { secret: secret.base32_grouped(), qr_svg: qr_svg(&uri)?, uri })
    }

    /// Starts adding an authenticator app: a new secret, waiting for its first code. A waiting
    /// enrolment is replaced; a confirmed app must be removed first.
    pub async fn app_enrol_start(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<AppEnrolment, AuthenticatorError> {
        let now = self.now();
        let mut bytes = [0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        let secret = TotpSecret::from_random(bytes);
        if !plan.factor_policy().app_allowed {
            return Err(AuthenticatorError::NotOffered);
        }
        let mut tx = self.db.begin().await?;
        let user = self.enrolling_user(&mut tx, plan, session, now).await?;
        let sealed = self
            .sealer
            .seal(SealPurpose::TotpSecret, &seal_context(plan.id(), user.id), secret.as_bytes())
            .map_err(|e| Internal::Other(e.to_string()))?;
        if !authenticator_apps::start(&mut tx, plan.id(), user.id, &sealed, now).await? {
            return Err(AuthenticatorError::AlreadyEnrolled);
        }
        audit::record(&mut tx, now, plan.id(), meta, Event::new("authenticator_app.enrol_started").by_self(user.id))
            .await?;
        gatehouse_store::commit(tx).await?;
        Ok(self.enrolment_of(plan, user.username.as_deref().unwrap_or_default(), &secret)?)
    }

    /// The waiting enrolment, to show again (`None` when there is none).
    pub async fn app_enrolment(
        &self,
        plan: &Plan,
        session: &SessionInfo,
    ) -> Result<Option<AppEnrolment>, AuthenticatorError> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let user = self.enrolling_user(&mut conn, plan, session, now).await?;
        let Some(row) =
            authenticator_apps::get(&mut conn, plan.id(), user.id).await?.filter(|a| a.confirmed_at.is_none())
        else {
            return Ok(None);
        };
        let secret = open_secret(self, &row)?;
        Ok(Some(self.enrolment_of(plan, user.username.as_deref().unwrap_or_default(), &secret)?))
    }

    /// Confirms the waiting enrolment with a first code from the app. When it is the user's
    /// first strong factor (no unused recovery codes), returns the ten new recovery codes: the
    /// only time they are shown.
    pub async fn app_enrol_confirm(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        typed: &str,
        meta: &RequestMeta,
    ) -> Result<Option<Vec<String>>, AuthenticatorError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.enrolling_user(&mut tx, plan, session, now).await?;
        let row = authenticator_apps::get(&mut tx, plan.id(), user.id)
            .await?
            .filter(|a| a.confirmed_at.is_none())
            .ok_or(AuthenticatorError::NoEnrolment)?;
        let secret = open_secret(self, &row)?;
        let step = Authenticator::new(&secret, "", "x").verify(typed, Timestamp(now))?;
        if !authenticator_apps::confirm(&mut tx, user.id, &row.secret_sealed, step.0, now).await? {
            return Err(AuthenticatorError::NoEnrolment);
        }
        let codes = if store_codes::count_unused(&mut tx, plan.id(), user.id).await? == 0 {
            Some(new_recovery_codes(self, &mut tx, plan.id(), user.id, now).await?)
        } else {
            None
        };
        let e = Event::new("authenticator_app.enrolled")
            .by_self(user.id)
            .detail(json!({"recovery_codes_made": codes.is_some()}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        crate::two_step::tell_factor_change(&mut tx, plan, &user, FactorEvent::AppAdded, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(codes)
    }

    /// Removes the user's authenticator app (or a waiting enrolment). With it go the recovery
    /// codes when it was the last strong factor: they belong to the strong factors, and the phone
    /// remains. A user who keeps a passkey keeps the codes.
    pub async fn app_remove(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<(), AuthenticatorError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.unlocked_user(&mut tx, plan, session, now).await?;
        let Some(app) = authenticator_apps::get(&mut tx, plan.id(), user.id).await? else {
            return Err(AuthenticatorError::NotEnrolled);
        };
        // A required user keeps a strong factor: the app goes only when a passkey remains.
        if app.confirmed_at.is_some()
            && crate::strong_factor::required(&mut tx, plan, &user).await?
            && !gatehouse_store::passkeys::any(&mut tx, plan.id(), user.id).await?
        {
            let e = Event::new("authenticator_app.removed")
                .by_self(user.id)
                .outcome(Outcome::Denied)
                .detail(json!({"reason": "strong_factor_required"}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(AuthenticatorError::StrongFactorRequired);
        }
        let (was_confirmed, codes) = if gatehouse_store::passkeys::any(&mut tx, plan.id(), user.id).await? {
            (authenticator_apps::remove(&mut tx, plan.id(), user.id).await?, 0)
        } else {
            remove_all(&mut tx, plan.id(), user.id).await?
        };
        let e = Event::new("authenticator_app.removed")
            .by_self(user.id)
            .detail(json!({"was_confirmed": was_confirmed, "recovery_codes_removed": codes}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        // A waiting enrolment never signed anyone in: only a working app's removal is news.
        if was_confirmed {
            crate::two_step::tell_factor_change(&mut tx, plan, &user, FactorEvent::AppRemoved, now).await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Makes a new set of ten recovery codes (the old ones stop working) and returns them, to be
    /// shown once. Only for a user with a strong factor (an authenticator app or a passkey).
    pub async fn recovery_codes_regenerate(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AuthenticatorError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = self.unlocked_user(&mut tx, plan, session, now).await?;
        if !has_app(&mut tx, plan.id(), user.id).await?
            && !gatehouse_store::passkeys::any(&mut tx, plan.id(), user.id).await?
        {
            return Err(AuthenticatorError::NotEnrolled);
        }
        let codes = new_recovery_codes(self, &mut tx, plan.id(), user.id, now).await?;
        audit::record(&mut tx, now, plan.id(), meta, Event::new("recovery_codes.regenerated").by_self(user.id)).await?;
        crate::two_step::tell_factor_change(&mut tx, plan, &user, FactorEvent::RecoveryCodesRenewed, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_code_shape() {
        assert!(looks_like_app_code("123456"));
        assert!(looks_like_app_code("123 456"));
        assert!(!looks_like_app_code("12345"));
        assert!(!looks_like_app_code("12345678"));
        assert!(!looks_like_app_code("12345a"));
    }

    #[test]
    fn qr_code_is_svg() {
        let svg = qr_svg("otpauth://totp/Plan:ana?secret=ABC&issuer=Plan").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{}", &svg[..80]);
    }
}
