//! Provider IDs: the billing numbers a plan's claims system gives its providers.

use serde::Serialize;

/// Longest provider ID.
pub const MAX_LEN: usize = 20;

/// A provider ID: 1–20 letters, digits or dashes, kept in capitals so that `p100` and `P100`
/// are the same provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProviderId(String);

impl ProviderId {
    /// Parses a provider ID (surrounding spaces ignored).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let ok = (1..=MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| Self(s.to_ascii_uppercase()))
    }

    /// The ID in capitals.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dashes() {
        assert_eq!(ProviderId::parse(" p200451 ").map(|p| p.0), Some("P200451".to_owned()));
        assert!(ProviderId::parse("G-100-234").is_some());
        assert!(ProviderId::parse("12345678901234567890").is_some());
    }

    #[test]
    fn bad_ids_refused() {
        for bad in ["", "   ", "P 200", "P_200", "P200.1", "123456789012345678901", "Pé200"] {
            assert_eq!(ProviderId::parse(bad), None, "{bad}");
        }
    }
}
