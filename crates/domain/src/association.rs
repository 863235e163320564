//! Self-service association ("Step 1 of 2 — Provider Eligibility"): what a signed-in user claims
//! about a provider they work for, checked field by field ([`AssociationForm::parse`]), then
//! compared with a roster entry ([`AssociationClaim::matches`]).
//!
//! A practitioner is claimed by first and last name, a group by its name; both with the Tax ID,
//! the provider ID (billing number) and a ZIP code of any of the provider's addresses. Names are
//! compared ignoring case, spaces and punctuation, so "O'Brien" matches "OBRIEN"; ZIP codes by
//! their first five digits.

use crate::registration::FieldError;
use crate::roster::{ProviderId, ProviderKind, Zip};
use crate::tax_id::TaxId;
use serde::Deserialize;
use thiserror::Error;

/// Longest name accepted in the form, in characters.
pub const MAX_NAME: usize = 120;

/// Which kind of provider the user associates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// One clinician: grants that provider.
    Practitioner,
    /// A group (or facility) billing under the Tax ID: grants all its providers.
    Group,
}

impl ProviderType {
    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Practitioner => "practitioner",
            Self::Group => "group",
        }
    }

    /// Whether a roster entry of `kind` is this type of provider.
    pub fn accepts(self, kind: ProviderKind) -> bool {
        match self {
            Self::Practitioner => kind == ProviderKind::Practitioner,
            Self::Group => matches!(kind, ProviderKind::Group | ProviderKind::Facility),
        }
    }
}

/// The form as typed: every field raw, missing ones empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AssociationForm {
    /// `practitioner` or `group`.
    pub provider_type: String,
    pub first_name: String,
    pub last_name: String,
    pub group_name: String,
    pub tax_id: String,
    pub provider_id: String,
    pub zip: String,
}

/// The name the user gave for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedName {
    Practitioner { first: String, last: String },
    Group(String),
}

/// A claim whose every field passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationClaim {
    pub name: ClaimedName,
    pub tax_id: TaxId,
    pub provider_id: ProviderId,
    pub zip: Zip,
}

/// Every problem found in the form, in the order of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
pub struct AssociationErrors(pub Vec<FieldError>);

impl AssociationErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// A roster entry as compared with a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterCandidate<'a> {
    pub kind: ProviderKind,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub org_name: &'a str,
    /// The ZIP codes of the provider's addresses (its own and its practice's).
    pub zips: &'a [&'a str],
    /// End-dated providers cannot be associated with.
    pub end_dated: bool,
}

/// Lower-case letters and digits only: how names are compared.
fn folded(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A name field: required, at most [`MAX_NAME`] characters, no control characters.
fn name_field(errs: &mut Vec<FieldError>, field: &'static str, raw: &str, empty: &str) -> Option<String> {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let problem = if s.is_empty() {
        Some(empty.to_owned())
    } else if s.chars().count() > MAX_NAME {
        Some(format!("Use at most {MAX_NAME} characters."))
    } else if s.chars().any(char::is_control) || folded(&s).is_empty() {
        Some("Enter the name as it appears on your welcome letter.".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => {
            errs.push(FieldError { field, message });
            None
        }
        None => Some(s),
    }
}

impl AssociationForm {
    /// The provider type chosen, if it is one.
    pub fn provider_type(&self) -> Option<ProviderType> {
        match self.provider_type.trim() {
            "practitioner" => Some(ProviderType::Practitioner),
            "group" => Some(ProviderType::Group),
            _ => None,
        }
    }

    /// Checks every field and reports every problem under its field's name.
    pub fn parse(&self) -> Result<AssociationClaim, AssociationErrors> {
        let mut errs = Vec::new();
        let kind = self.provider_type();
        if kind.is_none() {
            errs.push(FieldError {
                field: "provider_type",
                message: "Choose Practitioner or Group. Your welcome letter says which.".into(),
            });
        }
        let name = match kind {
            Some(ProviderType::Practitioner) => {
                let first =
                    name_field(&mut errs, "first_name", &self.first_name, "Enter the practitioner's first name.");
                let last = name_field(&mut errs, "last_name", &self.last_name, "Enter the practitioner's last name.");
                first.zip(last).map(|(first, last)| ClaimedName::Practitioner { first, last })
            }
            Some(ProviderType::Group) => {
                name_field(&mut errs, "group_name", &self.group_name, "Enter the group's name.").map(ClaimedName::Group)
            }
            None => None,
        };
        let tax_id = TaxId::parse(self.tax_id.trim())
            .map_err(|e| errs.push(FieldError { field: "tax_id", message: e.to_string() }))
            .ok();
        let provider_id = ProviderId::parse(&self.provider_id);
        if provider_id.is_none() {
            let message = if self.provider_id.trim().is_empty() {
                "Enter the provider ID (billing number) from your welcome letter."
            } else {
                "A provider ID is 1 to 20 letters, digits or dashes."
            };
            errs.push(FieldError { field: "provider_id", message: message.into() });
        }
        let zip = Zip::parse(&self.zip)
            .map_err(|e| {
                let message = if self.zip.trim().is_empty() {
                    "Enter the ZIP code of one of the provider's addresses."
                } else {
                    ""
                };
                let message = if message.is_empty() { e.to_string() } else { message.to_owned() };
                errs.push(FieldError { field: "zip", message })
            })
            .ok();
        match (name, tax_id, provider_id, zip) {
            (Some(name), Some(tax_id), Some(provider_id), Some(zip)) if errs.is_empty() => {
                Ok(AssociationClaim { name, tax_id, provider_id, zip })
            }
            _ => Err(AssociationErrors(errs)),
        }
    }
}

impl AssociationClaim {
    /// The provider type claimed.
    pub fn provider_type(&self) -> ProviderType {
        match self.name {
            ClaimedName::Practitioner { .. } => ProviderType::Practitioner,
            ClaimedName::Group(_) => ProviderType::Group,
        }
    }

    /// Whether the roster entry found by this claim's Tax ID and provider ID is the provider
    /// claimed: same type, same name, a ZIP of one of its addresses, and not end-dated.
    pub fn matches(&self, c: &RosterCandidate<'_>) -> bool {
        if c.end_dated || !self.provider_type().accepts(c.kind) {
            return false;
        }
        let name_ok = match &self.name {
            ClaimedName::Practitioner { first, last } => {
                folded(first) == folded(c.first_name) && folded(last) == folded(c.last_name)
            }
            ClaimedName::Group(name) => folded(name) == folded(c.org_name),
        };
        name_ok && c.zips.iter().any(|z| z.get(..5) == Some(self.zip.five()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(kind: &str) -> AssociationForm {
        AssociationForm {
            provider_type: kind.into(),
            first_name: "Maria".into(),
            last_name: "O'Brien".into(),
            group_name: "Cascade Family Medicine, PLLC".into(),
            tax_id: "123456789".into(),
            provider_id: "p100".into(),
            zip: "98101-1234".into(),
        }
    }

    fn practitioner<'a>(zips: &'a [&'a str]) -> RosterCandidate<'a> {
        RosterCandidate {
            kind: ProviderKind::Practitioner,
            first_name: "MARIA",
            last_name: "OBRIEN",
            org_name: "",
            zips,
            end_dated: false,
        }
    }

    #[test]
    fn practitioner_claim_matches_ignoring_case_and_punctuation() {
        let claim = form("practitioner").parse().unwrap();
        assert_eq!(claim.provider_id.as_str(), "P100");
        assert!(claim.matches(&practitioner(&["98101"])));
        // Any of the provider's addresses.
        assert!(claim.matches(&practitioner(&["10001", "98101-0000"])));
    }

    #[test]
    fn mismatches_are_refused() {
        let claim = form("practitioner").parse().unwrap();
        assert!(!claim.matches(&practitioner(&["98102"])), "wrong ZIP");
        let mut other = practitioner(&["98101"]);
        other.last_name = "Brien";
        assert!(!claim.matches(&other), "wrong last name");
        let mut ended = practitioner(&["98101"]);
        ended.end_dated = true;
        assert!(!claim.matches(&ended), "end-dated");
        let mut group = practitioner(&["98101"]);
        group.kind = ProviderKind::Group;
        assert!(!claim.matches(&group), "a group is not a practitioner");
    }

    #[test]
    fn group_claim_matches_groups_and_facilities_by_name() {
        let claim = form("group").parse().unwrap();
        let mut c = practitioner(&["98101"]);
        c.org_name = "CASCADE FAMILY MEDICINE PLLC";
        assert!(!claim.matches(&c), "a practitioner is not a group");
        c.kind = ProviderKind::Group;
        assert!(claim.matches(&c));
        c.kind = ProviderKind::Facility;
        assert!(claim.matches(&c));
        c.org_name = "Cascade Medicine";
        assert!(!claim.matches(&c));
    }

    #[test]
    fn every_problem_is_reported_under_its_field() {
        let errs = AssociationForm::default().parse().unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["provider_type", "tax_id", "provider_id", "zip"]);
        let mut f = form("practitioner");
        f.first_name = " ".into();
        f.last_name = "x".repeat(MAX_NAME + 1);
        f.tax_id = "12-3456789".into();
        f.provider_id = "P 100".into();
        f.zip = "981".into();
        let errs = f.parse().unwrap_err();
        assert_eq!(errs.get("first_name"), Some("Enter the practitioner's first name."));
        assert_eq!(errs.get("last_name"), Some("Use at most 120 characters."));
        assert!(errs.get("tax_id").unwrap().contains("9 digits"));
        assert!(errs.get("provider_id").unwrap().contains("letters, digits or dashes"));
        assert!(errs.get("zip").unwrap().contains("5-digit"));
        let mut g = form("group");
        g.group_name = "--".into();
        assert!(g.parse().unwrap_err().get("group_name").is_some());
    }
}
