//! Terms and conditions: signed by typing one's first and last name.

use crate::names::PersonName;

/// Whether the typed signature matches the account's name: case and extra spaces are ignored,
/// everything else must be the same.
pub fn signature_matches(account: &PersonName, typed_first: &str, typed_last: &str) -> bool {
    fn norm(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }
    norm(typed_first) == norm(account.first()) && norm(typed_last) == norm(account.last())
}

/// Whether a user who signed `signed` must sign `current` before going on.
pub fn must_sign(signed: Option<i64>, current: i64) -> bool {
    signed.is_none_or(|v| v < current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_ignores_case_and_spacing_only() {
        let n = PersonName::parse("Richard", "Kim").unwrap();
        assert!(signature_matches(&n, "richard", " KIM "));
        assert!(!signature_matches(&n, "Rich", "Kim"));
        assert!(!signature_matches(&n, "Kim", "Richard"));
        assert!(!signature_matches(&n, "", ""));
    }

    #[test]
    fn new_version_must_be_signed() {
        assert!(must_sign(None, 1));
        assert!(must_sign(Some(1), 2));
        assert!(!must_sign(Some(2), 2));
    }
}
