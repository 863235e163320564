//! The provider roster's value types (ZIP codes, states, provider kinds and IDs) and the rules
//! of a roster file: its columns, one validated [`RosterRow`] per record, the rules across
//! records, and synthetic rosters for demos and benchmarks.

pub mod check;
pub mod columns;
pub mod provider_id;
pub mod row;
pub mod state;
pub mod synthetic;

pub use check::{ParsedLine, RosterEntry, check_lines};
pub use columns::{Column, Header, HeaderError};
pub use provider_id::ProviderId;
pub use row::{RosterRow, RowError, RowErrors};
pub use state::UsState;
pub use synthetic::synthetic_roster_csv;

use serde::Serialize;
use thiserror::Error;

/// Longest file name kept with an import, in characters.
pub const MAX_FILE_NAME: usize = 200;

/// A US ZIP code: five digits, or ZIP+4 (stored as `12345-6789`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Zip(String);

/// Why a ZIP code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ZipError {
    #[error("Enter a 5-digit ZIP code, or ZIP+4 like 98101-1234.")]
    Format,
}

impl Zip {
    /// Parses `12345`, `123456789` or `12345-6789`.
    pub fn parse(raw: &str) -> Result<Self, ZipError> {
        let s = raw.trim();
        let digits: String = s.chars().filter(|c| *c != '-').collect();
        let dash_ok = !s.contains('-') || (s.len() == 10 && s.as_bytes()[5] == b'-');
        if !dash_ok || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ZipError::Format);
        }
        match digits.len() {
            5 => Ok(Self(digits)),
            9 => Ok(Self(format!("{}-{}", &digits[..5], &digits[5..]))),
            _ => Err(ZipError::Format),
        }
    }

    /// The code as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first five digits, which is what a person matching an address compares.
    pub fn five(&self) -> &str {
        &self.0[..5]
    }
}

/// What kind of provider a roster record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// An individual clinician.
    Practitioner,
    /// A group practice billing under one Tax ID.
    Group,
    /// A hospital, clinic or other facility.
    Facility,
}

impl ProviderKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Practitioner => "practitioner",
            Self::Group => "group",
            Self::Facility => "facility",
        }
    }

    /// Parses the stored name (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "practitioner" => Some(Self::Practitioner),
            "group" => Some(Self::Group),
            "facility" => Some(Self::Facility),
            _ => None,
        }
    }
}

/// Records in the standard column order, for tests of the file rules.
#[cfg(test)]
pub(crate) mod test_rows {
    fn record(id: &str, npi: &str, kind: &str, names: [&str; 3], tax_id: &str, group: Option<&str>) -> Vec<String> {
        let [first, last, org] = names;
        [id, npi, kind, first, last, org, tax_id, "Lakeside Family Medicine", "1200 Lakeview Ave", "", "Seattle", "WA"]
            .into_iter()
            .chain(["98101", "", "", "", group.unwrap_or("")])
            .map(str::to_owned)
            .collect()
    }

    /// A valid group line.
    pub fn group(id: &str, tax_id: &str) -> Vec<String> {
        record(id, "1234567893", "group", ["", "", "Lakeside Family Medicine"], tax_id, None)
    }

    /// A valid practitioner line.
    pub fn practitioner(id: &str, tax_id: &str, group: Option<&str>) -> Vec<String> {
        record(id, "1245319599", "practitioner", ["Richard", "Kim", ""], tax_id, group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_forms() {
        assert_eq!(Zip::parse("98101").unwrap().as_str(), "98101");
        assert_eq!(Zip::parse("981011234").unwrap().as_str(), "98101-1234");
        assert_eq!(Zip::parse("98101-1234").unwrap().five(), "98101");
        for bad in ["", "9810", "981012", "98-101", "9810A", "98101-12345"] {
            assert_eq!(Zip::parse(bad), Err(ZipError::Format), "{bad}");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in [ProviderKind::Practitioner, ProviderKind::Group, ProviderKind::Facility] {
            assert_eq!(ProviderKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProviderKind::parse(" Group "), Some(ProviderKind::Group));
        assert_eq!(ProviderKind::parse("pharmacy"), None);
    }
}
