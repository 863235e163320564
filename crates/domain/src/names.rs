//! People's names as entered on forms.

use serde::Serialize;
use thiserror::Error;

/// Longest name part, in characters.
pub const MAX_LEN: usize = 60;

/// A person's first and last name, trimmed, each 1–60 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonName {
    first: String,
    last: String,
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("Enter the first name.")]
    FirstEmpty,
    #[error("Enter the last name.")]
    LastEmpty,
    #[error("A name can be at most {MAX_LEN} characters.")]
    TooLong,
    #[error("A name cannot contain < > or control characters.")]
    BadCharacter,
}

fn clean(raw: &str) -> Result<String, NameError> {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > MAX_LEN {
        return Err(NameError::TooLong);
    }
    if s.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return Err(NameError::BadCharacter);
    }
    Ok(s)
}

impl PersonName {
    /// Parses a first and last name; inner runs of white space collapse to one space.
    pub fn parse(first: &str, last: &str) -> Result<Self, NameError> {
        let first = clean(first)?;
        let last = clean(last)?;
        if first.is_empty() {
            return Err(NameError::FirstEmpty);
        }
        if last.is_empty() {
            return Err(NameError::LastEmpty);
        }
        Ok(Self { first, last })
    }

    /// First name.
    pub fn first(&self) -> &str {
        &self.first
    }

    /// Last name.
    pub fn last(&self) -> &str {
        &self.last
    }

    /// "First Last".
    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_collapses() {
        let n = PersonName::parse("  Mary  Ann ", " O'Neil ").unwrap();
        assert_eq!(n.first(), "Mary Ann");
        assert_eq!(n.last(), "O'Neil");
        assert_eq!(n.full(), "Mary Ann O'Neil");
    }

    #[test]
    fn refuses_empty_long_and_markup() {
        assert_eq!(PersonName::parse(" ", "Kim"), Err(NameError::FirstEmpty));
        assert_eq!(PersonName::parse("Ana", ""), Err(NameError::LastEmpty));
        assert_eq!(PersonName::parse(&"a".repeat(61), "Kim"), Err(NameError::TooLong));
        assert_eq!(PersonName::parse("<b>", "Kim"), Err(NameError::BadCharacter));
    }
}
