//! What an import changes: the file's accepted rows against the roster in memory. Pure, so the
//! rules are tested without a database.

use super::report::{FieldChange, PracticeChange, ProviderChange, ProviderEntry};
use gatehouse_domain::roster::{ProviderId, ProviderKind, RosterEntry, RosterRow};
use gatehouse_store::roster::bulk::{PracticeRecord, PracticeValues, ProviderRecord, ProviderValues};
use std::collections::{HashMap, HashSet};

/// A plan's roster, indexed.
#[derive(Debug, Default)]
pub(crate) struct Roster {
    practices: HashMap<String, PracticeRecord>,
    tax_of_practice: HashMap<i64, String>,
    providers: HashMap<String, ProviderRecord>,
}

impl Roster {
    /// Indexes what the store loaded.
    pub fn new(practices: Vec<PracticeRecord>, providers: Vec<ProviderRecord>) -> Self {
        let tax_of_practice = practices.iter().map(|p| (p.id, p.tax_id.clone())).collect();
        Self {
            practices: practices.into_iter().map(|p| (p.tax_id.clone(), p)).collect(),
            tax_of_practice,
            providers: providers.into_iter().map(|p| (p.values.provider_id.clone(), p)).collect(),
        }
    }

    /// A provider on the roster (not end-dated), for the group rules.
    pub fn entry(&self, id: &ProviderId) -> Option<RosterEntry> {
        let p = self.providers.get(id.as_str()).filter(|p| p.end_dated_at.is_none())?;
        let kind = ProviderKind::parse(&p.values.kind)?;
        Some(RosterEntry { kind, tax_id: self.tax_of_practice.get(&p.practice_id)?.clone() })
    }

    /// The id of the practice with this Tax ID, if stored.
    pub fn practice_id(&self, tax_id: &str) -> Option<i64> {
        self.practices.get(tax_id).map(|p| p.id)
    }

    fn tax_id_of(&self, p: &ProviderRecord) -> &str {
        self.tax_of_practice.get(&p.practice_id).map_or("", String::as_str)
    }
}

/// The writes an import makes, and the report's lists.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub new_practices: Vec<(String, PracticeValues)>,
    pub practice_updates: Vec<(i64, PracticeValues)>,
    /// New providers with their practice's Tax ID.
    pub new_providers: Vec<(String, ProviderValues)>,
    /// Changed providers: row id, practice's Tax ID, new values (the end date is cleared).
    pub provider_updates: Vec<(i64, String, ProviderValues)>,
    /// Row ids of providers to end-date.
    pub end_dates: Vec<i64>,
    pub added: Vec<ProviderEntry>,
    pub changed: Vec<ProviderChange>,
    pub removed: Vec<ProviderEntry>,
    pub practices_added: Vec<PracticeChange>,
    pub practices_changed: Vec<PracticeChange>,
    pub unchanged: u64,
}

impl Changes {
    /// How many rows the writes touch.
    pub fn writes(&self) -> u64 {
        (self.new_practices.len()
            + self.practice_updates.len()
            + self.new_providers.len()
            + self.provider_updates.len()
            + self.end_dates.len()) as u64
    }
}

/// The stored form of a row's provider values.
pub(crate) fn provider_values(r: &RosterRow) -> ProviderValues {
    ProviderValues {
        provider_id: r.provider_id().to_string(),
        npi: r.npi().to_string(),
        kind: r.kind().as_str().to_owned(),
        first_name: r.first_name().to_owned(),
        last_name: r.last_name().to_owned(),
        org_name: r.organization_name().to_owned(),
        address1: r.address1().to_owned(),
        address2: r.address2().to_owned(),
        city: r.city().to_owned(),
        state: r.state().as_str().to_owned(),
        zip: r.zip().as_str().to_owned(),
        phone: r.phone().to_owned(),
        vendor_id: r.vendor_id().map(str::to_owned),
        office_id: r.office_id().map(str::to_owned),
        group_provider_id: r.group_provider_id().map(ToString::to_string),
    }
}

fn practice_values(r: &RosterRow) -> PracticeValues {
    PracticeValues {
        name: r.practice_name().to_owned(),
        address1: r.address1().to_owned(),
        address2: r.address2().to_owned(),
        city: r.city().to_owned(),
        state: r.state().as_str().to_owned(),
        zip: r.zip().as_str().to_owned(),
        phone: r.phone().to_owned(),
    }
}

fn display_name(v: &ProviderValues) -> String {
    if v.kind == ProviderKind::Practitioner.as_str() {
        format!("{}, {}", v.last_name, v.first_name)
    } else {
        v.org_name.clone()
    }
}

fn entry(v: &ProviderValues, tax_id: &str) -> ProviderEntry {
    ProviderEntry {
        provider_id: v.provider_id.clone(),
        name: display_name(v),
        kind: v.kind.clone(),
        tax_id: tax_id.to_owned(),
    }
}

/// Collects `field: old → new` for each differing pair.
struct Diff(Vec<FieldChange>);

impl Diff {
    fn field(&mut self, field: &str, old: &str, new: &str) -> &mut Self {
        if old != new {
            self.0.push(FieldChange { field: field.to_owned(), old: old.to_owned(), new: new.to_owned() });
        }
        self
    }

    fn opt(&mut self, field: &str, old: Option<&str>, new: Option<&str>) -> &mut Self {
        self.field(field, old.unwrap_or(""), new.unwrap_or(""))
    }
}

/// What differs between a stored provider and its row in the file (compared in place: most
/// rows of a re-import are unchanged and need no copy).
fn provider_diff(old: &ProviderValues, old_tax: &str, new: &RosterRow) -> Vec<FieldChange> {
    let mut d = Diff(Vec::new());
    d.field("npi", &old.npi, new.npi().as_str())
        .field("type", &old.kind, new.kind().as_str())
        .field("first_name", &old.first_name, new.first_name())
        .field("last_name", &old.last_name, new.last_name())
        .field("organization_name", &old.org_name, new.organization_name())
        .field("tax_id", old_tax, new.tax_id().as_str())
        .field("address1", &old.address1, new.address1())
        .field("address2", &old.address2, new.address2())
        .field("city", &old.city, new.city())
        .field("state", &old.state, new.state().as_str())
        .field("zip", &old.zip, new.zip().as_str())
        .field("phone", &old.phone, new.phone())
        .opt("vendor_id", old.vendor_id.as_deref(), new.vendor_id())
        .opt("office_id", old.office_id.as_deref(), new.office_id())
        .opt("group_provider_id", old.group_provider_id.as_deref(), new.group_provider_id().map(ProviderId::as_str));
    d.0
}

fn practice_diff(old: &PracticeValues, new: &PracticeValues) -> Vec<FieldChange> {
    let mut d = Diff(Vec::new());
    d.field("practice_name", &old.name, &new.name)
        .field("address1", &old.address1, &new.address1)
        .field("address2", &old.address2, &new.address2)
        .field("city", &old.city, &new.city)
        .field("state", &old.state, &new.state)
        .field("zip", &old.zip, &new.zip)
        .field("phone", &old.phone, &new.phone);
    d.0
}

/// The practices of the file with their values: those of the first group or facility line of
/// each Tax ID, or of its first line when it has neither. In order of first appearance.
fn file_practices<'a>(rows: &[&'a RosterRow]) -> Vec<(&'a str, &'a RosterRow)> {
    let mut order: Vec<&str> = Vec::new();
    let mut chosen: HashMap<&str, &RosterRow> = HashMap::new();
    for r in rows {
        let tax = r.tax_id().as_str();
        match chosen.get(tax) {
            None => {
                order.push(tax);
                chosen.insert(tax, r);
            }
            Some(c) if c.kind() == ProviderKind::Practitioner && r.kind() != ProviderKind::Practitioner => {
                chosen.insert(tax, r);
            }
            Some(_) => {}
        }
    }
    order.into_iter().filter_map(|t| chosen.get(t).map(|r| (t, *r))).collect()
}

/// Compares the accepted rows with the roster. Providers on the roster that the file does not
/// list are end-dated, unless `kept` names them (their line was rejected: the roster keeps
/// them as they are). A provider that was end-dated and is listed again is changed back.
pub(crate) fn compare(rows: &[&RosterRow], kept: &HashSet<ProviderId>, roster: &Roster) -> Changes {
    let mut c = Changes::default();
    for (tax, r) in file_practices(rows) {
        let v = practice_values(r);
        match roster.practices.get(tax) {
            None => {
                c.practices_added.push(PracticeChange {
                    tax_id: tax.to_owned(),
                    name: v.name.clone(),
                    changes: vec![],
                });
                c.new_practices.push((tax.to_owned(), v));
            }
            Some(p) => {
                let changes = practice_diff(&p.values, &v);
                if !changes.is_empty() {
                    c.practices_changed.push(PracticeChange { tax_id: tax.to_owned(), name: v.name.clone(), changes });
                    c.practice_updates.push((p.id, v));
                }
            }
        }
    }
    let mut listed: HashSet<&str> = HashSet::with_capacity(rows.len());
    for r in rows {
        let tax = r.tax_id().as_str();
        listed.insert(r.provider_id().as_str());
        match roster.providers.get(r.provider_id().as_str()) {
            None => {
                let v = provider_values(r);
                c.added.push(entry(&v, tax));
                c.new_providers.push((tax.to_owned(), v));
            }
            Some(old) => {
                let mut changes = provider_diff(&old.values, roster.tax_id_of(old), r);
                if old.end_dated_at.is_some() {
                    changes.insert(
                        0,
                        FieldChange { field: "status".into(), old: "end-dated".into(), new: "active".into() },
                    );
                }
                if changes.is_empty() {
                    c.unchanged += 1;
                } else {
                    let v = provider_values(r);
                    c.changed.push(ProviderChange {
                        provider_id: v.provider_id.clone(),
                        name: display_name(&v),
                        changes,
                    });
                    c.provider_updates.push((old.id, tax.to_owned(), v));
                }
            }
        }
    }
    listed.extend(kept.iter().map(ProviderId::as_str));
    let mut gone: Vec<&ProviderRecord> = roster
        .providers
        .values()
        .filter(|p| p.end_dated_at.is_none() && !listed.contains(p.values.provider_id.as_str()))
        .collect();
    gone.sort_unstable_by(|a, b| a.values.provider_id.cmp(&b.values.provider_id));
    for p in gone {
        c.removed.push(entry(&p.values, roster.tax_id_of(p)));
        c.end_dates.push(p.id);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::roster::Header;

    fn row(id: &str, kind: &str, names: [&str; 3], tax: &str, city: &str, group: &str) -> RosterRow {
        let [first, last, org] = names;
        let rec = [
            id,
            "1234567893",
            kind,
            first,
            last,
            org,
            tax,
            "Lakeside Family Medicine",
            "1 Main St",
            "",
            city,
            "WA",
            "98101",
            "",
            "",
            "",
            group,
        ];
        RosterRow::parse(&Header::standard(), &rec).unwrap()
    }

    fn group(id: &str, tax: &str) -> RosterRow {
        row(id, "group", ["", "", "Lakeside Family Medicine"], tax, "Seattle", "")
    }

    fn practitioner(id: &str, tax: &str, city: &str) -> RosterRow {
        row(id, "practitioner", ["Ana", "Ruiz", ""], tax, city, "")
    }

    /// The roster as it would be after applying `rows` (ids numbered from 1), with `end_dated`
    /// provider IDs end-dated.
    fn stored(rows: &[RosterRow], end_dated: &[&str]) -> Roster {
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let practices: Vec<PracticeRecord> = file_practices(&refs)
            .into_iter()
            .enumerate()
            .map(|(i, (tax, r))| PracticeRecord {
                id: i as i64 + 1,
                tax_id: tax.to_owned(),
                values: practice_values(r),
            })
            .collect();
        let providers = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ProviderRecord {
                id: i as i64 + 1,
                practice_id: practices.iter().find(|p| p.tax_id == r.tax_id().as_str()).map(|p| p.id).unwrap(),
                values: provider_values(r),
                end_dated_at: end_dated.contains(&r.provider_id().as_str()).then_some(1),
            })
            .collect();
        Roster::new(practices, providers)
    }

    #[test]
    fn a_first_import_adds_everything() {
        let rows = [group("G1", "111111111"), practitioner("P1", "111111111", "Seattle")];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let c = compare(&refs, &HashSet::new(), &Roster::default());
        assert_eq!((c.new_practices.len(), c.new_providers.len(), c.added.len()), (1, 2, 2));
        assert_eq!(c.added[1].name, "Ruiz, Ana");
        assert_eq!(c.writes(), 3);
    }

    #[test]
    fn the_same_rows_again_change_nothing() {
        let rows = [group("G1", "111111111"), practitioner("P1", "111111111", "Seattle")];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let c = compare(&refs, &HashSet::new(), &stored(&rows, &[]));
        assert_eq!((c.writes(), c.unchanged), (0, 2));
    }

    #[test]
    fn changes_are_reported_old_to_new_and_missing_providers_end_dated() {
        let before = [
            group("G1", "111111111"),
            practitioner("P1", "111111111", "Seattle"),
            practitioner("P2", "111111111", "Seattle"),
        ];
        let after = [group("G1", "111111111"), practitioner("P1", "222222222", "Tacoma")];
        let refs: Vec<&RosterRow> = after.iter().collect();
        let c = compare(&refs, &HashSet::new(), &stored(&before, &[]));
        assert_eq!(c.changed.len(), 1);
        let fields: Vec<(&str, &str, &str)> =
            c.changed[0].changes.iter().map(|f| (f.field.as_str(), f.old.as_str(), f.new.as_str())).collect();
        assert_eq!(fields, vec![("tax_id", "111111111", "222222222"), ("city", "Seattle", "Tacoma")]);
        assert_eq!(c.new_practices.len(), 1, "the new Tax ID is a new practice");
        assert_eq!(c.removed.iter().map(|e| e.provider_id.as_str()).collect::<Vec<_>>(), vec!["P2"]);
        assert_eq!(c.end_dates, vec![3]);
        assert_eq!(c.unchanged, 1);
    }

    #[test]
    fn kept_providers_are_not_end_dated_and_end_dated_ones_stay_so() {
        let before = [
            practitioner("P1", "111111111", "Seattle"),
            practitioner("P2", "111111111", "Seattle"),
            practitioner("P3", "111111111", "Seattle"),
        ];
        let after = [practitioner("P1", "111111111", "Seattle")];
        let refs: Vec<&RosterRow> = after.iter().collect();
        let kept: HashSet<ProviderId> = [ProviderId::parse("P2").unwrap()].into();
        let c = compare(&refs, &kept, &stored(&before, &["P3"]));
        assert_eq!(c.writes(), 0);
    }

    #[test]
    fn a_provider_listed_again_is_reinstated() {
        let rows = [practitioner("P1", "111111111", "Seattle")];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let c = compare(&refs, &HashSet::new(), &stored(&rows, &["P1"]));
        assert_eq!(c.provider_updates.len(), 1);
        assert_eq!(
            c.changed[0].changes[0],
            FieldChange { field: "status".into(), old: "end-dated".into(), new: "active".into() }
        );
    }

    #[test]
    fn a_practice_takes_its_group_line_and_reports_its_changes() {
        let mut solo = practitioner("P1", "111111111", "Spokane");
        let g = group("G1", "111111111");
        let rows = [solo.clone(), g.clone()];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        assert_eq!(file_practices(&refs)[0].1.provider_id().as_str(), "G1");
        solo = row("P1", "practitioner", ["Ana", "Ruiz", ""], "111111111", "Spokane", "");
        let before = stored(&[solo], &[]);
        let c = compare(&refs, &HashSet::new(), &before);
        assert_eq!(c.practices_changed.len(), 1);
        assert_eq!(
            c.practices_changed[0].changes[0],
            FieldChange { field: "city".into(), old: "Spokane".into(), new: "Seattle".into() }
        );
    }

    #[test]
    fn roster_entries_skip_end_dated_providers() {
        let rows = [group("G1", "111111111"), group("G2", "111111111")];
        let r = stored(&rows, &["G2"]);
        let e = r.entry(&ProviderId::parse("G1").unwrap()).unwrap();
        assert_eq!((e.kind, e.tax_id.as_str()), (ProviderKind::Group, "111111111"));
        assert_eq!(r.entry(&ProviderId::parse("G2").unwrap()), None);
        assert_eq!(r.practice_id("111111111"), Some(1));
    }
}
