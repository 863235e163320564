//! Phone numbers for two-step verification, and how a code reaches them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest national number read, in bytes after trimming (a longer one is refused unread).
pub const MAX_NATIONAL_LEN: usize = 32;
/// Most digits of a calling code (`+1`, `+44`, `+880`).
pub const MAX_COUNTRY_CODE_DIGITS: usize = 3;

/// A phone number that libphonenumber's metadata says is a valid number, kept in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("Enter a phone number.")]
    Empty,
    #[error("Choose a country code like +1.")]
    CountryCode,
    #[error("This is not a valid phone number for the country code chosen.")]
    Invalid,
    /// The number was typed with its own country code, and it is not the one chosen: which one
    /// the person meant is not ours to guess (a code sent to the wrong country reaches a stranger).
    #[error(
        "This number starts with +{typed}, but +{chosen} is chosen. Choose +{typed}, or remove +{typed} from the number."
    )]
    CountryMismatch { typed: u16, chosen: String },
}

impl PhoneNumber {
    /// Parses a national number with a calling code such as `"1"` or `"+44"`; the default in the
    /// forms is United States +1. A number may be written with its own leading `+code` only when
    /// that code is the one chosen.
    pub fn parse(country_code: &str, national: &str) -> Result<Self, PhoneError> {
        let national = national.trim();
        if national.is_empty() {
            return Err(PhoneError::Empty);
        }
        if national.len() > MAX_NATIONAL_LEN {
            return Err(PhoneError::Invalid);
        }
        let code = country_code.trim().trim_start_matches('+');
        if code.is_empty() || code.len() > MAX_COUNTRY_CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::CountryCode);
        }
        let full = if national.starts_with('+') { national.to_owned() } else { format!("+{code} {national}") };
        let parsed = phonenumber::parse(None, &full).map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::Invalid);
        }
        let typed = parsed.code().value();
        if typed.to_string() != code {
            return Err(PhoneError::CountryMismatch { typed, chosen: code.to_owned() });
        }
        Ok(Self(parsed.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// Wraps a number already stored in E.164 form (read back from the database).
    pub fn from_e164(e164: impl Into<String>) -> Self {
        Self(e164.into())
    }

    /// The E.164 form, e.g. `+12025550143`.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number as shown to its owner: all but the last four digits hidden, `XXX-XXX-9975`.
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

/// Masks all digits but the last four in the seeds' `XXX-XXX-9975` style.
pub fn mask_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let last4: String = digits.iter().rev().take(4).rev().collect();
    format!("XXX-XXX-{last4}")
}

/// How a two-step code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TwoStepMethod {
    /// A text message (SMS).
    Text,
    /// An automated voice call reading the code.
    Voice,
}

impl TwoStepMethod {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Voice => "voice",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Self::Text),
            "voice" => Some(Self::Voice),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_default_and_e164() {
        let p = PhoneNumber::parse("+1", "(206) 555-9975").unwrap();
        assert_eq!(p.e164(), "+12065559975");
        let q = PhoneNumber::parse("1", "206 555 9975").unwrap();
        assert_eq!(q, p);
        assert_eq!(q.masked(), "XXX-XXX-9975");
    }

    #[test]
    fn other_country_codes() {
        let uk = PhoneNumber::parse("44", "020 7946 0958").unwrap();
        assert_eq!(uk.e164(), "+442079460958");
        let explicit = PhoneNumber::parse("44", "+44 20 7946 0958").unwrap();
        assert_eq!(explicit.e164(), "+442079460958");
    }

    #[test]
    fn a_typed_country_code_must_match_the_chosen_one() {
        let e = PhoneNumber::parse("44", "+1 202 555 0181").unwrap_err();
        assert_eq!(e, PhoneError::CountryMismatch { typed: 1, chosen: "44".into() });
        assert!(e.to_string().contains("Choose +1, or remove +1"), "{e}");
        assert!(matches!(PhoneNumber::parse("1", "+44 20 7946 0958"), Err(PhoneError::CountryMismatch { .. })));
    }

    #[test]
    fn refuses_bad_numbers() {
        assert_eq!(PhoneNumber::parse("1", ""), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("1", "12"), Err(PhoneError::Invalid));
        assert_eq!(PhoneNumber::parse("1", "not a phone"), Err(PhoneError::Invalid));
        assert_eq!(PhoneNumber::parse("abc", "2065559975"), Err(PhoneError::CountryCode));
        assert_eq!(PhoneNumber::parse("1", &"9".repeat(40)), Err(PhoneError::Invalid));
    }

    #[test]
    fn methods_round_trip() {
        for m in [TwoStepMethod::Text, TwoStepMethod::Voice] {
            assert_eq!(TwoStepMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(TwoStepMethod::parse("fax"), None);
    }
}
