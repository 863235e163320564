//! Importing a legacy system's accounts with their old password hashes (CSV, one line per
//! affiliation, or JSON lines, one account per line). Idempotent: an account imported before is
//! left as it is (only affiliations it lacks are added); an account whose line refers to an
//! unknown Tax ID, provider or user type, or whose hash cannot be read, is reported and not
//! imported. Hashes are copied, never recomputed. At first sign-in the old password is verified
//! against the old hash and replaced (see [`crate::signin`] and `set_first_password`).

use crate::audit;
use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::legacy::{LegacyHash, SaltPosition};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{Email, PersonName, UserId, Username};
/// One practice's line of the migration report.
pub use gatehouse_store::legacy::PracticeMigration;
use gatehouse_store::legacy::{self as store, NewLegacyUser};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use thiserror::Error;

/// Rejections listed in a report at most (the count is always exact).
pub const MAX_LISTED: usize = 10_000;

/// Why an import could not run at all.
#[derive(Debug, Error)]
pub enum LegacyImportError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("The file is empty or not UTF-8 CSV / JSON lines.")]
    Unreadable,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for LegacyImportError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LegacyRejection {
    /// 1-based line of the file.
    pub line: usize,
    pub username: String,
    pub reasons: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LegacyImportReport {
    /// Accounts read from the file.
    pub accounts: usize,
    /// New accounts created.
    pub imported: usize,
    /// Accounts imported before, left as they were.
    pub unchanged: usize,
    /// Affiliations added (to new or earlier imported accounts).
    pub affiliations_added: usize,
    pub rejected_count: usize,
    pub rejected: Vec<LegacyRejection>,
    /// Tax IDs that now have active users but no active administrator: the help desk or a plan
    /// administrator should make one (the portal's rule is that every such Tax ID has one).
    pub practices_without_admin: Vec<String>,
}

/// One Tax ID affiliation of an imported account.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyAffiliation {
    pub tax_id: String,
    pub user_type: String,
    /// `all`, or provider IDs / NPIs.
    #[serde(default)]
    pub providers: ProviderScope,
    #[serde(default)]
    pub administrator: bool,
}

/// Which providers an affiliation covers.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(untagged)]
pub enum ProviderScope {
    /// `"all"` (or absent).
    #[default]
    All,
    /// A word such as `all`.
    Word(String),
    /// Provider IDs or NPIs.
    List(Vec<String>),
}

/// One account of the legacy system (one JSON line).
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyAccount {
    pub username: String,
    pub first_name: String,
    #[serde(default)]
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
    /// Kept as the account's mobile phone. Not trusted for two-step: the user sets up and
    /// verifies a phone at first sign-in.
    #[serde(default)]
    pub phone: String,
    /// `active` (or `locked`) or `deactivated` (or `inactive`, `disabled`).
    #[serde(default)]
    pub status: String,
    pub hash_format: String,
    pub hash: String,
    #[serde(default)]
    pub salt: String,
    #[serde(default)]
    pub iterations: Option<u32>,
    #[serde(default)]
    pub salt_position: Option<String>,
    #[serde(default)]
    pub affiliations: Vec<LegacyAffiliation>,
}

fn yes(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "y" | "yes" | "true" | "1" | "x")
}

/// Accounts read from a file, each with its (first) line, and the lines that could not be read.
pub type ParsedFile = (Vec<(usize, LegacyAccount)>, Vec<LegacyRejection>);

/// Reads CSV (one line per affiliation; lines of one username are merged) or JSON lines.
pub fn parse_file(text: &str) -> Result<ParsedFile, LegacyImportError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(LegacyImportError::Unreadable);
    }
    let mut bad = Vec::new();
    let mut out: Vec<(usize, LegacyAccount)> = Vec::new();
    if text.trim_start().starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LegacyAccount>(line) {
                Ok(a) => out.push((i + 1, a)),
                Err(e) => {
                    bad.push(LegacyRejection { line: i + 1, username: String::new(), reasons: vec![e.to_string()] })
                }
            }
        }
        return Ok((out, bad));
    }
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|_| LegacyImportError::Unreadable)?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let cols: HashMap<&str, Option<usize>> = [
        "username",
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "phone",
        "status",
        "tax_id",
        "user_type",
        "providers",
        "administrator",
        "hash_format",
        "hash",
        "salt",
        "iterations",
        "salt_position",
    ]
    .into_iter()
    .map(|n| (n, col(n)))
    .collect();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let Ok(rec) = rec else {
            bad.push(LegacyRejection { line, username: String::new(), reasons: vec!["not valid CSV".into()] });
            continue;
        };
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |n: &str| cols.get(n).copied().flatten().and_then(|c| rec.get(c)).unwrap_or("").trim().to_owned();
        let username = get("username");
        let affiliation = (!get("tax_id").is_empty()).then(|| LegacyAffiliation {
            tax_id: get("tax_id"),
            user_type: get("user_type"),
            providers: ProviderScope::Word(get("providers")),
            administrator: yes(&get("administrator")),
        });
        if let Some(&at) = index.get(&username.to_lowercase()) {
            if let (Some(a), Some((_, acc))) = (affiliation, out.get_mut(at)) {
                acc.affiliations.push(a);
            }
            continue;
        }
        let iterations = get("iterations");
        let position = get("salt_position");
        index.insert(username.to_lowercase(), out.len());
        out.push((
            line,
            LegacyAccount {
                username,
                first_name: get("first_name"),
                middle_name: get("middle_name"),
                last_name: get("last_name"),
                email: get("email"),
                phone: get("phone"),
                status: get("status"),
                hash_format: get("hash_format"),
                hash: get("hash"),
                salt: get("salt"),
                iterations: iterations.parse().ok(),
                salt_position: (!position.is_empty()).then_some(position),
                affiliations: affiliation.into_iter().collect(),
            },
        ));
    }
    Ok((out, bad))
}

/// An account checked against the plan, ready to store.
struct Checked {
    username: String,
    first: String,
    middle: String,
    last: String,
    email: String,
    /// E.164, or "".
    phone: String,
    status: &'static str,
    hash: String,
    /// (practice id, user type key, administrator, provider row ids or `None` for all).
    affiliations: Vec<(i64, String, bool, Option<Vec<i64>>)>,
}

/// Imports of at least this many accounts tidy the search indexes afterwards.
const BULK_LOAD: usize = 1_000;

impl Services {
    /// Imports legacy accounts from `text` (CSV or JSON lines). Plan administrators only (the
    /// roster-import permission). Audited with the counts.
    pub async fn import_legacy_users(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        text: &str,
        meta: &RequestMeta,
    ) -> Result<LegacyImportReport, LegacyImportError> {
        grant.require(plan.id(), StaffPermission::RosterImport)?;
        let (accounts, mut rejected) = parse_file(text)?;
        let types: HashSet<String> =
            self.list_user_types(plan).await?.into_iter().map(|t| t.key.as_str().to_owned()).collect();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let existing = store::accounts(&mut tx, plan.id()).await?;
        let by_name: HashMap<&str, &store::ExistingAccount> =
            existing.iter().filter_map(|a| a.username_lower.as_deref().map(|n| (n, a))).collect();
        let mut email_owners: HashMap<&str, Vec<UserId>> = HashMap::new();
        for a in &existing {
            email_owners.entry(a.email_lower.as_str()).or_default().push(a.id);
        }
        let held_by_migrated: HashSet<(UserId, i64)> =
            store::migrated_affiliations(&mut tx, plan.id()).await?.into_iter().collect();
        let (practices, providers) = store::roster_keys(&mut tx, plan.id()).await?;
        let practice_of: HashMap<&str, i64> = practices.iter().map(|(id, t)| (t.as_str(), *id)).collect();
        let tax_by_id: HashMap<i64, &str> = practices.iter().map(|(id, t)| (*id, t.as_str())).collect();
        let mut provider_of: HashMap<(i64, String), i64> = HashMap::new();
        for (id, practice, pid, npi) in &providers {
            provider_of.insert((*practice, pid.to_uppercase()), *id);
            provider_of.insert((*practice, npi.clone()), *id);
        }
        let mut report =
            LegacyImportReport { accounts: accounts.len(), rejected_count: rejected.len(), ..Default::default() };
        let mut new_accounts = Vec::new();
        let mut old_accounts = Vec::new();
        let mut seen = HashSet::new();
        // An email is never another person's username: checked against the plan's accounts and
        // the file's other lines, both ways.
        let mut file_emails: HashMap<String, usize> = HashMap::new();
        let mut file_names: HashMap<String, usize> = HashMap::new();
        for (line, a) in &accounts {
            file_emails.entry(a.email.trim().to_lowercase()).or_insert(*line);
            file_names.entry(a.username.trim().to_lowercase()).or_insert(*line);
        }
        for (line, a) in accounts {
            let mut reasons = Vec::new();
            let username = match Username::parse(&a.username) {
                Ok(u) => Some(u),
                Err(e) => {
                    reasons.push(format!("username: {e}"));
                    None
                }
            };
            let lower = a.username.trim().to_lowercase();
            if !seen.insert(lower.clone()) {
                reasons.push("username: on an earlier line with other details".into());
            }
            if let Err(e) = PersonName::parse(&a.first_name, &a.last_name) {
                reasons.push(format!("name: {e}"));
            }
            let email = match Email::parse(&a.email) {
                Ok(e) => e.as_str().to_owned(),
                Err(e) => {
                    reasons.push(format!("email: {e}"));
                    String::new()
                }
            };
            let own = by_name.get(lower.as_str()).map(|acc| acc.id);
            if email_owners.get(lower.as_str()).is_some_and(|ids| ids.iter().any(|id| Some(*id) != own)) {
                reasons.push("username: equals another account's email address".into());
            }
            if let Some(other) = file_emails.get(&lower).filter(|l| **l != line) {
                reasons.push(format!("username: equals the email address on line {other}"));
            }
            let email_lower = email.to_lowercase();
            if by_name.get(email_lower.as_str()).is_some_and(|acc| Some(acc.id) != own) {
                reasons.push("email: is another account's username".into());
            }
            if let Some(other) = file_names.get(&email_lower).filter(|l| **l != line) {
                reasons.push(format!("email: is the username on line {other}"));
            }
            let phone = if a.phone.trim().is_empty() {
                String::new()
            } else {
                match gatehouse_domain::PhoneNumber::parse("1", &a.phone) {
                    Ok(p) => p.e164().to_owned(),
                    Err(e) => {
                        reasons.push(format!("phone: {e}"));
                        String::new()
                    }
                }
            };
            let status = match a.status.trim().to_ascii_lowercase().as_str() {
                "" | "active" | "locked" => "active",
                "deactivated" | "inactive" | "disabled" => "deactivated",
                other => {
                    reasons.push(format!("status: {other:?} is not active, locked or deactivated"));
                    "active"
                }
            };
            let position = a.salt_position.as_deref().and_then(SaltPosition::parse);
            let hash = match LegacyHash::from_parts(&a.hash_format, &a.hash, &a.salt, a.iterations, position) {
                Ok(h) => h.to_stored(),
                Err(e) => {
                    reasons.push(format!("password hash: {e}"));
                    String::new()
                }
            };
            let mut affs = Vec::new();
            for af in &a.affiliations {
                let Some(&practice) = practice_of.get(af.tax_id.trim()) else {
                    reasons.push(format!("tax_id: {} is not a practice on the roster", af.tax_id.trim()));
                    continue;
                };
                let kind = af.user_type.trim().to_ascii_lowercase().replace([' ', '-'], "_");
                if !types.contains(&kind) {
                    reasons.push(format!("user_type: {:?} is not a user type of this plan", af.user_type));
                }
                let list: Vec<String> = match &af.providers {
                    ProviderScope::All => Vec::new(),
                    ProviderScope::Word(w) if w.trim().is_empty() || w.trim().eq_ignore_ascii_case("all") => Vec::new(),
                    ProviderScope::Word(w) => {
                        w.split([';', '|']).map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
                    }
                    ProviderScope::List(l) => l.clone(),
                };
                let scope = if list.is_empty() {
                    None
                } else {
                    let mut ids = Vec::new();
                    for p in list {
                        match provider_of.get(&(practice, p.to_uppercase())) {
                            Some(id) => ids.push(*id),
                            None => reasons.push(format!(
                                "providers: {p} is not a current provider of Tax ID {}",
                                af.tax_id.trim()
                            )),
                        }
                    }
                    Some(ids)
                };
                affs.push((practice, kind, af.administrator, scope));
            }
            // A line joins only the account an earlier import made of it, as that import left it:
            // an account renamed since (to this name, by its practice administrator, say) or given
            // another email is not taken to be this line's person.
            match by_name.get(lower.as_str()) {
                Some(acc) if acc.imported_as.is_none() => {
                    reasons.push("username: already used by an account of this portal".into());
                }
                Some(acc) if acc.imported_as.as_deref() != Some(lower.as_str()) || acc.email_lower != email_lower => {
                    reasons.push(
                        "username: its account's username or email was changed after it was imported; \
                         add its practices in the control panel instead"
                            .into(),
                    );
                }
                // Its person signs in here now: the account is theirs, and a practice is added
                // by an offer they accept, not by a file.
                Some(acc) if acc.migrated => {
                    let missing: Vec<&str> = affs
                        .iter()
                        .filter(|(practice, ..)| !held_by_migrated.contains(&(acc.id, *practice)))
                        .filter_map(|(practice, ..)| tax_by_id.get(practice).copied())
                        .collect();
                    if !missing.is_empty() {
                        reasons.push(format!(
                            "tax_id: this person has signed in to the new portal since the account was imported; \
                             add Tax ID {} from the practice's administration instead (they accept the offer)",
                            missing.join(", ")
                        ));
                    }
                }
                _ => {}
            }
            if !reasons.is_empty() || username.is_none() {
                report.rejected_count += 1;
                if rejected.len() < MAX_LISTED {
                    rejected.push(LegacyRejection { line, username: a.username.chars().take(64).collect(), reasons });
                }
                continue;
            }
            let checked = Checked {
                username: username.map(|u| u.as_str().to_owned()).unwrap_or_default(),
                first: a.first_name.trim().to_owned(),
                middle: a.middle_name.trim().to_owned(),
                last: a.last_name.trim().to_owned(),
                email,
                phone,
                status,
                hash,
                affiliations: affs,
            };
            match by_name.get(lower.as_str()) {
                Some(acc) => old_accounts.push((acc.id, checked)),
                None => new_accounts.push(checked),
            }
        }
        let rows: Vec<NewLegacyUser<'_>> = new_accounts
            .iter()
            .map(|c| NewLegacyUser {
                username: &c.username,
                first_name: &c.first,
                middle_name: &c.middle,
                last_name: &c.last,
                email: &c.email,
                mobile_phone: &c.phone,
                status: c.status,
                legacy_hash: &c.hash,
            })
            .collect();
        let ids: HashMap<String, gatehouse_domain::UserId> =
            store::insert_users(&mut tx, plan.id(), &rows, now).await?.into_iter().collect();
        report.imported = ids.len();
        report.unchanged = old_accounts.len();
        let mut affs = Vec::new();
        let mut scopes: HashMap<(gatehouse_domain::UserId, i64), Vec<i64>> = HashMap::new();
        let all = new_accounts
            .iter()
            .filter_map(|c| ids.get(&c.username.to_lowercase()).map(|id| (*id, c)))
            .chain(old_accounts.iter().map(|(id, c)| (*id, c)));
        for (user, c) in all {
            for (practice, kind, admin, scope) in &c.affiliations {
                affs.push((user, *practice, kind.clone(), *admin, scope.is_none()));
                if let Some(s) = scope {
                    scopes.insert((user, *practice), s.clone());
                }
            }
        }
        let added = store::insert_affiliations(&mut tx, plan.id(), &affs, now).await?;
        report.affiliations_added = added.len();
        for (user, practice, id) in added {
            if let Some(s) = scopes.get(&(user, practice)) {
                gatehouse_store::affiliations::set_scope(&mut tx, id, false, s).await?;
            }
        }
        report.rejected = rejected;
        let touched: HashSet<i64> = affs.iter().map(|a| a.1).collect();
        for practice in touched {
            if !crate::affiliations::has_active_admin_or_no_users(&mut tx, practice).await? {
                report.practices_without_admin.extend(tax_by_id.get(&practice).map(|t| (*t).to_owned()));
            }
        }
        report.practices_without_admin.sort();
        let e = grant.event("legacy.users_imported").detail(json!({
            "accounts": report.accounts,
            "imported": report.imported,
            "unchanged": report.unchanged,
            "affiliations_added": report.affiliations_added,
            "rejected": report.rejected_count,
            "practices_without_admin": report.practices_without_admin,
        }));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        if report.imported >= BULK_LOAD {
            // Rows written one by one leave the search index fragmented; tidy it once now.
            let mut conn = self.db.acquire().await?;
            gatehouse_store::search::after_bulk_load(&mut conn).await?;
        }
        Ok(report)
    }

    /// The migration report for plan staff: imported and migrated accounts, in total and per
    /// practice (pending = imported − migrated).
    pub async fn legacy_migration_report(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
    ) -> Result<(i64, i64, Vec<store::PracticeMigration>), LegacyImportError> {
        grant.require(plan.id(), StaffPermission::UserSearch)?;
        let mut conn = self.db.acquire().await?;
        Ok(store::report(&mut conn, plan.id()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_of_one_username_merge() {
        let text = "Username,First Name,Last Name,Email,Tax ID,User Type,Providers,Administrator,Hash Format,Hash\n\
                    ann,Ann,Lee,ann@x.example,123456789,office_manager,all,yes,bcrypt,$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i\n\
                    ANN,Ann,Lee,ann@x.example,987654321,billing_staff,P1;P2,no,bcrypt,x\n\
                    ,,,,,,,,,\n";
        let (accounts, bad) = parse_file(text).unwrap();
        assert!(bad.is_empty());
        assert_eq!(accounts.len(), 1);
        let a = &accounts[0].1;
        assert_eq!(a.affiliations.len(), 2);
        assert!(a.affiliations[0].administrator && !a.affiliations[1].administrator);
        assert!(matches!(&a.affiliations[1].providers, ProviderScope::Word(w) if w == "P1;P2"));
    }

    #[test]
    fn json_lines_and_bad_lines() {
        let text = "{\"username\":\"bo\",\"first_name\":\"Bo\",\"last_name\":\"Ng\",\"email\":\"bo@x.example\",\"hash_format\":\"sha1\",\"hash\":\"a9993e364706816aba3e25717850c26c9cd0d89d\",\"salt\":\"a\",\"salt_position\":\"prefix\",\"affiliations\":[{\"tax_id\":\"123456789\",\"user_type\":\"clinical_staff\",\"providers\":[\"P1\"]}]}\n{not json}\n";
        let (accounts, bad) = parse_file(text).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        assert!(matches!(&accounts[0].1.affiliations[0].providers, ProviderScope::List(l) if l == &["P1"]));
        assert!(parse_file("  ").is_err());
    }
}
