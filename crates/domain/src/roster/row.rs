//! One record of a roster file, parsed and validated: [`RosterRow`].

use super::columns::{Column, Header};
use super::provider_id::ProviderId;
use super::state::UsState;
use super::{ProviderKind, Zip, ZipError};
use crate::npi::{Npi, NpiError};
use crate::tax_id::{TaxId, TaxIdError};
use thiserror::Error;

/// Why one line of a roster file was rejected. The text names the column at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowError {
    #[error("The line has {found} values but the header has {expected}.")]
    FieldCount { found: usize, expected: usize },
    #[error("{0} is empty.")]
    Required(Column),
    #[error("{column} is longer than {max} characters.")]
    TooLong { column: Column, max: usize },
    #[error("{0} contains a control character.")]
    ControlCharacter(Column),
    #[error("{column} \"{value}\": use 1 to 20 letters, digits or dashes.")]
    BadProviderId { column: Column, value: String },
    #[error("npi \"{value}\": {reason}")]
    Npi { value: String, reason: NpiError },
    #[error("type \"{0}\": use practitioner, group or facility.")]
    Type(String),
    #[error("tax_id \"{value}\": {reason}")]
    TaxId { value: String, reason: TaxIdError },
    #[error("state \"{0}\": use a two-letter USPS code (states, DC and territories).")]
    State(String),
    #[error("zip \"{value}\": {reason}")]
    Zip { value: String, reason: ZipError },
    #[error("first_name and last_name are required for a practitioner.")]
    PractitionerName,
    #[error("organization_name is required for a {0}.")]
    OrganizationName(&'static str),
    #[error("group_provider_id is only for practitioners (the group they bill under).")]
    GroupOnlyForPractitioners,
    #[error("provider_id {provider_id} appears on lines {lines}: every line of a repeated provider ID is rejected.")]
    Duplicate { provider_id: ProviderId, lines: String },
    #[error("group_provider_id {0} is not a group in this file or on the roster.")]
    UnknownGroup(ProviderId),
    #[error("group_provider_id {0} is on the roster but not in this file, so this import would end-date it.")]
    GroupNotInFile(ProviderId),
    #[error("group_provider_id {id} is a {kind}, not a group.")]
    NotAGroup { id: ProviderId, kind: &'static str },
    #[error("group_provider_id {id} has Tax ID {group_tax_id}, not {tax_id}.")]
    GroupTaxId { id: ProviderId, group_tax_id: String, tax_id: String },
    #[error("group_provider_id {0}: the group's own line was rejected and it is not on the roster.")]
    GroupRejected(ProviderId),
}

/// Every reason one line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
pub struct RowErrors(pub Vec<RowError>);

/// A roster record: every value checked, text trimmed with inner runs of white space made one
/// space, IDs in capitals. Names required by the type are present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    provider_id: ProviderId,
    npi: Npi,
    kind: ProviderKind,
    first_name: String,
    last_name: String,
    organization_name: String,
    tax_id: TaxId,
    practice_name: String,
    address1: String,
    address2: String,
    city: String,
    state: UsState,
    zip: Zip,
    phone: String,
    vendor_id: Option<String>,
    office_id: Option<String>,
    group_provider_id: Option<ProviderId>,
}

/// Values shown back in messages are cut to this many characters.
const SHOWN: usize = 40;

fn shown(v: &str) -> String {
    v.chars().take(SHOWN).collect()
}

/// Reads the values of one record, collecting every problem.
struct Reader<'h, 'r> {
    header: &'h Header,
    record: &'r [&'r str],
    errors: Vec<RowError>,
}

impl Reader<'_, '_> {
    fn raw(&self, c: Column) -> &str {
        self.header.value(self.record, c).trim()
    }

    /// Free text: white space runs made one space, length and control characters checked.
    fn text(&mut self, c: Column) -> String {
        let raw = self.raw(c);
        let plain = !raw.contains("  ") && !raw.contains(|ch: char| ch.is_whitespace() && ch != ' ');
        let s = if plain { raw.to_owned() } else { raw.split_whitespace().collect::<Vec<_>>().join(" ") };
        if s.chars().count() > c.max_len() {
            self.errors.push(RowError::TooLong { column: c, max: c.max_len() });
        } else if s.chars().any(char::is_control) {
            self.errors.push(RowError::ControlCharacter(c));
        }
        s
    }

    fn required_text(&mut self, c: Column) -> String {
        let s = self.text(c);
        if s.is_empty() {
            self.errors.push(RowError::Required(c));
        }
        s
    }

    fn optional_text(&mut self, c: Column) -> Option<String> {
        Some(self.text(c)).filter(|s| !s.is_empty())
    }

    /// A required value parsed by `f`; `None` (and an error) when empty or refused.
    fn parsed<T, E>(
        &mut self,
        c: Column,
        f: impl FnOnce(&str) -> Result<T, E>,
        err: impl FnOnce(String, E) -> RowError,
    ) -> Option<T> {
        let raw = self.raw(c).to_owned();
        if raw.is_empty() {
            self.errors.push(RowError::Required(c));
            return None;
        }
        f(&raw).map_err(|e| self.errors.push(err(shown(&raw), e))).ok()
    }

    fn provider_id(&mut self, c: Column) -> Option<ProviderId> {
        self.parsed(c, |s| ProviderId::parse(s).ok_or(()), |value, ()| RowError::BadProviderId { column: c, value })
    }
}

impl RosterRow {
    /// Parses one record of a file whose header is `header`. Every problem of the line is
    /// reported, not only the first.
    pub fn parse(header: &Header, record: &[&str]) -> Result<Self, RowErrors> {
        if record.len() != header.width() {
            return Err(RowErrors(vec![RowError::FieldCount { found: record.len(), expected: header.width() }]));
        }
        let mut r = Reader { header, record, errors: Vec::new() };
        let provider_id = r.provider_id(Column::ProviderId);
        let npi = r.parsed(Column::Npi, Npi::parse, |value, reason| RowError::Npi { value, reason });
        let kind = r.parsed(Column::Type, |s| ProviderKind::parse(s).ok_or(()), |v, ()| RowError::Type(v));
        let first_name = r.text(Column::FirstName);
        let last_name = r.text(Column::LastName);
        let organization_name = r.text(Column::OrganizationName);
        let tax_id = r.parsed(Column::TaxId, TaxId::parse, |value, reason| RowError::TaxId { value, reason });
        let practice_name = r.required_text(Column::PracticeName);
        let address1 = r.required_text(Column::Address1);
        let address2 = r.text(Column::Address2);
        let city = r.required_text(Column::City);
        let state = r.parsed(Column::State, |s| UsState::parse(s).ok_or(()), |v, ()| RowError::State(v));
        let zip = r.parsed(Column::Zip, Zip::parse, |value, reason| RowError::Zip { value, reason });
        let phone = r.text(Column::Phone);
        let vendor_id = r.optional_text(Column::VendorId);
        let office_id = r.optional_text(Column::OfficeId);
        let group_provider_id =
            if r.raw(Column::GroupProviderId).is_empty() { None } else { r.provider_id(Column::GroupProviderId) };
        match kind {
            Some(ProviderKind::Practitioner) if first_name.is_empty() || last_name.is_empty() => {
                r.errors.push(RowError::PractitionerName)
            }
            Some(k @ (ProviderKind::Group | ProviderKind::Facility)) => {
                if organization_name.is_empty() {
                    r.errors.push(RowError::OrganizationName(k.as_str()));
                }
                if !r.raw(Column::GroupProviderId).is_empty() {
                    r.errors.push(RowError::GroupOnlyForPractitioners);
                }
            }
            _ => {}
        }
        match (provider_id, npi, kind, tax_id, state, zip) {
            (Some(provider_id), Some(npi), Some(kind), Some(tax_id), Some(state), Some(zip)) if r.errors.is_empty() => {
                Ok(Self {
                    provider_id,
                    npi,
                    kind,
                    first_name,
                    last_name,
                    organization_name,
                    tax_id,
                    practice_name,
                    address1,
                    address2,
                    city,
                    state,
                    zip,
                    phone,
                    vendor_id,
                    office_id,
                    group_provider_id,
                })
            }
            _ => Err(RowErrors(r.errors)),
        }
    }

    /// The provider ID of a record as written (trimmed, cut short), for reporting a rejected
    /// line; `None` when the column is empty.
    pub fn provider_id_text(header: &Header, record: &[&str]) -> Option<String> {
        Some(shown(header.value(record, Column::ProviderId).trim())).filter(|s| !s.is_empty())
    }

    /// The billing number.
    pub fn provider_id(&self) -> &ProviderId {
        &self.provider_id
    }
    /// The NPI.
    pub fn npi(&self) -> &Npi {
        &self.npi
    }
    /// Practitioner, group or facility.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }
    /// First name (may be empty for groups and facilities).
    pub fn first_name(&self) -> &str {
        &self.first_name
    }
    /// Last name (may be empty for groups and facilities).
    pub fn last_name(&self) -> &str {
        &self.last_name
    }
    /// Organization name (may be empty for practitioners).
    pub fn organization_name(&self) -> &str {
        &self.organization_name
    }
    /// The practice's Tax ID.
    pub fn tax_id(&self) -> &TaxId {
        &self.tax_id
    }
    /// The practice's name.
    pub fn practice_name(&self) -> &str {
        &self.practice_name
    }
    /// Street address.
    pub fn address1(&self) -> &str {
        &self.address1
    }
    /// Suite, floor (may be empty).
    pub fn address2(&self) -> &str {
        &self.address2
    }
    /// City.
    pub fn city(&self) -> &str {
        &self.city
    }
    /// State or territory.
    pub fn state(&self) -> UsState {
        self.state
    }
    /// ZIP code.
    pub fn zip(&self) -> &Zip {
        &self.zip
    }
    /// Phone as written (may be empty).
    pub fn phone(&self) -> &str {
        &self.phone
    }
    /// Vendor ID, if any.
    pub fn vendor_id(&self) -> Option<&str> {
        self.vendor_id.as_deref()
    }
    /// Office ID, if any.
    pub fn office_id(&self) -> Option<&str> {
        self.office_id.as_deref()
    }
    /// For a practitioner, the group they bill under, if any.
    pub fn group_provider_id(&self) -> Option<&ProviderId> {
        self.group_provider_id.as_ref()
    }

    /// The name people read: "Last, First" for a practitioner, else the organization's.
    pub fn display_name(&self) -> String {
        match self.kind {
            ProviderKind::Practitioner => format!("{}, {}", self.last_name, self.first_name),
            _ => self.organization_name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 17] = [
        "provider_id",
        "npi",
        "type",
        "first_name",
        "last_name",
        "organization_name",
        "tax_id",
        "practice_name",
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "phone",
        "vendor_id",
        "office_id",
        "group_provider_id",
    ];

    fn practitioner() -> [&'static str; 17] {
        [
            "p200451",
            "1234567893",
            "Practitioner",
            " Richard ",
            "Kim",
            "",
            "825671892",
            "Lakeside  Family Medicine",
            "1200 Lakeview Ave",
            "Ste 300",
            "Seattle",
            "wa",
            "981011234",
            "(206) 555-0100",
            "V123",
            "",
            "g100234",
        ]
    }

    fn set(mut rec: [&'static str; 17], c: Column, v: &'static str) -> [&'static str; 17] {
        rec[Column::ALL.iter().position(|x| *x == c).unwrap()] = v;
        rec
    }

    fn parse(rec: &[&str]) -> Result<RosterRow, Vec<RowError>> {
        RosterRow::parse(&Header::parse(&NAMES).unwrap(), rec).map_err(|e| e.0)
    }

    fn only_error(rec: &[&str]) -> RowError {
        let errs = parse(rec).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].clone()
    }

    #[test]
    fn a_good_practitioner_is_cleaned() {
        let r = parse(&practitioner()).unwrap();
        assert_eq!(r.provider_id().as_str(), "P200451");
        assert_eq!(r.kind(), ProviderKind::Practitioner);
        assert_eq!(r.first_name(), "Richard");
        assert_eq!(r.practice_name(), "Lakeside Family Medicine");
        assert_eq!(r.state().as_str(), "WA");
        assert_eq!(r.zip().as_str(), "98101-1234");
        assert_eq!(r.vendor_id(), Some("V123"));
        assert_eq!(r.office_id(), None);
        assert_eq!(r.group_provider_id().map(ProviderId::as_str), Some("G100234"));
        assert_eq!(r.display_name(), "Kim, Richard");
    }

    #[test]
    fn a_group_needs_an_organization_name_and_no_group() {
        let g = set(set(practitioner(), Column::Type, "group"), Column::GroupProviderId, "");
        assert_eq!(only_error(&g), RowError::OrganizationName("group"));
        let g = set(g, Column::OrganizationName, "Lakeside Family Medicine");
        assert_eq!(parse(&g).unwrap().display_name(), "Lakeside Family Medicine");
        let f = set(set(g, Column::Type, "FACILITY"), Column::GroupProviderId, "G1");
        assert_eq!(only_error(&f), RowError::GroupOnlyForPractitioners);
    }

    #[test]
    fn a_practitioner_needs_both_names() {
        assert_eq!(only_error(&set(practitioner(), Column::FirstName, " ")), RowError::PractitionerName);
        assert_eq!(only_error(&set(practitioner(), Column::LastName, "")), RowError::PractitionerName);
    }

    #[test]
    fn bad_values_name_their_column() {
        let cases: [(Column, &str, &str); 9] = [
            (Column::ProviderId, "P 1", "provider_id \"P 1\": use 1 to 20 letters, digits or dashes."),
            (Column::Npi, "1234567890", "npi \"1234567890\": This is not a valid NPI: its check digit does not match."),
            (Column::Npi, "12345", "npi \"12345\": An NPI is exactly 10 digits."),
            (Column::Type, "pharmacy", "type \"pharmacy\": use practitioner, group or facility."),
            (Column::TaxId, "82-5671892", "tax_id \"82-5671892\": A Tax ID is exactly 9 digits"),
            (Column::State, "AP", "state \"AP\": use a two-letter USPS code"),
            (Column::Zip, "9810", "zip \"9810\": Enter a 5-digit ZIP code"),
            (Column::GroupProviderId, "G_1", "group_provider_id \"G_1\": use 1 to 20 letters"),
            (Column::Phone, "206 555 0100 extension 1234567890", "phone is longer than 32 characters."),
        ];
        for (c, v, msg) in cases {
            let e = only_error(&set(practitioner(), c, v)).to_string();
            assert!(e.starts_with(msg), "{c}: {e}");
        }
    }

    #[test]
    fn required_values_and_control_characters() {
        for c in [
            Column::ProviderId,
            Column::Npi,
            Column::Type,
            Column::TaxId,
            Column::PracticeName,
            Column::Address1,
            Column::City,
            Column::State,
            Column::Zip,
        ] {
            assert_eq!(only_error(&set(practitioner(), c, "  ")), RowError::Required(c), "{c}");
        }
        assert_eq!(
            only_error(&set(practitioner(), Column::City, "Sea\u{7}ttle")),
            RowError::ControlCharacter(Column::City)
        );
        let long: &'static str = Box::leak("x".repeat(61).into_boxed_str());
        assert_eq!(
            only_error(&set(practitioner(), Column::LastName, long)),
            RowError::TooLong { column: Column::LastName, max: 60 }
        );
    }

    #[test]
    fn optional_values_may_be_empty_or_absent() {
        let r = parse(&set(set(set(practitioner(), Column::Address2, ""), Column::Phone, ""), Column::VendorId, ""))
            .unwrap();
        assert_eq!((r.address2(), r.phone(), r.vendor_id()), ("", "", None));
        let names: Vec<&str> =
            NAMES.iter().copied().filter(|n| !n.ends_with("_id") || *n == "provider_id" || *n == "tax_id").collect();
        let rec: Vec<&str> =
            NAMES.iter().zip(practitioner()).filter(|(n, _)| names.contains(n)).map(|(_, v)| v).collect();
        let r = RosterRow::parse(&Header::parse(&names).unwrap(), &rec).unwrap();
        assert_eq!((r.vendor_id(), r.group_provider_id()), (None, None));
    }

    #[test]
    fn every_problem_of_a_line_is_reported() {
        let rec = set(set(set(practitioner(), Column::Npi, "1"), Column::Zip, "x"), Column::FirstName, "");
        let errs = parse(&rec).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        let text = RowErrors(errs).to_string();
        assert!(text.contains("npi \"1\"") && text.contains("zip \"x\"") && text.contains("first_name"), "{text}");
    }

    #[test]
    fn a_short_or_long_record_is_refused_whole() {
        assert_eq!(only_error(&practitioner()[..16]), RowError::FieldCount { found: 16, expected: 17 });
        let h = Header::standard();
        assert_eq!(RosterRow::provider_id_text(&h, &practitioner()), Some("p200451".to_owned()));
        assert_eq!(RosterRow::provider_id_text(&h, &set(practitioner(), Column::ProviderId, " ")), None);
    }
}
