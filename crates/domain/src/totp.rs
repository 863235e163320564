//! Authenticator apps: time-based one-time codes (TOTP, RFC 6238: HMAC-SHA-1, 6 digits, 30-second
//! steps) through the `totp-rs` crate. The secret is 160 random bits that the caller draws from
//! the operating system and passes in; a code is accepted for the current step and one step
//! either side (clock skew), and [`Authenticator::verify`] says **which** step matched, so the
//! caller can refuse a step that was used before (RFC 6238 section 5.2).

use crate::time::Timestamp;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Bytes of a secret: 160 bits, RFC 4226's recommended length.
pub const SECRET_BYTES: usize = 20;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a time step.
pub const STEP_SECS: i64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u16 = 1;

/// Why a code or a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not six digits (spaces and dashes aside).
    #[error("Enter the 6-digit code from your authenticator app.")]
    Malformed,
    /// Six digits, but not a code of this step or the steps beside it.
    #[error("That code is not correct. Enter the code your authenticator app shows now.")]
    Wrong,
    /// Stored bytes that are not a secret of [`SECRET_BYTES`].
    #[error("the stored authenticator secret is not {SECRET_BYTES} bytes")]
    BadSecret,
}

/// The secret an authenticator app shares with the server. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(****)")
    }
}

impl TotpSecret {
    /// A secret from random bytes the caller drew from a CSPRNG.
    pub fn from_random(bytes: [u8; SECRET_BYTES]) -> Self {
        Self(bytes)
    }

    /// A stored secret (exactly [`SECRET_BYTES`] bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        <[u8; SECRET_BYTES]>::try_from(bytes).map(Self).map_err(|_| TotpError::BadSecret)
    }

    /// The raw bytes, to seal for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as authenticator apps take it typed: RFC 4648 base32, no padding (32 letters
    /// and digits for 160 bits).
    pub fn base32(&self) -> String {
        Secret::from(self.0).to_base32()
    }

    /// [`TotpSecret::base32`] in groups of four, easier to read and type.
    pub fn base32_grouped(&self) -> String {
        let b = self.base32();
        b.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect::<Vec<_>>().join(" ")
    }
}

/// A time step: the 30-second window a code belongs to (Unix time / 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TotpStep(pub i64);

/// Text that can go in an `otpauth://` label: `:` separates issuer and account there, so it
/// is replaced.
fn label_part(s: &str) -> String {
    let cleaned: String = s.trim().chars().map(|c| if c == ':' || c.is_control() { ' ' } else { c }).collect();
    if cleaned.trim().is_empty() { "Gatehouse".to_owned() } else { cleaned.trim().to_owned() }
}

/// What a person typed, without the spaces and dashes some apps show inside a code.
fn normalise(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    (digits.len() == usize::from(DIGITS) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn seconds(now: Timestamp) -> u64 {
    u64::try_from(now.0).unwrap_or(0)
}

/// One account's authenticator: generates and checks its codes.
#[derive(Clone)]
pub struct Authenticator {
    totp: Totp,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator(****)")
    }
}

impl Authenticator {
    /// The authenticator for `secret` labelled `issuer:account` (the plan's name and the
    /// username) in its `otpauth://` URI.
    pub fn new(secret: &TotpSecret, issuer: &str, account: &str) -> Self {
        Self::with_digits(secret, issuer, account, DIGITS)
    }

    fn with_digits(secret: &TotpSecret, issuer: &str, account: &str, digits: u8) -> Self {
        // The parameters are RFC 6238's and the labels have no `:`, so the checked build cannot
        // fail; the unchecked one is the same value without a `Result` to handle.
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(digits)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECS.unsigned_abs())
            .with_secret(secret.0)
            .with_issuer(Some(label_part(issuer)))
            .with_account_name(label_part(account))
            .build_noncompliant();
        Self { totp }
    }

    /// The `otpauth://totp/...` URI an app reads from the QR code.
    pub fn uri(&self) -> String {
        // Only fails for an empty account name or one with `:`, which `label_part` rules out.
        self.totp.to_url().unwrap_or_default()
    }

    /// The code of the step holding `now`.
    pub fn code_at(&self, now: Timestamp) -> String {
        self.totp.generate(seconds(now)).to_string()
    }

    /// The step `now` falls in.
    pub fn step_at(now: Timestamp) -> TotpStep {
        TotpStep(now.0.div_euclid(STEP_SECS))
    }

    /// Checks a typed code against the step holding `now` and the steps beside it; returns the
    /// step it matched. Refusing a step already used is the caller's part.
    pub fn verify(&self, typed: &str, now: Timestamp) -> Result<TotpStep, TotpError> {
        let code = normalise(typed).ok_or(TotpError::Malformed)?;
        self.totp.check(&code, seconds(now)).and_then(|s| i64::try_from(s).ok()).map(TotpStep).ok_or(TotpError::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed: the ASCII of "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let a = Authenticator::with_digits(&rfc_secret(), "Test", "alice", 8);
        for (t, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(a.code_at(Timestamp(t)), code, "T = {t}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_of_the_vectors() {
        // RFC 4226 truncation: the 6-digit code is the 8-digit one modulo 10^6.
        let a = Authenticator::new(&rfc_secret(), "Test", "alice");
        assert_eq!(a.code_at(Timestamp(59)), "287082");
        assert_eq!(a.verify("287082", Timestamp(59)), Ok(TotpStep(1)));
        assert_eq!(a.code_at(Timestamp(1_111_111_109)), "081804");
    }

    #[test]
    fn one_step_of_skew_either_side_and_which_step_matched() {
        let a = Authenticator::new(&rfc_secret(), "Test", "alice");
        let now = Timestamp(1_234_567_890);
        let step = Authenticator::step_at(now);
        let before = a.code_at(Timestamp(now.0 - STEP_SECS));
        let after = a.code_at(Timestamp(now.0 + STEP_SECS));
        assert_eq!(a.verify(&a.code_at(now), now), Ok(step));
        assert_eq!(a.verify(&before, now), Ok(TotpStep(step.0 - 1)));
        assert_eq!(a.verify(&after, now), Ok(TotpStep(step.0 + 1)));
        // Two steps away is too far.
        let far = a.code_at(Timestamp(now.0 - 2 * STEP_SECS));
        if far != before && far != a.code_at(now) && far != after {
            assert_eq!(a.verify(&far, now), Err(TotpError::Wrong));
        }
    }

    #[test]
    fn wrong_and_malformed_codes() {
        let a = Authenticator::new(&rfc_secret(), "Test", "alice");
        let now = Timestamp(59);
        let right = a.code_at(now);
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(a.verify(&wrong, now), Err(TotpError::Wrong));
        for bad in ["", "12345", "1234567", "12a456", "+12345", "２８７０８２", "287082\0"] {
            assert_eq!(a.verify(bad, now), Err(TotpError::Malformed), "{bad:?}");
        }
        // Spaces and a dash inside, as some apps show the code, are fine.
        assert_eq!(a.verify("287 082", now), Ok(TotpStep(1)));
        assert_eq!(a.verify(" 287-082 ", now), Ok(TotpStep(1)));
    }

    #[test]
    fn secrets_and_uris() {
        assert_eq!(TotpSecret::from_bytes(&[0; 19]), Err(TotpError::BadSecret));
        assert_eq!(TotpSecret::from_bytes(&[0; 21]), Err(TotpError::BadSecret));
        let s = rfc_secret();
        assert_eq!(s.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(s.base32_grouped(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        assert_eq!(format!("{s:?}"), "TotpSecret(****)");
        let uri = Authenticator::new(&s, "Evergreen: Health Plan", "ana.p").uri();
        assert!(uri.starts_with("otpauth://totp/Evergreen%20%20Health%20Plan:ana.p?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{uri}");
        assert!(uri.contains("issuer=Evergreen%20%20Health%20Plan"), "{uri}");
        assert_eq!(Authenticator::step_at(Timestamp(59)), TotpStep(1));
        assert_eq!(Authenticator::step_at(Timestamp(60)), TotpStep(2));
    }
}
