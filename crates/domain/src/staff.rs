//! The plan's own staff: roles and what each may do on the control panel.

use serde::Serialize;

/// A plan staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Runs the control panel: settings, roster, staff, everything below.
    PlanAdmin,
    /// Provider services agent: registration requests, user help (two-step reset, unlock, …).
    HelpDesk,
    /// Reads the audit log and reports; changes nothing.
    Auditor,
}

/// Something a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffPermission {
    /// Change plan settings (policies, terms, branding).
    PlanSettings,
    /// Invite and manage staff accounts.
    ManageStaff,
    /// Import and change the provider roster.
    RosterImport,
    /// Browse and search the roster.
    RosterView,
    /// Approve or deny administrator registration requests.
    Registrations,
    /// Search users across all practices and see their details.
    UserSearch,
    /// Help-desk actions on a user: reset two-step, unlock, deactivate, reactivate, resend invitation.
    UserSupport,
    /// Read the audit log.
    AuditRead,
    /// Register and revoke the portal applications that call the permission check API.
    Applications,
}

impl StaffRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlanAdmin => "plan_admin",
            Self::HelpDesk => "help_desk",
            Self::Auditor => "auditor",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plan_admin" => Some(Self::PlanAdmin),
            "help_desk" => Some(Self::HelpDesk),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::PlanAdmin => "Plan administrator",
            Self::HelpDesk => "Help desk agent",
            Self::Auditor => "Auditor",
        }
    }

    /// Whether this role may do `p`.
    pub fn may(self, p: StaffPermission) -> bool {
        use StaffPermission as P;
        match self {
            Self::PlanAdmin => true,
            Self::HelpDesk => matches!(p, P::RosterView | P::Registrations | P::UserSearch | P::UserSupport),
            Self::Auditor => matches!(p, P::RosterView | P::UserSearch | P::AuditRead),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StaffPermission as P;

    #[test]
    fn roles_round_trip() {
        for r in [StaffRole::PlanAdmin, StaffRole::HelpDesk, StaffRole::Auditor] {
            assert_eq!(StaffRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(StaffRole::parse("root"), None);
    }

    #[test]
    fn permissions_by_role() {
        assert!(StaffRole::PlanAdmin.may(P::PlanSettings));
        assert!(StaffRole::HelpDesk.may(P::Registrations));
        assert!(StaffRole::HelpDesk.may(P::UserSupport));
        assert!(!StaffRole::HelpDesk.may(P::PlanSettings));
        assert!(!StaffRole::HelpDesk.may(P::RosterImport));
        assert!(StaffRole::Auditor.may(P::AuditRead));
        assert!(!StaffRole::Auditor.may(P::UserSupport));
        assert!(!StaffRole::Auditor.may(P::Registrations));
        assert!(!StaffRole::HelpDesk.may(P::AuditRead));
        assert!(StaffRole::PlanAdmin.may(P::Applications));
        assert!(!StaffRole::HelpDesk.may(P::Applications));
        assert!(!StaffRole::Auditor.may(P::Applications));
    }
}
