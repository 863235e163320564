//! The columns of a roster file and its header row.

use thiserror::Error;

/// A column of a roster file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    ProviderId,
    Npi,
    Type,
    FirstName,
    LastName,
    OrganizationName,
    TaxId,
    PracticeName,
    Address1,
    Address2,
    City,
    State,
    Zip,
    Phone,
    VendorId,
    OfficeId,
    GroupProviderId,
}

impl Column {
    /// Every column, in the order files written by Gatehouse use.
    pub const ALL: [Column; 17] = [
        Self::ProviderId,
        Self::Npi,
        Self::Type,
        Self::FirstName,
        Self::LastName,
        Self::OrganizationName,
        Self::TaxId,
        Self::PracticeName,
        Self::Address1,
        Self::Address2,
        Self::City,
        Self::State,
        Self::Zip,
        Self::Phone,
        Self::VendorId,
        Self::OfficeId,
        Self::GroupProviderId,
    ];

    /// The name in the header row.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProviderId => "provider_id",
            Self::Npi => "npi",
            Self::Type => "type",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::OrganizationName => "organization_name",
            Self::TaxId => "tax_id",
            Self::PracticeName => "practice_name",
            Self::Address1 => "address1",
            Self::Address2 => "address2",
            Self::City => "city",
            Self::State => "state",
            Self::Zip => "zip",
            Self::Phone => "phone",
            Self::VendorId => "vendor_id",
            Self::OfficeId => "office_id",
            Self::GroupProviderId => "group_provider_id",
        }
    }

    /// Whether a file may leave the column out. The name columns must be present even though
    /// each row needs only those of its type.
    pub fn optional(self) -> bool {
        matches!(self, Self::Address2 | Self::Phone | Self::VendorId | Self::OfficeId | Self::GroupProviderId)
    }

    /// Longest value, in characters, of the free-text columns.
    pub fn max_len(self) -> usize {
        match self {
            Self::FirstName | Self::LastName | Self::City => 60,
            Self::OrganizationName | Self::PracticeName => 120,
            Self::Address1 | Self::Address2 => 100,
            Self::Phone | Self::VendorId | Self::OfficeId => 32,
            _ => 20,
        }
    }

    /// The column with this header name: any case; spaces and dashes count as underscores.
    pub fn from_header(raw: &str) -> Option<Self> {
        let name: String =
            raw.trim().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where each column is in a file's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    positions: [Option<usize>; 17],
    width: usize,
}

/// Why a header row was refused: the whole file is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.describe())]
pub struct HeaderError {
    /// Required columns the header lacks.
    pub missing: Vec<Column>,
    /// Header names that are not roster columns (blank ones as `(blank, column N)`).
    pub unknown: Vec<String>,
    /// Columns named more than once.
    pub repeated: Vec<Column>,
}

impl HeaderError {
    fn describe(&self) -> String {
        let names = |v: &[Column]| v.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
        let mut parts = vec!["The header row is not a roster header.".to_owned()];
        if !self.missing.is_empty() {
            parts.push(format!("Missing columns: {}.", names(&self.missing)));
        }
        if !self.unknown.is_empty() {
            parts.push(format!("Unknown columns: {}.", self.unknown.join(", ")));
        }
        if !self.repeated.is_empty() {
            parts.push(format!("Columns named twice: {}.", names(&self.repeated)));
        }
        parts.push(format!("The columns are: {}.", names(&Column::ALL)));
        parts.join(" ")
    }
}

impl Header {
    /// Reads the header row: names in any case and any order; every required column present,
    /// none unknown, none repeated.
    pub fn parse(names: &[&str]) -> Result<Self, HeaderError> {
        let mut positions = [None; 17];
        let (mut unknown, mut repeated) = (Vec::new(), Vec::new());
        for (i, raw) in names.iter().enumerate() {
            match Column::from_header(raw) {
                Some(c) if positions[c.index()].is_some() => {
                    if !repeated.contains(&c) {
                        repeated.push(c);
                    }
                }
                Some(c) => positions[c.index()] = Some(i),
                None if raw.trim().is_empty() => unknown.push(format!("(blank, column {})", i + 1)),
                None => unknown.push(raw.trim().chars().take(40).collect()),
            }
        }
        let missing: Vec<Column> =
            Column::ALL.into_iter().filter(|c| !c.optional() && positions[c.index()].is_none()).collect();
        if missing.is_empty() && unknown.is_empty() && repeated.is_empty() {
            Ok(Self { positions, width: names.len() })
        } else {
            Err(HeaderError { missing, unknown, repeated })
        }
    }

    /// The header Gatehouse writes: every column, in [`Column::ALL`] order.
    pub fn standard() -> Self {
        let mut positions = [None; 17];
        for (i, p) in positions.iter_mut().enumerate() {
            *p = Some(i);
        }
        Self { positions, width: 17 }
    }

    /// How many values each record must have.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The position of a column in a record, if the file has it.
    pub fn position(&self, c: Column) -> Option<usize> {
        self.positions[c.index()]
    }

    /// The value of a column in a record (empty when the file has no such column).
    pub fn value<'a>(&self, record: &[&'a str], c: Column) -> &'a str {
        self.position(c).and_then(|i| record.get(i)).copied().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required() -> Vec<&'static str> {
        Column::ALL.into_iter().filter(|c| !c.optional()).map(Column::name).collect()
    }

    #[test]
    fn any_case_any_order_optional_columns_may_be_left_out() {
        let mut names = required();
        names.reverse();
        names[0] = "ZIP";
        let h = Header::parse(&names).unwrap();
        assert_eq!(h.width(), names.len());
        assert_eq!(h.position(Column::Zip), Some(0));
        assert_eq!(h.position(Column::Phone), None);
        assert_eq!(h.value(&names, Column::Phone), "");
        assert_eq!(h.value(&names, Column::Zip), "ZIP");
    }

    #[test]
    fn spaces_and_dashes_read_as_underscores() {
        assert_eq!(Column::from_header(" Provider ID "), Some(Column::ProviderId));
        assert_eq!(Column::from_header("group-provider-id"), Some(Column::GroupProviderId));
        assert_eq!(Column::from_header("providerid"), None);
    }

    #[test]
    fn missing_unknown_and_repeated_columns_are_named() {
        let mut names = required();
        names.retain(|n| *n != "npi" && *n != "zip");
        names.push("provider_no");
        names.push("");
        names.push("City");
        let e = Header::parse(&names).unwrap_err();
        assert_eq!(e.missing, vec![Column::Npi, Column::Zip]);
        assert_eq!(e.unknown, vec!["provider_no".to_owned(), format!("(blank, column {})", names.len() - 1)]);
        assert_eq!(e.repeated, vec![Column::City]);
        let text = e.to_string();
        assert!(text.contains("Missing columns: npi, zip."), "{text}");
        assert!(text.contains("Unknown columns: provider_no"), "{text}");
        assert!(text.contains("Columns named twice: city."), "{text}");
    }

    #[test]
    fn standard_header_has_every_column_in_order() {
        let h = Header::standard();
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(Header::parse(&names).unwrap(), h);
    }
}
