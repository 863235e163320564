//! Password policy after NIST SP 800-63B: length limits, no composition rules, and refusal of
//! common, expected or context-specific passwords.

use thiserror::Error;

static COMMON: &str = include_str!("common_passwords.txt");

/// Longest password read when one is checked (signing in, confirming it is you), in characters:
/// a longer one is refused unread, so no body ties up the hasher.
pub const MAX_CHECKED_LEN: usize = 1024;

/// The plan's password rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters.
    pub min_len: usize,
    /// Most characters.
    pub max_len: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_len: 12, max_len: 128 }
    }
}

/// Why a new password was refused. Messages say what to do, never echo the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordProblem {
    #[error("Enter a password.")]
    Empty,
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    #[error("This password is too common or too easy to guess. Choose another.")]
    Common,
    #[error("Your password cannot contain your username.")]
    ContainsUsername,
    #[error("The two passwords do not match.")]
    Mismatch,
}

const SEQUENCES: [&str; 5] = [
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "zyxwvutsrqponmlkjihgfedcba",
    "09876543210",
];

fn is_common(lower: &str) -> bool {
    let listed = |s: &str| COMMON.lines().any(|l| !l.starts_with('#') && l == s);
    if listed(lower) {
        return true;
    }
    // A listed word with digits or symbols added before or after it ("Password2024!").
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if core.len() >= 3 && listed(core) {
        return true;
    }
    // The same short unit repeated ("abcabcabcabc", "aaaaaaaaaaaa").
    let chars: Vec<char> = lower.chars().collect();
    for unit in 1..=chars.len() / 2 {
        if chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|c| c == &chars[..unit]) {
            return true;
        }
    }
    // A run along the alphabet, the digits or the keyboard.
    SEQUENCES.iter().any(|s| s.contains(lower))
}

impl PasswordPolicy {
    /// Checks a new password, entered twice, for the account with `username` (if chosen yet).
    pub fn check(&self, password: &str, confirmation: &str, username: Option<&str>) -> Result<(), PasswordProblem> {
        let n = password.chars().count();
        if n == 0 {
            return Err(PasswordProblem::Empty);
        }
        if n < self.min_len {
            return Err(PasswordProblem::TooShort(self.min_len));
        }
        if n > self.max_len {
            return Err(PasswordProblem::TooLong(self.max_len));
        }
        let lower = password.to_lowercase();
        if let Some(u) = username {
            let u = u.to_lowercase();
            if !u.is_empty() && lower.contains(&u) {
                return Err(PasswordProblem::ContainsUsername);
            }
        }
        if is_common(&lower) {
            return Err(PasswordProblem::Common);
        }
        if password != confirmation {
            return Err(PasswordProblem::Mismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), PasswordProblem> {
        PasswordPolicy::default().check(p, p, Some("jdoe"))
    }

    #[test]
    fn length_limits() {
        assert_eq!(check(""), Err(PasswordProblem::Empty));
        assert_eq!(check("short words"), Err(PasswordProblem::TooShort(12)));
        assert!(check("purple tiger lamp").is_ok());
        assert!(check(&"ab1 ".repeat(32)).is_err());
        assert_eq!(check(&"x7Qz".repeat(33)), Err(PasswordProblem::TooLong(128)));
    }

    #[test]
    fn no_composition_rules() {
        assert!(check("all lower case words here").is_ok());
        assert!(check("correct llama staple").is_ok());
    }

    #[test]
    fn common_and_predictable_refused() {
        for p in [
            "password1234",
            "Password2024!",
            "123456789012",
            "qwertyuiopas",
            "aaaaaaaaaaaa",
            "abcabcabcabc",
            "!!Welcome1!!",
            "healthcare2025",
            "passwordpassword",
        ] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
    }

    #[test]
    fn username_and_confirmation() {
        assert_eq!(check("my-JDOE-secret-9"), Err(PasswordProblem::ContainsUsername));
        let p = PasswordPolicy::default();
        assert_eq!(p.check("purple tiger lamp", "purple tiger lamps", None), Err(PasswordProblem::Mismatch));
        assert!(p.check("jdoe was here long ago", "jdoe was here long ago", None).is_ok());
    }

    #[test]
    fn policy_is_configurable() {
        let p = PasswordPolicy { min_len: 8, max_len: 16 };
        assert!(p.check("fig tree!", "fig tree!", None).is_ok());
        assert_eq!(p.check("fig tree nineteen", "fig tree nineteen", None), Err(PasswordProblem::TooLong(16)));
    }
}
