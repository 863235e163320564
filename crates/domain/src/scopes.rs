//! OpenID Connect scopes Gatehouse knows, and sets of them.

use std::collections::BTreeSet;
use thiserror::Error;

/// A scope an application may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The sign-in itself (`sub`); always allowed.
    OpenId,
    /// Name and username.
    Profile,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// The user's affiliations (Tax ID, practice, user type, permissions, provider scope).
    Affiliations,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 5] = [Scope::OpenId, Scope::Profile, Scope::Email, Scope::Phone, Scope::Affiliations];

    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::Phone => "phone",
            Scope::Affiliations => "gatehouse:affiliations",
        }
    }

    /// What the scope lets an application read, for people.
    pub fn description(self) -> &'static str {
        match self {
            Scope::OpenId => "Who you are (an identifier that is the same at every sign-in)",
            Scope::Profile => "Your name and username",
            Scope::Email => "Your email address",
            Scope::Phone => "Your phone number",
            Scope::Affiliations => "The practices you work for, your role and permissions in each",
        }
    }

    /// The scope named `name` (exact, case-sensitive as OAuth says).
    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Why a scope list was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScopeError {
    /// Names that are not scopes Gatehouse knows, in the order given.
    #[error("Unknown scope{}: {}. Known scopes: openid, profile, email, phone, gatehouse:affiliations.", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
    Unknown(Vec<String>),
}

/// A set of scopes; its text form is sorted and space-separated, so the same set always reads
/// the same (the consent record compares it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses space-separated names in any order; repeats are ignored, unknown names reported.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let (set, unknown) = Self::split_known(text);
        if unknown.is_empty() { Ok(set) } else { Err(ScopeError::Unknown(unknown)) }
    }

    /// Parses space-separated names, returning the known scopes and the unknown names apart (a
    /// request may carry scopes a provider ignores).
    pub fn split_known(text: &str) -> (Self, Vec<String>) {
        let mut set = BTreeSet::new();
        let mut unknown: Vec<String> = Vec::new();
        for name in text.split_ascii_whitespace() {
            match Scope::from_name(name) {
                Some(s) => {
                    set.insert(s);
                }
                None if !unknown.iter().any(|u| u == name) => unknown.push(name.to_owned()),
                None => {}
            }
        }
        (Self(set), unknown)
    }

    /// A set of the given scopes.
    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Whether the set holds `s`.
    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    /// Adds `s`.
    pub fn insert(&mut self, s: Scope) {
        self.0.insert(s);
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).copied().collect())
    }

    /// The scopes, in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical text: names sorted in [`Scope::ALL`] order, one space between.
    pub fn canonical(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_order_gives_one_canonical_text() {
        let a = ScopeSet::parse("email openid  profile").unwrap();
        let b = ScopeSet::parse("profile email openid email").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), "openid profile email");
        let all = ScopeSet::parse("gatehouse:affiliations phone openid email profile").unwrap();
        assert_eq!(all.canonical(), "openid profile email phone gatehouse:affiliations");
        assert_eq!(ScopeSet::parse(&all.canonical()).unwrap(), all);
    }

    #[test]
    fn unknown_scopes_are_reported_by_name() {
        assert_eq!(
            ScopeSet::parse("openid offline_access OpenID offline_access"),
            Err(ScopeError::Unknown(vec!["offline_access".into(), "OpenID".into()]))
        );
        let e = ScopeSet::parse("openid admin").unwrap_err().to_string();
        assert!(e.starts_with("Unknown scope: admin."), "{e}");
        let (known, unknown) = ScopeSet::split_known("openid admin email");
        assert_eq!(known.canonical(), "openid email");
        assert_eq!(unknown, vec!["admin".to_string()]);
    }

    #[test]
    fn subsets_and_intersections() {
        let allowed = ScopeSet::parse("openid profile email").unwrap();
        let asked = ScopeSet::parse("openid email").unwrap();
        assert!(asked.is_subset(&allowed));
        assert!(!allowed.is_subset(&asked));
        let wide = ScopeSet::parse("openid phone").unwrap();
        assert_eq!(wide.intersection(&allowed).canonical(), "openid");
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }
}
