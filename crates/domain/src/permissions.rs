//! What a portal user may do: the permissions a user type grants, the set type that holds them, and
//! the user types every plan starts with (the seeds' Office Manager, Practice Maintenance, Clinical
//! Staff, Billing Staff, Appointment Scheduler and Eligibility Checker).

use std::fmt;
use thiserror::Error;

/// One thing a portal user may do. The string names are stable: they are stored and sent to the
/// portal applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    EligibilityView,
    ClaimsView,
    ClaimsSubmit,
    ReferralsSubmit,
    PreauthDraft,
    PreauthClinical,
    PreauthSubmit,
    RemittanceView,
    ProfileUpdateRequest,
    MessagesUse,
    UsersManage,
}

impl Permission {
    /// Every permission, in display order (its position is its bit in a [`PermissionSet`]).
    pub const ALL: [Permission; 11] = [
        Permission::EligibilityView,
        Permission::ClaimsView,
        Permission::ClaimsSubmit,
        Permission::ReferralsSubmit,
        Permission::PreauthDraft,
        Permission::PreauthClinical,
        Permission::PreauthSubmit,
        Permission::RemittanceView,
        Permission::ProfileUpdateRequest,
        Permission::MessagesUse,
        Permission::UsersManage,
    ];

    /// The stable name, e.g. `claims.submit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::EligibilityView => "eligibility.view",
            Permission::ClaimsView => "claims.view",
            Permission::ClaimsSubmit => "claims.submit",
            Permission::ReferralsSubmit => "referrals.submit",
            Permission::PreauthDraft => "preauth.draft",
            Permission::PreauthClinical => "preauth.clinical",
            Permission::PreauthSubmit => "preauth.submit",
            Permission::RemittanceView => "remittance.view",
            Permission::ProfileUpdateRequest => "profile.update_request",
            Permission::MessagesUse => "messages.use",
            Permission::UsersManage => "users.manage",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Permission::EligibilityView => "Check member eligibility and benefits",
            Permission::ClaimsView => "View claim status",
            Permission::ClaimsSubmit => "Submit claims",
            Permission::ReferralsSubmit => "Submit referrals",
            Permission::PreauthDraft => "Start and save draft prior authorizations",
            Permission::PreauthClinical => "Attach clinical criteria and documents to prior authorizations",
            Permission::PreauthSubmit => "Submit prior authorizations",
            Permission::RemittanceView => "View remittance advice and payments",
            Permission::ProfileUpdateRequest => "Request provider profile updates",
            Permission::MessagesUse => "Send and read secure messages",
            Permission::UsersManage => "Administer the practice's users",
        }
    }

    /// The permission with this stable name.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a permission.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("“{0}” is not a permission.")]
pub struct UnknownPermission(pub String);

/// A set of permissions: a bitset, cheap to copy and to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    /// No permission.
    pub const EMPTY: PermissionSet = PermissionSet(0);

    /// Every permission.
    pub fn all() -> PermissionSet {
        Permission::ALL.into_iter().collect()
    }

    /// Whether the set holds `p`.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    /// Removes `p`.
    pub fn remove(&mut self, p: Permission) {
        self.0 &= !p.bit();
    }

    /// The set with `p` added.
    #[must_use]
    pub fn with(mut self, p: Permission) -> PermissionSet {
        self.insert(p);
        self
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions held, in [`Permission::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The stable names, comma-separated (the stored form), e.g. `claims.view,claims.submit`.
    pub fn to_names(self) -> String {
        self.iter().map(Permission::as_str).collect::<Vec<_>>().join(",")
    }

    /// The names as a list (for audit details and APIs).
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }

    /// Parses names separated by commas and/or white space; blanks are ignored, duplicates
    /// collapse, an unknown name is refused.
    pub fn parse_names(text: &str) -> Result<PermissionSet, UnknownPermission> {
        Self::from_names(text.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()))
    }

    /// Parses a list of names; an unknown name is refused.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<PermissionSet, UnknownPermission> {
        let mut set = PermissionSet::EMPTY;
        for n in names {
            set.insert(Permission::parse(n.trim()).ok_or_else(|| UnknownPermission(n.trim().to_owned()))?);
        }
        Ok(set)
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut s = PermissionSet::EMPTY;
        for p in iter {
            s.insert(p);
        }
        s
    }
}

/// A user type's key: what `affiliations.user_type` stores. Lower-case slug, 1–40 characters of
/// `a`–`z`, `0`–`9` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserTypeKey(String);

/// Why a user type key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("A user type key is 1 to 40 lower-case letters, digits or underscores.")]
pub struct BadUserTypeKey;

impl UserTypeKey {
    /// Longest key.
    pub const MAX_LEN: usize = 40;

    /// Checks a key as given (no case folding: keys are identifiers, not typed by people).
    pub fn parse(s: &str) -> Result<UserTypeKey, BadUserTypeKey> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok { Ok(UserTypeKey(s.to_owned())) } else { Err(BadUserTypeKey) }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserTypeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user type every new plan starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultUserType {
    /// The key (a valid [`UserTypeKey`]).
    pub key: &'static str,
    /// The name people see.
    pub name: &'static str,
    /// What it may do.
    pub permissions: PermissionSet,
}

/// The seeds' user types with their default permissions (reasons in `docs/decisions.md`).
pub fn default_user_types() -> Vec<DefaultUserType> {
    use Permission::*;
    let set = |ps: &[Permission]| ps.iter().copied().collect::<PermissionSet>();
    vec![
        DefaultUserType { key: "office_manager", name: "Office Manager", permissions: PermissionSet::all() },
        DefaultUserType {
            key: "practice_maintenance",
            name: "Practice Maintenance",
            permissions: PermissionSet::all(),
        },
        DefaultUserType {
            key: "clinical_staff",
            name: "Clinical Staff",
            permissions: set(&[
                EligibilityView,
                ClaimsView,
                ReferralsSubmit,
                PreauthDraft,
                PreauthClinical,
                PreauthSubmit,
                MessagesUse,
            ]),
        },
        DefaultUserType {
            key: "billing_staff",
            name: "Billing Staff",
            permissions: set(&[EligibilityView, ClaimsView, ClaimsSubmit, RemittanceView, MessagesUse]),
        },
        DefaultUserType {
            key: "appointment_scheduler",
            name: "Appointment Scheduler",
            permissions: set(&[EligibilityView, ReferralsSubmit, PreauthDraft]),
        },
        DefaultUserType {
            key: "eligibility_checker",
            name: "Eligibility Checker",
            permissions: set(&[EligibilityView]),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string(), p.as_str());
            assert!(!p.label().is_empty());
        }
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert_eq!(Permission::parse("claims.delete"), None);
        assert_eq!(Permission::parse("Claims.View"), None);
    }

    #[test]
    fn set_insert_contains_remove_iter() {
        let mut s = PermissionSet::EMPTY;
        assert!(s.is_empty());
        s.insert(Permission::UsersManage);
        s.insert(Permission::EligibilityView);
        s.insert(Permission::EligibilityView);
        assert!(s.contains(Permission::UsersManage));
        assert!(!s.contains(Permission::ClaimsView));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Permission::EligibilityView, Permission::UsersManage]);
        s.remove(Permission::UsersManage);
        assert_eq!(s, PermissionSet::EMPTY.with(Permission::EligibilityView));
        assert_eq!(PermissionSet::all().iter().count(), Permission::ALL.len());
    }

    #[test]
    fn sets_parse_from_names() {
        let s = PermissionSet::parse_names("claims.view, claims.submit,,claims.view").unwrap();
        assert_eq!(s.to_names(), "claims.view,claims.submit");
        assert_eq!(PermissionSet::parse_names(&s.to_names()).unwrap(), s);
        assert_eq!(PermissionSet::parse_names("").unwrap(), PermissionSet::EMPTY);
        assert_eq!(PermissionSet::parse_names("claims.view,bogus"), Err(UnknownPermission("bogus".into())));
        assert_eq!(PermissionSet::all().names().len(), 11);
        assert_eq!(
            PermissionSet::from_names(["users.manage"]).unwrap(),
            PermissionSet::EMPTY.with(Permission::UsersManage)
        );
    }

    #[test]
    fn user_type_keys() {
        assert_eq!(UserTypeKey::parse("office_manager").unwrap().as_str(), "office_manager");
        assert!(UserTypeKey::parse(&"a".repeat(40)).is_ok());
        for bad in ["", "Office", "office manager", "office-manager", "é", &"a".repeat(41)] {
            assert_eq!(UserTypeKey::parse(bad), Err(BadUserTypeKey), "{bad}");
        }
    }

    #[test]
    fn defaults_are_the_seeds_types() {
        let d = default_user_types();
        let keys: Vec<_> = d.iter().map(|t| t.key).collect();
        assert_eq!(
            keys,
            [
                "office_manager",
                "practice_maintenance",
                "clinical_staff",
                "billing_staff",
                "appointment_scheduler",
                "eligibility_checker"
            ]
        );
        for t in &d {
            assert!(UserTypeKey::parse(t.key).is_ok());
            assert!(t.permissions.contains(Permission::EligibilityView), "{}", t.key);
            let admin = t.permissions.contains(Permission::UsersManage);
            assert_eq!(admin, matches!(t.key, "office_manager" | "practice_maintenance"), "{}", t.key);
        }
        assert_eq!(d[0].permissions, PermissionSet::all());
        assert_eq!(d[1].permissions, PermissionSet::all());
        let billing = d[3].permissions;
        assert!(billing.contains(Permission::RemittanceView) && !billing.contains(Permission::PreauthClinical));
        let clinical = d[2].permissions;
        assert!(clinical.contains(Permission::PreauthClinical) && !clinical.contains(Permission::RemittanceView));
    }
}
