//! The matrix's table: one row per route, each with the rule that says who may call it.

use super::world::{Actor, Target};
use gatehouse_domain::staff::StaffPermission as P;

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A public route: never 401/403 (a 404 for a missing token or logo is its own answer).
    Public,
    /// Past authorization: not 401/403/404 nor sent to sign in (400/422 for an empty body is fine).
    Allow,
    /// Refused: 401, 403, 404, or a redirect to sign in.
    Deny,
    /// Refused as if it did not exist: 404 exactly.
    NotFound,
}

/// Who may call a route, as a rule over the actor and the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Everybody, signed in or not.
    Anyone,
    /// Anyone with a session, even one still signing in.
    Session,
    /// Fully signed-in people (portal users and staff).
    SignedIn,
    /// Fully signed-in people without a staff role: plan staff are never linked to a practice
    /// (association), so they are refused.
    PortalUser,
    /// Only a session still signing in (at the two-step code step); fully signed-in people are
    /// refused too.
    SigningIn,
    /// Signed-in people with a linked account (affiliation) of their own to act for; others
    /// have none to name: 404.
    Member,
    /// People who administer at least one practice.
    PracticeAdmin,
    /// Staff of the plan; with a permission, only the roles that have it.
    Staff(Option<P>),
    /// Portal applications (HTTP Basic).
    Application,
    /// The signed-in owner of the object (a session, an association match); others: 404.
    Own,
    /// A practice administrator of a practice the target user works for; staff accounts: 404.
    AdminOfAny,
    /// A practice administrator of every practice the target user works for (account changes);
    /// staff accounts and users of none of the actor's practices: 404.
    AdminOfAll,
    /// [`Rule::AdminOfAll`], but never on one's own account: one's own information and password
    /// change on My Profile, after confirming it is them.
    AdminOfOthers,
    /// A practice administrator of the target affiliation's practice; staff accounts: 404.
    AdminOfAffiliation,
    /// A practice administrator of the practice the access request asks for.
    AdminOfRequest,
    /// The practice administrator who sent the invitation.
    Sender,
    /// Staff with the permission, on their own plan's objects.
    StaffOn(P),
    /// Staff with the permission acting on an account of their plan not above their role.
    StaffActOn(P),
    /// An application, on its own plan's users.
    AppOn,
    /// Signed-in people who confirmed their password moments ago (edit profile): none of the
    /// matrix's actors has, so everyone is refused.
    StepUp,
    /// Only a session at the strong-factor step (`strong_factor_setup`: someone the plan holds to
    /// an app or passkey, adding one after the phone's code): none of the matrix's actors is
    /// there, so everyone is refused.
    StrongStep,
    /// Signed-in people whose profile waits for the second step of confirming it is them (the
    /// password was just confirmed): none of the matrix's actors is, so everyone is refused.
    ProfileSecondStep,
    /// Only the owner of an object of a kind the world holds none of (affiliation offers): the
    /// ids named are nobody's offer, so everyone is refused.
    NoneOwned,
    /// A reader of the target secure-message thread (or of its file): its author, an
    /// administrator of its practice, or plan staff who work the mailbox; a staff note's file:
    /// those staff only. Everyone else: 404.
    ThreadReader,
}

impl Rule {
    /// The rule's name for the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Anyone => "Anyone",
            Self::Session => "Session",
            Self::SignedIn => "SignedIn",
            Self::PortalUser => "PortalUser",
            Self::SigningIn => "SigningIn",
            Self::Member => "Member",
            Self::PracticeAdmin => "PracticeAdmin",
            Self::Staff(_) => "Staff",
            Self::Application => "Application",
            Self::Own => "Own",
            Self::AdminOfAny => "AdminOfAny",
            Self::AdminOfAll => "AdminOfAll",
            Self::AdminOfOthers => "AdminOfOthers",
            Self::AdminOfAffiliation => "AdminOfAffiliation",
            Self::AdminOfRequest => "AdminOfRequest",
            Self::Sender => "Sender",
            Self::StaffOn(_) => "StaffOn",
            Self::StaffActOn(_) => "StaffActOn",
            Self::AppOn => "AppOn",
            Self::NoneOwned => "NoneOwned",
            Self::StepUp => "StepUp",
            Self::StrongStep => "StrongStep",
            Self::ProfileSecondStep => "ProfileSecondStep",
            Self::ThreadReader => "ThreadReader",
        }
    }

    /// What `actor` must get on `target`.
    pub fn expect(self, actor: &Actor, target: Option<&Target>) -> Expect {
        let allow = |yes: bool| if yes { Expect::Allow } else { Expect::Deny };
        let signed = actor.signed_in();
        let staff_may = |p: Option<P>| signed && actor.staff.is_some_and(|r| p.is_none_or(|p| r.may(p)));
        let admin = signed && !actor.admin_of.is_empty();
        let Some(t) = target else {
            return match self {
                Self::Anyone => Expect::Public,
                Self::Session => allow(actor.has_session()),
                Self::SignedIn => allow(signed),
                Self::PortalUser => allow(signed && actor.staff.is_none()),
                Self::SigningIn => allow(actor.has_session() && !signed),
                Self::Member if !signed => Expect::Deny,
                Self::Member => found(actor.affiliated()),
                Self::PracticeAdmin => allow(admin),
                Self::Staff(p) => allow(staff_may(p)),
                Self::Application => allow(actor.application),
                Self::StepUp | Self::StrongStep | Self::ProfileSecondStep => Expect::Deny,
                // A rule that needs a target, on a route without one, refuses everyone.
                _ => Expect::Deny,
            };
        };
        let mine = t.plan == actor.plan;
        let in_mine = |practices: &[&str]| practices.iter().any(|p| actor.admin_of.contains(p));
        match self {
            Self::Anyone => Expect::Public,
            Self::Session => allow(actor.has_session()),
            Self::SignedIn => allow(signed),
            Self::PortalUser => allow(signed && actor.staff.is_none()),
            Self::SigningIn => allow(actor.has_session() && !signed),
            Self::Member if !signed => Expect::Deny,
            Self::Member => found(actor.affiliated()),
            Self::PracticeAdmin => allow(admin),
            Self::Staff(p) => allow(staff_may(p)),
            Self::Application => allow(actor.application),
            Self::StepUp | Self::StrongStep | Self::ProfileSecondStep | Self::NoneOwned => Expect::Deny,
            Self::ThreadReader if !signed => Expect::Deny,
            Self::ThreadReader => {
                let mailbox = staff_may(Some(P::Messages));
                let practice_side = !t.internal && (t.owner == actor.user || in_mine(&t.practices));
                found(mine && (mailbox || practice_side))
            }
            Self::Own if !signed => Expect::Deny,
            Self::Own => found(mine && t.owner.is_some() && t.owner == actor.user),
            Self::AdminOfAny
            | Self::AdminOfAll
            | Self::AdminOfOthers
            | Self::AdminOfAffiliation
            | Self::AdminOfRequest
            | Self::Sender
                if !admin =>
            {
                Expect::Deny
            }
            _ if matches!(self, Self::StaffOn(_) | Self::StaffActOn(_)) && !staff_may(self.permission()) => {
                Expect::Deny
            }
            Self::AppOn if !actor.application => Expect::Deny,
            _ if !mine => Expect::NotFound,
            Self::AdminOfAny => found(t.staff.is_none() && in_mine(&t.practices)),
            Self::AdminOfAll | Self::AdminOfOthers if t.staff.is_some() || !in_mine(&t.practices) => Expect::NotFound,
            Self::AdminOfOthers if t.is_actor(actor) => Expect::Deny,
            Self::AdminOfAll | Self::AdminOfOthers => allow(t.practices.iter().all(|p| actor.admin_of.contains(p))),
            Self::AdminOfAffiliation | Self::AdminOfRequest => found(t.staff.is_none() && in_mine(&t.practices)),
            Self::Sender => found(t.sender.is_some() && t.sender == actor.user),
            Self::StaffOn(_) | Self::AppOn => Expect::Allow,
            // The product's own order (`Rank::may_act_on`): nobody above their role; among equals
            // only plan administrators act on one another.
            Self::StaffActOn(_) => allow(rank(actor.rank).may_act_on(rank(t.rank))),
        }
    }

    fn permission(self) -> Option<P> {
        match self {
            Self::Staff(p) => p,
            Self::StaffOn(p) | Self::StaffActOn(p) => Some(p),
            _ => None,
        }
    }
}

fn found(yes: bool) -> Expect {
    if yes { Expect::Allow } else { Expect::NotFound }
}

/// What the ids in a route's path name, which decides the targets it is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    None,
    /// A user account (`{id}`), and through it its affiliations.
    User,
    /// A staff account.
    StaffUser,
    /// An affiliation (`{aid}`, or `{id}` of `/affiliations/…`).
    Affiliation,
    /// A pending invitation, by the invited user's id.
    Invitation,
    /// An access request.
    Request,
    /// A session (pages).
    Session,
    /// A session (the API's row, so that the page's does not end it first).
    ApiSession,
    /// A self-service association match.
    Attempt,
    /// An administrator registration request.
    Registration,
    /// A roster import.
    Import,
    /// A portal application.
    Application,
    /// A user type, by key.
    UserType,
    /// A secure-message thread.
    Thread,
    /// A secure message's attachment.
    Attachment,
    /// A provider profile update request (a thread of that topic).
    ProfileUpdate,
    /// A practice's access review (`{id}`), with a user of the practice (`{user}`).
    Review,
    /// One of the plan's secure-message topics (not the system topic).
    Topic,
}

/// One route: method, path as the router has it, the rule, what the ids name, the values of an
/// `{action}` segment with each one's rule, and the phase its allowed cells run in (0: reads and
/// harmless writes; 1: destructive; 2: takes a target out of a practice (run on a throwaway
/// target); 3: demotes the actor; 4: ends the actor's session).
#[derive(Debug, Clone)]
pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    pub rule: Rule,
    pub ids: IdKind,
    pub actions: Vec<(&'static str, Rule)>,
    pub phase: u8,
    /// A body that passes validation, so that only authorization can refuse: a form
    /// (`k=v&k=v`) for pages, JSON for the API; `{own_aff}` and `{my_practice}` are the actor's.
    pub body: Option<&'static str>,
}

fn r(method: &'static str, path: &'static str, rule: Rule) -> Row {
    Row { method, path, rule, ids: IdKind::None, actions: Vec::new(), phase: 0, body: None }
}

impl Row {
    fn on(mut self, ids: IdKind) -> Self {
        self.ids = ids;
        self
    }
    fn phase(mut self, phase: u8) -> Self {
        self.phase = phase;
        self
    }
    fn body(mut self, body: &'static str) -> Self {
        self.body = Some(body);
        self
    }
    /// The phase of one cell: removing a target from a practice runs after the other
    /// destructive cells, handing the administrator role over after that, signing out last.
    pub fn phase_of(&self, action: Option<&str>) -> u8 {
        match action {
            Some("revoke" | "remove") => 2,
            Some("hand-over") => 3,
            _ => self.phase,
        }
    }
    fn actions(mut self, actions: &[(&'static str, Rule)]) -> Self {
        self.actions = actions.to_vec();
        self
    }
}

/// A practice member's details that pass validation.
const EDIT_FORM: &str = "first_name=Pat&last_name=Edited&email=pat.edited@example.org&email_confirm=pat.edited@example.org&street=1 Main St&city=Seattle&state=WA&zip=98101";
const EDIT_JSON: &str = r#"{"first_name": "Pat", "middle_name": "", "last_name": "Edited", "email": "pat.edited@example.org", "email_confirm": "pat.edited@example.org", "mobile_phone": "", "office_phone": "", "fax": "", "street": "1 Main St", "city": "Seattle", "state": "WA", "zip": "98101"}"#;

/// The table. Every route of `gatehouse_web::route_table` must have exactly one row.
pub fn rows() -> Vec<Row> {
    use IdKind as I;
    use Rule::*;
    let support = [
        ("reset-two-step", StaffActOn(P::UserSupport)),
        ("unlock", StaffActOn(P::UserSupport)),
        ("deactivate", StaffActOn(P::UserSupport)),
        ("reactivate", StaffActOn(P::UserSupport)),
        ("resend-invitation", StaffActOn(P::UserSupport)),
        ("send-password-reset", StaffActOn(P::UserSupport)),
    ];
    let member_pages = [
        ("deactivate", AdminOfAll),
        ("reactivate", AdminOfAll),
        ("reset-password", AdminOfOthers),
        ("revoke", AdminOfAny),
    ];
    let affiliation_pages =
        [("remove", AdminOfAffiliation), ("make-admin", AdminOfAffiliation), ("hand-over", AdminOfAffiliation)];
    vec![
        r("GET", "/healthz", Anyone),
        r("GET", "/.well-known/openid-configuration", Anyone),
        r("GET", "/oauth2/jwks", Anyone),
        // The OpenID Connect flow: the client authenticates itself (or shows an access token);
        // consent is the signed-in person's own.
        r("GET", "/oauth2/authorize", Anyone),
        r("POST", "/oauth2/authorize", Anyone),
        r("GET", "/oauth2/authorize/resume", Anyone),
        r("GET", "/oauth2/consent", SignedIn),
        r("POST", "/oauth2/consent", SignedIn).body("decision=allow"),
        r("POST", "/oauth2/token", Anyone),
        r("GET", "/oauth2/userinfo", Anyone),
        r("POST", "/oauth2/userinfo", Anyone),
        r("POST", "/oauth2/introspect", Anyone),
        r("POST", "/oauth2/revoke", Anyone),
        r("GET", "/oauth2/logout", Anyone),
        r("POST", "/oauth2/logout", Anyone),
        // The answer to "Sign out?": ends the caller's own session (last, with sign-out).
        r("POST", "/oauth2/logout/confirm", Anyone).phase(4),
        r("GET", "/dev/outbox", Anyone),
        // Signing in and the self-service tools: public.
        r("GET", "/signin", Anyone),
        r("POST", "/signin", Anyone),
        r("GET", "/signup", Anyone),
        r("POST", "/signup", Anyone),
        r("GET", "/register", Anyone),
        r("POST", "/register", Anyone),
        r("GET", "/first-password", Anyone),
        r("POST", "/first-password", Anyone),
        r("GET", "/forgot-username", Anyone),
        r("POST", "/forgot-username", Anyone),
        r("GET", "/forgot-password", Anyone),
        r("POST", "/forgot-password", Anyone),
        r("GET", "/forgot-password/verify", Anyone),
        r("POST", "/forgot-password/verify", Anyone),
        r("GET", "/forgot-password/new", Anyone),
        r("POST", "/forgot-password/new", Anyone),
        r("GET", "/reset-password", Anyone),
        r("GET", "/profile/email", Anyone),
        r("GET", "/branding/logo", Anyone),
        // The steps of signing in.
        r("GET", "/two-step/setup", Session),
        r("POST", "/two-step/setup", Session),
        r("GET", "/two-step/code", Session),
        r("POST", "/two-step/code", Session),
        r("GET", "/terms", Session),
        r("POST", "/terms", Session),
        // A signed-in person's own pages.
        r("GET", "/", SignedIn),
        r("GET", "/sessions", SignedIn),
        r("GET", "/sessions/{id}/end", Own).on(I::Session),
        r("POST", "/sessions/{id}/end", Own).on(I::Session).phase(1),
        r("GET", "/profile", SignedIn),
        r("POST", "/profile/confirm", SignedIn),
        r("POST", "/profile/code", SignedIn),
        r("POST", "/profile/phone", SignedIn),
        r("POST", "/profile/email", SignedIn),
        // The emailed link is the proof (as `/api/v1/email-change/confirm`): no session needed.
        r("POST", "/profile/email/confirm", Anyone),
        r("POST", "/profile/office", StepUp),
        r("POST", "/profile/done", SignedIn),
        // The passkey as the second step of "confirm it's you".
        r("POST", "/profile/passkey/options", ProfileSecondStep),
        r("POST", "/profile/passkey", ProfileSecondStep).body("ceremony=x&credential=%7B%7D"),
        r("POST", "/profile/recovery-codes", StepUp),
        r("GET", "/profile/authenticator", SignedIn),
        r("GET", "/assets/passkeys.js", Anyone),
        r("GET", "/profile/passkeys", SignedIn),
        r("POST", "/profile/passkeys/options", StepUp).body("name=Laptop"),
        // Finishing a registration needs its ceremony, which only a confirmed profile can start
        // (the options above); a made-up one is a bad answer.
        r("POST", "/profile/passkeys", SignedIn).body("ceremony=x&credential=%7B%7D"),
        r("GET", "/profile/passkeys/{id}/remove", NoneOwned).on(I::User),
        r("POST", "/profile/passkeys/{id}/remove", NoneOwned).on(I::User),
        r("POST", "/signin/passkey/options", Anyone),
        r("POST", "/signin/passkey", Anyone).body("ceremony=x&credential=%7B%7D"),
        r("POST", "/two-step/passkey/options", SigningIn),
        r("POST", "/two-step/passkey", Session).body("ceremony=x&credential=%7B%7D"),
        // The strong-factor step answers only a session at `strong_factor_setup` (none in the
        // world): any other session is sent on to its own step, like the other sign-in steps.
        r("GET", "/two-step/strong", Session),
        r("POST", "/two-step/strong", Session).body("action=continue"),
        r("POST", "/two-step/strong/passkey/options", StrongStep).body("name=Laptop"),
        r("POST", "/two-step/strong/passkey", Session).body("ceremony=x&credential=%7B%7D"),
        r("POST", "/factor-nudge/dismiss", SignedIn),
        r("POST", "/profile/authenticator", StepUp).body("action=start"),
        r("GET", "/associate", SignedIn),
        // A well-formed claim that matches nobody: portal users get "no match", staff a refusal.
        r("POST", "/associate", PortalUser)
            .body("provider_type=group&group_name=Nowhere&tax_id=123456789&provider_id=G900009&zip=98101"),
        r("GET", "/associate/{attempt}", Own).on(I::Attempt),
        r("POST", "/associate/{attempt}", Own).on(I::Attempt).phase(1),
        r("POST", "/associate/{attempt}/request", Own).on(I::Attempt).phase(1),
        r("GET", "/accounts", SignedIn),
        r("POST", "/accounts/switch", Member).body("affiliation={own_aff}"),
        // Practice administrators.
        r("GET", "/access-requests", PracticeAdmin),
        r("POST", "/access-requests/{id}/approve", AdminOfRequest)
            .on(I::Request)
            .phase(1)
            .body("user_type=billing_staff&scope=all"),
        r("GET", "/access-requests/{id}/decline", AdminOfRequest).on(I::Request),
        r("POST", "/access-requests/{id}/decline", AdminOfRequest).on(I::Request).phase(1),
        r("GET", "/practice/users", PracticeAdmin),
        // Review users (issue 17): an administrator of the review's practice; everyone else 404.
        r("GET", "/practice/reviews", PracticeAdmin),
        r("GET", "/practice/reviews/{id}", AdminOfAffiliation).on(I::Review),
        r("GET", "/practice/reviews/{id}/users/{user}/change", AdminOfAffiliation).on(I::Review),
        r("POST", "/practice/reviews/{id}/users/{user}", AdminOfAffiliation).on(I::Review).body("decision=keep"),
        r("POST", "/practice/reviews/{id}/keep-remaining", AdminOfAffiliation).on(I::Review),
        r("POST", "/practice/reviews/{id}/sign", AdminOfAffiliation).on(I::Review).body("first_name=No&last_name=Body"),
        r("GET", "/practice/users/{id}", AdminOfAny).on(I::User),
        r("GET", "/practice/users/{id}/edit", AdminOfOthers).on(I::User),
        r("POST", "/practice/users/{id}/edit", AdminOfOthers).on(I::User).phase(1).body(EDIT_FORM),
        r("GET", "/practice/users/{id}/affiliations/new", AdminOfAny).on(I::User),
        r("POST", "/practice/users/{id}/affiliations", AdminOfAny)
            .on(I::User)
            .body("practice={my_practice}&user_type=billing_staff"),
        r("POST", "/practice/users/{id}/affiliations/{aid}/type", AdminOfAffiliation)
            .on(I::Affiliation)
            .body("user_type=billing_staff"),
        r("POST", "/practice/users/{id}/affiliations/{aid}/admin", AdminOfAffiliation)
            .on(I::Affiliation)
            .phase(1)
            .body("admin=0"),
        r("GET", "/practice/users/{id}/affiliations/{aid}/providers", AdminOfAffiliation).on(I::Affiliation),
        r("POST", "/practice/users/{id}/affiliations/{aid}/providers", AdminOfAffiliation).on(I::Affiliation),
        r("GET", "/practice/users/{id}/affiliations/{aid}/{action}", AdminOfAffiliation)
            .on(I::Affiliation)
            .actions(&affiliation_pages),
        r("POST", "/practice/users/{id}/affiliations/{aid}/{action}", AdminOfAffiliation)
            .on(I::Affiliation)
            .actions(&affiliation_pages)
            .phase(1),
        r("GET", "/practice/users/{id}/{action}", AdminOfAny).on(I::User).actions(&member_pages),
        r("POST", "/practice/users/{id}/{action}", AdminOfAny).on(I::User).actions(&member_pages).phase(1),
        r("GET", "/practice/invite", PracticeAdmin),
        r("POST", "/practice/invite", PracticeAdmin),
        r("GET", "/practice/pending", PracticeAdmin),
        r("POST", "/practice/pending/{id}/resend", Sender).on(I::Invitation).phase(1),
        r("GET", "/practice/pending/{id}/cancel", Sender).on(I::Invitation),
        r("POST", "/practice/pending/{id}/cancel", Sender).on(I::Invitation).phase(2),
        r("GET", "/practice/offers/{id}/cancel", NoneOwned).on(I::User),
        r("POST", "/practice/offers/{id}/cancel", NoneOwned).on(I::User).phase(1),
        // Secure messages: the inbox is everyone's (staff who work the mailbox are sent there);
        // writing needs a practice of one's own; a thread and its files, only its readers.
        r("GET", "/messages", SignedIn),
        r("POST", "/messages", Member),
        r("GET", "/messages/new", Member),
        r("GET", "/messages/{id}", ThreadReader).on(I::Thread),
        r("POST", "/messages/{id}/reply", ThreadReader).on(I::Thread).phase(1),
        r("POST", "/messages/{id}/archive", ThreadReader).on(I::Thread).body("archived=0"),
        r("GET", "/messages/files/{id}", ThreadReader).on(I::Attachment),
        r("GET", "/profile/add-facility", SignedIn),
        r("POST", "/profile/add-facility", SignedIn),
        // Offers of a practice, answered by the person (the world holds none).
        r("GET", "/offers", SignedIn),
        r("POST", "/offers/{id}/accept", NoneOwned).on(I::User).phase(1),
        r("GET", "/offers/{id}/decline", NoneOwned).on(I::User),
        r("POST", "/offers/{id}/decline", NoneOwned).on(I::User).phase(1),
        // An imported account's first sign-in: the emailed link is the credential.
        r("GET", "/first-signin/email", Session),
        r("POST", "/first-signin/email", Session),
        r("GET", "/first-signin/confirm", Anyone),
        r("POST", "/first-signin/confirm", Anyone),
        // The control panel.
        r("GET", "/admin", Staff(None)),
        r("GET", "/admin/registrations", Staff(Some(P::Registrations))),
        r("GET", "/admin/registrations/{id}", StaffOn(P::Registrations)).on(I::Registration),
        r("GET", "/admin/registrations/{id}/approve", StaffOn(P::Registrations)).on(I::Registration),
        r("POST", "/admin/registrations/{id}/approve", StaffOn(P::Registrations)).on(I::Registration).phase(1),
        r("GET", "/admin/registrations/{id}/deny", StaffOn(P::Registrations)).on(I::Registration),
        r("POST", "/admin/registrations/{id}/deny", StaffOn(P::Registrations)).on(I::Registration).phase(1),
        r("GET", "/admin/roster", Staff(Some(P::RosterView))),
        r("GET", "/admin/roster/import", Staff(Some(P::RosterImport))),
        r("POST", "/admin/roster/import", Staff(Some(P::RosterImport))),
        r("GET", "/admin/roster/imports/{id}", StaffOn(P::RosterView)).on(I::Import),
        r("GET", "/admin/audit", Staff(Some(P::AuditRead))),
        r("GET", "/admin/audit.csv", Staff(Some(P::AuditRead))),
        r("GET", "/admin/staff", Staff(Some(P::ManageStaff))),
        r("POST", "/admin/staff/invite", Staff(Some(P::ManageStaff))),
        r("GET", "/admin/staff/{id}/remove", StaffActOn(P::ManageStaff)).on(I::StaffUser),
        r("POST", "/admin/staff/{id}/remove", StaffActOn(P::ManageStaff)).on(I::StaffUser).phase(1),
        r("GET", "/admin/settings", Staff(Some(P::PlanSettings))),
        r("POST", "/admin/settings", Staff(Some(P::PlanSettings))),
        r("POST", "/admin/settings/terms", Staff(Some(P::PlanSettings))),
        r("POST", "/admin/settings/logo", Staff(Some(P::PlanSettings))),
        r("GET", "/admin/user-types", Staff(Some(P::PlanSettings))),
        r("POST", "/admin/user-types/{key}", StaffOn(P::PlanSettings)).on(I::UserType),
        r("GET", "/admin/users", Staff(Some(P::UserSearch))),
        r("GET", "/admin/users/{id}", StaffOn(P::UserSearch)).on(I::User),
        r("GET", "/admin/users/{id}/{action}", StaffActOn(P::UserSupport)).on(I::User).actions(&support),
        r("POST", "/admin/users/{id}/{action}", StaffActOn(P::UserSupport)).on(I::User).actions(&support).phase(1),
        r("GET", "/admin/migration", Staff(Some(P::UserSearch))),
        r("GET", "/admin/applications", Staff(Some(P::Applications))),
        r("POST", "/admin/applications", Staff(Some(P::Applications))),
        r("GET", "/admin/applications/{id}", StaffOn(P::Applications)).on(I::Application),
        r("POST", "/admin/applications/{id}", StaffOn(P::Applications)).on(I::Application).body("name=Matrix+app"),
        r("GET", "/admin/applications/{id}/secret", StaffOn(P::Applications)).on(I::Application),
        r("POST", "/admin/applications/{id}/secret", StaffOn(P::Applications)).on(I::Application).phase(1),
        r("GET", "/admin/applications/{id}/revoke", StaffOn(P::Applications)).on(I::Application),
        r("POST", "/admin/applications/{id}/revoke", StaffOn(P::Applications)).on(I::Application).phase(1),
        r("GET", "/admin/messages", Staff(Some(P::Messages))),
        r("GET", "/admin/messages/{id}", StaffOn(P::Messages)).on(I::Thread),
        r("POST", "/admin/messages/{id}/reply", StaffOn(P::Messages)).on(I::Thread).phase(1),
        r("POST", "/admin/messages/{id}/assign", StaffOn(P::Messages)).on(I::Thread).phase(1).body("agent=none"),
        r("POST", "/admin/messages/{id}/status", StaffOn(P::Messages)).on(I::Thread).phase(1).body("resolved=0"),
        r("GET", "/admin/messages/{id}/decide", StaffOn(P::Messages)).on(I::ProfileUpdate),
        // The plan's message topics (issue 16).
        r("GET", "/admin/settings/topics", Staff(Some(P::PlanSettings))),
        r("POST", "/admin/settings/topics", Staff(Some(P::PlanSettings))).body("label=Matrix questions"),
        r("POST", "/admin/settings/topics/{id}/label", StaffOn(P::PlanSettings)).on(I::Topic).body("label=Referral questions"),
        r("POST", "/admin/settings/topics/{id}/retire", StaffOn(P::PlanSettings)).on(I::Topic),
        r("POST", "/admin/settings/topics/{id}/restore", StaffOn(P::PlanSettings)).on(I::Topic),
        r("POST", "/admin/settings/topics/{id}/move", StaffOn(P::PlanSettings)).on(I::Topic).body("direction=up"),
        // Access reviews (issue 17): reading needs ReviewsRead (auditors too); acting on a
        // practice's behalf, starting and reminding need ReviewsManage.
        r("GET", "/admin/reviews", Staff(Some(P::ReviewsRead))),
        r("GET", "/admin/reviews/export", Staff(Some(P::ReviewsRead))),
        r("POST", "/admin/reviews/start", Staff(Some(P::ReviewsManage))).body("weeks=4"),
        r("GET", "/admin/reviews/{id}", StaffOn(P::ReviewsRead)).on(I::Review),
        r("GET", "/admin/reviews/{id}/users/{user}/change", StaffOn(P::ReviewsManage)).on(I::Review),
        r("POST", "/admin/reviews/{id}/users/{user}", StaffOn(P::ReviewsManage)).on(I::Review).body("decision=keep"),
        r("POST", "/admin/reviews/{id}/keep-remaining", StaffOn(P::ReviewsManage)).on(I::Review),
        r("POST", "/admin/reviews/{id}/sign", StaffOn(P::ReviewsManage)).on(I::Review).body("first_name=No&last_name=Body"),
        r("POST", "/admin/reviews/{id}/remind", StaffOn(P::ReviewsManage)).on(I::Review),
        r("POST", "/admin/messages/{id}/decide", StaffOn(P::Messages)).on(I::ProfileUpdate).phase(1),
        // The API: public.
        r("GET", "/api/v1/openapi.json", Anyone),
        r("POST", "/api/v1/invitations/check", Anyone),
        r("POST", "/api/v1/signup", Anyone),
        r("POST", "/api/v1/signin", Anyone),
        r("GET", "/api/v1/terms", Anyone),
        r("POST", "/api/v1/registrations", Anyone),
        r("POST", "/api/v1/forgot-username", Anyone),
        r("POST", "/api/v1/password-reset", Anyone),
        r("POST", "/api/v1/password-reset/status", Anyone),
        r("POST", "/api/v1/password-reset/verify", Anyone),
        r("POST", "/api/v1/password-reset/complete", Anyone),
        r("POST", "/api/v1/first-password", Anyone),
        r("POST", "/api/v1/email-change/confirm", Anyone),
        // The API: signing in, and one's own account.
        r("POST", "/api/v1/two-step/setup", Session),
        r("POST", "/api/v1/two-step/resend", Session),
        r("POST", "/api/v1/two-step/verify", Session),
        r("POST", "/api/v1/two-step/recovery", Session).body(r#"{"recovery_code": "abcde-12345"}"#),
        r("POST", "/api/v1/two-step/app", Session),
        r("POST", "/api/v1/terms/sign", Session),
        r("GET", "/api/v1/me", SignedIn),
        r("GET", "/api/v1/sessions", SignedIn),
        r("DELETE", "/api/v1/sessions/{id}", Own).on(I::ApiSession).phase(1),
        r("GET", "/api/v1/me/profile", SignedIn),
        r("GET", "/api/v1/me/authenticator", SignedIn),
        r("GET", "/api/v1/me/passkeys", SignedIn),
        r("POST", "/api/v1/me/passkeys/options", StepUp).body(r#"{"name": "Office laptop"}"#),
        r("POST", "/api/v1/me/passkeys", StepUp).body(r#"{"ceremony": "x", "credential": {}}"#),
        r("DELETE", "/api/v1/me/passkeys/{id}", NoneOwned).on(I::User),
        r("POST", "/api/v1/signin/passkey/options", Anyone),
        r("POST", "/api/v1/signin/passkey", Anyone).body(r#"{"ceremony": "x", "credential": {}}"#),
        r("POST", "/api/v1/two-step/passkey/options", Session),
        r("POST", "/api/v1/two-step/passkey", Session).body(r#"{"ceremony": "x", "credential": {}}"#),
        r("GET", "/api/v1/two-step/strong", Session),
        r("POST", "/api/v1/two-step/strong/app", Session),
        r("POST", "/api/v1/two-step/strong/app/confirm", Session).body(r#"{"code": "123456"}"#),
        r("POST", "/api/v1/two-step/strong/passkey/options", Session).body(r#"{"name": "Laptop"}"#),
        r("POST", "/api/v1/two-step/strong/passkey", Session).body(r#"{"ceremony": "x", "credential": {}}"#),
        r("POST", "/api/v1/two-step/strong/complete", Session),
        r("POST", "/api/v1/me/factor-nudge/dismiss", SignedIn),
        r("POST", "/api/v1/me/authenticator/enrol", StepUp),
        r("POST", "/api/v1/me/authenticator/confirm", StepUp).body(r#"{"code": "123456"}"#),
        r("DELETE", "/api/v1/me/authenticator", StepUp),
        r("POST", "/api/v1/me/recovery-codes", StepUp),
        r("POST", "/api/v1/me/profile/confirm-password", SignedIn),
        r("POST", "/api/v1/me/profile/send-code", StepUp),
        r("POST", "/api/v1/me/profile/verify-code", SignedIn),
        r("POST", "/api/v1/me/profile/passkey/options", ProfileSecondStep),
        r("POST", "/api/v1/me/profile/passkey", ProfileSecondStep).body(r#"{"ceremony": "x", "credential": {}}"#),
        r("POST", "/api/v1/me/profile/recovery-code", ProfileSecondStep).body(r#"{"recovery_code": "abcde-12345"}"#),
        r("PUT", "/api/v1/me/profile/office", StepUp),
        r("POST", "/api/v1/me/profile/phone", SignedIn),
        r("POST", "/api/v1/me/profile/phone/confirm", SignedIn),
        r("POST", "/api/v1/me/profile/email", SignedIn),
        r("POST", "/api/v1/associations", PortalUser).body(
            r#"{"provider_type":"group","group_name":"Nowhere","tax_id":"123456789","provider_id":"G900009","zip":"98101"}"#,
        ),
        r("POST", "/api/v1/associations/{attempt}/accept", Own).on(I::Attempt).phase(1),
        r("POST", "/api/v1/associations/{attempt}/access-request", Own).on(I::Attempt).phase(1),
        r("GET", "/api/v1/me/affiliations", SignedIn),
        r("POST", "/api/v1/me/active-affiliation", Member).body(r#"{"affiliation_id": {own_aff}}"#),
        // The API: practice administrators.
        r("GET", "/api/v1/access-requests", PracticeAdmin),
        r("POST", "/api/v1/access-requests/{id}/approve", AdminOfRequest)
            .on(I::Request)
            .phase(1)
            .body(r#"{"user_type": "billing_staff", "all_providers": true}"#),
        r("POST", "/api/v1/access-requests/{id}/decline", AdminOfRequest).on(I::Request).phase(1),
        r("GET", "/api/v1/practice/users", PracticeAdmin),
        r("GET", "/api/v1/practice/users/{id}", AdminOfAny).on(I::User),
        r("PATCH", "/api/v1/practice/users/{id}", AdminOfOthers).on(I::User).phase(1).body(EDIT_JSON),
        r("POST", "/api/v1/practice/users/{id}/affiliations", AdminOfAny).on(I::User).body(
            r#"{"practice_id": {my_practice}, "user_type": "billing_staff", "all_providers": true, "providers": []}"#,
        ),
        r("POST", "/api/v1/practice/users/{id}/revoke", AdminOfAny).on(I::User).phase(2),
        r("POST", "/api/v1/practice/users/{id}/deactivate", AdminOfAll).on(I::User).phase(1),
        r("POST", "/api/v1/practice/users/{id}/reactivate", AdminOfAll).on(I::User).phase(1),
        r("POST", "/api/v1/practice/users/{id}/password-reset", AdminOfOthers).on(I::User).phase(1),
        r("GET", "/api/v1/practice/offers", PracticeAdmin),
        r("DELETE", "/api/v1/practice/offers/{id}", NoneOwned).on(I::User).phase(1),
        r("GET", "/api/v1/me/offers", SignedIn),
        r("POST", "/api/v1/me/offers/{id}/accept", NoneOwned).on(I::User).phase(1),
        r("POST", "/api/v1/me/offers/{id}/decline", NoneOwned).on(I::User).phase(1),
        r("POST", "/api/v1/first-signin/email-proof", Anyone),
        r("POST", "/api/v1/first-signin/email-proof/resend", Session),
        r("PATCH", "/api/v1/practice/affiliations/{id}", AdminOfAffiliation)
            .on(I::Affiliation)
            .body(r#"{"user_type": "billing_staff"}"#),
        r("DELETE", "/api/v1/practice/affiliations/{id}", AdminOfAffiliation).on(I::Affiliation).phase(2),
        r("POST", "/api/v1/practice/hand-over", PracticeAdmin),
        r("GET", "/api/v1/practice/invitations", PracticeAdmin),
        r("POST", "/api/v1/practice/invitations", PracticeAdmin),
        r("POST", "/api/v1/practice/invitations/{user}/resend", Sender).on(I::Invitation).phase(1),
        r("DELETE", "/api/v1/practice/invitations/{user}", Sender).on(I::Invitation).phase(2),
        // The API: secure messages.
        r("GET", "/api/v1/messages", SignedIn),
        r("GET", "/api/v1/messages/topics", SignedIn),
        // Access reviews (issue 17) through the API: as on the pages.
        r("GET", "/api/v1/practice/reviews", PracticeAdmin),
        r("GET", "/api/v1/practice/reviews/{id}", AdminOfAffiliation).on(I::Review),
        r("GET", "/api/v1/practice/reviews/{id}/users/{user}", AdminOfAffiliation).on(I::Review),
        r("PUT", "/api/v1/practice/reviews/{id}/users/{user}", AdminOfAffiliation).on(I::Review).body(r#"{"decision": "keep"}"#),
        r("POST", "/api/v1/practice/reviews/{id}/keep-remaining", AdminOfAffiliation).on(I::Review),
        r("POST", "/api/v1/practice/reviews/{id}/sign", AdminOfAffiliation)
            .on(I::Review)
            .body(r#"{"first_name": "No", "last_name": "Body"}"#),
        r("GET", "/api/v1/reviews", Staff(Some(P::ReviewsRead))),
        r("GET", "/api/v1/reviews/evidence", Staff(Some(P::ReviewsRead))),
        r("POST", "/api/v1/reviews/start", Staff(Some(P::ReviewsManage))).body(r#"{"weeks": 4}"#),
        r("GET", "/api/v1/reviews/{id}", StaffOn(P::ReviewsRead)).on(I::Review),
        r("GET", "/api/v1/reviews/{id}/users/{user}", StaffOn(P::ReviewsManage)).on(I::Review),
        r("PUT", "/api/v1/reviews/{id}/users/{user}", StaffOn(P::ReviewsManage)).on(I::Review).body(r#"{"decision": "keep"}"#),
        r("POST", "/api/v1/reviews/{id}/keep-remaining", StaffOn(P::ReviewsManage)).on(I::Review),
        r("POST", "/api/v1/reviews/{id}/sign", StaffOn(P::ReviewsManage))
            .on(I::Review)
            .body(r#"{"first_name": "No", "last_name": "Body"}"#),
        r("POST", "/api/v1/reviews/{id}/remind", StaffOn(P::ReviewsManage)).on(I::Review),
        r("POST", "/api/v1/messages", Member).body(
            r#"{"practice_id": {member_practice}, "topic": "claims", "subject": "Matrix question", "body": "Please call us."}"#,
        ),
        r("GET", "/api/v1/messages/unread-count", SignedIn),
        r("GET", "/api/v1/messages/{id}", ThreadReader).on(I::Thread),
        r("POST", "/api/v1/messages/{id}/replies", ThreadReader).on(I::Thread).phase(1).body(r#"{"body": "Any news?"}"#),
        r("PUT", "/api/v1/messages/{id}/archived", ThreadReader).on(I::Thread).body(r#"{"archived": false}"#),
        r("GET", "/api/v1/messages/attachments/{id}", ThreadReader).on(I::Attachment),
        r("GET", "/api/v1/mailbox", Staff(Some(P::Messages))),
        r("GET", "/api/v1/mailbox/agents", Staff(Some(P::Messages))),
        r("POST", "/api/v1/mailbox/{id}/assign", StaffOn(P::Messages)).on(I::Thread).phase(1).body(r#"{"agent_id": null}"#),
        r("POST", "/api/v1/mailbox/{id}/resolve", StaffOn(P::Messages)).on(I::Thread).phase(1),
        r("POST", "/api/v1/mailbox/{id}/reopen", StaffOn(P::Messages)).on(I::Thread).phase(1),
        // The API: staff.
        r("POST", "/api/v1/roster/imports", Staff(Some(P::RosterImport))),
        r("GET", "/api/v1/roster/imports/{id}", StaffOn(P::RosterView)).on(I::Import),
        r("POST", "/api/v1/legacy-users/imports", Staff(Some(P::RosterImport))),
        r("GET", "/api/v1/legacy-users/report", Staff(Some(P::UserSearch))),
        // The API: applications.
        r("POST", "/api/v1/authz/check", Application),
        r("POST", "/api/v1/authz/check-batch", Application),
        r("GET", "/api/v1/users/{id}/access", AppOn).on(I::User),
        // Last: the actor's own end.
        r("POST", "/signout", Session).phase(4),
        r("POST", "/api/v1/signout", Session).phase(4),
    ]
}

/// The matrix's rank number as the domain's `Rank` (5 plan administrator … 1 portal user).
fn rank(n: u8) -> gatehouse_domain::staff::Rank {
    use gatehouse_domain::staff::Rank;
    match n {
        5 => Rank::PlanAdmin,
        4 => Rank::HelpDesk,
        3 => Rank::Auditor,
        2 => Rank::PracticeAdmin,
        _ => Rank::PortalUser,
    }
}
