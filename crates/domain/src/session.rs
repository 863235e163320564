//! Session lifetime rules (HIPAA 164.312(a)(2)(iii) automatic logoff).

use crate::phone::TwoStepMethod;
use crate::time::{Duration, Timestamp};

/// The plan's session timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: Duration::minutes(15), absolute: Duration::hours(12) }
    }
}

impl SessionPolicy {
    /// Whether a session created at `created` and last used at `last_seen` is still alive.
    pub fn is_alive(&self, created: Timestamp, last_seen: Timestamp, now: Timestamp) -> bool {
        now < last_seen.plus(self.idle) && now < created.plus(self.absolute)
    }
}

/// How far a session has got through signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// An imported account's old password was accepted; the link emailed to the address on
    /// record must be opened (in any browser) before anything else.
    EmailProof,
    /// An imported account's old password was accepted (and its email proven, when the plan
    /// asks); a new one must be chosen.
    NewPassword,
    /// Password accepted; a code sent to the phone on record must be entered.
    TwoStepCode,
    /// Password accepted; the user has no two-step phone yet and must set one up.
    TwoStepSetup,
    /// The phone's code was accepted, but the plan requires this user to sign in with an
    /// authenticator app or a passkey and they have neither: one must be added before anything
    /// else (issue 19's factor policy).
    StrongFactorSetup,
    /// Two-step done; the current terms must be signed.
    Terms,
    /// Fully signed in.
    Complete,
}

impl SessionStage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailProof => "email_proof",
            Self::NewPassword => "new_password",
            Self::TwoStepCode => "two_step_code",
            Self::TwoStepSetup => "two_step_setup",
            Self::StrongFactorSetup => "strong_factor_setup",
            Self::Terms => "terms",
            Self::Complete => "complete",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_proof" => Some(Self::EmailProof),
            "new_password" => Some(Self::NewPassword),
            "two_step_code" => Some(Self::TwoStepCode),
            "two_step_setup" => Some(Self::TwoStepSetup),
            "strong_factor_setup" => Some(Self::StrongFactorSetup),
            "terms" => Some(Self::Terms),
            "complete" => Some(Self::Complete),
            _ => None,
        }
    }

    /// Whether a session may stand at this stage only after its sign-in factors were recorded:
    /// full access, and the strong-factor step (reached only after the phone's code). The stages
    /// before them may be reached on a password alone (an imported account's first sign-in signs
    /// the terms before it has a phone to send a code to).
    pub fn needs_factors_proven(self) -> bool {
        matches!(self, Self::Complete | Self::StrongFactorSetup)
    }
}

/// How a session was authenticated: the RFC 8176 `amr` values of the factors it completed, in
/// order (`pwd` then `sms` for a texted code, `tel` for a code read by a voice call, `otp` for a
/// code from an authenticator app, `rec` for a recovery code: Gatehouse's own value, as RFC 8176
/// registers none for a printed list of one-time codes and `otp` would claim an app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMethods(Vec<&'static str>);

/// Every method name a session may record.
const KNOWN_METHODS: [&str; 8] = ["pwd", "sms", "tel", "otp", "rec", "hwk", "swk", "user"];

/// How a passkey proved its holder: the key's kind and the authenticator's own check of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyProof {
    /// The authenticator said the key may be copied off it (synced passkey): RFC 8176 `swk`;
    /// otherwise the key is bound to its device: `hwk`. Unattested: what the authenticator says.
    pub backup_eligible: bool,
}

impl PasskeyProof {
    /// The RFC 8176 name of the key: `swk` or `hwk`.
    pub fn key_method(self) -> &'static str {
        if self.backup_eligible { "swk" } else { "hwk" }
    }
}

impl AuthMethods {
    /// The password, then a two-step code delivered by `method`.
    pub fn password_and_code(method: TwoStepMethod) -> Self {
        Self(vec![
            "pwd",
            match method {
                TwoStepMethod::Text => "sms",
                TwoStepMethod::Voice => "tel",
            },
        ])
    }

    /// The password, then a code from an authenticator app.
    pub fn password_and_app() -> Self {
        Self(vec!["pwd", "otp"])
    }

    /// The password, then one of the recovery codes.
    pub fn password_and_recovery_code() -> Self {
        Self(vec!["pwd", "rec"])
    }

    /// A user-verifying passkey, alone (`hwk user`) or after the password (`pwd hwk user`).
    /// `user` records the authenticator's user verification (a PIN or a biometric, which of them
    /// it does not reliably tell), so a passkey alone is two factors.
    pub fn passkey(proof: PasskeyProof, after_password: bool) -> Self {
        let mut v = Vec::with_capacity(3);
        if after_password {
            v.push("pwd");
        }
        v.push(proof.key_method());
        v.push("user");
        Self(v)
    }

    /// The stored text (`pwd sms`).
    pub fn as_stored(&self) -> String {
        self.0.join(" ")
    }

    /// Parses the stored text; `None` when it holds a name this version does not record.
    pub fn parse(stored: &str) -> Option<Self> {
        stored
            .split_ascii_whitespace()
            .map(|m| KNOWN_METHODS.iter().find(|k| **k == m).copied())
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
            .map(Self)
    }

    /// The names, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.0
    }

    /// Whether a code sent to the phone (by text, `sms`, or voice, `tel`) was one of the factors.
    pub fn used_phone_code(&self) -> bool {
        self.0.iter().any(|m| *m == "sms" || *m == "tel")
    }

    /// Whether more than one factor was used (RFC 8176 `mfa`).
    pub fn is_multi_factor(&self) -> bool {
        self.0.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_of_a_password_and_code_sign_in() {
        let text = AuthMethods::password_and_code(TwoStepMethod::Text);
        assert_eq!(text.as_stored(), "pwd sms");
        assert_eq!(AuthMethods::password_and_code(TwoStepMethod::Voice).as_stored(), "pwd tel");
        assert_eq!(AuthMethods::parse("pwd sms"), Some(text.clone()));
        assert!(text.is_multi_factor());
        assert_eq!(AuthMethods::parse(""), None);
        assert_eq!(AuthMethods::parse("pwd face"), None);
        assert_eq!(AuthMethods::parse("pwd").map(|m| m.is_multi_factor()), Some(false));
        assert_eq!(AuthMethods::password_and_app().as_stored(), "pwd otp");
        assert_eq!(AuthMethods::parse("pwd otp"), Some(AuthMethods::password_and_app()));
        assert_eq!(AuthMethods::parse("pwd rec"), Some(AuthMethods::password_and_recovery_code()));
    }

    #[test]
    fn full_access_and_the_strong_factor_step_need_the_factors_proven() {
        use SessionStage::*;
        for stage in [Complete, StrongFactorSetup] {
            assert!(stage.needs_factors_proven(), "{stage:?}");
        }
        for stage in [EmailProof, NewPassword, TwoStepCode, TwoStepSetup, Terms] {
            assert!(!stage.needs_factors_proven(), "{stage:?}");
        }
    }

    #[test]
    fn methods_of_a_passkey_sign_in() {
        let synced = PasskeyProof { backup_eligible: true };
        let device = PasskeyProof { backup_eligible: false };
        assert_eq!(AuthMethods::passkey(synced, false).as_stored(), "swk user");
        assert_eq!(AuthMethods::passkey(device, false).as_stored(), "hwk user");
        assert_eq!(AuthMethods::passkey(device, true).as_stored(), "pwd hwk user");
        assert!(AuthMethods::passkey(device, false).is_multi_factor());
        assert_eq!(AuthMethods::parse("swk user"), Some(AuthMethods::passkey(synced, false)));
    }

    #[test]
    fn idle_and_absolute_limits() {
        let p = SessionPolicy::default();
        let t0 = Timestamp(0);
        assert!(p.is_alive(t0, t0, t0.plus(Duration::minutes(14))));
        assert!(!p.is_alive(t0, t0, t0.plus(Duration::minutes(15))));
        let late = t0.plus(Duration::hours(12));
        assert!(!p.is_alive(t0, late.minus(Duration::seconds(1)), late));
        assert!(p.is_alive(t0, late.minus(Duration::seconds(2)), late.minus(Duration::seconds(1))));
    }

    #[test]
    fn stages_round_trip() {
        for s in [
            SessionStage::EmailProof,
            SessionStage::NewPassword,
            SessionStage::TwoStepCode,
            SessionStage::TwoStepSetup,
            SessionStage::StrongFactorSetup,
            SessionStage::Terms,
            SessionStage::Complete,
        ] {
            assert_eq!(SessionStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(SessionStage::parse(""), None);
    }
}
