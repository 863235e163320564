//! Provider profile update requests (issue 16, seed 003's "Add Facility") through the services,
//! on both databases: the providers a user may act for, a request sent as a thread with its
//! lines, the staff's review against the roster, one decision per line (added to an affiliation,
//! a new affiliation with the chosen user type, already held, not on the roster, a Tax ID
//! without an administrator), the reply and resolution, the permission index seeing a grant at
//! once, two agents approving the same line at once, and who may not decide.

use crate::both;
use crate::support::fixtures::{Person, Practice};
use crate::support::{Backend, TestApp};
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::permissions::{Permission, UserTypeKey};
use gatehouse_domain::profile_update::{LineDecision, LineState, ProfileUpdateForm};
use gatehouse_domain::secure_messages::ThreadStatus;
use gatehouse_domain::staff::StaffRole;
use gatehouse_domain::{Npi, PracticeId, ProviderRowId, ThreadId};
use gatehouse_services::RequestMeta;
use gatehouse_services::access_requests::Scope;
use gatehouse_services::authz::index::{Check, Target, Who};
use gatehouse_services::profile_update::{DecideOutcome, ProfileUpdateError};
use std::fmt::Debug;

const LAKESIDE: &str = "825671892";
const CEDAR: &str = "914407731";
const BIRCH: &str = "731842265";
const DENY_REASON: &str = "Not billing with us yet. Marmoset-reason-4417";

/// Lakeside (G1, P1) where the requester works for G1 only; Cedar Valley (G2, P2) with its own
/// administrator; Birch Street (G3, P3) with nobody at all.
struct World {
    app: TestApp,
    lakeside: PracticeId,
    requester: Person,
    admin_a: Person,
    agent: Person,
    agent2: Person,
    auditor: Person,
    other_staff: Person,
}

/// The NPI fixtures give the `n`th provider (`G{k}` is 2k, `P{k}` is 2k + 1).
fn fixture_npi(n: u32) -> Npi {
    let base = 100_000_000 + n;
    let digits: Vec<u8> = format!("{base:09}").bytes().map(|b| b - b'0').collect();
    let mut nine = [0u8; 9];
    nine.copy_from_slice(&digits);
    Npi::from_first_nine(&nine)
}

fn approve(user_type: Option<&str>) -> LineDecision {
    LineDecision::Approve { user_type: user_type.map(|k| UserTypeKey::parse(k).expect("key")) }
}

fn deny(reason: &str) -> LineDecision {
    LineDecision::Deny { reason: reason.into() }
}

impl World {
    async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let list = [
            (1, LAKESIDE, "Lakeside Family Medicine"),
            (2, CEDAR, "Cedar Valley Pediatrics"),
            (3, BIRCH, "Birch Street Clinic"),
        ];
        let practices: Vec<Practice> = app.practices(&plan, &list).await;
        let admin_a = app.person(&plan, "admin_a", 1101).await;
        app.admin_of(&admin_a, &practices[0]).await;
        let admin_b = app.person(&plan, "admin_b", 1102).await;
        app.admin_of(&admin_b, &practices[1]).await;
        let requester = app.person(&plan, "requester", 1103).await;
        app.member_of(&requester, &practices[0], &admin_a).await;
        let agent = app.staff(&plan, "agent", 1105, StaffRole::HelpDesk).await;
        let agent2 = app.staff(&plan, "agent2", 1106, StaffRole::HelpDesk).await;
        let auditor = app.staff(&plan, "auditor", 1107, StaffRole::Auditor).await;
        let other = app.plan("north", "Northwind Health").await;
        let other_staff = app.staff(&other, "north_admin", 2101, StaffRole::PlanAdmin).await;
        let w = Self {
            lakeside: PracticeId(
                app.ids(&format!("SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{LAKESIDE}'", plan.id().0))
                    .await[0],
            ),
            app,
            requester,
            admin_a,
            agent,
            agent2,
            auditor,
            other_staff,
        };
        // The requester's administrator narrows them to G1 of Lakeside.
        let svc = w.svc();
        let grant = svc.practice_grant(&w.admin_a.plan, &w.admin_a.session).await.expect("grant");
        let affiliation = w.app.affiliation(&w.requester, &practices[0]).await;
        let scope = Scope::Providers(vec![w.provider_row("G1").await]);
        svc.set_member_providers(&grant, &w.app.plan, affiliation, &scope, &RequestMeta::cli()).await.expect("scope");
        Some(w)
    }

    fn svc(&self) -> &gatehouse_services::Services {
        &self.app.running.services
    }

    async fn provider_row(&self, provider_id: &str) -> ProviderRowId {
        let q = format!(
            "SELECT id FROM providers WHERE plan_id = {} AND provider_id = '{provider_id}'",
            self.app.plan.id().0
        );
        ProviderRowId(self.app.ids(&q).await[0])
    }

    async fn send(&self, lines: &str, note: &str) -> Result<ThreadId, ProfileUpdateError> {
        let form = ProfileUpdateForm { lines: lines.into(), note: note.into() };
        let r = &self.requester;
        self.svc().send_profile_update(&r.plan, &r.session, self.lakeside, &form, &RequestMeta::cli()).await
    }

    async fn decide(
        &self,
        who: &Person,
        id: ThreadId,
        decisions: &[(u32, LineDecision)],
    ) -> Result<DecideOutcome, ProfileUpdateError> {
        self.svc().decide_profile_update(&who.plan, &who.session, id, decisions, &RequestMeta::cli()).await
    }

    /// Whether the permission index lets the requester view claims of `provider_id`.
    async fn may_view_claims(&self, provider_id: &str) -> bool {
        let check = Check {
            who: Who::Id(self.requester.id.0),
            permission: Permission::ClaimsView,
            target: Target::ProviderId(provider_id.into()),
        };
        self.svc().check_one(self.app.plan.id(), &check).await.expect("check").allowed()
    }

    /// The provider IDs the requester may act for, by Tax ID.
    async fn acting_for(&self, tax_id: &str) -> Vec<String> {
        let mine = self.svc().my_providers(&self.requester.plan, &self.requester.session).await.expect("my providers");
        mine.into_iter()
            .filter(|a| a.tax_id == tax_id)
            .flat_map(|a| a.providers.into_iter().map(|p| p.provider_id))
            .collect()
    }

    async fn count(&self, q: &str) -> i64 {
        self.app.count(q).await
    }
}

async fn a_request_is_reviewed_decided_and_answered(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let plan = &w.app.plan;
    assert_eq!(w.acting_for(LAKESIDE).await, ["G1"]);
    assert!(w.acting_for(CEDAR).await.is_empty());
    assert!(!w.may_view_claims("P1").await && !w.may_view_claims("P2").await);

    // P1 of Lakeside; P2 of Cedar Valley by its NPI; G1 again (held); an unknown ID.
    let lines = format!("p1\n\n{}\nG1\nX-999\nP1\n", fixture_npi(5));
    let id = w.send(&lines, "We opened a second office.").await.expect("sent");

    // A thread like any other, for the requester and the mailbox.
    let v = svc.thread_view(plan, &w.requester.session, id, &RequestMeta::cli()).await.expect("requester reads");
    assert_eq!(v.thread.topic, TopicCode::PROVIDER_PROFILE_UPDATE);
    assert_eq!(v.thread.practice, w.lakeside);
    assert!(v.messages[0].body.contains("provider ID P1") && v.messages[0].body.contains("second office"));
    assert_eq!(w.count("SELECT COUNT(*) FROM profile_update_lines").await, 4, "the duplicate P1 is kept once");
    assert!(
        w.app.outbox().await.iter().any(|m| m.kind == "secure_message.v1" && m.recipient == "agent@example.org"),
        "the mailbox is told"
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile_update.requested'").await, 1);

    let review = svc.profile_update_review(plan, &w.agent.session, id).await.expect("review");
    assert!(review.requester_active);
    assert_eq!(review.lines.len(), 4);
    let [p1, p2, g1, unknown] = [&review.lines[0], &review.lines[1], &review.lines[2], &review.lines[3]];
    let m = p1.single().expect("P1 found");
    assert_eq!((m.provider.provider_id.as_str(), m.provider.tax_id.as_str()), ("P1", LAKESIDE));
    assert!(!m.already_has && m.has_affiliation && m.tax_id_has_admin);
    assert!(!p1.needs_user_type());
    let m = p2.single().expect("the NPI names P2");
    assert_eq!((m.provider.provider_id.as_str(), m.provider.tax_id.as_str()), ("P2", CEDAR));
    assert!(!m.has_affiliation && m.tax_id_has_admin && p2.needs_user_type());
    assert!(g1.single().expect("G1 found").already_has);
    assert!(unknown.matches.is_empty() && unknown.single().is_none());
    assert!(review.user_types.iter().any(|t| t.key.as_str() == "clinical_staff"));
    assert!(!review.all_decided());

    // The unknown line cannot be approved; nothing is decided by a refused call.
    let r = w.decide(&w.agent, id, &[(1, approve(None)), (4, approve(Some("billing_staff")))]).await;
    assert!(
        matches!(&r, Err(ProfileUpdateError::Line { line: 4, message }) if message.contains("not a current provider")),
        "{r:?}"
    );
    // A new Tax ID needs a user type.
    let r = w.decide(&w.agent, id, &[(2, approve(None))]).await;
    assert!(matches!(&r, Err(ProfileUpdateError::Line { line: 2, message }) if message.contains("user type")), "{r:?}");
    let r = w.decide(&w.agent, id, &[(2, approve(Some("no_such_type")))]).await;
    assert!(matches!(&r, Err(ProfileUpdateError::Line { line: 2, .. })), "{r:?}");
    assert_eq!(w.count("SELECT COUNT(*) FROM profile_update_lines WHERE decision <> 'pending'").await, 0);
    assert!(!w.may_view_claims("P1").await);

    // P1 is added to the Lakeside affiliation and the index sees it at once.
    let out = w.decide(&w.agent, id, &[(1, approve(None))]).await.expect("approve P1");
    assert_eq!(out, DecideOutcome { decided: 1, resolved: false });
    assert!(w.may_view_claims("P1").await, "the permission index sees the grant at once");
    assert_eq!(w.acting_for(LAKESIDE).await, ["G1", "P1"]);
    let r = w.decide(&w.agent2, id, &[(1, deny("late"))]).await;
    assert!(matches!(r, Err(ProfileUpdateError::AlreadyDecided { line: 1 })), "{r:?}");

    // The rest: a new Cedar Valley affiliation as clinical staff, G1 already held, the unknown
    // line denied. The reply is posted and the thread resolved.
    let out = w
        .decide(&w.agent, id, &[(2, approve(Some("clinical_staff"))), (3, approve(None)), (4, deny(DENY_REASON))])
        .await
        .expect("decide the rest");
    assert_eq!(out, DecideOutcome { decided: 3, resolved: true });
    assert!(w.may_view_claims("P2").await && !w.may_view_claims("G2").await, "only P2 of Cedar Valley");
    assert_eq!(w.acting_for(CEDAR).await, ["P2"]);
    let linked = svc.linked_accounts(plan, &w.requester.session).await.expect("linked");
    let cedar = linked.iter().find(|a| a.tax_id == CEDAR).expect("a Cedar Valley affiliation");
    assert_eq!((cedar.user_type.as_str(), cedar.is_admin, cedar.all_providers), ("Clinical Staff", false, false));
    assert_eq!(w.acting_for(LAKESIDE).await, ["G1", "P1"], "nothing added twice");

    let lines = svc.profile_update_lines(plan, &w.requester.session, id).await.expect("lines");
    let states: Vec<LineState> = lines.iter().map(|l| l.state).collect();
    assert_eq!(states, [LineState::Approved, LineState::Approved, LineState::Approved, LineState::Denied]);
    assert_eq!(lines[3].reason.as_deref(), Some(DENY_REASON));
    assert_eq!(lines[0].decided_by, Some(w.agent.id));

    let v = svc.thread_view(plan, &w.requester.session, id, &RequestMeta::cli()).await.expect("requester reads");
    assert_eq!(v.thread.status, ThreadStatus::Resolved);
    let reply = v.messages.last().expect("the reply");
    assert!(reply.from_plan && !reply.internal);
    for expected in ["provider ID P1", "P2", CEDAR, "provider ID G1", "provider ID X-999", DENY_REASON] {
        assert!(reply.body.contains(expected), "{expected} in {}", reply.body);
    }
    assert!(
        w.app.outbox().await.iter().any(|m| m.kind == "secure_message.v1" && m.recipient == "requester@example.org"),
        "the requester is told a message waits"
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile_update.approved'").await, 3);
    assert_eq!(w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile_update.denied'").await, 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'message.resolved'").await, 1);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%Marmoset%' OR detail LIKE '%second office%'")
            .await,
        0,
        "no reason or note in the audit log"
    );
    let r = w.decide(&w.agent, id, &[(4, approve(None))]).await;
    assert!(matches!(r, Err(ProfileUpdateError::AlreadyDecided { line: 4 })), "{r:?}");
}
both!(a_request_is_reviewed_decided_and_answered);

async fn a_tax_id_without_an_administrator_cannot_gain_a_member(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.send("G3", "").await.expect("sent");
    let review = w.svc().profile_update_review(&w.app.plan, &w.agent.session, id).await.expect("review");
    assert!(!review.lines[0].single().expect("G3 found").tax_id_has_admin);
    let r = w.decide(&w.agent, id, &[(1, approve(Some("billing_staff")))]).await;
    assert!(
        matches!(&r, Err(ProfileUpdateError::Line { line: 1, message }) if message.contains("no active administrator")),
        "{r:?}"
    );
    assert!(w.acting_for(BIRCH).await.is_empty());
    assert!(!w.may_view_claims("G3").await);
    w.decide(&w.agent, id, &[(1, deny("Ask Birch Street to register first."))]).await.expect("deny");
}
both!(a_tax_id_without_an_administrator_cannot_gain_a_member);

async fn two_agents_approving_one_line_grant_it_once(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.send("P1\nP2", "").await.expect("sent");
    let first = [(1, approve(None)), (2, approve(Some("billing_staff")))];
    let second = [(1, approve(None)), (2, approve(Some("clinical_staff")))];
    let (a, b) = tokio::join!(w.decide(&w.agent, id, &first), w.decide(&w.agent2, id, &second));
    let oks = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let refused = if a.is_ok() { &b } else { &a };
    assert!(matches!(refused, Err(ProfileUpdateError::AlreadyDecided { line: 1 })), "{refused:?}");
    assert_eq!(w.acting_for(LAKESIDE).await, ["G1", "P1"]);
    assert_eq!(w.acting_for(CEDAR).await, ["P2"]);
    let user = w.requester.id.0;
    assert_eq!(w.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {user}")).await, 2);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM messages WHERE from_plan = 1").await,
        1,
        "one reply, from the agent who decided"
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM audit_events WHERE action = 'profile_update.approved'").await, 2);
    assert!(w.may_view_claims("P1").await && w.may_view_claims("P2").await);
}
both!(two_agents_approving_one_line_grant_it_once);

/// Fails unless `r` is one of the refusals that reveal nothing.
fn refused<T: Debug>(r: Result<T, ProfileUpdateError>, who: &str) {
    assert!(matches!(r, Err(ProfileUpdateError::NotStaff | ProfileUpdateError::NotFound)), "{who}: {r:?}");
}

async fn only_mailbox_staff_of_the_plan_decide(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let svc = w.svc();
    let id = w.send("P1", "").await.expect("sent");
    for who in [&w.requester, &w.admin_a, &w.auditor, &w.other_staff] {
        refused(w.decide(who, id, &[(1, approve(None))]).await, &who.username);
        refused(svc.profile_update_review(&who.plan, &who.session, id).await, &who.username);
    }
    assert!(!w.may_view_claims("P1").await);
    assert_eq!(w.count("SELECT COUNT(*) FROM profile_update_lines WHERE decision <> 'pending'").await, 0);
    // The requester and their administrator read the lines as they read the thread; another
    // plan's staff do not.
    assert_eq!(svc.profile_update_lines(&w.admin_a.plan, &w.admin_a.session, id).await.expect("admin reads").len(), 1);
    refused(svc.profile_update_lines(&w.other_staff.plan, &w.other_staff.session, id).await, "other plan");

    // Bad requests and practices the requester does not work for.
    let r = w.send("P 1", "").await;
    assert!(matches!(&r, Err(ProfileUpdateError::Invalid(e)) if e.get("lines").is_some()), "{r:?}");
    let cedar = PracticeId(
        w.app
            .ids(&format!("SELECT id FROM practices WHERE tax_id = '{CEDAR}' AND plan_id = {}", w.app.plan.id().0))
            .await[0],
    );
    let form = ProfileUpdateForm { lines: "P2".into(), note: String::new() };
    let r = svc.send_profile_update(&w.app.plan, &w.requester.session, cedar, &form, &RequestMeta::cli()).await;
    assert!(matches!(r, Err(ProfileUpdateError::NotFound)), "{r:?}");
    // A thread that is not a request is not one to decide.
    let other = gatehouse_domain::secure_messages::NewThreadForm {
        topic: "claims".into(),
        subject: "Claim question".into(),
        body: "Why?".into(),
        ..Default::default()
    };
    let plain = svc
        .send_thread(&w.app.plan, &w.requester.session, w.lakeside, &other, &[], &RequestMeta::cli())
        .await
        .expect("plain thread");
    refused(w.decide(&w.agent, plain, &[(1, approve(None))]).await, "plain thread");
    refused(svc.profile_update_review(&w.app.plan, &w.agent.session, plain).await, "plain thread review");
}
both!(only_mailbox_staff_of_the_plan_decide);

async fn add_facility_and_decide_through_the_pages(backend: Backend) {
    use reqwest::StatusCode;
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    let c = app.signed_in_browser("requester", 1103).await;
    let (status, html) = app.page(&c, "/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Providers you may act for") && html.contains("<td>G1</td>"), "{html}");
    assert!(html.contains("/profile/add-facility\">Add Facility</a>") && !html.contains("<td>P1</td>"));

    let (status, html) = app.page(&c, "/profile/add-facility").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<label for=\"lines\">Provider IDs or NPIs</label>"), "{html}");
    let practice = w.lakeside.0.to_string();
    let form = "/profile/add-facility";
    let (status, html, _) =
        app.post_form(&c, form, form, &[("practice", practice.as_str()), ("lines", "P 1"), ("note", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("error-summary") && html.contains("Line 1") && html.contains("aria-invalid"), "{html}");
    let (status, _, loc) = app
        .post_form(&c, form, form, &[("practice", practice.as_str()), ("lines", "P1\nX-9"), ("note", "Elm St")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.expect("to the thread");
    let id: i64 = loc.rsplit('/').next().and_then(|s| s.parse().ok()).expect("thread id");
    assert!(loc.ends_with(&format!("/messages/{id}")), "{loc}");

    let path = format!("/admin/messages/{id}/decide");
    for (who, tail) in [("requester", 1103), ("admin_a", 1101), ("auditor", 1107)] {
        let b = if who == "requester" { c.clone() } else { app.signed_in_browser(who, tail).await };
        let (status, html) = app.page(&b, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
        assert!(!html.contains("X-9"), "{who} reads nothing of the request");
    }
    let s = app.signed_in_browser("agent", 1105).await;
    let (status, html) = app.page(&s, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("provider ID X-9") && html.contains("Not found"), "{html}");
    assert!(html.contains("<legend>Line 1: provider ID P1</legend>"), "{html}");
    let (status, html, _) =
        app.post_form(&s, &path, &path, &[("decision_1", "approve"), ("decision_2", "approve")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("error-summary") && html.contains("not a current provider"), "{html}");
    let (status, html, _) = app.post_form(&s, &path, &path, &[("decision_2", "deny"), ("reason_2", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a denial needs a reason");
    assert!(html.contains("Say why"), "{html}");
    let fields = [("decision_1", "approve"), ("decision_2", "deny"), ("reason_2", "Unknown ID")];
    let (status, _, to) = app.post_form(&s, &path, &path, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = to.expect("to the thread");
    assert!(to.ends_with("?done=decided#latest"), "{to}");
    let (_, html) = app.page(&s, to.trim_end_matches("#latest")).await;
    assert!(html.contains("Every requested provider is decided") && html.contains("Unknown ID"), "{html}");
    let (status, _) = app.page(&s, "/admin/messages/999999/decide").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, html) = app.page(&c, "/profile").await;
    assert!(html.contains("<td>P1</td>"), "the new provider is on My Profile");
}
both!(add_facility_and_decide_through_the_pages);
