//! Fixtures made through the services, as people would make them: plans, practices imported from
//! a roster file, people invited who sign up (password, two-step phone, terms), staff invited by
//! the operator, practice administrators by self-service association, and members who ask for
//! access and are approved by an administrator. No SQL: a fixture cannot hold a state the product
//! could not reach.

use super::{TEST_PASSWORD, TestApp, code_in, link_in};
use gatehouse_domain::association::AssociationForm;
use gatehouse_domain::staff::StaffRole;
use gatehouse_domain::{TwoStepMethod, UserId};
use gatehouse_services::access_requests::{Approval, Scope};
use gatehouse_services::invitations::InviteRequest;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::practice::invites::InviteRow;
use gatehouse_services::roster::ImportOptions;
use gatehouse_services::{RequestMeta, SessionInfo};

/// A practice of the roster: its Tax ID, and the group provider people associate with.
#[derive(Debug, Clone)]
pub struct Practice {
    /// The roster import that added it.
    pub import_id: i64,
    pub tax_id: String,
    pub name: String,
    pub group_provider_id: String,
    pub zip: String,
}

/// A signed-up, active person: their id, username, plan and two-step phone (`+1206555{tail}`).
#[derive(Debug, Clone)]
pub struct Person {
    pub id: UserId,
    pub username: String,
    pub phone_tail: u16,
    pub plan: Plan,
    /// The session sign-up ended with (fully signed in), for fixtures that act as this person.
    pub session: SessionInfo,
}

impl Person {
    /// The two-step phone, E.164.
    pub fn phone(&self) -> String {
        format!("+1206555{:04}", self.phone_tail)
    }
}

/// The NPI of the `n`th provider fixtures make: a valid NPI (Luhn with prefix 80840).
fn npi(n: u32) -> String {
    let base = format!("{:09}", 100_000_000 + n);
    let digits: Vec<u32> = format!("80840{base}").chars().filter_map(|c| c.to_digit(10)).collect();
    // Luhn over the digits, doubling every second digit from the right of the payload.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}

const ROSTER_HEADER: &str = "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,\
                             address1,address2,city,state,zip,phone,vendor_id,office_id,group_provider_id";

impl TestApp {
    /// Another plan on the same server, served under `/p/{slug}`.
    pub async fn plan(&self, slug: &str, name: &str) -> Plan {
        let plan = self
            .running
            .services
            .create_plan(NewPlan {
                slug: slug.into(),
                name: name.into(),
                host: None,
                support_phone: "1-800-555-0111".into(),
                support_hours: "9-5".into(),
                terms_text: "Other terms.".into(),
            })
            .await
            .expect("plan");
        // As the suite's own plan: staff sign in with texted codes (see `TestApp::launch`).
        super::without_staff_rule(&self.running.services, &plan).await
    }

    /// Imports `plan`'s roster (through the roster import, as the operator): per practice
    /// `(n, tax_id, name)` a group provider `G{n}` and a practitioner `P{n}` billing under it. A
    /// roster file is the plan's whole roster (providers missing from it are end-dated), so a
    /// plan's practices are imported together.
    pub async fn practices(&self, plan: &Plan, list: &[(u32, &str, &str)]) -> Vec<Practice> {
        let svc = &self.running.services;
        let zip = "98101";
        let mut csv = format!("{ROSTER_HEADER}\n");
        for (n, tax_id, name) in list {
            csv.push_str(&format!(
                "G{n},{g_npi},group,,,{name},{tax_id},{name},1200 Lakeview Ave,,Seattle,WA,{zip},206-555-0100,,,\n\
                 P{n},{p_npi},practitioner,Richard,Kim,,{tax_id},{name},1200 Lakeview Ave,,Seattle,WA,{zip},,,,G{n}\n",
                g_npi = npi(2 * n),
                p_npi = npi(2 * n + 1),
            ));
        }
        let report = svc
            .import_roster(
                &svc.operator_grant(plan),
                plan,
                "fixture.csv",
                csv.as_bytes(),
                ImportOptions::default(),
                &RequestMeta::cli(),
                &|_| {},
            )
            .await
            .expect("roster import");
        assert!(report.applied, "fixture roster refused: {report:?}");
        list.iter()
            .map(|(n, tax_id, name)| Practice {
                import_id: report.id,
                tax_id: (*tax_id).into(),
                name: (*name).into(),
                group_provider_id: format!("G{n}"),
                zip: zip.into(),
            })
            .collect()
    }

    /// A person invited to `plan` who signs up, sets up two-step and signs the terms.
    pub async fn person(&self, plan: &Plan, username: &str, phone_tail: u16) -> Person {
        let req = invitee(username);
        self.running.services.invite(plan, None, &req, &RequestMeta::cli()).await.expect("invite");
        self.sign_up_person(plan, username, phone_tail).await
    }

    /// A staff member of `plan` in `role`, invited by the operator, signed up like everyone.
    pub async fn staff(&self, plan: &Plan, username: &str, phone_tail: u16, role: StaffRole) -> Person {
        let svc = &self.running.services;
        let req = invitee(username);
        svc.invite_staff(&svc.operator_grant(plan), plan, &req, role, &RequestMeta::cli()).await.expect("staff invite");
        self.sign_up_person(plan, username, phone_tail).await
    }

    async fn sign_up_person(&self, plan: &Plan, username: &str, phone_tail: u16) -> Person {
        let svc = &self.running.services;
        let meta = RequestMeta::cli();
        let email = format!("{username}@example.org");
        let msg = svc
            .recent_outbox(plan.id(), 1000)
            .await
            .expect("outbox")
            .into_iter()
            .find(|m| m.recipient == email)
            .expect("invitation email");
        let link = link_in(&msg.body_text).expect("link");
        let token = link.split("token=").nth(1).expect("token");
        let t = svc.sign_up(plan, token, username, TEST_PASSWORD, TEST_PASSWORD, &meta).await.expect("sign up");
        let s = self.session_of(plan, &t.0).await;
        let number = format!("206555{phone_tail:04}");
        svc.send_setup_code(plan, &s, "1", &number, TwoStepMethod::Text, &meta).await.expect("setup code");
        let code = self.code_for(plan, &format!("+1{number}")).await;
        let v = svc.verify_code(plan, &s, &code, &meta).await.expect("verify");
        let s = self.session_of(plan, &v.session.0).await;
        let (first, last) = names(username);
        let (t, _) = svc.sign_terms(plan, &s, plan.row.terms_version, &first, &last, &meta).await.expect("terms");
        let session = self.session_of(plan, &t.0).await;
        Person { id: s.user_id, username: username.into(), phone_tail, plan: plan.clone(), session }
    }

    /// `p` associates with `practice` (its group provider) and, the practice having no
    /// administrator yet, accepts the provider agreement and becomes its administrator.
    pub async fn admin_of(&self, p: &Person, practice: &Practice) {
        let svc = &self.running.services;
        let s = &p.session;
        let m = svc.check_association(&p.plan, s, &group_form(practice), &RequestMeta::cli()).await.expect("match");
        assert!(m.admins.is_empty(), "{} already has administrators: {:?}", practice.name, m.admins);
        svc.accept_association(&p.plan, s, m.attempt_id, true, &RequestMeta::cli()).await.expect("accept");
    }

    /// `p` asks `practice`'s administrators for access (self-service association with an
    /// administrator present), and `admin` approves as billing staff for all providers.
    pub async fn member_of(&self, p: &Person, practice: &Practice, admin: &Person) {
        let request = self.ask_access(p, practice).await;
        let approval = Approval { user_type: "billing_staff".into(), scope: Scope::All, provider_ids: Vec::new() };
        let svc = &self.running.services;
        let grant = svc.practice_grant(&admin.plan, &admin.session).await.expect("practice grant");
        let request = gatehouse_domain::AccessRequestId(request);
        svc.approve_access_request(&grant, &p.plan, request, &approval, &RequestMeta::cli()).await.expect("approve");
    }

    /// `p` asks `practice`'s administrators for access and the request stays pending: its id.
    pub async fn ask_access(&self, p: &Person, practice: &Practice) -> i64 {
        let svc = &self.running.services;
        let m = self.match_practice(p, practice).await;
        svc.request_access(&p.plan, &p.session, gatehouse_domain::MatchId(m), &RequestMeta::cli())
            .await
            .expect("request")
    }

    /// Step 1 of association for `p` with `practice`'s group: the match (attempt) id.
    pub async fn match_practice(&self, p: &Person, practice: &Practice) -> i64 {
        let svc = &self.running.services;
        let form = group_form(practice);
        svc.check_association(&p.plan, &p.session, &form, &RequestMeta::cli()).await.expect("match").attempt_id.0
    }

    /// `admin` makes `p` (already a member) an administrator of `practice` too.
    pub async fn make_admin(&self, p: &Person, practice: &Practice, admin: &Person) {
        let svc = &self.running.services;
        let affiliation = self.affiliation(p, practice).await;
        let grant = svc.practice_grant(&admin.plan, &admin.session).await.expect("practice grant");
        svc.set_member_admin(&grant, &p.plan, affiliation, true, &RequestMeta::cli()).await.expect("make admin");
    }

    /// `admin` invites a new person (`username@example.org`) to `practice` as billing staff; the
    /// invitation stays pending. Returns the invited account's id.
    pub async fn invite_to(&self, admin: &Person, practice: &Practice, username: &str) -> UserId {
        let svc = &self.running.services;
        let grant = svc.practice_grant(&admin.plan, &admin.session).await.expect("practice grant");
        let id = grant.practices().iter().find(|p| p.tax_id == practice.tax_id).expect("administered practice").id;
        let (first, last) = names(username);
        let email = format!("{username}@example.org");
        let row = InviteRow {
            first_name: first,
            last_name: last,
            email: email.clone(),
            email_confirm: email,
            practices: vec![id.0],
            user_type: "billing_staff".into(),
            scope: Scope::All,
        };
        let mut results = svc.invite_batch(&grant, &admin.plan, &[row], &RequestMeta::cli()).await.expect("invite");
        results.remove(0).expect("invited").user_id
    }

    /// The id of `p`'s affiliation with `practice` (from their linked accounts).
    pub async fn affiliation(&self, p: &Person, practice: &Practice) -> gatehouse_domain::AffiliationId {
        let linked = self.running.services.linked_accounts(&p.plan, &p.session).await.expect("linked accounts");
        linked.into_iter().find(|l| l.tax_id == practice.tax_id).expect("an affiliation with the practice").id
    }

    async fn session_of(&self, plan: &Plan, token: &str) -> SessionInfo {
        self.running.services.authenticate(plan, token).await.expect("authenticate").expect("live session")
    }

    /// The newest two-step code texted to `phone` in `plan`.
    pub async fn code_for(&self, plan: &Plan, phone: &str) -> String {
        let m = self
            .running
            .services
            .recent_outbox(plan.id(), 1000)
            .await
            .expect("outbox")
            .into_iter()
            .find(|m| m.recipient == phone)
            .expect("a code message");
        code_in(&m.body_text).expect("code in message")
    }
}

fn invitee(username: &str) -> InviteRequest {
    let (first, last) = names(username);
    InviteRequest::parse(&first, &last, &format!("{username}@example.org")).expect("valid invitee")
}

/// A person's names from their username: `Pat` + the username, capitalised.
fn names(username: &str) -> (String, String) {
    let mut last: String = username.chars().filter(char::is_ascii_alphanumeric).collect();
    if let Some(c) = last.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    ("Pat".into(), last)
}

fn group_form(p: &Practice) -> AssociationForm {
    AssociationForm {
        provider_type: "group".into(),
        group_name: p.name.clone(),
        tax_id: p.tax_id.clone(),
        provider_id: p.group_provider_id.clone(),
        zip: p.zip.clone(),
        ..Default::default()
    }
}
