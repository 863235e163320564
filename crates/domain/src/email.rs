//! Email addresses.

use serde::Serialize;
use std::str::FromStr;
use thiserror::Error;

/// Longest address we accept (RFC 5321 path limit).
pub const MAX_LEN: usize = 254;

/// A syntactically valid email address, trimmed. Compare with [`Email::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("An email address can be at most {MAX_LEN} characters.")]
    TooLong,
    #[error("Enter an email address like name@example.com.")]
    Invalid,
    #[error("The two email addresses do not match.")]
    Mismatch,
    /// The address is another account's username: a username never equals another user's email.
    #[error(
        "This address is another account's username, so it cannot be used as an email here. Use a different address."
    )]
    SomeonesUsername,
}

impl Email {
    /// Parses an address; surrounding white space is ignored.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let parsed = email_address::EmailAddress::from_str(s).map_err(|_| EmailError::Invalid)?;
        // Portal mail goes to real mailboxes: require a dotted domain.
        if !parsed.domain().contains('.') || s.contains(char::is_whitespace) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    /// Parses an address entered twice.
    pub fn parse_confirmed(first: &str, second: &str) -> Result<Self, EmailError> {
        let e = Self::parse(first)?;
        if first.trim().to_lowercase() != second.trim().to_lowercase() {
            return Err(EmailError::Mismatch);
        }
        Ok(e)
    }

    /// The address as entered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-cased, for comparison and look-up.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An address as shown to someone who may not own it: the first character of the mailbox,
/// `***`, then the domain (`j***@example.org`). Anything without an `@` is masked whole.
pub fn mask(address: &str) -> String {
    match address.trim().rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_mailbox_but_keeps_the_domain() {
        assert_eq!(mask("jane.doe@example.org"), "j***@example.org");
        assert_eq!(mask(" J@x.example "), "J***@x.example");
        assert_eq!(mask("\"a@b\"@x.example"), "\"***@x.example");
        assert_eq!(mask("nobody"), "***");
    }

    #[test]
    fn parses_and_normalizes() {
        let e = Email::parse("  Ana.Ruiz@Clinic.Example ").unwrap();
        assert_eq!(e.as_str(), "Ana.Ruiz@Clinic.Example");
        assert_eq!(e.normalized(), "ana.ruiz@clinic.example");
    }

    #[test]
    fn refuses_bad_addresses() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(Email::parse("no-at-sign"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a@localhost"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a b@x.org"), Err(EmailError::Invalid));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn confirmation_must_match() {
        assert!(Email::parse_confirmed("a@x.org", "A@X.org").is_ok());
        assert_eq!(Email::parse_confirmed("a@x.org", "b@x.org"), Err(EmailError::Mismatch));
    }
}
