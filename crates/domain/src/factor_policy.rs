//! A plan's policy on second factors (issue 19): which factors people may add, and who must sign
//! in with a strong one (an authenticator app or a passkey) rather than a text or voice code,
//! which NIST SP 800-63B calls *restricted*.
//!
//! Text codes are always allowed: every account's phone is the seeds' baseline, the way in for
//! people without an app or passkey and the bridge by which a required user reaches the set-up of
//! a strong factor.

/// Which factors a plan offers, and who must use a strong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorPolicy {
    /// Codes read by a voice call may be chosen (new phones and "Call me").
    pub voice_allowed: bool,
    /// Authenticator apps may be added.
    pub app_allowed: bool,
    /// Passkeys may be registered.
    pub passkeys_allowed: bool,
    /// Plan staff must sign in with an app or a passkey.
    pub staff_strong_factor: bool,
    /// Active practice administrators must sign in with an app or a passkey.
    pub admin_strong_factor: bool,
}

impl Default for FactorPolicy {
    /// Every factor offered; staff must use a strong one, practice administrators need not.
    fn default() -> Self {
        Self {
            voice_allowed: true,
            app_allowed: true,
            passkeys_allowed: true,
            staff_strong_factor: true,
            admin_strong_factor: false,
        }
    }
}

/// Who a person is, as far as the factor policy asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FactorHolder {
    /// Holds a staff role in the plan.
    pub staff: bool,
    /// An active account that administers at least one practice.
    pub active_practice_admin: bool,
}

/// Why a factor policy cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorPolicyError {
    /// The switch at fault.
    pub field: &'static str,
    pub message: String,
}

impl FactorPolicy {
    /// Whether `who` must sign in with an app or a passkey.
    pub fn requires_strong(&self, who: FactorHolder) -> bool {
        (who.staff && self.staff_strong_factor) || (who.active_practice_admin && self.admin_strong_factor)
    }

    /// Whether any strong factor can be added at all.
    pub fn offers_strong(&self) -> bool {
        self.app_allowed || self.passkeys_allowed
    }

    /// Checks that whoever must use a strong factor can add one: a "must" switch needs an app or
    /// passkeys allowed. Every fault, one per switch.
    pub fn check(&self) -> Result<(), Vec<FactorPolicyError>> {
        if self.offers_strong() {
            return Ok(());
        }
        let mut e = Vec::new();
        let message = |who: &str| {
            format!(
                "{who} cannot be required to use an authenticator app or a passkey while neither is allowed. Allow apps or passkeys, or turn this off."
            )
        };
        if self.staff_strong_factor {
            e.push(FactorPolicyError { field: "staff_strong_factor", message: message("Plan staff") });
        }
        if self.admin_strong_factor {
            e.push(FactorPolicyError { field: "admin_strong_factor", message: message("Practice administrators") });
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAFF: FactorHolder = FactorHolder { staff: true, active_practice_admin: false };
    const ADMIN: FactorHolder = FactorHolder { staff: false, active_practice_admin: true };
    const USER: FactorHolder = FactorHolder { staff: false, active_practice_admin: false };

    #[test]
    fn staff_are_required_by_default_administrators_are_not() {
        let p = FactorPolicy::default();
        assert!(p.requires_strong(STAFF));
        assert!(!p.requires_strong(ADMIN));
        assert!(!p.requires_strong(USER));
        assert!(p.requires_strong(FactorHolder { staff: true, active_practice_admin: true }));
    }

    #[test]
    fn each_switch_reaches_only_its_people() {
        let admins = FactorPolicy { staff_strong_factor: false, admin_strong_factor: true, ..FactorPolicy::default() };
        assert!(!admins.requires_strong(STAFF));
        assert!(admins.requires_strong(ADMIN));
        assert!(!admins.requires_strong(USER));
        assert!(admins.requires_strong(FactorHolder { staff: true, active_practice_admin: true }));
        let none = FactorPolicy { staff_strong_factor: false, ..FactorPolicy::default() };
        for who in [STAFF, ADMIN, USER] {
            assert!(!none.requires_strong(who), "{who:?}");
        }
    }

    #[test]
    fn a_must_switch_needs_a_strong_factor_allowed() {
        assert_eq!(FactorPolicy::default().check(), Ok(()));
        let only_passkeys = FactorPolicy { app_allowed: false, ..FactorPolicy::default() };
        assert_eq!(only_passkeys.check(), Ok(()));
        let none = FactorPolicy { app_allowed: false, passkeys_allowed: false, ..FactorPolicy::default() };
        let e = none.check().unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "staff_strong_factor");
        let both = FactorPolicy { admin_strong_factor: true, ..none };
        let fields: Vec<_> = both.check().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["staff_strong_factor", "admin_strong_factor"]);
        let nobody = FactorPolicy { staff_strong_factor: false, ..none };
        assert_eq!(nobody.check(), Ok(()));
    }
}
