//! A user's account status.

use serde::Serialize;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Invited; has not signed up yet.
    Invited,
    /// Signed up and allowed to sign in.
    Active,
    /// Switched off by an administrator or the help desk.
    Deactivated,
}

impl UserStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [UserStatus::Invited, UserStatus::Active, UserStatus::Deactivated] {
            assert_eq!(UserStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(UserStatus::parse("locked"), None);
    }
}
