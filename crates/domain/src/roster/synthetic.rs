//! Synthetic provider rosters for demos, tests and benchmarks: realistic-looking and valid
//! (Tax IDs, NPIs with their check digit, USPS states, ZIP codes of the right city), and the same
//! for the same seed on every machine (a SplitMix64 generator of our own, no external crate).

mod data;

use super::columns::Column;
use crate::npi::Npi;
use data::{CITIES, FACILITIES, FIRST_NAMES, GROUP_SUFFIXES, LAST_NAMES, PLACES, SPECIALTIES, STREETS};

/// The same sequence for the same seed, everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// A practice's shared values.
struct Practice {
    tax_id: String,
    name: String,
    address1: String,
    address2: String,
    city: &'static str,
    state: &'static str,
    zip: String,
    phone: String,
    vendor_id: String,
    office_id: String,
}

/// One provider line.
struct Line<'a> {
    provider_id: String,
    npi: Npi,
    kind: &'static str,
    first: &'static str,
    last: &'static str,
    org: String,
    group: &'a str,
}

/// Writes rosters: numbering is kept here so IDs, NPIs and Tax IDs are unique in a file.
struct Generator {
    rng: Rng,
    out: String,
    providers: u64,
    practices: u64,
    id_base: u64,
    npi_offset: u64,
    tax_offset: u64,
}

impl Generator {
    fn practice(&mut self, name: String) -> Practice {
        // An affine map with a multiplier coprime to the modulus: distinct practices get
        // distinct 9-digit Tax IDs without a leading zero.
        let tax = 100_000_000 + (self.practices * 282_475_249 + self.tax_offset) % 900_000_000;
        self.practices += 1;
        let c = self.rng.pick(CITIES);
        let zip = c.2 + self.rng.below(u64::from(c.3 - c.2 + 1)) as u32;
        let zip =
            if self.rng.percent(30) { format!("{zip:05}-{:04}", self.rng.below(10_000)) } else { format!("{zip:05}") };
        Practice {
            tax_id: tax.to_string(),
            name,
            address1: format!("{} {}", 1 + self.rng.below(9_999), self.rng.pick(STREETS)),
            address2: if self.rng.percent(40) { format!("Ste {}", 100 + self.rng.below(900)) } else { String::new() },
            city: c.0,
            state: c.1,
            zip,
            phone: format!("({}) 555-01{:02}", c.4, self.rng.below(100)),
            vendor_id: if self.rng.percent(60) { format!("V{:07}", self.rng.below(10_000_000)) } else { String::new() },
            office_id: if self.rng.percent(50) { format!("OF{:05}", self.rng.below(100_000)) } else { String::new() },
        }
    }

    fn next_ids(&mut self, prefix: char) -> (String, Npi) {
        let n = self.providers;
        self.providers += 1;
        // Distinct NPIs: 8 digits from an affine map (multiplier coprime to 10) and a leading 1 or 2.
        let body = (n * 48_271 + self.npi_offset) % 100_000_000;
        let mut nine = [0u8; 9];
        nine[0] = 1 + ((n / 100_000_000) % 2) as u8;
        for (i, d) in nine[1..].iter_mut().enumerate() {
            *d = ((body / 10u64.pow(7 - i as u32)) % 10) as u8;
        }
        (format!("{prefix}{}", self.id_base + n), Npi::from_first_nine(&nine))
    }

    fn person(&mut self) -> (&'static str, &'static str) {
        (self.rng.pick(FIRST_NAMES), self.rng.pick(LAST_NAMES))
    }

    fn write(&mut self, p: &Practice, l: &Line<'_>) {
        let values: [&str; 17] = [
            &l.provider_id,
            l.npi.as_str(),
            l.kind,
            l.first,
            l.last,
            &l.org,
            &p.tax_id,
            &p.name,
            &p.address1,
            &p.address2,
            p.city,
            p.state,
            &p.zip,
            &p.phone,
            &p.vendor_id,
            &p.office_id,
            l.group,
        ];
        write_record(&mut self.out, &values);
    }

    fn solo(&mut self) {
        let (first, last) = self.person();
        let name = format!("{last} {}", self.rng.pick(SPECIALTIES));
        let p = self.practice(name);
        let (provider_id, npi) = self.next_ids('P');
        self.write(&p, &Line { provider_id, npi, kind: "practitioner", first, last, org: String::new(), group: "" });
    }

    fn group(&mut self, size: usize) {
        let name = match self.rng.below(4) {
            0 => format!("{} {}", self.rng.pick(PLACES), self.rng.pick(SPECIALTIES)),
            1 => format!("{} {} {}", self.rng.pick(PLACES), self.rng.pick(SPECIALTIES), self.rng.pick(GROUP_SUFFIXES)),
            2 => {
                format!("{} & {} {}", self.rng.pick(LAST_NAMES), self.rng.pick(LAST_NAMES), self.rng.pick(SPECIALTIES))
            }
            _ => format!("{}, {} & Associates", self.rng.pick(LAST_NAMES), self.rng.pick(LAST_NAMES)),
        };
        let p = self.practice(name.clone());
        let (group_id, npi) = self.next_ids('G');
        self.write(
            &p,
            &Line { provider_id: group_id.clone(), npi, kind: "group", first: "", last: "", org: name, group: "" },
        );
        for _ in 1..size {
            let (first, last) = self.person();
            let (provider_id, npi) = self.next_ids('P');
            let line =
                Line { provider_id, npi, kind: "practitioner", first, last, org: String::new(), group: &group_id };
            self.write(&p, &line);
        }
    }

    fn facility(&mut self, size: usize) {
        let place = self.rng.pick(PLACES);
        let name = format!("{place} {}", self.rng.pick(FACILITIES));
        let p = self.practice(name.clone());
        for i in 0..size {
            let org = if i == 0 { name.clone() } else { format!("{place} {}", self.rng.pick(FACILITIES)) };
            let (provider_id, npi) = self.next_ids('F');
            self.write(&p, &Line { provider_id, npi, kind: "facility", first: "", last: "", org, group: "" });
        }
    }
}

/// Appends one CSV record, quoting values that hold a comma, a quote or a line break.
fn write_record(out: &mut String, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if v.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&v.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(v);
        }
    }
    out.push('\n');
}

/// A roster file of exactly `providers` provider lines (plus the header), the same for the same
/// seed: practices of 1–40 providers, each with its own Tax ID; most are group practices (a
/// group line and practitioners billing under it), some solo practitioners, some facilities.
pub fn synthetic_roster_csv(providers: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut g = Generator {
        id_base: 10_000_000 + rng.below(40_000_000),
        npi_offset: rng.below(100_000_000),
        tax_offset: rng.below(900_000_000),
        rng,
        out: String::with_capacity(providers * 160 + 256),
        providers: 0,
        practices: 0,
    };
    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
    write_record(&mut g.out, &names);
    let total = providers as u64;
    while g.providers < total {
        let left = (total - g.providers) as usize;
        match g.rng.below(100) {
            0..12 => g.solo(),
            12..90 if left >= 2 => {
                // Skewed towards small practices: 2 to 40 providers, most under 15.
                let size = 2 + (g.rng.below(39) * g.rng.below(39) / 38) as usize;
                g.group(size.min(left));
            }
            90.. => {
                let size = 1 + g.rng.below(3) as usize;
                g.facility(size.min(left));
            }
            _ => g.solo(),
        }
    }
    g.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::check::{ParsedLine, check_lines};
    use crate::roster::columns::Header;
    use crate::roster::{ProviderKind, RosterRow};
    use std::collections::{HashMap, HashSet};

    fn rows(csv: &str) -> Vec<RosterRow> {
        // The generator quotes only names with commas and never breaks a line inside a value.
        let mut it = csv.lines();
        let names = split(it.next().unwrap());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let h = Header::parse(&names).unwrap();
        it.map(|l| {
            let rec = split(l);
            let rec: Vec<&str> = rec.iter().map(String::as_str).collect();
            RosterRow::parse(&h, &rec).unwrap_or_else(|e| panic!("{l}: {e}"))
        })
        .collect()
    }

    fn split(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    #[test]
    fn same_seed_same_file_other_seed_other_file() {
        assert_eq!(synthetic_roster_csv(300, 7), synthetic_roster_csv(300, 7));
        assert_ne!(synthetic_roster_csv(300, 7), synthetic_roster_csv(300, 8));
    }

    #[test]
    fn exactly_the_providers_asked_for_all_valid() {
        for n in [0, 1, 2, 3, 41, 2_000] {
            assert_eq!(rows(&synthetic_roster_csv(n, 42)).len(), n, "{n}");
        }
    }

    #[test]
    fn practices_groups_and_practitioners_hold_together() {
        let rows = rows(&synthetic_roster_csv(5_000, 1));
        let ids: HashSet<&str> = rows.iter().map(|r| r.provider_id().as_str()).collect();
        assert_eq!(ids.len(), rows.len(), "provider IDs are unique");
        let npis: HashSet<&str> = rows.iter().map(|r| r.npi().as_str()).collect();
        assert_eq!(npis.len(), rows.len(), "NPIs are unique");
        let mut sizes: HashMap<&str, usize> = HashMap::new();
        for r in &rows {
            *sizes.entry(r.tax_id().as_str()).or_default() += 1;
        }
        assert!(sizes.values().all(|&s| (1..=40).contains(&s)), "practices of 1 to 40");
        assert!(sizes.values().any(|&s| s >= 20), "some large practices");
        for k in [ProviderKind::Practitioner, ProviderKind::Group, ProviderKind::Facility] {
            assert!(rows.iter().any(|r| r.kind() == k), "{k:?}");
        }
        assert!(rows.iter().any(|r| r.organization_name().contains(',')), "a name that needs quoting");
        let mut lines: Vec<ParsedLine> = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| ParsedLine { line: i as u64 + 2, provider_id_text: None, row: Ok(r) })
            .collect();
        check_lines(&mut lines, |_| None);
        let bad: Vec<_> = lines.iter().filter_map(|l| l.row.as_ref().err()).collect();
        assert!(bad.is_empty(), "{bad:?}");
    }
}
