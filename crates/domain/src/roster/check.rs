//! Rules across the lines of one roster file: repeated provider IDs and the group each
//! practitioner bills under.

use super::ProviderKind;
use super::provider_id::ProviderId;
use super::row::{RosterRow, RowError, RowErrors};
use std::collections::HashMap;

/// One data line of a roster file after its own checks.
#[derive(Debug, Clone)]
pub struct ParsedLine {
    /// The line of the file where the record starts (the header is line 1).
    pub line: u64,
    /// The provider ID as written, for reports (may be invalid).
    pub provider_id_text: Option<String>,
    /// The row, or why it was rejected.
    pub row: Result<RosterRow, RowErrors>,
}

impl ParsedLine {
    /// The line's provider ID when it is well formed, even if the line was rejected.
    pub fn provider_id(&self) -> Option<ProviderId> {
        match &self.row {
            Ok(r) => Some(r.provider_id().clone()),
            Err(_) => self.provider_id_text.as_deref().and_then(ProviderId::parse),
        }
    }

    fn reject(&mut self, e: RowError) {
        match &mut self.row {
            Ok(_) => self.row = Err(RowErrors(vec![e])),
            Err(errs) => errs.0.push(e),
        }
    }
}

/// A provider already on the roster, as far as group references care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub kind: ProviderKind,
    pub tax_id: String,
}

/// Applies the rules across lines, rejecting more lines:
///
/// - a provider ID on more than one line: **every** such line is rejected, since nothing says
///   which of them is right (the roster keeps what it had for that provider);
/// - a practitioner's `group_provider_id` must be a group of the same Tax ID that is accepted in
///   this file, or, when the group's own line was rejected, a group of that Tax ID on the
///   roster (which the import then leaves as it is). A group on the roster but absent from the
///   file is refused too: the import end-dates it.
///
/// `on_roster` looks a provider ID up in the current roster.
pub fn check_lines(lines: &mut [ParsedLine], on_roster: impl Fn(&ProviderId) -> Option<RosterEntry>) {
    reject_repeated(lines);
    let mut in_file: HashMap<ProviderId, Option<RosterEntry>> = HashMap::with_capacity(lines.len());
    for l in lines.iter() {
        if let Some(id) = l.provider_id() {
            let entry = l.row.as_ref().ok().map(|r| RosterEntry { kind: r.kind(), tax_id: r.tax_id().to_string() });
            in_file.insert(id, entry);
        }
    }
    for l in lines.iter_mut() {
        let Ok(row) = &l.row else { continue };
        let Some(g) = row.group_provider_id() else { continue };
        let tax_id = row.tax_id().as_str();
        let problem = match in_file.get(g) {
            Some(Some(entry)) => wrong_group(g, entry, tax_id),
            Some(None) => match on_roster(g) {
                Some(entry) if wrong_group(g, &entry, tax_id).is_none() => None,
                _ => Some(RowError::GroupRejected(g.clone())),
            },
            None => Some(match on_roster(g) {
                Some(_) => RowError::GroupNotInFile(g.clone()),
                None => RowError::UnknownGroup(g.clone()),
            }),
        };
        if let Some(e) = problem {
            l.reject(e);
        }
    }
}

fn wrong_group(id: &ProviderId, entry: &RosterEntry, tax_id: &str) -> Option<RowError> {
    if entry.kind != ProviderKind::Group {
        Some(RowError::NotAGroup { id: id.clone(), kind: entry.kind.as_str() })
    } else if entry.tax_id != tax_id {
        Some(RowError::GroupTaxId { id: id.clone(), group_tax_id: entry.tax_id.clone(), tax_id: tax_id.to_owned() })
    } else {
        None
    }
}

fn reject_repeated(lines: &mut [ParsedLine]) {
    let mut seen: HashMap<ProviderId, Vec<usize>> = HashMap::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        if let Some(id) = l.provider_id() {
            seen.entry(id).or_default().push(i);
        }
    }
    let mut repeated: Vec<(ProviderId, Vec<usize>)> = seen.into_iter().filter(|(_, v)| v.len() > 1).collect();
    repeated.sort_unstable();
    for (id, idx) in repeated {
        let numbers = idx.iter().map(|&i| lines[i].line.to_string()).collect::<Vec<_>>().join(", ");
        for i in idx {
            lines[i].reject(RowError::Duplicate { provider_id: id.clone(), lines: numbers.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::columns::Header;
    use crate::roster::test_rows::{group, practitioner};

    fn line(n: u64, rec: Vec<String>) -> ParsedLine {
        let h = Header::standard();
        let rec: Vec<&str> = rec.iter().map(String::as_str).collect();
        ParsedLine { line: n, provider_id_text: RosterRow::provider_id_text(&h, &rec), row: RosterRow::parse(&h, &rec) }
    }

    fn errors(l: &ParsedLine) -> Vec<RowError> {
        l.row.as_ref().err().map(|e| e.0.clone()).unwrap_or_default()
    }

    fn none(_: &ProviderId) -> Option<RosterEntry> {
        None
    }

    #[test]
    fn a_practitioner_may_bill_under_a_group_of_its_tax_id_in_the_file() {
        let mut lines = vec![line(2, group("G1", "111111111")), line(3, practitioner("P1", "111111111", Some("G1")))];
        check_lines(&mut lines, none);
        assert!(lines.iter().all(|l| l.row.is_ok()));
    }

    #[test]
    fn every_line_of_a_repeated_provider_id_is_rejected() {
        let mut lines = vec![
            line(2, practitioner("P1", "111111111", None)),
            line(3, practitioner("P2", "111111111", None)),
            line(4, practitioner("p1", "222222222", None)),
        ];
        check_lines(&mut lines, none);
        let dup = RowError::Duplicate { provider_id: ProviderId::parse("P1").unwrap(), lines: "2, 4".into() };
        assert_eq!(errors(&lines[0]), vec![dup.clone()]);
        assert!(lines[1].row.is_ok());
        assert_eq!(errors(&lines[2]), vec![dup]);
    }

    #[test]
    fn a_repeated_id_is_found_even_on_an_otherwise_bad_line() {
        let mut bad = practitioner("P1", "111111111", None);
        bad[1] = "123".into();
        let mut lines = vec![line(2, practitioner("P1", "111111111", None)), line(3, bad)];
        check_lines(&mut lines, none);
        assert!(lines[0].row.is_err());
        assert_eq!(errors(&lines[1]).len(), 2);
    }

    #[test]
    fn group_references_that_do_not_hold_are_rejected() {
        let mut lines = vec![
            line(2, group("G1", "111111111")),
            line(3, practitioner("P1", "222222222", Some("G1"))),
            line(4, practitioner("P2", "111111111", Some("P1"))),
            line(5, practitioner("P3", "111111111", Some("G9"))),
            line(6, practitioner("P4", "111111111", Some("G8"))),
        ];
        let roster = |id: &ProviderId| {
            (id.as_str() == "G8").then(|| RosterEntry { kind: ProviderKind::Group, tax_id: "111111111".into() })
        };
        check_lines(&mut lines, roster);
        let id = |s: &str| ProviderId::parse(s).unwrap();
        assert!(lines[0].row.is_ok());
        assert_eq!(
            errors(&lines[1]),
            vec![RowError::GroupTaxId { id: id("G1"), group_tax_id: "111111111".into(), tax_id: "222222222".into() }]
        );
        assert_eq!(errors(&lines[2]), vec![RowError::NotAGroup { id: id("P1"), kind: "practitioner" }]);
        assert_eq!(errors(&lines[3]), vec![RowError::UnknownGroup(id("G9"))]);
        assert_eq!(errors(&lines[4]), vec![RowError::GroupNotInFile(id("G8"))]);
    }

    #[test]
    fn a_rejected_group_line_falls_back_to_the_roster() {
        let mut bad_group = group("G1", "111111111");
        bad_group[12] = "bad zip".into();
        let mut lines = vec![line(2, bad_group), line(3, practitioner("P1", "111111111", Some("G1")))];
        let mut without_roster = lines.clone();
        check_lines(&mut without_roster, none);
        assert_eq!(errors(&without_roster[1]), vec![RowError::GroupRejected(ProviderId::parse("G1").unwrap())]);
        check_lines(&mut lines, |_| Some(RosterEntry { kind: ProviderKind::Group, tax_id: "111111111".into() }));
        assert!(lines[1].row.is_ok());
    }
}
