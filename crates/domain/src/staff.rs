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
    /// Work the plan's secure-message mailbox: read threads, reply, assign, add internal notes,
    /// resolve, and decide profile update requests.
    Messages,
    /// See the practices' access reviews and export their evidence.
    ReviewsRead,
    /// Start reviews, remind practices, and review on a practice's behalf.
    ReviewsManage,
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
            Self::HelpDesk => {
                matches!(
                    p,
                    P::RosterView
                        | P::Registrations
                        | P::UserSearch
                        | P::UserSupport
                        | P::Messages
                        | P::ReviewsRead
                        | P::ReviewsManage
                )
            }
            Self::Auditor => matches!(p, P::RosterView | P::UserSearch | P::AuditRead | P::ReviewsRead),
        }
    }
}

/// Where an account stands in the order of roles (PRODUCT.md, "Who may act on whom"): plan
/// administrator > help desk agent > auditor > practice administrator > portal user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rank {
    PortalUser,
    PracticeAdmin,
    Auditor,
    HelpDesk,
    PlanAdmin,
}

impl Rank {
    /// The rank of an account: its staff role if it holds one, else whether it administers a
    /// practice.
    pub fn of_account(staff_role: Option<StaffRole>, administers_a_practice: bool) -> Self {
        match staff_role {
            Some(StaffRole::PlanAdmin) => Self::PlanAdmin,
            Some(StaffRole::HelpDesk) => Self::HelpDesk,
            Some(StaffRole::Auditor) => Self::Auditor,
            None if administers_a_practice => Self::PracticeAdmin,
            None => Self::PortalUser,
        }
    }

    /// Whether this rank is a plan staff role.
    pub fn is_staff(self) -> bool {
        self >= Self::Auditor
    }

    /// Whether an actor of this rank may change an account of rank `target` (details, status,
    /// password reset, two-step reset). Nobody acts on an account above their own role; among
    /// equals only plan administrators (who manage each other's staff accounts) and practice
    /// administrators (co-administrators of a practice) act on one another. A help desk agent
    /// does not act on another agent, and an auditor changes nothing.
    pub fn may_act_on(self, target: Rank) -> bool {
        match self {
            Self::Auditor => false,
            Self::PlanAdmin | Self::PracticeAdmin => self >= target,
            Self::HelpDesk | Self::PortalUser => self > target,
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
        assert!(StaffRole::HelpDesk.may(P::Messages), "agents work the mailbox");
        assert!(!StaffRole::Auditor.may(P::Messages), "auditors read no messages");
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

    #[test]
    fn ranks_are_ordered_as_the_product_says() {
        assert!(Rank::PlanAdmin > Rank::HelpDesk);
        assert!(Rank::HelpDesk > Rank::Auditor);
        assert!(Rank::Auditor > Rank::PracticeAdmin);
        assert!(Rank::PracticeAdmin > Rank::PortalUser);
        assert_eq!(Rank::of_account(Some(StaffRole::HelpDesk), true), Rank::HelpDesk);
        assert_eq!(Rank::of_account(None, true), Rank::PracticeAdmin);
        assert_eq!(Rank::of_account(None, false), Rank::PortalUser);
        assert!(Rank::Auditor.is_staff() && !Rank::PracticeAdmin.is_staff());
    }

    #[test]
    fn nobody_acts_above_their_role() {
        let all = [Rank::PortalUser, Rank::PracticeAdmin, Rank::Auditor, Rank::HelpDesk, Rank::PlanAdmin];
        for actor in all {
            for target in all {
                if target > actor {
                    assert!(!actor.may_act_on(target), "{actor:?} must not act on {target:?}");
                }
            }
        }
        // A practice administrator never reaches a staff account.
        for staff in [Rank::Auditor, Rank::HelpDesk, Rank::PlanAdmin] {
            assert!(!Rank::PracticeAdmin.may_act_on(staff));
        }
        assert!(Rank::PlanAdmin.may_act_on(Rank::PlanAdmin));
        assert!(Rank::PracticeAdmin.may_act_on(Rank::PracticeAdmin));
        assert!(Rank::PracticeAdmin.may_act_on(Rank::PortalUser));
        assert!(Rank::HelpDesk.may_act_on(Rank::PracticeAdmin));
        assert!(!Rank::HelpDesk.may_act_on(Rank::HelpDesk));
        assert!(!Rank::Auditor.may_act_on(Rank::PortalUser));
    }
}
