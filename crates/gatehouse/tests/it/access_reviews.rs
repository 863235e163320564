//! Access reviews (issue 17) through the services and the pages, on both databases, with the
//! injected clock: due dates, reminders sent once even with two runs at once, decisions (never on
//! oneself, another practice's review not found), the signature (every user decided, the
//! reviewer's own name) applying the changes at once, the frozen review and its digest in the
//! audit chain, plan staff following, starting, reminding and reviewing on a practice's behalf,
//! and an auditor who reads but cannot decide.

use crate::both;
use crate::support::fixtures::Person;
use crate::support::{Backend, TestApp};
use gatehouse_domain::access_review::{DAY, ReviewStatus};
use gatehouse_domain::staff::StaffRole;
use gatehouse_domain::{AccessReviewId, Duration, ProviderRowId, UserStatus};
use gatehouse_services::RequestMeta;
use gatehouse_services::access_review::{
    DecisionForm, OverviewRequest, ProviderChoice, ReviewError, Reviewer, SOLE_ADMIN_REASON,
};
use gatehouse_services::plans::Plan;
use gatehouse_services::practice::PracticeGrant;
use gatehouse_services::staff::StaffGrant;

const A: &str = "825671892";
const B: &str = "914407731";

struct World {
    app: TestApp,
    admin_a: Person,
    admin_b: Person,
    m1: Person,
    m2: Person,
    m3: Person,
    agent: Person,
    auditor: Person,
}

impl World {
    async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let list = [(1, A, "Lakeside Family Medicine"), (2, B, "Cedar Valley Pediatrics")];
        let [pa, pb]: [_; 2] = app.practices(&plan, &list).await.try_into().expect("two practices");
        let admin_a = app.person(&plan, "admin_a", 1001).await;
        app.admin_of(&admin_a, &pa).await;
        let admin_b = app.person(&plan, "admin_b", 1002).await;
        app.admin_of(&admin_b, &pb).await;
        let m1 = app.person(&plan, "m1", 1003).await;
        app.member_of(&m1, &pa, &admin_a).await;
        let m2 = app.person(&plan, "m2", 1004).await;
        app.member_of(&m2, &pa, &admin_a).await;
        let m3 = app.person(&plan, "m3", 1005).await;
        app.member_of(&m3, &pa, &admin_a).await;
        let agent = app.staff(&plan, "agent", 1006, StaffRole::HelpDesk).await;
        let auditor = app.staff(&plan, "auditor", 1007, StaffRole::Auditor).await;
        Some(Self { app, admin_a, admin_b, m1, m2, m3, agent, auditor })
    }

    fn svc(&self) -> &gatehouse_services::Services {
        &self.app.running.services
    }

    fn plan(&self) -> &Plan {
        &self.app.plan
    }

    async fn grant(&self, p: &Person) -> PracticeGrant {
        self.svc().practice_grant(&p.plan, &p.session).await.expect("practice grant")
    }

    async fn staff(&self, p: &Person) -> StaffGrant {
        self.svc().staff_grant(&p.plan, Some(&p.session)).await.expect("staff grant")
    }

    /// The open review of `admin`'s (only) practice.
    async fn review_of(&self, admin: &Person) -> AccessReviewId {
        let g = self.grant(admin).await;
        let list = self.svc().practice_reviews(&g, self.plan()).await.expect("reviews");
        assert_eq!(list.len(), 1);
        list[0].review.id
    }

    async fn decide(&self, who: &Person, id: AccessReviewId, on: &Person, decision: &str) -> Result<(), ReviewError> {
        let g = self.grant(who).await;
        let form = DecisionForm { decision: decision.into(), ..DecisionForm::default() };
        self.svc().decide_review(Reviewer::Practice(&g), self.plan(), id, on.id, &form, &RequestMeta::cli()).await
    }

    async fn sign(&self, who: &Person, id: AccessReviewId, first: &str, last: &str) -> Result<String, ReviewError> {
        let g = self.grant(who).await;
        let s =
            self.svc().sign_review(Reviewer::Practice(&g), self.plan(), id, first, last, &RequestMeta::cli()).await?;
        Ok(s.digest)
    }

    async fn reminders_to(&self, p: &Person) -> usize {
        let to = format!("{}@example.org", p.username);
        self.app.outbox().await.iter().filter(|m| m.kind == "access_review.v1" && m.recipient == to).count()
    }

    async fn audited(&self, action: &str) -> i64 {
        self.app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'")).await
    }
}

async fn first_review_is_due_ninety_days_after_the_first_administrator(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let since = w.app.count("SELECT MIN(created_at) FROM affiliations WHERE is_admin = 1").await;
    let g = w.grant(&w.admin_a).await;
    let list = w.svc().practice_reviews(&g, w.plan()).await.expect("reviews");
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r.review.tax_id, A);
    assert_eq!(r.users, 4, "the administrator and three members");
    assert_eq!(r.status, ReviewStatus::NotStarted);
    let admin_at = w
        .app
        .count(&format!("SELECT created_at FROM affiliations WHERE user_id = {} AND is_admin = 1", w.admin_a.id.0))
        .await;
    assert!(admin_at >= since);
    assert_eq!(r.review.due_at, admin_at + 90 * DAY);
    // Opening again keeps the one review.
    w.svc().practice_reviews(&g, w.plan()).await.expect("reviews");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_reviews").await, 1);
    // The daily step opens the other practice's too, once.
    let now = w.svc().now();
    let rep = w.svc().review_reminders(w.plan(), now).await.expect("step");
    assert_eq!(rep.opened, 1);
    let rep = w.svc().review_reminders(w.plan(), now).await.expect("step");
    assert_eq!(rep.opened, 0);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_reviews").await, 2);
}
both!(first_review_is_due_ninety_days_after_the_first_administrator);

async fn each_reminder_is_sent_once_even_with_two_runs_at_once(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let due = w.app.count(&format!("SELECT due_at FROM access_reviews WHERE id = {}", id.0)).await;
    let svc = w.svc();
    // Nothing 15 days before.
    svc.review_reminders(w.plan(), due - 15 * DAY).await.expect("run");
    assert_eq!(w.reminders_to(&w.admin_a).await, 0);
    // 14 days before: one email; a second run that day sends nothing.
    svc.review_reminders(w.plan(), due - 14 * DAY).await.expect("run");
    svc.review_reminders(w.plan(), due - 14 * DAY + 3600).await.expect("run");
    assert_eq!(w.reminders_to(&w.admin_a).await, 1);
    // 7 days before, two instances at once: one email.
    // (Each practice has one administrator: one email per reminder recorded as emailed.)
    let emailed = "SELECT COUNT(*) FROM access_review_reminders WHERE emailed = 1";
    let before = w.app.count(emailed).await;
    let at = due - 7 * DAY;
    let (x, y) = tokio::join!(svc.review_reminders(w.plan(), at), svc.review_reminders(w.plan(), at));
    let (x, y) = (x.expect("run"), y.expect("run"));
    let sent = i64::try_from(x.emails + y.emails).expect("count");
    assert_eq!(sent, w.app.count(emailed).await - before, "one email per reminder recorded: {x:?} {y:?}");
    assert_eq!(w.reminders_to(&w.admin_a).await, 2);
    let b_emailed = w.app.count(&format!("{emailed} AND review_id <> {}", id.0)).await;
    assert_eq!(i64::try_from(w.reminders_to(&w.admin_b).await).expect("count"), b_emailed);
    // 1 day before, 1 day after, 7 days after: one each; the emails name no user.
    for d in [-DAY, DAY, 7 * DAY] {
        svc.review_reminders(w.plan(), due + d).await.expect("run");
        svc.review_reminders(w.plan(), due + d).await.expect("run");
    }
    assert_eq!(w.reminders_to(&w.admin_a).await, 5);
    let last = w.app.last_message_to("admin_a@example.org").await.expect("reminder");
    assert!(last.subject.starts_with("Overdue"), "{}", last.subject);
    for name in ["M1", "M2", "M3", "Admina"] {
        assert!(!last.body_text.contains(name), "{name} in {}", last.body_text);
    }
    // Nothing more after the last reminder; B's administrator had their own.
    svc.review_reminders(w.plan(), due + 30 * DAY).await.expect("run");
    assert_eq!(w.reminders_to(&w.admin_a).await, 5);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_review_reminders").await, 10);
}
both!(each_reminder_is_sent_once_even_with_two_runs_at_once);

async fn a_missed_week_records_the_earlier_reminders_and_sends_the_latest(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let due = w.app.count(&format!("SELECT due_at FROM access_reviews WHERE id = {}", id.0)).await;
    let rep = w.svc().review_reminders(w.plan(), due - DAY).await.expect("run");
    assert_eq!(w.reminders_to(&w.admin_a).await, 1);
    assert!(rep.skipped >= 2, "{rep:?}");
}
both!(a_missed_week_records_the_earlier_reminders_and_sends_the_latest);

async fn signing_needs_every_decision_and_the_reviewers_own_name(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    // Nobody decides on themself.
    let e = w.decide(&w.admin_a, id, &w.admin_a, "keep").await.expect_err("self");
    assert!(matches!(e, ReviewError::Invalid(ref m) if m.contains("your own access")), "{e:?}");
    // Bad decisions and reasons change nothing.
    let e = w.decide(&w.admin_a, id, &w.m1, "fire").await.expect_err("bad decision");
    assert!(matches!(e, ReviewError::Field { field: "decision", .. }), "{e:?}");
    let g = w.grant(&w.admin_a).await;
    let long = DecisionForm { decision: "keep".into(), reason: "x".repeat(501), ..DecisionForm::default() };
    let e = w.svc().decide_review(Reviewer::Practice(&g), w.plan(), id, w.m1.id, &long, &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ReviewError::Field { field: "reason", .. })), "{e:?}");
    let same = DecisionForm { decision: "change".into(), user_type: "billing_staff".into(), ..DecisionForm::default() };
    let e = w.svc().decide_review(Reviewer::Practice(&g), w.plan(), id, w.m1.id, &same, &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ReviewError::Field { field: "user_type", .. })), "a change that changes nothing: {e:?}");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_review_decisions").await, 0);
    // One decision missing: refused, naming the user.
    w.decide(&w.admin_a, id, &w.m1, "keep").await.expect("keep m1");
    w.decide(&w.admin_a, id, &w.m2, "keep").await.expect("keep m2");
    let e = w.sign(&w.admin_a, id, "Pat", "Admina").await.expect_err("m3 undecided");
    assert!(
        matches!(e, ReviewError::Invalid(ref m) if m.contains("1 user has no decision yet") && m.contains("M3")),
        "{e:?}"
    );
    w.decide(&w.admin_a, id, &w.m3, "keep").await.expect("keep m3");
    // Someone else's name: refused.
    let e = w.sign(&w.admin_a, id, "Pat", "M1").await.expect_err("wrong name");
    assert!(matches!(e, ReviewError::Field { field: "signature", .. }), "{e:?}");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_reviews WHERE signed_at IS NOT NULL").await, 0);
    // The sole administrator's own row is recorded as confirmed by the signature.
    let digest = w.sign(&w.admin_a, id, " pat ", "ADMINA").await.expect("signed");
    let own = w
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM access_review_decisions WHERE review_id = {} AND user_id = {} AND reason = '{SOLE_ADMIN_REASON}'",
            id.0, w.admin_a.id.0
        ))
        .await;
    assert_eq!(own, 1);
    assert_eq!(w.app.count(&format!("SELECT sole_admin FROM access_reviews WHERE id = {}", id.0)).await, 1);
    // The digest is in the audit chain, and the chain verifies.
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'access_review.signed'")
        .fetch_one(w.svc().db.pool())
        .await
        .expect("signed event");
    assert!(detail.contains(&digest), "{detail}");
    assert!(matches!(
        w.svc().verify_audit_chain(w.plan().id()).await.expect("verify"),
        gatehouse_services::audit::ChainReport::Intact { .. }
    ));
    // Frozen: nothing can change it; the next review is open, due 90 days from now.
    let e = w.decide(&w.admin_a, id, &w.m1, "deactivate").await.expect_err("signed");
    assert!(matches!(e, ReviewError::Signed), "{e:?}");
    let e = w.sign(&w.admin_a, id, "Pat", "Admina").await.expect_err("signed twice");
    assert!(matches!(e, ReviewError::Signed), "{e:?}");
    let next = w.review_of(&w.admin_a).await;
    assert_ne!(next, id);
    let due = w.app.count(&format!("SELECT due_at FROM access_reviews WHERE id = {}", next.0)).await;
    assert_eq!(due, w.svc().now() + 90 * DAY);
}
both!(signing_needs_every_decision_and_the_reviewers_own_name);

async fn changes_apply_with_the_signature_and_at_once(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let g = w.grant(&w.admin_a).await;
    let plan = w.plan();
    // m1 becomes clinical staff for the practitioner only; m2 is deactivated; m3 kept.
    let p1 = w.app.ids("SELECT id FROM providers WHERE provider_id = 'P1'").await[0];
    let change = DecisionForm {
        decision: "change".into(),
        user_type: "clinical_staff".into(),
        providers: ProviderChoice::Listed(vec![ProviderRowId(p1)]),
        reason: "Moved to the clinic floor".into(),
    };
    w.svc()
        .decide_review(Reviewer::Practice(&g), plan, id, w.m1.id, &change, &RequestMeta::cli())
        .await
        .expect("change");
    // Another practice's provider is not found.
    let q2 = w.app.ids("SELECT id FROM providers WHERE provider_id = 'P2'").await[0];
    let theirs = DecisionForm { providers: ProviderChoice::Listed(vec![ProviderRowId(q2)]), ..change.clone() };
    let e = w.svc().decide_review(Reviewer::Practice(&g), plan, id, w.m1.id, &theirs, &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ReviewError::NotFound)), "{e:?}");
    w.decide(&w.admin_a, id, &w.m2, "deactivate").await.expect("deactivate");
    w.decide(&w.admin_a, id, &w.m3, "keep").await.expect("keep");
    // Nothing applied before the signature.
    let m1_type =
        format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND user_type = 'clinical_staff'", w.m1.id.0);
    assert_eq!(w.app.count(&m1_type).await, 0);
    let live = format!("SELECT COUNT(*) FROM sessions WHERE user_id = {} AND ended_at IS NULL", w.m2.id.0);
    assert!(w.app.count(&live).await > 0);
    w.sign(&w.admin_a, id, "Pat", "Admina").await.expect("signed");
    assert_eq!(w.app.count(&m1_type).await, 1);
    let listed = w
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM affiliation_providers s JOIN affiliations a ON a.id = s.affiliation_id WHERE a.user_id = {}",
            w.m1.id.0
        ))
        .await;
    assert_eq!(listed, 1);
    // m2: deactivated, signed out, affiliation kept for a reactivation.
    let status: String = sqlx::query_scalar(&format!("SELECT status FROM users WHERE id = {}", w.m2.id.0))
        .fetch_one(w.svc().db.pool())
        .await
        .expect("status");
    assert_eq!(status, UserStatus::Deactivated.as_str());
    assert_eq!(w.app.count(&live).await, 0, "signed out everywhere");
    assert_eq!(w.app.count(&format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {}", w.m2.id.0)).await, 1);
    assert_eq!(w.audited("affiliation.user_type_changed").await, 1);
    assert_eq!(w.audited("user.deactivated").await, 1);
    // The permission index sees the change at once: m1's providers are only P1 now.
    let linked = w.svc().linked_accounts(plan, &w.m1.session).await.expect("linked");
    assert_eq!(linked.len(), 1);
    // The frozen record has every decision with what changed.
    let frozen: String = sqlx::query_scalar(&format!("SELECT frozen FROM access_reviews WHERE id = {}", id.0))
        .fetch_one(w.svc().db.pool())
        .await
        .expect("frozen");
    let v: serde_json::Value = serde_json::from_str(&frozen).expect("json");
    assert_eq!(v["decisions"].as_array().map(Vec::len), Some(4));
    assert!(frozen.contains("Moved to the clinic floor") && frozen.contains("Account deactivated"), "{frozen}");
}
both!(changes_apply_with_the_signature_and_at_once);

async fn another_practices_review_reads_as_not_found(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let gb = w.grant(&w.admin_b).await;
    let e = w.svc().review_page(Reviewer::Practice(&gb), w.plan(), id, 1).await.expect_err("B reads A");
    assert!(matches!(e, ReviewError::NotFound), "{e:?}");
    let e = w.decide(&w.admin_b, id, &w.m1, "deactivate").await.expect_err("B decides on A");
    assert!(matches!(e, ReviewError::NotFound), "{e:?}");
    let e = w.sign(&w.admin_b, id, "Pat", "Adminb").await.expect_err("B signs A");
    assert!(matches!(e, ReviewError::NotFound), "{e:?}");
    // A's administrator cannot decide on B's administrator through A's review.
    let e = w.decide(&w.admin_a, id, &w.admin_b, "deactivate").await.expect_err("not a user of A");
    assert!(matches!(e, ReviewError::NotFound), "{e:?}");
    // A review id of another plan is not found for staff either.
    let other = w.app.plan("north", "Northwind Health").await;
    let sg = w.staff(&w.agent).await;
    let e = w.svc().review_page(Reviewer::Staff(&sg), &other, id, 1).await.expect_err("other plan");
    assert!(matches!(e, ReviewError::Denied(_) | ReviewError::NotFound), "{e:?}");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_review_decisions").await, 0);
}
both!(another_practices_review_reads_as_not_found);

async fn a_second_administrator_confirms_the_first(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let g = w.grant(&w.admin_a).await;
    let aff = w.app.ids(&format!("SELECT id FROM affiliations WHERE user_id = {}", w.m1.id.0)).await[0];
    w.svc()
        .set_member_admin(&g, w.plan(), gatehouse_domain::AffiliationId(aff), true, &RequestMeta::cli())
        .await
        .expect("m1 admin");
    let id = w.review_of(&w.admin_a).await;
    let kept = w.svc().keep_remaining(Reviewer::Practice(&g), w.plan(), id, &RequestMeta::cli()).await.expect("keep");
    assert_eq!(kept, 3, "everyone but the reviewer");
    let e = w.sign(&w.admin_a, id, "Pat", "Admina").await.expect_err("own row undecided");
    assert!(matches!(e, ReviewError::Invalid(ref m) if m.contains("Admina")), "{e:?}");
    w.decide(&w.m1, id, &w.admin_a, "keep").await.expect("m1 confirms admin_a");
    w.sign(&w.admin_a, id, "Pat", "Admina").await.expect("signed");
    assert_eq!(w.app.count(&format!("SELECT sole_admin FROM access_reviews WHERE id = {}", id.0)).await, 0);
}
both!(a_second_administrator_confirms_the_first);

async fn staff_follow_start_remind_and_review_on_behalf(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let sg = w.staff(&w.agent).await;
    let plan = w.plan();
    let started = w.svc().start_reviews(&sg, plan, "4", &RequestMeta::cli()).await.expect("start");
    assert_eq!(started.practices, 2);
    let now = w.svc().now();
    assert_eq!(started.first_due, Some(now + 14 * DAY));
    let e = w.svc().start_reviews(&sg, plan, "0", &RequestMeta::cli()).await.expect_err("weeks");
    assert!(matches!(e, ReviewError::Field { field: "weeks", .. }), "{e:?}");
    // 30 days on, both overdue (one 16 days, one less); the follow-up filter shows the first.
    w.app.advance(Duration::days(30));
    let o = w.svc().reviews_overview(&sg, plan, &OverviewRequest::default()).await.expect("overview");
    assert_eq!(o.rows.len(), 2);
    assert_eq!(o.totals.overdue, 2);
    let q = OverviewRequest { status: "follow_up".into(), ..OverviewRequest::default() };
    let f = w.svc().reviews_overview(&sg, plan, &q).await.expect("follow up");
    assert_eq!(f.rows.len(), 1);
    let id = f.rows[0].0.open.as_ref().expect("open").id;
    let bad = OverviewRequest { tax_id: "12".into(), ..OverviewRequest::default() };
    assert!(matches!(w.svc().reviews_overview(&sg, plan, &bad).await, Err(ReviewError::Field { .. })));
    // Remind again: an email to the practice's administrators, audited.
    let n = w.svc().remind_review(&sg, plan, id, &RequestMeta::cli()).await.expect("remind");
    assert_eq!(n, 1);
    assert_eq!(w.audited("access_review.reminded").await, 1);
    // Review on the practice's behalf: staff decide on everyone, the administrator included.
    let page = w.svc().review_page(Reviewer::Staff(&sg), plan, id, 1).await.expect("page");
    for s in &page.subjects {
        let form = DecisionForm { decision: "keep".into(), ..DecisionForm::default() };
        w.svc()
            .decide_review(Reviewer::Staff(&sg), plan, id, s.row.user_id, &form, &RequestMeta::cli())
            .await
            .expect("keep");
    }
    let signed = w.svc().sign_review(Reviewer::Staff(&sg), plan, id, "Pat", "Agent", &RequestMeta::cli()).await;
    assert!(signed.is_ok(), "{signed:?}");
    assert_eq!(w.app.count(&format!("SELECT on_behalf FROM access_reviews WHERE id = {}", id.0)).await, 1);
    // On time this quarter: the overview counts it (signed late, so not on time).
    let o = w.svc().reviews_overview(&sg, plan, &OverviewRequest::default()).await.expect("overview");
    assert_eq!(o.totals.overdue, 1);
}
both!(staff_follow_start_remind_and_review_on_behalf);

async fn an_auditor_reads_the_reviews_but_decides_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let ag = w.staff(&w.auditor).await;
    let plan = w.plan();
    w.svc().reviews_overview(&ag, plan, &OverviewRequest::default()).await.expect("auditor reads the overview");
    let page = w.svc().review_page(Reviewer::Staff(&ag), plan, id, 1).await.expect("auditor reads a review");
    assert!(!page.may_act);
    let form = DecisionForm { decision: "deactivate".into(), ..DecisionForm::default() };
    let e = w.svc().decide_review(Reviewer::Staff(&ag), plan, id, w.m1.id, &form, &RequestMeta::cli()).await;
    assert!(matches!(e, Err(ReviewError::Denied(_))), "{e:?}");
    assert!(matches!(w.svc().start_reviews(&ag, plan, "4", &RequestMeta::cli()).await, Err(ReviewError::Denied(_))));
    assert!(matches!(w.svc().remind_review(&ag, plan, id, &RequestMeta::cli()).await, Err(ReviewError::Denied(_))));
    // Over HTTP too: the decision post is refused and nothing is recorded.
    let c = w.app.signed_in_browser(&w.auditor.username, w.auditor.phone_tail).await;
    let (status, html) = w.app.page(&c, &format!("/admin/reviews/{}", id.0)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("M1") && !html.contains("Sign the review"), "{html}");
    let page = format!("/admin/reviews/{}", id.0);
    let (status, _, _) =
        w.app.post_form(&c, &page, &format!("{page}/users/{}", w.m1.id.0), &[("decision", "deactivate")]).await;
    assert_eq!(status, 403);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_review_decisions").await, 0);
}
both!(an_auditor_reads_the_reviews_but_decides_nothing);

async fn an_administrator_reviews_through_the_pages(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let c = w.app.signed_in_browser(&w.admin_a.username, w.admin_a.phone_tail).await;
    // One practice: the list goes straight to its review.
    let (status, _, location) = w.app.visit(&c, "/practice/reviews").await;
    assert_eq!(status, 303);
    let path = location.expect("redirect");
    let (status, html) = w.app.page(&c, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Review users: Lakeside Family Medicine") && html.contains("only administrator"), "{html}");
    for (who, d) in [(&w.m1, "keep"), (&w.m2, "deactivate")] {
        let (status, _, _) =
            w.app.post_form(&c, &path, &format!("{path}/users/{}", who.id.0), &[("decision", d), ("reason", "")]).await;
        assert_eq!(status, 303);
    }
    // The change page, then a change of user type.
    let (status, html) = w.app.page(&c, &format!("{path}/users/{}/change", w.m3.id.0)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Change access: Pat M3"), "{html}");
    let fields = [("decision", "change"), ("user_type", "clinical_staff"), ("providers", "unchanged")];
    let (status, _, _) = w.app.post_form(&c, &path, &format!("{path}/users/{}", w.m3.id.0), &fields).await;
    assert_eq!(status, 303);
    // A wrong signature shows the message and signs nothing.
    let sign = format!("{path}/sign");
    let (status, body, _) = w.app.post_form(&c, &path, &sign, &[("first_name", "Pat"), ("last_name", "M3")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("exactly as on your account"), "{body}");
    let (status, _, _) = w.app.post_form(&c, &path, &sign, &[("first_name", "Pat"), ("last_name", "Admina")]).await;
    assert_eq!(status, 303);
    let (_, html) = w.app.page(&c, &format!("{path}?done=signed")).await;
    assert!(html.contains("Signed by Pat Admina") && html.contains("SHA-256"), "{html}");
    // Another practice's review page is not found.
    let cb = w.app.signed_in_browser(&w.admin_b.username, w.admin_b.phone_tail).await;
    let (status, _) = w.app.page(&cb, &path).await;
    assert_eq!(status, 404);
}
both!(an_administrator_reviews_through_the_pages);

async fn an_auditor_exports_the_evidence_as_csv_and_pdf(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    let g = w.grant(&w.admin_a).await;
    w.svc().keep_remaining(Reviewer::Practice(&g), w.plan(), id, &RequestMeta::cli()).await.expect("keep");
    let digest = w.sign(&w.admin_a, id, "Pat", "Admina").await.expect("signed");
    let today = gatehouse_domain::Timestamp(w.svc().now()).iso_day(&w.plan().row.time_zone);
    let c = w.app.signed_in_browser(&w.auditor.username, w.auditor.phone_tail).await;
    let url = |format: &str, tax_id: &str| {
        format!("/admin/reviews/export?format={format}&tax_id={tax_id}&from={today}&to={today}")
    };
    let r = c.get(w.app.url(&url("csv", A))).send().await.expect("csv");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
    let csv = r.text().await.expect("text");
    assert_eq!(csv.lines().count(), 1 + 4, "a header and one row per decision: {csv}");
    assert!(csv.contains(&digest) && csv.contains("Lakeside Family Medicine") && csv.contains("Keep"), "{csv}");
    let r = c.get(w.app.url(&url("pdf", ""))).send().await.expect("pdf");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.expect("bytes");
    assert!(pdf.starts_with(b"%PDF-"));
    // B's practice has no signed review: its CSV has the header only.
    let r = c.get(w.app.url(&url("csv", B))).send().await.expect("csv");
    assert_eq!(r.text().await.expect("text").lines().count(), 1);
    // Bad input: a clear message, nothing exported.
    let (status, html) = w.app.page(&c, &format!("/admin/reviews/export?format=pdf&from={today}&to=2020-01-01")).await;
    assert_eq!(status, 422);
    assert!(html.contains("The end date must be on or after the start date."), "{html}");
    let (status, html) =
        w.app.page(&c, &format!("/admin/reviews/export?format=pdf&tax_id=12&from={today}&to={today}")).await;
    assert_eq!(status, 422);
    assert!(html.contains("9 digits"), "{html}");
    assert_eq!(w.audited("access_review.exported").await, 3);
    // A practice administrator cannot export the plan's evidence.
    let ca = w.app.signed_in_browser(&w.admin_a.username, w.admin_a.phone_tail).await;
    let (status, _) = w.app.page(&ca, &url("csv", "")).await;
    assert!(status == 403 || status == 404, "{status}");
}
both!(an_auditor_exports_the_evidence_as_csv_and_pdf);

async fn the_review_moves_with_the_administrator_role(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_of(&w.admin_a).await;
    w.decide(&w.admin_a, id, &w.m2, "keep").await.expect("keep m2");
    // Not the right person: Olivia hands the role to m1 from the review page's link.
    let g = w.grant(&w.admin_a).await;
    let aff = w.app.ids(&format!("SELECT id FROM affiliations WHERE user_id = {}", w.m1.id.0)).await[0];
    w.svc()
        .hand_over_admin(&g, w.plan(), gatehouse_domain::AffiliationId(aff), &RequestMeta::cli())
        .await
        .expect("hand over");
    // The new administrator has the same review, with the decision already made.
    assert_eq!(w.review_of(&w.m1).await, id);
    let g1 = w.grant(&w.m1).await;
    let page = w.svc().review_page(Reviewer::Practice(&g1), w.plan(), id, 1).await.expect("page");
    assert!(page.subjects.iter().any(|s| s.row.user_id == w.m2.id && s.decision.is_some()));
    // The former administrator no longer reaches it.
    let Err(e) = w.svc().practice_grant(w.plan(), &w.admin_a.session).await else {
        panic!("admin_a still administers a practice");
    };
    assert!(matches!(e, gatehouse_services::practice::PracticeError::NotAdmin), "{e:?}");
}
both!(the_review_moves_with_the_administrator_role);
async fn a_large_review_pages_in_name_order_from_either_end(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    // 57 more users of practice A with few distinct names, so the order falls back to the id.
    let p = w.plan().id().0;
    let pa = w.app.count(&format!("SELECT id FROM practices WHERE tax_id = '{A}'")).await;
    let now = w.svc().now();
    for i in 0..57 {
        let (first, last) = (["Ann", "Bo", "Cy"][i % 3], ["Lee", "Kim"][i % 2]);
        w.app
            .sql(&format!(
                "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
                 email_lower, status, created_at, updated_at) VALUES ({p}, 'bulk{i}', 'bulk{i}', '{first}', '', \
                 '{last}', 'bulk{i}@example.org', 'bulk{i}@example.org', 'active', {now}, {now})"
            ))
            .await;
        w.app
            .sql(&format!(
                "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
                 SELECT {p}, id, {pa}, 'billing_staff', 0, 1, {now} FROM users WHERE username = 'bulk{i}'"
            ))
            .await;
    }
    let expected = w
        .app
        .ids(&format!(
            "SELECT u.id FROM affiliations a JOIN users u ON u.id = a.user_id \
             WHERE a.practice_id = {pa} AND u.status <> 'deactivated' ORDER BY u.last_name, u.first_name, u.id"
        ))
        .await;
    assert_eq!(expected.len(), 61);
    let id = w.review_of(&w.admin_a).await;
    let g = w.grant(&w.admin_a).await;
    let mut seen = Vec::new();
    for n in 1..=3 {
        let page = w.svc().review_page(Reviewer::Practice(&g), w.plan(), id, n).await.expect("page");
        // The only administrator's own row is not counted: their signature records it.
        assert_eq!((page.total, page.pages, page.page, page.undecided), (61, 3, n, 60));
        seen.extend(page.subjects.iter().map(|s| s.row.user_id.0));
    }
    // Pages 2 and 3 are read from the end (the last one short): the same order, nothing twice.
    assert_eq!(seen, expected);
    let last = w.svc().review_page(Reviewer::Practice(&g), w.plan(), id, 99).await.expect("clamped");
    assert_eq!((last.page, last.subjects.len()), (3, 11));
    let first = w.svc().review_page(Reviewer::Practice(&g), w.plan(), id, 1).await.expect("page 1");
    assert_eq!(first.undecided_names, vec!["Ann Kim"; 5]);
    // Everyone decided but the first "Bo Kim" (tenth by name, after the administrator and nine
    // "Ann Kim"), m2 and m3 (the last two): the names skip the decided, in name order.
    let keep = DecisionForm { decision: "keep".into(), ..DecisionForm::default() };
    for (i, user) in expected.iter().enumerate() {
        if i == 0 || i == 10 || i >= 59 {
            continue;
        }
        let on = gatehouse_domain::UserId(*user);
        w.svc()
            .decide_review(Reviewer::Practice(&g), w.plan(), id, on, &keep, &RequestMeta::cli())
            .await
            .expect("keep");
    }
    assert_eq!(expected[59..], [w.m2.id.0, w.m3.id.0]);
    let page = w.svc().review_page(Reviewer::Practice(&g), w.plan(), id, 3).await.expect("page 3");
    assert_eq!((page.total, page.undecided, page.page), (61, 3, 3));
    assert_eq!(page.undecided_names, ["Bo Kim", "Pat M2", "Pat M3"]);
    assert!(page.subjects.iter().take(9).all(|s| s.decision.is_some()));
    // The name order and the counts follow a renamed and a deactivated account at once, however
    // they were changed (the affiliations' copies are kept by triggers).
    w.app.sql(&format!("UPDATE users SET last_name = 'Aaron' WHERE id = {}", expected[10])).await;
    w.app.sql(&format!("UPDATE users SET status = 'deactivated' WHERE id = {}", w.m3.id.0)).await;
    let page = w.svc().review_page(Reviewer::Practice(&g), w.plan(), id, 1).await.expect("page 1");
    assert_eq!((page.total, page.undecided), (60, 2));
    assert_eq!(page.undecided_names, ["Bo Aaron", "Pat M2"]);
    assert_eq!(page.subjects[0].row.user_id.0, expected[10]);
}
both!(a_large_review_pages_in_name_order_from_either_end);

/// A practice's review cannot take a plan staff member's access away (an account that worked
/// for the practice before it was given a staff role): only "keep" is taken, and the account and
/// its role stay as they were. Otherwise a practice administrator could deactivate the plan's
/// own administrator through a review.
async fn a_review_only_keeps_plan_staff(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    w.app.sql(&format!("UPDATE users SET staff_role = 'plan_admin' WHERE id = {}", w.m1.id.0)).await;
    let id = w.review_of(&w.admin_a).await;
    for decision in ["deactivate", "change"] {
        let r = w.decide(&w.admin_a, id, &w.m1, decision).await;
        assert!(matches!(&r, Err(e) if e.to_string().contains("plan staff")), "{decision}: {r:?}");
    }
    w.decide(&w.admin_a, id, &w.m1, "keep").await.expect("keep");
    w.decide(&w.admin_a, id, &w.m2, "deactivate").await.expect("a member can be deactivated");
    w.decide(&w.admin_a, id, &w.m3, "keep").await.expect("keep");
    w.sign(&w.admin_a, id, "Pat", "Admina").await.expect("sign");
    let m1 = format!(
        "SELECT COUNT(*) FROM users WHERE id = {} AND status = 'active' AND staff_role = 'plan_admin'",
        w.m1.id.0
    );
    assert_eq!(w.app.count(&m1).await, 1);
    let m2 = format!("SELECT COUNT(*) FROM users WHERE id = {} AND status = 'deactivated'", w.m2.id.0);
    assert_eq!(w.app.count(&m2).await, 1);
}
both!(a_review_only_keeps_plan_staff);
