//! Practice Tax IDs: exactly nine digits, entered twice.

use serde::Serialize;
use thiserror::Error;

/// A practice's federal Tax ID (TIN/EIN): nine ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaxId(String);

/// Why a Tax ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaxIdError {
    #[error("Enter the 9-digit Tax ID.")]
    Empty,
    #[error("A Tax ID is exactly 9 digits, with no spaces, dashes or letters.")]
    Format,
    #[error("The two Tax IDs do not match.")]
    Mismatch,
}

impl TaxId {
    /// Parses exactly nine digits. Spaces, dashes and letters are refused, as the seed forms say.
    pub fn parse(raw: &str) -> Result<Self, TaxIdError> {
        if raw.is_empty() {
            return Err(TaxIdError::Empty);
        }
        if raw.len() != 9 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TaxIdError::Format);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Parses a Tax ID entered twice.
    pub fn parse_confirmed(first: &str, second: &str) -> Result<Self, TaxIdError> {
        let t = Self::parse(first)?;
        if first != second {
            return Err(TaxIdError::Mismatch);
        }
        Ok(t)
    }

    /// The nine digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TaxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_digits_only() {
        assert!(TaxId::parse("825671892").is_ok());
        assert_eq!(TaxId::parse(""), Err(TaxIdError::Empty));
        for bad in ["82567189", "8256718921", "82-5671892", "825 671892", "82567189A", "８25671892"] {
            assert_eq!(TaxId::parse(bad), Err(TaxIdError::Format), "{bad}");
        }
    }

    #[test]
    fn entered_twice() {
        assert!(TaxId::parse_confirmed("825671892", "825671892").is_ok());
        assert_eq!(TaxId::parse_confirmed("825671892", "825671893"), Err(TaxIdError::Mismatch));
        assert_eq!(TaxId::parse_confirmed("12", "12"), Err(TaxIdError::Format));
    }
}
