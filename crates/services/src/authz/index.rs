//! The permission index of one plan, in memory: users and their affiliations, and the lookups
//! from provider ID, NPI and Tax ID to the roster's rows. Built from [`IndexRows`]; answering a
//! check is a few hash lookups and, for a listed scope, a binary search. No I/O.

use gatehouse_domain::permissions::{Permission, PermissionSet};
use gatehouse_store::access_index::{IndexAffiliation, IndexRows};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for integer keys (ids, NPIs, Tax IDs): one multiply. The keys come from our own
/// database, so nobody can choose them to collide.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// A Tax ID held as a number (nine digits fit in a `u32`); shown with its leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxIdCode(pub u32);

impl TaxIdCode {
    /// Parses nine ASCII digits.
    pub fn parse(s: &str) -> Option<TaxIdCode> {
        (s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok().map(TaxIdCode)).flatten()
    }
}

impl std::fmt::Display for TaxIdCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

/// Parses a ten-digit NPI into a number.
fn npi_code(s: &str) -> Option<u64> {
    (s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Which providers of its practice an affiliation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every provider of the practice, present and future.
    All,
    /// These provider rows (`providers.id`), sorted.
    Listed(Box<[i64]>),
}

/// One affiliation in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedAffiliation {
    pub id: i64,
    pub practice_id: i64,
    /// The user type's permissions, plus `users.manage` for the practice's administrators.
    pub permissions: PermissionSet,
    pub scope: Scope,
}

#[derive(Debug, Clone, Default)]
struct UserEntry {
    active: bool,
    username_lower: Option<Box<str>>,
    affiliations: Vec<IndexedAffiliation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProviderRef {
    row_id: i64,
    practice_id: i64,
    end_dated: bool,
}

/// Who a check is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// By user id.
    Id(i64),
    /// By username, in lower case (see [`Who::username`]).
    Username(String),
}

impl Who {
    /// A username as typed (usernames are unique without regard to case).
    pub fn username(name: &str) -> Who {
        Who::Username(name.to_lowercase())
    }
}

/// What a check is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A provider by provider ID (capitals, as the roster keeps them).
    ProviderId(String),
    /// Any provider with this NPI (an NPI may be billed under several Tax IDs).
    Npi(String),
    /// A practice by Tax ID (nine digits).
    TaxId(String),
}

/// One question: may `who` do `permission` for `target`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub who: Who,
    pub permission: Permission,
    pub target: Target,
}

/// Why a check was refused. The codes are stable: the API sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DenyReason {
    /// No user of the plan with that id or username holds any affiliation.
    UnknownUser,
    /// The user is invited (not signed up) or deactivated.
    UserNotActive,
    /// No provider of the plan has that provider ID.
    UnknownProvider,
    /// No provider of the plan has that NPI.
    UnknownNpi,
    /// No practice of the plan has that Tax ID.
    UnknownTaxId,
    /// The user is not affiliated with the practice.
    NotAffiliated,
    /// The provider has been end-dated (the roster no longer lists it).
    ProviderEndDated,
    /// The affiliation lists providers and this one is not among them.
    ProviderNotInScope,
    /// The affiliation's user type does not grant the permission.
    PermissionNotGranted,
}

impl DenyReason {
    /// Every reason (the API documents their codes).
    pub const ALL: [DenyReason; 9] = [
        Self::UnknownUser,
        Self::UserNotActive,
        Self::UnknownProvider,
        Self::UnknownNpi,
        Self::UnknownTaxId,
        Self::NotAffiliated,
        Self::ProviderEndDated,
        Self::ProviderNotInScope,
        Self::PermissionNotGranted,
    ];

    /// The stable code, e.g. `permission_not_granted`.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::UserNotActive => "user_not_active",
            Self::UnknownProvider => "unknown_provider",
            Self::UnknownNpi => "unknown_npi",
            Self::UnknownTaxId => "unknown_tax_id",
            Self::NotAffiliated => "not_affiliated",
            Self::ProviderEndDated => "provider_end_dated",
            Self::ProviderNotInScope => "provider_not_in_scope",
            Self::PermissionNotGranted => "permission_not_granted",
        }
    }
}

/// An allowed check: the affiliation that allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub affiliation_id: i64,
    pub tax_id: TaxIdCode,
    pub all_providers: bool,
}

/// The answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow(Allowed),
    Deny(DenyReason),
}

impl Decision {
    /// Whether the check was allowed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// The permission index of one plan.
#[derive(Debug, Clone, Default)]
pub struct PlanIndex {
    users: IntMap<i64, UserEntry>,
    usernames: HashMap<Box<str>, i64>,
    providers: HashMap<Box<str>, ProviderRef>,
    npis: IntMap<u64, Box<[ProviderRef]>>,
    tax_ids: IntMap<u32, i64>,
    practice_tax_ids: IntMap<i64, TaxIdCode>,
    types: HashMap<Box<str>, PermissionSet>,
}

impl PlanIndex {
    /// Builds the index from a plan's rows and its user types (key → permissions). An
    /// affiliation whose user type is unknown gets no permission from it.
    pub fn build(rows: IndexRows, types: impl IntoIterator<Item = (String, PermissionSet)>) -> PlanIndex {
        let mut ix = PlanIndex {
            types: types.into_iter().map(|(k, v)| (k.into_boxed_str(), v)).collect(),
            ..PlanIndex::default()
        };
        ix.providers.reserve(rows.providers.len());
        let mut by_npi: IntMap<u64, Vec<ProviderRef>> = IntMap::default();
        for p in rows.providers {
            let r = ProviderRef { row_id: p.id, practice_id: p.practice_id, end_dated: p.end_dated };
            if let Some(n) = npi_code(&p.npi) {
                by_npi.entry(n).or_default().push(r);
            }
            ix.providers.insert(p.provider_id.into_boxed_str(), r);
        }
        ix.npis = by_npi.into_iter().map(|(k, v)| (k, v.into_boxed_slice())).collect();
        ix.add_practices(rows.practices);
        ix.users.reserve(rows.users.len());
        for u in rows.users {
            ix.set_user_row(u.id, u.active, u.username_lower);
        }
        let scopes = group_scopes(rows.scopes);
        for a in rows.affiliations {
            let entry = ix.affiliation(&a, &scopes);
            ix.users.entry(a.user_id).or_default().affiliations.push(entry);
        }
        ix
    }

    fn add_practices(&mut self, practices: Vec<gatehouse_store::access_index::IndexPractice>) {
        for p in practices {
            match TaxIdCode::parse(&p.tax_id) {
                Some(t) => {
                    self.tax_ids.insert(t.0, p.id);
                    self.practice_tax_ids.insert(p.id, t);
                }
                None => tracing::warn!(practice = p.id, "practice with an invalid Tax ID left out of the index"),
            }
        }
    }

    fn set_user_row(&mut self, id: i64, active: bool, username_lower: Option<String>) {
        let username_lower = username_lower.map(String::into_boxed_str);
        if let Some(u) = &username_lower {
            self.usernames.insert(u.clone(), id);
        }
        let e = self.users.entry(id).or_default();
        e.active = active;
        e.username_lower = username_lower;
    }

    fn affiliation(&self, a: &IndexAffiliation, scopes: &IntMap<i64, Vec<i64>>) -> IndexedAffiliation {
        let mut permissions = self.types.get(a.user_type.as_str()).copied().unwrap_or_default();
        if a.is_admin {
            permissions.insert(Permission::UsersManage);
        }
        let scope = if a.all_providers {
            Scope::All
        } else {
            Scope::Listed(scopes.get(&a.id).cloned().unwrap_or_default().into_boxed_slice())
        };
        IndexedAffiliation { id: a.id, practice_id: a.practice_id, permissions, scope }
    }

    /// Replaces one user's entries with `rows` (from `access_index::user`): their row, their
    /// affiliations and scopes, and the practices of those affiliations (added if new).
    pub fn replace_user(&mut self, user: i64, rows: IndexRows) {
        if let Some(old) = self.users.remove(&user)
            && let Some(name) = old.username_lower
            && self.usernames.get(&name) == Some(&user)
        {
            self.usernames.remove(&name);
        }
        self.add_practices(rows.practices);
        for u in rows.users.into_iter().filter(|u| u.id == user) {
            self.set_user_row(u.id, u.active, u.username_lower);
        }
        let scopes = group_scopes(rows.scopes);
        let list: Vec<IndexedAffiliation> =
            rows.affiliations.iter().filter(|a| a.user_id == user).map(|a| self.affiliation(a, &scopes)).collect();
        if let Some(e) = self.users.get_mut(&user) {
            e.affiliations = list;
        }
    }

    /// How many affiliations the index holds.
    pub fn affiliation_count(&self) -> usize {
        self.users.values().map(|u| u.affiliations.len()).sum()
    }

    /// The user's affiliations as indexed, if the user holds any.
    pub fn affiliations_of(&self, user: i64) -> Option<&[IndexedAffiliation]> {
        self.users.get(&user).map(|u| u.affiliations.as_slice())
    }

    /// Answers one check.
    pub fn check(&self, c: &Check) -> Decision {
        let user = match &c.who {
            Who::Id(id) => self.users.get(id),
            Who::Username(name) => self.usernames.get(name.as_str()).and_then(|id| self.users.get(id)),
        };
        let Some(user) = user else { return Decision::Deny(DenyReason::UnknownUser) };
        if !user.active {
            return Decision::Deny(DenyReason::UserNotActive);
        }
        match &c.target {
            Target::ProviderId(id) => match self.providers.get(id.as_str()) {
                Some(p) => self.provider(user, c.permission, *p),
                None => Decision::Deny(DenyReason::UnknownProvider),
            },
            Target::Npi(npi) => {
                let Some(list) = npi_code(npi).and_then(|n| self.npis.get(&n)) else {
                    return Decision::Deny(DenyReason::UnknownNpi);
                };
                let mut best = DenyReason::UnknownNpi;
                for p in list.iter() {
                    match self.provider(user, c.permission, *p) {
                        allow @ Decision::Allow(_) => return allow,
                        // The most telling refusal among the NPI's providers (the enum's order).
                        Decision::Deny(r) => best = best.max(r),
                    }
                }
                Decision::Deny(best)
            }
            Target::TaxId(t) => {
                let Some(practice) = TaxIdCode::parse(t).and_then(|t| self.tax_ids.get(&t.0)) else {
                    return Decision::Deny(DenyReason::UnknownTaxId);
                };
                match user.affiliations.iter().find(|a| a.practice_id == *practice) {
                    None => Decision::Deny(DenyReason::NotAffiliated),
                    Some(a) if !a.permissions.contains(c.permission) => {
                        Decision::Deny(DenyReason::PermissionNotGranted)
                    }
                    Some(a) => self.allow(a),
                }
            }
        }
    }

    fn provider(&self, user: &UserEntry, permission: Permission, p: ProviderRef) -> Decision {
        let Some(a) = user.affiliations.iter().find(|a| a.practice_id == p.practice_id) else {
            return Decision::Deny(DenyReason::NotAffiliated);
        };
        if p.end_dated {
            return Decision::Deny(DenyReason::ProviderEndDated);
        }
        if let Scope::Listed(ids) = &a.scope
            && ids.binary_search(&p.row_id).is_err()
        {
            return Decision::Deny(DenyReason::ProviderNotInScope);
        }
        if !a.permissions.contains(permission) {
            return Decision::Deny(DenyReason::PermissionNotGranted);
        }
        self.allow(a)
    }

    fn allow(&self, a: &IndexedAffiliation) -> Decision {
        match self.practice_tax_ids.get(&a.practice_id) {
            Some(t) => Decision::Allow(Allowed {
                affiliation_id: a.id,
                tax_id: *t,
                all_providers: matches!(a.scope, Scope::All),
            }),
            None => Decision::Deny(DenyReason::UnknownTaxId),
        }
    }
}

fn group_scopes(scopes: Vec<(i64, i64)>) -> IntMap<i64, Vec<i64>> {
    let mut m: IntMap<i64, Vec<i64>> = IntMap::default();
    for (a, p) in scopes {
        m.entry(a).or_default().push(p);
    }
    for v in m.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;
    use gatehouse_store::access_index::{IndexPractice, IndexProvider, IndexUser};

    /// `DenyReason::ALL` in order, once each: a new reason does not compile here until it is
    /// added there.
    #[test]
    fn every_deny_reason_is_listed() {
        let position = |r: DenyReason| match r {
            DenyReason::UnknownUser => 0,
            DenyReason::UserNotActive => 1,
            DenyReason::UnknownProvider => 2,
            DenyReason::UnknownNpi => 3,
            DenyReason::UnknownTaxId => 4,
            DenyReason::NotAffiliated => 5,
            DenyReason::ProviderEndDated => 6,
            DenyReason::ProviderNotInScope => 7,
            DenyReason::PermissionNotGranted => 8,
        };
        for (i, r) in DenyReason::ALL.into_iter().enumerate() {
            assert_eq!(position(r), i, "{r:?}");
        }
    }

    const NPI_SHARED: &str = "1234567893";

    fn aff(id: i64, user: i64, practice: i64, user_type: &str, is_admin: bool, all: bool) -> IndexAffiliation {
        IndexAffiliation {
            id,
            user_id: user,
            practice_id: practice,
            user_type: user_type.into(),
            is_admin,
            all_providers: all,
        }
    }

    fn prov(id: i64, practice: i64, provider_id: &str, npi: &str, end_dated: bool) -> IndexProvider {
        IndexProvider { id, practice_id: practice, provider_id: provider_id.into(), npi: npi.into(), end_dated }
    }

    /// Practice 1 (Tax ID 111111111) has P1, P2 and an end-dated P3; practice 2 (222222222) has
    /// P4, which shares P1's NPI. User 10 bills all of practice 1; user 11 checks eligibility for
    /// P2 only in practice 1 and bills all of practice 2; user 12 is deactivated; user 13 is an
    /// eligibility checker made administrator.
    fn index() -> PlanIndex {
        let rows = IndexRows {
            users: vec![
                IndexUser { id: 10, username_lower: Some("bill".into()), active: true },
                IndexUser { id: 11, username_lower: Some("elly".into()), active: true },
                IndexUser { id: 12, username_lower: Some("gone".into()), active: false },
                IndexUser { id: 13, username_lower: None, active: true },
            ],
            affiliations: vec![
                aff(100, 10, 1, "billing", false, true),
                aff(101, 11, 1, "eligibility", false, false),
                aff(102, 11, 2, "billing", false, true),
                aff(103, 12, 1, "billing", false, true),
                aff(104, 13, 2, "eligibility", true, true),
            ],
            scopes: vec![(101, 2), (101, 2), (100, 1)],
            practices: vec![
                IndexPractice { id: 1, tax_id: "111111111".into() },
                IndexPractice { id: 2, tax_id: "022222222".into() },
            ],
            providers: vec![
                prov(1, 1, "P1", NPI_SHARED, false),
                prov(2, 1, "P2", "1000000004", false),
                prov(3, 1, "P3", "1000000012", true),
                prov(4, 2, "P4", NPI_SHARED, false),
            ],
        };
        let billing = [EligibilityView, ClaimsView, ClaimsSubmit].into_iter().collect();
        let eligibility = [EligibilityView].into_iter().collect();
        PlanIndex::build(rows, [("billing".to_owned(), billing), ("eligibility".to_owned(), eligibility)])
    }

    fn check(ix: &PlanIndex, who: i64, p: Permission, t: Target) -> Decision {
        ix.check(&Check { who: Who::Id(who), permission: p, target: t })
    }

    fn provider(id: &str) -> Target {
        Target::ProviderId(id.into())
    }

    #[test]
    fn provider_targets_follow_practice_permission_and_scope() {
        let ix = index();
        let allowed = check(&ix, 10, ClaimsSubmit, provider("P1"));
        assert_eq!(
            allowed,
            Decision::Allow(Allowed { affiliation_id: 100, tax_id: TaxIdCode(111_111_111), all_providers: true })
        );
        // Not affiliated with practice 2, whatever the permission.
        assert_eq!(check(&ix, 10, EligibilityView, provider("P4")), Decision::Deny(DenyReason::NotAffiliated));
        // Listed scope: P2 yes, P1 no; and the type decides the permission.
        assert!(check(&ix, 11, EligibilityView, provider("P2")).allowed());
        assert_eq!(check(&ix, 11, EligibilityView, provider("P1")), Decision::Deny(DenyReason::ProviderNotInScope));
        assert_eq!(check(&ix, 11, ClaimsSubmit, provider("P2")), Decision::Deny(DenyReason::PermissionNotGranted));
        // End-dated providers and unknown ones are refused.
        assert_eq!(check(&ix, 10, ClaimsView, provider("P3")), Decision::Deny(DenyReason::ProviderEndDated));
        assert_eq!(check(&ix, 10, ClaimsView, provider("P9")), Decision::Deny(DenyReason::UnknownProvider));
    }

    #[test]
    fn users_must_be_known_and_active() {
        let ix = index();
        assert_eq!(check(&ix, 12, ClaimsView, provider("P1")), Decision::Deny(DenyReason::UserNotActive));
        assert_eq!(check(&ix, 99, ClaimsView, provider("P1")), Decision::Deny(DenyReason::UnknownUser));
        let by_name =
            |n: &str| ix.check(&Check { who: Who::username(n), permission: ClaimsView, target: provider("P1") });
        assert!(by_name("BILL").allowed());
        assert_eq!(by_name("nobody"), Decision::Deny(DenyReason::UnknownUser));
    }

    #[test]
    fn an_npi_under_two_tax_ids_is_allowed_through_either() {
        let ix = index();
        let npi = || Target::Npi(NPI_SHARED.into());
        // User 10 only through practice 1, user 11 only through practice 2 (P1 is not in its list).
        match check(&ix, 10, ClaimsSubmit, npi()) {
            Decision::Allow(a) => assert_eq!(a.tax_id.to_string(), "111111111"),
            d => panic!("{d:?}"),
        }
        match check(&ix, 11, ClaimsSubmit, npi()) {
            Decision::Allow(a) => assert_eq!((a.affiliation_id, a.tax_id.to_string()), (102, "022222222".into())),
            d => panic!("{d:?}"),
        }
        // The most telling refusal is given.
        assert_eq!(check(&ix, 13, ClaimsSubmit, npi()), Decision::Deny(DenyReason::PermissionNotGranted));
        assert_eq!(
            check(&ix, 10, ClaimsView, Target::Npi("1999999999".into())),
            Decision::Deny(DenyReason::UnknownNpi)
        );
        assert_eq!(check(&ix, 10, ClaimsView, Target::Npi("12".into())), Decision::Deny(DenyReason::UnknownNpi));
    }

    #[test]
    fn tax_id_targets_need_the_permission_in_any_scope() {
        let ix = index();
        let tin = |t: &str| Target::TaxId(t.into());
        assert!(check(&ix, 11, EligibilityView, tin("111111111")).allowed());
        match check(&ix, 11, EligibilityView, tin("111111111")) {
            Decision::Allow(a) => assert!(!a.all_providers),
            d => panic!("{d:?}"),
        }
        assert_eq!(check(&ix, 11, ClaimsView, tin("111111111")), Decision::Deny(DenyReason::PermissionNotGranted));
        assert_eq!(check(&ix, 10, ClaimsView, tin("022222222")), Decision::Deny(DenyReason::NotAffiliated));
        assert_eq!(check(&ix, 10, ClaimsView, tin("333333333")), Decision::Deny(DenyReason::UnknownTaxId));
        // Administrators get users.manage on top of their type.
        assert!(check(&ix, 13, UsersManage, tin("022222222")).allowed());
        assert!(!check(&ix, 13, ClaimsView, tin("022222222")).allowed());
        assert!(!check(&ix, 11, UsersManage, tin("022222222")).allowed());
    }

    #[test]
    fn replacing_a_user_changes_only_that_user() {
        let mut ix = index();
        assert_eq!(ix.affiliation_count(), 5);
        // User 10 is deactivated and renamed; user 11 is untouched.
        let rows = IndexRows {
            users: vec![IndexUser { id: 10, username_lower: Some("bill2".into()), active: false }],
            affiliations: vec![aff(100, 10, 1, "billing", false, true)],
            ..IndexRows::default()
        };
        ix.replace_user(10, rows);
        assert_eq!(check(&ix, 10, ClaimsView, provider("P1")), Decision::Deny(DenyReason::UserNotActive));
        assert!(check(&ix, 11, EligibilityView, provider("P2")).allowed());
        let by_name = |ix: &PlanIndex, n: &str| {
            ix.check(&Check { who: Who::username(n), permission: ClaimsView, target: provider("P1") })
        };
        assert_eq!(by_name(&ix, "bill"), Decision::Deny(DenyReason::UnknownUser));
        assert_eq!(by_name(&ix, "bill2"), Decision::Deny(DenyReason::UserNotActive));
        // A new user in a new practice: the practice comes with them.
        let rows = IndexRows {
            users: vec![IndexUser { id: 20, username_lower: None, active: true }],
            affiliations: vec![aff(200, 20, 5, "eligibility", true, true)],
            practices: vec![IndexPractice { id: 5, tax_id: "555555555".into() }],
            ..IndexRows::default()
        };
        ix.replace_user(20, rows);
        assert!(check(&ix, 20, UsersManage, Target::TaxId("555555555".into())).allowed());
        // A user who lost every affiliation is gone.
        ix.replace_user(20, IndexRows::default());
        assert_eq!(ix.affiliations_of(20), None);
        assert_eq!(ix.affiliation_count(), 5);
    }
}
