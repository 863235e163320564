//! Usernames: 1–64 characters, none of the seed portals' forbidden characters, no white space.

use serde::Serialize;
use thiserror::Error;

/// Characters the seed portals forbid in a username.
pub const FORBIDDEN: &str = ";:<>,[]()\\\"'~`%^&+={}|?/";
/// Longest username, in characters.
pub const MAX_LEN: usize = 64;

/// A valid username, as the person typed it. Compare with [`Username::normalized`]: usernames are
/// unique per plan without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsernameError {
    #[error("Enter a username.")]
    Empty,
    #[error("A username can be at most {MAX_LEN} characters.")]
    TooLong,
    #[error("A username cannot contain spaces.")]
    WhiteSpace,
    #[error("A username cannot contain the character {0}. Avoid ; : < > , [ ] ( ) \\ \" ' ~ ` % ^ & + = {{ }} | ? /")]
    Forbidden(char),
    #[error("A username cannot contain control characters.")]
    Control,
    #[error("In this portal a username is an email address, like jdoe@clinic.example.")]
    NotEmail,
}

/// How usernames look in a plan (a plan setting): any name, or an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsernameFormat {
    #[default]
    Plain,
    Email,
}

impl UsernameFormat {
    /// `plain` or `email`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "plain" => Some(Self::Plain),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Email => "email",
        }
    }
}

impl Username {
    /// Parses a username exactly as typed (no trimming: a space is an error the person should see).
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if raw.chars().count() > MAX_LEN {
            return Err(UsernameError::TooLong);
        }
        for c in raw.chars() {
            if c.is_whitespace() {
                return Err(UsernameError::WhiteSpace);
            }
            if c.is_control() {
                return Err(UsernameError::Control);
            }
            if FORBIDDEN.contains(c) {
                return Err(UsernameError::Forbidden(c));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// Parses a username that must also have the plan's `format`.
    pub fn parse_as(raw: &str, format: UsernameFormat) -> Result<Self, UsernameError> {
        let u = Self::parse(raw)?;
        if format == UsernameFormat::Email && crate::Email::parse(raw).is_err() {
            return Err(UsernameError::NotEmail);
        }
        Ok(u)
    }

    /// The username as chosen.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness and sign-in.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["jdoe", "J.Doe-2", "maria_lopez", "a", "jdoe@clinic.example", &"x".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_empty_long_spaces_and_forbidden() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse(&"x".repeat(65)), Err(UsernameError::TooLong));
        assert_eq!(Username::parse("j doe"), Err(UsernameError::WhiteSpace));
        assert_eq!(Username::parse("jdoe\t"), Err(UsernameError::WhiteSpace));
        for c in FORBIDDEN.chars() {
            assert_eq!(Username::parse(&format!("ab{c}cd")), Err(UsernameError::Forbidden(c)));
        }
    }

    #[test]
    fn email_format_needs_an_address() {
        assert_eq!(Username::parse_as("jdoe", UsernameFormat::Email), Err(UsernameError::NotEmail));
        assert!(Username::parse_as("jdoe@clinic.example", UsernameFormat::Email).is_ok());
        assert!(Username::parse_as("jdoe", UsernameFormat::Plain).is_ok());
        assert_eq!(Username::parse_as("j doe@x.example", UsernameFormat::Email), Err(UsernameError::WhiteSpace));
        assert_eq!(UsernameFormat::parse("email"), Some(UsernameFormat::Email));
        assert_eq!(UsernameFormat::parse("other"), None);
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert_eq!(Username::parse(&"é".repeat(65)), Err(UsernameError::TooLong));
    }

    #[test]
    fn normalizes_case() {
        assert_eq!(Username::parse("JDoe").unwrap().normalized(), "jdoe");
    }
}
