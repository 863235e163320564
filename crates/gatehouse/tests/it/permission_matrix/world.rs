//! The matrix's world: two plans, practices A and B (and Z, with no administrator) on plan 1 and
//! C on plan 2, the actors with their browser and API sessions, and the targets — all made
//! through the services ([`crate::support::fixtures`]).

use super::table::IdKind;
use super::{Answer, Cell};
use crate::support::fixtures::{Person, Practice};
use crate::support::{TEST_PASSWORD, TestApp, csrf};
use gatehouse_domain::UserId;
use gatehouse_domain::staff::StaffRole;
use gatehouse_services::RequestMeta;
use gatehouse_services::plans::Plan;
use gatehouse_web::routing::RouteEntry;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Column, Row};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// Who calls, with what credentials, and what they are (for the rules).
pub struct Actor {
    pub name: &'static str,
    /// 1 or 2.
    pub plan: u8,
    pub user: Option<UserId>,
    pub staff: Option<StaffRole>,
    /// Tags of the practices administered.
    pub admin_of: Vec<&'static str>,
    /// Role rank: plan administrator 5 > help desk 4 > auditor 3 > practice administrator 2 > portal user 1.
    pub rank: u8,
    pub application: bool,
    /// Password done, code not yet.
    pub mid_sign_in: bool,
    person: Option<Person>,
    prefix: String,
    jar: Arc<Jar>,
    browser: Client,
    api: Client,
    bearer: Mutex<Option<String>>,
    basic: Option<(String, String)>,
    /// Ids of the practices administered (for bodies that name one).
    practice_ids: Vec<i64>,
    /// The id of a practice the actor works for (for bodies that name one).
    member_practice: Option<i64>,
    /// Targets that are this actor's own (their account, affiliation, session, match, the plan's user type).
    own: Vec<(IdKind, Target)>,
}

impl Actor {
    /// Fully signed in.
    pub fn signed_in(&self) -> bool {
        self.person.is_some() && !self.mid_sign_in
    }

    /// Has a linked account of their own.
    pub fn affiliated(&self) -> bool {
        self.own.iter().any(|(k, _)| *k == IdKind::Affiliation)
    }

    /// The API session token.
    fn bearer(&self) -> Option<String> {
        self.bearer.lock().expect("lock").clone()
    }

    /// Holds a session, even one still signing in.
    pub fn has_session(&self) -> bool {
        self.person.is_some()
    }
}

/// An object a route's ids can name, described for the rules.
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    /// What goes in the path.
    pub value: String,
    pub plan: u8,
    /// The user it is, or belongs to.
    pub owner: Option<UserId>,
    /// Tags of the practices it concerns (a user's, an affiliation's, a request's).
    pub practices: Vec<&'static str>,
    /// The staff role of the account it is or belongs to.
    pub staff: Option<StaffRole>,
    pub rank: u8,
    /// Who sent it (invitations).
    pub sender: Option<UserId>,
    /// Acting on it destructively would end or demote the actor.
    pub itself: bool,
    /// A staff note's file: the practice side never reads it.
    pub internal: bool,
}

impl Target {
    fn new(label: impl Into<String>, value: impl ToString, plan: u8) -> Self {
        Self {
            label: label.into(),
            value: value.to_string(),
            plan,
            owner: None,
            practices: Vec::new(),
            staff: None,
            rank: 1,
            sender: None,
            itself: false,
            internal: false,
        }
    }

    fn user(label: &str, p: &Person, plan: u8, practices: &[&'static str], staff: Option<StaffRole>, rank: u8) -> Self {
        Self { owner: Some(p.id), practices: practices.to_vec(), staff, rank, ..Self::new(label, p.id.0, plan) }
    }

    /// The owning user's id, for paths with both `{id}` and `{aid}`.
    pub fn owner_value(&self) -> String {
        self.owner.map_or_else(|| "0".into(), |u| u.0.to_string())
    }

    /// Whether this is the actor themselves (or their own affiliation).
    pub fn is_actor(&self, a: &Actor) -> bool {
        self.itself && self.owner.is_some() && self.owner == a.user
    }
}

fn rank_of(role: Option<StaffRole>, admin: bool) -> u8 {
    match role {
        Some(StaffRole::PlanAdmin) => 5,
        Some(StaffRole::HelpDesk) => 4,
        Some(StaffRole::Auditor) => 3,
        None if admin => 2,
        None => 1,
    }
}

/// Everything the matrix walks.
pub struct World {
    pub actors: Vec<Actor>,
    pub routes: Vec<RouteEntry>,
    shared: Vec<(IdKind, Target)>,
    /// Practices by tag, with an administrator who approves newcomers.
    practices: Vec<(&'static str, Practice, Person)>,
    /// Throwaway users made so far.
    made: AtomicU16,
}

/// A person's description, to build their actor and own targets.
struct Spec<'a> {
    name: &'static str,
    person: &'a Person,
    plan: u8,
    staff: Option<StaffRole>,
    admin_of: Vec<&'static str>,
    member_of: Vec<&'static str>,
    affiliation: Option<(gatehouse_domain::AffiliationId, &'static str)>,
    attempt: Option<i64>,
}

impl World {
    pub async fn build(app: &TestApp) -> Self {
        let svc = &app.running.services;
        let p1 = app.plan.clone();
        let p2 = app.plan("north", "Northwind Health").await;
        let list = [
            (1, "825671892", "Lakeside Family Medicine"),
            (2, "914407731", "Cedar Valley Pediatrics"),
            (3, "731190246", "St. Brigid Clinic"),
        ];
        let [a, b, z]: [Practice; 3] = app.practices(&p1, &list).await.try_into().expect("three practices");
        let c = app.practices(&p2, &[(4, "825671892", "Northwind Lakeside")]).await.remove(0);

        let admin_a = app.person(&p1, "admin_a", 1001).await;
        app.admin_of(&admin_a, &a).await;
        let admin_b = app.person(&p1, "admin_b", 1002).await;
        app.admin_of(&admin_b, &b).await;
        let portal_a = app.person(&p1, "portal_a", 1003).await;
        app.member_of(&portal_a, &a, &admin_a).await;
        let multi = app.person(&p1, "multi", 1004).await;
        app.member_of(&multi, &a, &admin_a).await;
        app.make_admin(&multi, &a, &admin_a).await;
        app.member_of(&multi, &b, &admin_b).await;
        let user_a = app.person(&p1, "user_a", 1005).await;
        app.member_of(&user_a, &a, &admin_a).await;
        // Signs in only up to the code: a person no cell acts on, so the session lives to the end
        // (acting on a user, e.g. deactivating them, ends their sessions).
        let signing_in = app.person(&p1, "signing_in", 1015).await;
        app.member_of(&signing_in, &a, &admin_a).await;
        let user_b = app.person(&p1, "user_b", 1006).await;
        app.member_of(&user_b, &b, &admin_b).await;
        let user_ab = app.person(&p1, "user_ab", 1007).await;
        app.member_of(&user_ab, &a, &admin_a).await;
        app.member_of(&user_ab, &b, &admin_b).await;
        let help_desk = app.staff(&p1, "help_desk", 1008, StaffRole::HelpDesk).await;
        let auditor = app.staff(&p1, "auditor", 1009, StaffRole::Auditor).await;
        let plan_admin = app.staff(&p1, "plan_admin", 1010, StaffRole::PlanAdmin).await;
        // Targets of the ranks between: a second administrator of A and a second auditor (the
        // actors' own accounts must stay usable: acting on an account ends its sessions).
        let admin_a2 = app.person(&p1, "admin_a2", 1016).await;
        app.member_of(&admin_a2, &a, &admin_a).await;
        app.make_admin(&admin_a2, &a, &admin_a).await;
        let auditor2 = app.staff(&p1, "auditor2", 1017, StaffRole::Auditor).await;
        let staff_hd = app.staff(&p1, "staff_hd", 1011, StaffRole::HelpDesk).await;
        // The attack's shape: a staff account that also works for practice A.
        let staff_in_a = app.staff(&p1, "staff_in_a", 1012, StaffRole::PlanAdmin).await;
        // An account that worked for A before it was given a staff role: no path links a staff
        // account to a practice any more, but one may still hold an old affiliation.
        app.seed_affiliation(staff_in_a.id, &a.tax_id, "billing_staff", false).await;
        let req_a = app.person(&p1, "req_a", 1013).await;
        let request_a = app.ask_access(&req_a, &a).await;
        let req_b = app.person(&p1, "req_b", 1014).await;
        let request_b = app.ask_access(&req_b, &b).await;
        let invited_a = app.invite_to(&admin_a, &a, "invited_a").await;
        let invited_b = app.invite_to(&admin_b, &b, "invited_b").await;

        let plan_admin2 = app.staff(&p2, "plan_admin2", 2001, StaffRole::PlanAdmin).await;
        let p2_user = app.person(&p2, "p2_user", 2002).await;
        app.admin_of(&p2_user, &c).await;
        let p2_req = app.person(&p2, "p2_req", 2003).await;
        let request_p2 = app.ask_access(&p2_req, &c).await;
        let invited_p2 = app.invite_to(&p2_user, &c, "invited_p2").await;

        let meta = RequestMeta::cli();
        let app1 =
            svc.create_application(&svc.operator_grant(&p1), &p1, "Claims portal", &meta).await.expect("application");
        let app2 =
            svc.create_application(&svc.operator_grant(&p2), &p2, "North claims", &meta).await.expect("application");
        let reg1 = registration(app, &p1, "").await;
        let reg2 = registration(app, &p2, "/p/north").await;

        let aff = |p: &Person, practice: &Practice| {
            let (app, p, practice) = (app, p.clone(), practice.clone());
            async move { app.affiliation(&p, &practice).await }
        };
        let mut shared = vec![
            (IdKind::User, Target::user("user of A", &user_a, 1, &["A"], None, 1)),
            (IdKind::User, Target::user("user of B", &user_b, 1, &["B"], None, 1)),
            (IdKind::User, Target::user("user of A and B", &user_ab, 1, &["A", "B"], None, 1)),
            (IdKind::User, Target::user("plan 2 user", &p2_user, 2, &["C"], None, 2)),
            (IdKind::User, Target::user("help desk account", &staff_hd, 1, &[], Some(StaffRole::HelpDesk), 4)),
            (IdKind::User, Target::user("another admin of A", &admin_a2, 1, &["A"], None, 2)),
            (IdKind::User, Target::user("auditor account", &auditor2, 1, &[], Some(StaffRole::Auditor), 3)),
            (
                IdKind::User,
                Target::user("plan admin working for A", &staff_in_a, 1, &["A"], Some(StaffRole::PlanAdmin), 5),
            ),
            (IdKind::StaffUser, Target::user("help desk account", &staff_hd, 1, &[], Some(StaffRole::HelpDesk), 4)),
            (IdKind::StaffUser, Target::user("auditor account", &auditor2, 1, &[], Some(StaffRole::Auditor), 3)),
            (
                IdKind::StaffUser,
                Target::user("plan admin working for A", &staff_in_a, 1, &["A"], Some(StaffRole::PlanAdmin), 5),
            ),
            (IdKind::StaffUser, Target::user("plan 2 admin", &plan_admin2, 2, &[], Some(StaffRole::PlanAdmin), 5)),
        ];
        for (label, p, practice, tag, plan, staff) in [
            ("affiliation of user of A", &user_a, &a, "A", 1, None),
            ("affiliation of user of B", &user_b, &b, "B", 1, None),
            ("affiliation in plan 2", &p2_user, &c, "C", 2, None),
            ("A affiliation of plan admin", &staff_in_a, &a, "A", 1, Some(StaffRole::PlanAdmin)),
        ] {
            let id = aff(p, practice).await;
            let mut t = Target::new(label, id, plan);
            (t.owner, t.practices, t.staff) = (Some(p.id), vec![tag], staff);
            shared.push((IdKind::Affiliation, t));
        }
        for (label, id, sender, tag, plan) in [
            ("invitation by admin of A", invited_a, &admin_a, "A", 1),
            ("invitation by admin of B", invited_b, &admin_b, "B", 1),
            ("invitation in plan 2", invited_p2, &p2_user, "C", 2),
        ] {
            let mut t = Target::new(label, id.0, plan);
            (t.owner, t.sender, t.practices) = (Some(id), Some(sender.id), vec![tag]);
            shared.push((IdKind::Invitation, t));
        }
        for (label, id, tag, plan) in [
            ("request to A", request_a, "A", 1),
            ("request to B", request_b, "B", 1),
            ("request in plan 2", request_p2, "C", 2),
        ] {
            let mut t = Target::new(label, id, plan);
            t.practices = vec![tag];
            shared.push((IdKind::Request, t));
        }
        for (label, p, plan) in [("session of user of A", &user_a, 1), ("session in plan 2", &p2_user, 2)] {
            let mut t = Target::new(label, p.session.id, plan);
            t.owner = Some(p.id);
            shared.push((IdKind::Session, t.clone()));
            shared.push((IdKind::ApiSession, t));
        }
        let attempt_a = app.match_practice(&user_a, &z).await;
        let attempt_p2 = app.match_practice(&p2_req, &c).await;
        for (label, id, p, plan) in
            [("match of user of A", attempt_a, &user_a, 1), ("match in plan 2", attempt_p2, &p2_req, 2)]
        {
            let mut t = Target::new(label, id, plan);
            t.owner = Some(p.id);
            shared.push((IdKind::Attempt, t));
        }
        shared.extend([
            (IdKind::Registration, Target::new("registration of plan 1", reg1, 1)),
            (IdKind::Registration, Target::new("registration of plan 2", reg2, 2)),
            (IdKind::Import, Target::new("roster import of plan 1", a.import_id, 1)),
            (IdKind::Import, Target::new("roster import of plan 2", c.import_id, 2)),
            (IdKind::Application, Target::new("application of plan 1", app1.row.id, 1)),
            (IdKind::Application, Target::new("application of plan 2", app2.row.id, 2)),
        ]);

        let specs = [
            Spec {
                name: "portal user of A",
                person: &portal_a,
                plan: 1,
                staff: None,
                admin_of: vec![],
                member_of: vec!["A"],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "admin of A",
                person: &admin_a,
                plan: 1,
                staff: None,
                admin_of: vec!["A"],
                member_of: vec!["A"],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "admin of B",
                person: &admin_b,
                plan: 1,
                staff: None,
                admin_of: vec!["B"],
                member_of: vec!["B"],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "admin of A, user of B",
                person: &multi,
                plan: 1,
                staff: None,
                admin_of: vec!["A"],
                member_of: vec!["A", "B"],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "help desk",
                person: &help_desk,
                plan: 1,
                staff: Some(StaffRole::HelpDesk),
                admin_of: vec![],
                member_of: vec![],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "auditor",
                person: &auditor,
                plan: 1,
                staff: Some(StaffRole::Auditor),
                admin_of: vec![],
                member_of: vec![],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "plan admin",
                person: &plan_admin,
                plan: 1,
                staff: Some(StaffRole::PlanAdmin),
                admin_of: vec![],
                member_of: vec![],
                affiliation: None,
                attempt: None,
            },
            Spec {
                name: "plan 2 admin",
                person: &plan_admin2,
                plan: 2,
                staff: Some(StaffRole::PlanAdmin),
                admin_of: vec![],
                member_of: vec![],
                affiliation: None,
                attempt: None,
            },
        ];
        let practices = [("A", &a), ("B", &b)];
        let mut actors = vec![Actor::anonymous(app, "anonymous", None)];
        actors.push(Actor::mid_sign_in(app, &signing_in).await);
        for mut s in specs {
            if let Some(tag) = s.member_of.first() {
                let practice = practices.iter().find(|p| p.0 == *tag).map(|p| p.1).expect("practice");
                s.affiliation = Some((aff(s.person, practice).await, tag));
            }
            // Plan staff are never linked to a practice: they cannot make a match.
            if s.plan == 1 && s.staff.is_none() {
                s.attempt = Some(app.match_practice(s.person, &z).await);
            }
            let mut actor = Actor::signed_in_as(app, &s).await;
            if let Some(tag) = s.member_of.first() {
                let practice = practices.iter().find(|p| p.0 == *tag).map(|p| p.1).expect("practice");
                let sql = format!(
                    "SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{}'",
                    s.person.plan.id().0,
                    practice.tax_id
                );
                actor.member_practice = app.ids(&sql).await.first().copied();
            }
            actors.push(actor);
        }
        actors.push(Actor::anonymous(app, "application", Some((app1.row.client_id.clone(), app1.secret.clone()))));
        for a in &mut actors {
            let mut key = Target::new("billing_staff user type", "billing_staff", a.plan);
            key.rank = 0;
            a.own.push((IdKind::UserType, key));
            a.init_csrf(app).await;
        }

        shared.extend(threads(app, [(&user_a, &a, "A"), (&portal_a, &a, "A"), (&user_b, &b, "B")], &staff_hd, 1).await);
        shared.extend(threads(app, [(&p2_user, &c, "C")], &plan_admin2, 2).await);
        for (label, author, practice, tag, plan) in
            [("profile update by user_a of A", &user_a, &a, "A", 1), ("profile update in plan 2", &p2_user, &c, "C", 2)]
        {
            let id = profile_update(app, author, practice).await;
            let mut t = Target::new(label, id, plan);
            (t.owner, t.practices) = (Some(author.id), vec![tag]);
            shared.push((IdKind::ProfileUpdate, t));
        }

        shared.extend(
            reviews(app, [(&admin_a, &user_a, "A", 1), (&admin_b, &user_b, "B", 1), (&p2_user, &p2_user, "C", 2)])
                .await,
        );

        let routes = gatehouse_web::route_table(&app.state());
        let practices = vec![("A", a, admin_a), ("B", b, admin_b), ("C", c, p2_user)];
        Self { actors, routes, shared, practices, made: AtomicU16::new(0) }
    }

    /// The targets a route with these ids is called with, for this actor.
    pub fn targets<'a>(&'a self, kind: IdKind, actor: &'a Actor) -> Vec<&'a Target> {
        actor.own.iter().chain(self.shared.iter()).filter(|(k, _)| *k == kind).map(|(_, t)| t).collect()
    }

    /// Sends one cell's request.
    pub async fn send(&self, app: &TestApp, c: &Cell<'_>) -> Answer {
        let a = c.actor;
        let path = c.path();
        let prefix = if path == "/healthz" { "" } else { a.prefix.as_str() };
        let url = app.url(&format!("{prefix}{path}"));
        let api = path.starts_with("/api/");
        let method = Method::from_bytes(c.row.method.as_bytes()).expect("method");
        let client = if api { &a.api } else { &a.browser };
        let mut req = client.request(method.clone(), &url);
        if let (true, Some(t)) = (api, a.bearer()) {
            req = req.bearer_auth(t);
        }
        if let Some((id, secret)) = &a.basic {
            req = req.basic_auth(id, Some(secret));
        }
        if method != Method::GET && method != Method::DELETE {
            let body = c.row.body.map(|b| {
                let own_aff =
                    a.own.iter().find(|(k, _)| *k == IdKind::Affiliation).map_or("0".into(), |t| t.1.value.clone());
                let practice = a.practice_ids.first().map_or("0".into(), i64::to_string);
                let member = a.member_practice.map_or("0".into(), |p| p.to_string());
                b.replace("{own_aff}", &own_aff)
                    .replace("{my_practice}", &practice)
                    .replace("{member_practice}", &member)
            });
            req = if api {
                req.header("content-type", "application/json").body(body.unwrap_or_else(|| "{}".into()))
            } else {
                let mut form = vec![("csrf_token".to_owned(), a.csrf_value(app))];
                for pair in body.iter().flat_map(|b| b.split('&')) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    form.push((k.to_owned(), v.to_owned()));
                }
                req.form(&form)
            };
        }
        let r = req.send().await.expect("request");
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Answer { status: r.status(), location }
    }

    /// A throwaway copy of `t` (a user, a user's affiliation, an invitation) for a cell that
    /// takes it out of a practice: a new person who works for (or is invited to) the same ones.
    pub async fn throwaway(&self, app: &TestApp, kind: IdKind, t: &Target) -> Target {
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let name = format!("spare_{n}");
        if kind == IdKind::Invitation {
            let (_, practice, sender) =
                self.practices.iter().find(|p| t.practices.contains(&p.0)).expect("invitation's practice");
            let id = app.invite_to(sender, practice, &name).await;
            return Target {
                label: format!("{} (throwaway)", t.label),
                value: id.0.to_string(),
                owner: Some(id),
                ..t.clone()
            };
        }
        let plan = self.practices.iter().find(|p| t.practices.contains(&p.0)).map(|p| p.2.plan.clone());
        let p = app.person(&plan.unwrap_or_else(|| app.plan.clone()), &name, 3000 + n).await;
        for (tag, practice, admin) in &self.practices {
            if t.practices.contains(tag) {
                app.member_of(&p, practice, admin).await;
            }
        }
        let mut copy = Target { label: format!("{} (throwaway)", t.label), owner: Some(p.id), ..t.clone() };
        copy.value = match kind {
            IdKind::Affiliation => {
                let first = t.practices.first().copied().unwrap_or("A");
                let practice = &self.practices.iter().find(|x| x.0 == first).expect("practice").1;
                app.affiliation(&p, practice).await.to_string()
            }
            _ => p.id.0.to_string(),
        };
        copy
    }

    /// Signs actors in again whose browser or API session ended (before destructive phases).
    pub async fn refresh_sessions(&self, app: &TestApp) {
        for a in &self.actors {
            if !a.signed_in() {
                continue;
            }
            let me = a.api.get(app.url(&format!("{}/api/v1/me", a.prefix))).bearer_auth(a.bearer().unwrap_or_default());
            if me.send().await.expect("me").status() != StatusCode::OK {
                let t = api_sign_in(app, a.person.as_ref().expect("person"), &a.prefix, true).await;
                *a.bearer.lock().expect("lock") = Some(t);
            }
            let r = a.browser.get(app.url(&format!("{}/sessions", a.prefix))).send().await.expect("sessions");
            if r.status() != StatusCode::OK {
                browser_sign_in(app, &a.browser, a.person.as_ref().expect("person"), &a.prefix, true).await;
            }
        }
    }

    /// A digest per table of what a forbidden request must never change: (rows, hash of contents).
    pub async fn digest(&self, app: &TestApp) -> BTreeMap<String, (usize, u64)> {
        let tables = [
            "users",
            "affiliations",
            "affiliation_providers",
            "invitations",
            "plans",
            "plan_logos",
            "practices",
            "providers",
            "user_types",
            "access_requests",
            "applications",
            "registrations",
            "roster_imports",
            "password_resets",
            "email_changes",
            "outbox",
            "message_threads",
            "messages",
            "message_attachments",
            "message_reads",
            "profile_update_lines",
            "message_topics",
            "access_reviews",
            "access_review_decisions",
            "access_review_reminders",
        ];
        let pool = app.running.services.db.pool();
        let mut out = BTreeMap::new();
        for t in tables {
            let rows = sqlx::query(&format!("SELECT * FROM {t}")).fetch_all(pool).await.expect("digest query");
            let mut lines: Vec<String> = rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .filter(|i| !["last_seen_at", "last_signin_at"].contains(&row.column(*i).name()))
                        .map(|i| {
                            row.try_get::<Option<i64>, _>(i)
                                .map(|v| format!("{v:?}"))
                                .or_else(|_| row.try_get::<Option<String>, _>(i).map(|v| format!("{v:?}")))
                                .or_else(|_| row.try_get::<Option<f64>, _>(i).map(|v| format!("{v:?}")))
                                .or_else(|_| row.try_get::<Option<Vec<u8>>, _>(i).map(|v| format!("{v:?}")))
                                .unwrap_or_else(|_| "?".into())
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            lines.sort();
            let mut h = DefaultHasher::new();
            lines.hash(&mut h);
            out.insert(t.to_owned(), (lines.len(), h.finish()));
        }
        out
    }
}

impl Actor {
    fn bare(name: &'static str, plan: u8) -> Self {
        let jar = Arc::new(Jar::default());
        let browser = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let api = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self {
            name,
            plan,
            user: None,
            staff: None,
            admin_of: Vec::new(),
            rank: 0,
            application: false,
            mid_sign_in: false,
            person: None,
            prefix: if plan == 2 { "/p/north".into() } else { String::new() },
            jar,
            browser,
            api,
            bearer: Mutex::new(None),
            basic: None,
            practice_ids: Vec::new(),
            member_practice: None,
            own: Vec::new(),
        }
    }

    fn anonymous(_app: &TestApp, name: &'static str, basic: Option<(String, String)>) -> Self {
        let application = basic.is_some();
        Self { basic, application, ..Self::bare(name, 1) }
    }

    /// `p` after the password, before the code (pages and API).
    async fn mid_sign_in(app: &TestApp, p: &Person) -> Self {
        let a = Self {
            user: Some(p.id),
            mid_sign_in: true,
            person: Some(p.clone()),
            rank: 1,
            ..Self::bare("signing in", 1)
        };
        browser_sign_in(app, &a.browser, p, "", false).await;
        *a.bearer.lock().expect("lock") = Some(api_sign_in(app, p, "", false).await);
        a
    }

    async fn signed_in_as(app: &TestApp, s: &Spec<'_>) -> Self {
        let p = s.person;
        let rank = rank_of(s.staff, !s.admin_of.is_empty());
        let mut a = Self {
            user: Some(p.id),
            staff: s.staff,
            admin_of: s.admin_of.clone(),
            rank,
            person: Some(p.clone()),
            ..Self::bare(s.name, s.plan)
        };
        browser_sign_in(app, &a.browser, p, &a.prefix, true).await;
        *a.bearer.lock().expect("lock") = Some(api_sign_in(app, p, &a.prefix, true).await);
        let mut me = Target::user("own account", p, s.plan, &s.member_of, s.staff, rank);
        me.itself = true;
        a.own.push((IdKind::User, me.clone()));
        a.own.push((IdKind::StaffUser, me));
        if let Some((id, tag)) = s.affiliation {
            let mut t = Target::new("own affiliation", id, s.plan);
            (t.owner, t.practices, t.staff, t.itself) = (Some(p.id), vec![tag], s.staff, true);
            a.own.push((IdKind::Affiliation, t));
        }
        // Two sessions of the actor's own besides the matrix's: one for the page that ends a
        // session, one for the API.
        let mut session = Target::new("own other session", p.session.id, s.plan);
        session.owner = Some(p.id);
        a.own.push((IdKind::Session, session));
        let svc = &app.running.services;
        let extra = svc.sign_in(&p.plan, &p.username, TEST_PASSWORD, &RequestMeta::cli()).await.expect("sign in");
        let extra = svc.authenticate(&p.plan, &extra.session.0).await.expect("session").expect("live");
        let mut session = Target::new("own other session (API)", extra.id, s.plan);
        session.owner = Some(p.id);
        a.own.push((IdKind::ApiSession, session));
        if !s.admin_of.is_empty() {
            let grant = svc.practice_grant(&p.plan, &p.session).await.expect("grant");
            a.practice_ids = grant.practice_ids().into_iter().map(|p| p.0).collect();
        }
        if let Some(id) = s.attempt {
            let mut t = Target::new("own match", id, s.plan);
            t.owner = Some(p.id);
            a.own.push((IdKind::Attempt, t));
        }
        a
    }

    /// Gets a CSRF cookie for the browser.
    async fn init_csrf(&self, app: &TestApp) {
        if self.csrf_value(app).is_empty() {
            let r = self.browser.get(app.url(&format!("{}/signin", self.prefix))).send().await.expect("signin page");
            let _ = r.text().await;
        }
    }

    /// The browser's `gh_csrf` cookie.
    fn csrf_value(&self, app: &TestApp) -> String {
        let url = url::Url::parse(&app.url(&format!("{}/", self.prefix))).expect("url");
        let cookies = self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_owned)).unwrap_or_default();
        cookies.split("; ").find_map(|c| c.strip_prefix("gh_csrf=")).map(str::to_owned).unwrap_or_default()
    }
}

/// A secure-message thread of each `(author, practice, tag)` with a PDF, and on the first a staff
/// note (by `agent`) with a PDF of its own: the thread, its file and the note's file as targets.
async fn threads<const N: usize>(
    app: &TestApp,
    of: [(&Person, &Practice, &'static str); N],
    agent: &Person,
    plan: u8,
) -> Vec<(IdKind, Target)> {
    use gatehouse_domain::secure_messages::{IncomingFile, NewThreadForm};
    let svc = &app.running.services;
    let meta = RequestMeta::cli();
    let pdf = || IncomingFile { name: "referral.pdf".into(), bytes: b"%PDF-1.4\n%%EOF\n".to_vec() };
    let mut out = Vec::new();
    for (i, (author, practice, tag)) in of.into_iter().enumerate() {
        let sql = format!(
            "SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{}'",
            author.plan.id().0,
            practice.tax_id
        );
        let practice_id = gatehouse_domain::PracticeId(app.ids(&sql).await[0]);
        let form = NewThreadForm {
            topic: "claims".into(),
            subject: format!("Claim question {i}"),
            body: "Please look at this claim again.".into(),
            ..Default::default()
        };
        let id =
            svc.send_thread(&author.plan, &author.session, practice_id, &form, &[pdf()], &meta).await.expect("thread");
        let owned = |label: String, value: i64| {
            let mut t = Target::new(label, value, plan);
            (t.owner, t.practices) = (Some(author.id), vec![tag]);
            t
        };
        let who = format!("{} of {tag}", author.username);
        let view = svc.thread_view(&author.plan, &author.session, id, &meta).await.expect("view");
        out.push((IdKind::Thread, owned(format!("thread by {who}"), id.0)));
        out.push((IdKind::Attachment, owned(format!("file of {who}"), view.messages[0].attachments[0].id.0)));
        if i == 0 {
            svc.reply(&agent.plan, &agent.session, id, "Internal: check eligibility.", &[pdf()], true, &meta)
                .await
                .expect("note");
            let staff_view = svc.thread_view(&agent.plan, &agent.session, id, &meta).await.expect("staff view");
            let note = staff_view.messages.iter().find(|m| m.internal).expect("note");
            let mut t = owned(format!("note file on {who}"), note.attachments[0].id.0);
            t.internal = true;
            out.push((IdKind::Attachment, t));
        }
    }
    out
}

/// The open access review of each `(administrator, member, tag, plan)`'s practice (the
/// administrator administers only that one), with the member as the `{user}` of its paths.
async fn reviews<const N: usize>(
    app: &TestApp,
    of: [(&Person, &Person, &'static str, u8); N],
) -> Vec<(IdKind, Target)> {
    let svc = &app.running.services;
    let mut out = Vec::new();
    for (admin, member, tag, plan) in of {
        let grant = svc.practice_grant(&admin.plan, &admin.session).await.expect("practice grant");
        let list = svc.practice_reviews(&grant, &admin.plan).await.expect("reviews");
        let mut t = Target::new(format!("review of {tag}"), list[0].review.id.0, plan);
        (t.owner, t.practices) = (Some(member.id), vec![tag]);
        out.push((IdKind::Review, t));
    }
    out
}

/// A provider profile update request ("Add Facility") of `author` for `practice`: its thread id.
async fn profile_update(app: &TestApp, author: &Person, practice: &Practice) -> i64 {
    use gatehouse_domain::profile_update::ProfileUpdateForm;
    let sql =
        format!("SELECT id FROM practices WHERE plan_id = {} AND tax_id = '{}'", author.plan.id().0, practice.tax_id);
    let practice_id = gatehouse_domain::PracticeId(app.ids(&sql).await[0]);
    let form = ProfileUpdateForm { lines: "P999001\nP999002".into(), note: String::new() };
    let svc = &app.running.services;
    let id = svc.send_profile_update(&author.plan, &author.session, practice_id, &form, &RequestMeta::cli()).await;
    id.expect("profile update request").0
}

/// Signs `p` in through the pages; with `code`, completes the two-step code too.
async fn browser_sign_in(app: &TestApp, c: &Client, p: &Person, prefix: &str, code: bool) {
    let page = c.get(app.url(&format!("{prefix}/signin"))).send().await.expect("get").text().await.expect("text");
    let r = c
        .post(app.url(&format!("{prefix}/signin")))
        .form(&[("csrf_token", csrf(&page).as_str()), ("username", p.username.as_str()), ("password", TEST_PASSWORD)])
        .send()
        .await
        .expect("signin");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {}", p.username);
    if !code {
        return;
    }
    let code = app.code_for(&p.plan, &p.phone()).await;
    let page =
        c.get(app.url(&format!("{prefix}/two-step/code"))).send().await.expect("get").text().await.expect("text");
    let r = c
        .post(app.url(&format!("{prefix}/two-step/code")))
        .form(&[("csrf_token", csrf(&page).as_str()), ("action", "verify"), ("code", code.as_str())])
        .send()
        .await
        .expect("code");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "code of {}", p.username);
}

/// Signs `p` in through the API; with `code`, completes the two-step code too. The bearer token.
async fn api_sign_in(app: &TestApp, p: &Person, prefix: &str, code: bool) -> String {
    let c = app.api();
    let v: Value = c
        .post(app.url(&format!("{prefix}/api/v1/signin")))
        .json(&json!({"username": p.username, "password": TEST_PASSWORD}))
        .send()
        .await
        .expect("signin")
        .json()
        .await
        .expect("json");
    let t = v["session_token"].as_str().expect("token").to_owned();
    if !code {
        return t;
    }
    let code = app.code_for(&p.plan, &p.phone()).await;
    let r = c
        .post(app.url(&format!("{prefix}/api/v1/two-step/verify")))
        .bearer_auth(&t)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status(), StatusCode::OK, "code of {}", p.username);
    let v: Value = r.json().await.expect("json");
    v["session_token"].as_str().expect("token").to_owned()
}

/// A pending administrator registration request of `plan` (sent through the API): its id.
async fn registration(app: &TestApp, plan: &Plan, prefix: &str) -> i64 {
    let fields = crate::registration::fields("825671892", "reg.one@clinic.example.org", "reg.two@clinic.example.org");
    let body: serde_json::Map<String, Value> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
    let r = app.api().post(app.url(&format!("{prefix}/api/v1/registrations"))).json(&body).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::CREATED, "registration request");
    let svc = &app.running.services;
    let q = svc.registration_queue(&svc.operator_grant(plan), plan).await.expect("queue");
    q.pending.first().expect("pending request").id
}
