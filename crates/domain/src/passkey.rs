//! Passkeys: the rules that need no WebAuthn library (the name a person gives a key, the life of
//! a ceremony). The ceremonies themselves are `webauthn-rs`'s, in the services.

use crate::time::{Duration, Timestamp};
use thiserror::Error;

/// The longest name of a passkey, in characters.
pub const MAX_NAME_LEN: usize = 60;

/// How long the options of a ceremony can be answered: the browser's own time limit given to the
/// authenticator (webauthn-rs's default, 5 minutes) and a minute of margin.
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(6);

/// Sign-in options (ceremonies started without a session, so bound to nobody) one client address
/// may ask for within [`SIGNIN_OPTIONS_WINDOW`]. Each is a stored ceremony: like the other
/// anonymous requests (the self-service lookups), their number per address is bounded. An
/// office behind one address signs in many people in a morning, hence a generous count.
pub const SIGNIN_OPTIONS_PER_ADDRESS: i64 = 60;

/// The sliding window in which [`SIGNIN_OPTIONS_PER_ADDRESS`] counts.
pub const SIGNIN_OPTIONS_WINDOW: Duration = Duration::minutes(10);

/// How long a refused address waits: until its oldest request in the window (at `oldest`) leaves
/// it (the window holds the requests at or after `now` minus its length), and at least a second.
pub fn signin_options_retry_after(oldest: Timestamp, now: Timestamp) -> Duration {
    Duration::seconds((oldest.0 + SIGNIN_OPTIONS_WINDOW.as_secs() + 1 - now.0).max(1))
}

/// Why a passkey name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasskeyNameError {
    #[error("Enter a name for this passkey, like \"Office laptop\" or \"My phone\".")]
    Empty,
    #[error("Use at most {MAX_NAME_LEN} characters for the passkey's name.")]
    TooLong,
    #[error("The passkey's name cannot contain special control characters.")]
    Control,
}

/// A person's name for one of their passkeys: trimmed, inner white space collapsed, 1 to
/// [`MAX_NAME_LEN`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// Checks a typed name.
    pub fn parse(typed: &str) -> Result<Self, PasskeyNameError> {
        if typed.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(PasskeyNameError::Control);
        }
        let name = typed.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(PasskeyNameError::Empty);
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(PasskeyNameError::TooLong);
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a new passkey from the profile.
    Register,
    /// Signing in with a passkey alone (discoverable credential).
    SignIn,
    /// A passkey as the second step after the password.
    SecondStep,
    /// A passkey as the second step of confirming it is you (My Profile), after the password.
    Reauth,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "signin",
            Self::SecondStep => "second_step",
            Self::Reauth => "reauth",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_address_waits_for_its_oldest_request_to_leave_the_window() {
        let now = Timestamp(10_000);
        assert_eq!(signin_options_retry_after(now, now), Duration::seconds(601));
        assert_eq!(signin_options_retry_after(Timestamp(now.0 - 60), now), Duration::seconds(541));
        assert_eq!(signin_options_retry_after(Timestamp(now.0 - 600), now), Duration::seconds(1));
        assert_eq!(signin_options_retry_after(Timestamp(now.0 - 900), now), Duration::seconds(1));
    }

    #[test]
    fn names() {
        assert_eq!(PasskeyName::parse("  Office   laptop ").map(|n| n.as_str().to_owned()), Ok("Office laptop".into()));
        assert_eq!(PasskeyName::parse("   "), Err(PasskeyNameError::Empty));
        assert_eq!(PasskeyName::parse(""), Err(PasskeyNameError::Empty));
        assert_eq!(PasskeyName::parse(&"a".repeat(MAX_NAME_LEN)).map(|n| n.as_str().len()), Ok(MAX_NAME_LEN));
        assert_eq!(PasskeyName::parse(&"a".repeat(MAX_NAME_LEN + 1)), Err(PasskeyNameError::TooLong));
        assert_eq!(PasskeyName::parse("bad\u{0}name"), Err(PasskeyNameError::Control));
        assert_eq!(PasskeyName::parse("Téléphone 📱").map(|n| n.as_str().to_owned()), Ok("Téléphone 📱".into()));
    }
}
