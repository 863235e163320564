//! Two-letter USPS codes of the states, the District of Columbia and the territories.

use serde::Serialize;

/// Every code a roster address may use: the 50 states, DC, the five inhabited territories
/// (AS, GU, MP, PR, VI) and the freely associated states the USPS serves (FM, MH, PW). The
/// military codes (AA, AE, AP) are not service addresses and are refused.
pub const CODES: [&str; 59] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
    "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AS", "GU", "MP", "PR", "VI", "FM",
    "MH", "PW",
];

/// A USPS state or territory code, stored in capitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UsState(&'static str);

impl UsState {
    /// Parses a two-letter code in any case (surrounding spaces ignored).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        CODES.iter().find(|c| c.eq_ignore_ascii_case(s)).map(|c| Self(c))
    }

    /// The code in capitals.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for UsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_dc_and_territories() {
        for ok in ["WA", "wa", " Ny ", "DC", "PR", "GU", "VI", "AS", "MP", "FM", "MH", "PW"] {
            assert!(UsState::parse(ok).is_some(), "{ok}");
        }
        assert_eq!(UsState::parse("tx").map(UsState::as_str), Some("TX"));
    }

    #[test]
    fn others_refused() {
        for bad in ["", "W", "WAS", "XX", "AA", "AE", "AP", "Washington", "W A"] {
            assert_eq!(UsState::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn fifty_nine_distinct_codes() {
        let mut v = CODES.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 59);
    }
}
