//! The plan's own list of secure-message topics (issue 16), on both databases: every plan starts
//! with the seven defaults; a plan administrator adds, renames, moves, retires and restores
//! topics on the control panel, each change audited; the new-message form, the mailbox filter
//! and every page follow the list; a retired topic is refused for a new thread (page and API) and
//! nothing is written, while its old threads keep reading its name; the Add Facility topic is
//! never retired; bad names are refused beside their field; nobody else manages the list, and
//! another plan's topic reads as not found.

use crate::both;
use crate::secure_messages::World;
use crate::support::fixtures::Person;
use crate::support::{Backend, TEST_PASSWORD, csrf};
use gatehouse_domain::message_topics::{DEFAULT_TOPICS, Direction, TopicCode};
use gatehouse_domain::staff::StaffRole;
use gatehouse_services::RequestMeta;
use gatehouse_services::message_topics::{TopicError, TopicRow};
use gatehouse_services::plans::Plan;
use reqwest::multipart::Form;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const PAGE: &str = "/admin/settings/topics";
const SUBJECT: &str = "Counselling referral for a member. Wombat-subject-3381";

impl World {
    /// The plan's topics as the services list them.
    async fn topics_of(&self, plan: &Plan) -> Vec<TopicRow> {
        self.svc().message_topics(plan).await.expect("topics").0
    }

    /// The plan's topic with `code`.
    async fn topic(&self, code: &str) -> TopicRow {
        self.topics_of(self.plan()).await.into_iter().find(|t| t.code.as_str() == code).expect("topic")
    }

    /// How many `plan.message_topic_*` events the plan has.
    async fn topic_events(&self) -> i64 {
        self.app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE plan_id = {} AND action LIKE 'plan.message_topic_%'",
                self.plan().id().0
            ))
            .await
    }

    /// Everything a topic change could touch: the plan's topics, and the threads.
    async fn topic_state(&self) -> (Vec<TopicRow>, [i64; 3], i64) {
        (self.topics_of(self.plan()).await, self.rows().await, self.topic_events().await)
    }

    async fn signed_in(&self, p: &Person) -> Client {
        self.app.signed_in_browser(&p.username, p.phone_tail).await
    }

    /// Sends the new-message form for practice A with `topic`; status, body and `Location`.
    async fn send_with_topic(&self, c: &Client, topic: &str) -> (StatusCode, String, Option<String>) {
        let (_, html) = self.app.page(c, "/messages/new").await;
        let token = csrf(&html);
        let form = Form::new()
            .text("practice", self.a.0.to_string())
            .text("topic", topic.to_owned())
            .text("subject", SUBJECT)
            .text("body", "Could you tell us which counsellors take new patients?");
        let url = format!("{}?csrf_token={token}", self.app.url("/messages"));
        let r = c.post(url).multipart(form).send().await.expect("send");
        let loc = crate::support::location(&r);
        (r.status(), r.text().await.expect("text"), loc)
    }

    /// An API session of `p`.
    async fn token(&self, p: &Person) -> String {
        self.app.api_session(&p.username, TEST_PASSWORD, &p.phone()).await
    }
}

/// The `<select id="topic">` of a page: its options' values.
fn topic_options(html: &str) -> Vec<String> {
    let at = html.find("<select id=\"topic\"").expect("a topic select");
    let end = at + html[at..].find("</select>").expect("end of select");
    html[at..end]
        .split("<option value=\"")
        .skip(1)
        .filter_map(|o| o.split('"').next().map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect()
}

async fn every_plan_starts_with_the_default_topics(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let other = w.other_staff.plan.clone();
    for plan in [w.plan(), &other] {
        let list = w.topics_of(plan).await;
        let got: Vec<(&str, &str, bool)> =
            list.iter().map(|t| (t.code.as_str(), t.label.as_str(), t.active())).collect();
        let want: Vec<(&str, &str, bool)> = DEFAULT_TOPICS.iter().map(|(c, l)| (c.as_str(), *l, true)).collect();
        assert_eq!(got, want, "{}", plan.row.slug);
    }
    // The new-message form offers them in that order; the API lists them for a new thread.
    let author = w.signed_in(&w.author).await;
    let (s, html) = w.app.page(&author, "/messages/new").await;
    assert_eq!(s, StatusCode::OK);
    let codes: Vec<String> = DEFAULT_TOPICS.iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(topic_options(&html), codes);
    let token = w.token(&w.author).await;
    let (s, v) = w.app.call("GET", "/api/v1/messages/topics", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed: Vec<(String, String)> = v["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| (t["code"].as_str().unwrap_or("").to_owned(), t["label"].as_str().unwrap_or("").to_owned()))
        .collect();
    let want: Vec<(String, String)> = DEFAULT_TOPICS.iter().map(|(c, l)| (c.to_string(), (*l).to_owned())).collect();
    assert_eq!(listed, want);
    let (s, _) = w.app.call("GET", "/api/v1/messages/topics", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    w.app.stop().await;
}
both!(every_plan_starts_with_the_default_topics);

async fn a_topic_is_added_renamed_retired_and_restored(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    let padmin = app.staff(w.plan(), "padmin", 1010, StaffRole::PlanAdmin).await;
    let admin = w.signed_in(&padmin).await;
    let author = w.signed_in(&w.author).await;
    let agent = w.signed_in(&w.agent).await;

    // The settings page leads to the list.
    let (s, html) = app.page(&admin, "/admin/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("/admin/settings/topics") && html.contains("Message topics"), "{html}");
    let (s, html) = app.page(&admin, PAGE).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Prior authorization") && html.contains("Add a topic"), "{html}");

    // Added: at the end, a code made from its name, offered to practice users at once.
    let (s, _, to) = app.post_form(&admin, PAGE, PAGE, &[("label", "  Behavioral   health ")]).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/settings/topics?done=added")));
    let added = w.topic("behavioral_health").await;
    assert_eq!((added.label.as_str(), added.active()), ("Behavioral health", true));
    assert_eq!(w.topics_of(w.plan()).await.last().map(|t| t.id), Some(added.id));
    assert_eq!(w.audited("plan.message_topic_added").await, 1);
    let (_, html) = app.page(&author, "/messages/new").await;
    assert!(topic_options(&html).contains(&"behavioral_health".to_owned()), "{html}");
    assert!(html.contains("Behavioral health"));

    // A thread is started with it; every page names it.
    let (s, page, loc) = w.send_with_topic(&author, "behavioral_health").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let thread = loc.expect("to the thread");
    let id: i64 = thread.trim_start_matches("/messages/").split('?').next().and_then(|n| n.parse().ok()).expect("id");
    let (_, html) = app.page(&author, &thread).await;
    assert!(html.contains("Behavioral health"), "{html}");
    let (_, html) = app.page(&author, "/messages").await;
    assert!(html.contains("Behavioral health") && html.contains(SUBJECT), "{html}");
    let (_, html) = app.page(&agent, "/admin/messages?topic=behavioral_health").await;
    assert!(html.contains(SUBJECT) && html.contains("Behavioral health"), "{html}");

    // Renamed: every page shows the new name, the code stays.
    let action = format!("{PAGE}/{}/label", added.id.0);
    let (s, _, to) = app.post_form(&admin, PAGE, &action, &[("label", "Mental health")]).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/settings/topics?done=renamed")));
    assert_eq!(w.topic("behavioral_health").await.label, "Mental health");
    assert_eq!(w.audited("plan.message_topic_relabelled").await, 1);
    for (c, path) in [
        (&author, thread.clone()),
        (&author, "/messages".to_owned()),
        (&agent, format!("/admin/messages/{id}")),
        (&agent, "/admin/messages".to_owned()),
    ] {
        let (_, html) = app.page(c, &path).await;
        assert!(html.contains("Mental health") && !html.contains("Behavioral health"), "{path}: {html}");
    }
    // The same name again changes nothing and writes no event.
    let (_, _, to) = app.post_form(&admin, PAGE, &action, &[("label", "Mental health")]).await;
    assert_eq!(to.as_deref(), Some("/admin/settings/topics?done=unchanged"));
    assert_eq!(w.audited("plan.message_topic_relabelled").await, 1);

    // Retired: no longer offered; a thread started with it is refused and nothing is written;
    // the old thread still reads its name; the mailbox filter keeps it, marked.
    let retire = format!("{PAGE}/{}/retire", added.id.0);
    let (s, _, to) = app.post_form(&admin, PAGE, &retire, &[]).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/settings/topics?done=retired")));
    assert!(!w.topic("behavioral_health").await.active());
    assert_eq!(w.audited("plan.message_topic_retired").await, 1);
    let (_, html) = app.page(&author, "/messages/new").await;
    assert!(!topic_options(&html).contains(&"behavioral_health".to_owned()), "{html}");
    let before = w.rows().await;
    let (s, html, _) = w.send_with_topic(&author, "behavioral_health").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose a topic from the list."), "{html}");
    let token = w.token(&w.author).await;
    let body = json!({"practice_id": w.a.0, "topic": "behavioral_health", "subject": SUBJECT, "body": "Hello"});
    let (s, v) = app.call("POST", "/api/v1/messages", Some(&token), Some(body)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!((v["error"]["code"].as_str(), v["error"]["field"].as_str()), (Some("invalid_input"), Some("topic")));
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("Choose a topic from the list."), "{v}");
    assert_eq!(w.rows().await, before, "nothing written for a retired topic");
    let (s, html) = app.page(&author, &thread).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Mental health"), "{html}");
    let (_, v) = app.call("GET", &format!("/api/v1/messages/{id}"), Some(&token), None).await;
    assert_eq!(
        (v["thread"]["topic"].as_str(), v["thread"]["topic_label"].as_str()),
        (Some("behavioral_health"), Some("Mental health"))
    );
    let (_, v) = app.call("GET", "/api/v1/messages/topics", Some(&token), None).await;
    assert!(!v.to_string().contains("behavioral_health"), "{v}");
    let (_, html) = app.page(&agent, "/admin/messages?topic=behavioral_health").await;
    assert!(html.contains("Mental health (retired)") && html.contains(SUBJECT), "{html}");

    // Restored: offered again.
    let restore = format!("{PAGE}/{}/restore", added.id.0);
    let (_, _, to) = app.post_form(&admin, PAGE, &restore, &[]).await;
    assert_eq!(to.as_deref(), Some("/admin/settings/topics?done=restored"));
    assert_eq!(w.audited("plan.message_topic_restored").await, 1);
    let (_, html) = app.page(&author, "/messages/new").await;
    assert!(topic_options(&html).contains(&"behavioral_health".to_owned()), "{html}");

    // Moved up one place, then the first topic cannot go higher.
    let moving = format!("{PAGE}/{}/move", added.id.0);
    let (_, _, to) = app.post_form(&admin, PAGE, &moving, &[("direction", "up")]).await;
    assert_eq!(to.as_deref(), Some("/admin/settings/topics?done=moved"));
    let order: Vec<String> = w.topics_of(w.plan()).await.iter().map(|t| t.code.to_string()).collect();
    assert_eq!(order[6..], ["behavioral_health".to_owned(), "other".to_owned()]);
    let (_, html) = app.page(&author, "/messages/new").await;
    assert_eq!(topic_options(&html), order);
    let first = w.topic("eligibility").await;
    let (_, _, to) = app.post_form(&admin, PAGE, &format!("{PAGE}/{}/move", first.id.0), &[("direction", "up")]).await;
    assert_eq!(to.as_deref(), Some("/admin/settings/topics?done=unchanged"));
    assert_eq!(w.audited("plan.message_topic_moved").await, 1);
    w.app.stop().await;
}
both!(a_topic_is_added_renamed_retired_and_restored);

async fn the_add_facility_topic_is_never_retired(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let padmin = w.app.staff(w.plan(), "padmin", 1010, StaffRole::PlanAdmin).await;
    let admin = w.signed_in(&padmin).await;
    let system = w.topic("provider_profile_update").await;
    let (_, html) = w.app.page(&admin, PAGE).await;
    assert!(!html.contains(&format!("/{}/retire", system.id.0)), "no retire button: {html}");
    let before = w.topic_state().await;
    let (s, html, _) = w.app.post_form(&admin, PAGE, &format!("{PAGE}/{}/retire", system.id.0), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("cannot be retired"), "{html}");
    let grant = w.svc().staff_grant(w.plan(), Some(&padmin.session)).await.expect("grant");
    let r = w.svc().set_message_topic_retired(&grant, w.plan(), system.id, true, &RequestMeta::cli()).await;
    assert!(matches!(r, Err(TopicError::Retire(_))), "{r:?}");
    assert_eq!(w.topic_state().await, before, "nothing changed");
    // It can be renamed, and Add Facility still sends under it.
    let r = w.svc().relabel_message_topic(&grant, w.plan(), system.id, "Add a facility", &RequestMeta::cli()).await;
    assert!(matches!(r, Ok(true)), "{r:?}");
    let author = w.signed_in(&w.author).await;
    let (s, html) = w.app.page(&author, "/messages/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Add a facility") && !html.contains("Provider profile update"), "{html}");
    w.app.stop().await;
}
both!(the_add_facility_topic_is_never_retired);

async fn bad_names_are_refused_beside_their_field(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let padmin = w.app.staff(w.plan(), "padmin", 1010, StaffRole::PlanAdmin).await;
    let admin = w.signed_in(&padmin).await;
    let referrals = w.topic("referrals").await;
    let rename = format!("{PAGE}/{}/label", referrals.id.0);
    let before = w.topic_state().await;
    let long = "x".repeat(61);
    for (label, message) in [
        ("", "Enter the topic's name."),
        ("   ", "Enter the topic's name."),
        (long.as_str(), "A topic's name can be at most 60 characters."),
        ("claims", "Another topic is already called"),
        ("PRIOR  Authorization", "Another topic is already called"),
    ] {
        for action in [PAGE, rename.as_str()] {
            let (s, html, _) = w.app.post_form(&admin, PAGE, action, &[("label", label)]).await;
            let html = html.replace("&#39;", "'");
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{action} {label:?}");
            assert!(html.contains("field-error") && html.contains(message), "{action} {label:?}: {html}");
            assert!(html.contains("Nothing was changed."), "{html}");
        }
    }
    // The typed name is shown again in the field at fault.
    let (_, html, _) = w.app.post_form(&admin, PAGE, PAGE, &[("label", "claims")]).await;
    assert!(html.contains("id=\"new-label\" name=\"label\" value=\"claims\""), "{html}");
    assert_eq!(w.topic_state().await, before, "nothing changed");
    // A topic keeps its own name in another case.
    let (_, _, to) = w.app.post_form(&admin, PAGE, &rename, &[("label", "REFERRALS")]).await;
    assert_eq!(to.as_deref(), Some("/admin/settings/topics?done=renamed"));
    // Two topics of one name in a row: the second gets a numbered code once its name is free.
    let grant = w.svc().staff_grant(w.plan(), Some(&padmin.session)).await.expect("grant");
    let meta = RequestMeta::cli();
    let first = w.svc().add_message_topic(&grant, w.plan(), "Dental", &meta).await.expect("added");
    w.svc().relabel_message_topic(&grant, w.plan(), first.id, "Dental (old)", &meta).await.expect("renamed");
    let second = w.svc().add_message_topic(&grant, w.plan(), "dental!", &meta).await.expect("added");
    assert_eq!((first.code.as_str(), second.code.as_str()), ("dental", "dental_2"));
    w.app.stop().await;
}
both!(bad_names_are_refused_beside_their_field);

async fn only_plan_settings_staff_of_the_plan_manage_topics(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let app = &w.app;
    let svc = w.svc();
    let meta = RequestMeta::cli();
    let claims = w.topic("claims").await;
    let before = w.topic_state().await;

    // A practice user, an auditor and a help desk agent: refused, nothing changed.
    for (who, status) in [
        (&w.author, StatusCode::FORBIDDEN),
        (&w.admin_a, StatusCode::FORBIDDEN),
        (&w.auditor, StatusCode::FORBIDDEN),
        (&w.agent, StatusCode::FORBIDDEN),
    ] {
        let c = w.signed_in(who).await;
        assert_eq!(app.page(&c, PAGE).await.0, status, "{} reads the list", who.username);
        let (_, html) = app.page(&c, "/sessions").await;
        let token = csrf(&html);
        for (action, field) in [
            (PAGE.to_owned(), ("label", "Gossip")),
            (format!("{PAGE}/{}/label", claims.id.0), ("label", "Gossip")),
            (format!("{PAGE}/{}/retire", claims.id.0), ("x", "")),
            (format!("{PAGE}/{}/move", claims.id.0), ("direction", "down")),
        ] {
            let body = [("csrf_token", token.as_str()), field];
            let r = c.post(app.url(&action)).form(&body).send().await.expect("post");
            assert_eq!(r.status(), status, "{} {action}", who.username);
        }
        if let Ok(grant) = svc.staff_grant(w.plan(), Some(&who.session)).await {
            let r = svc.add_message_topic(&grant, w.plan(), "Gossip", &meta).await;
            assert!(matches!(r, Err(TopicError::Denied(_))), "{}: {r:?}", who.username);
            let r = svc.set_message_topic_retired(&grant, w.plan(), claims.id, true, &meta).await;
            assert!(matches!(r, Err(TopicError::Denied(_))), "{}: {r:?}", who.username);
        }
    }
    assert_eq!(w.topic_state().await, before, "nothing changed");

    // Another plan's topic reads as not found, on the page and in the service, and is unchanged.
    let padmin = app.staff(w.plan(), "padmin", 1010, StaffRole::PlanAdmin).await;
    let admin = w.signed_in(&padmin).await;
    let other = w.other_staff.plan.clone();
    let theirs = w.topics_of(&other).await;
    let foreign = theirs.iter().find(|t| t.code == TopicCode::CLAIMS).expect("their claims").id;
    for (action, field) in [
        (format!("{PAGE}/{}/label", foreign.0), ("label", "Taken over")),
        (format!("{PAGE}/{}/retire", foreign.0), ("x", "")),
        (format!("{PAGE}/{}/restore", foreign.0), ("x", "")),
        (format!("{PAGE}/{}/move", foreign.0), ("direction", "down")),
        (format!("{PAGE}/{}/label", i64::MAX), ("label", "Nobody's")),
    ] {
        let (s, html, _) = app.post_form(&admin, PAGE, &action, &[field]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{action}: {html}");
    }
    let grant = svc.staff_grant(w.plan(), Some(&padmin.session)).await.expect("grant");
    let r = svc.relabel_message_topic(&grant, w.plan(), foreign, "Taken over", &meta).await;
    assert!(matches!(r, Err(TopicError::NotFound)), "{r:?}");
    let r = svc.move_message_topic(&grant, w.plan(), foreign, Direction::Down, &meta).await;
    assert!(matches!(r, Err(TopicError::NotFound)), "{r:?}");
    // A grant of this plan does nothing to the other plan's list either.
    let r = svc.add_message_topic(&grant, &other, "Gossip", &meta).await;
    assert!(matches!(r, Err(TopicError::Denied(_))), "{r:?}");
    assert_eq!(w.topics_of(&other).await, theirs, "the other plan's list is unchanged");
    assert_eq!(w.topic_state().await, before);
    w.app.stop().await;
}
both!(only_plan_settings_staff_of_the_plan_manage_topics);

/// The API's thread and mailbox answers carry the topic's code and label.
async fn the_api_names_topics_by_code_and_label(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let token = w.token(&w.author).await;
    let body = json!({"practice_id": w.a.0, "topic": "prior_authorization", "subject": SUBJECT, "body": "Status?"});
    let (s, v) = w.app.call("POST", "/api/v1/messages", Some(&token), Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = w.app.call("GET", "/api/v1/messages", Some(&token), None).await;
    let t: &Value = &v["threads"][0]["thread"];
    assert_eq!(
        (t["topic"].as_str(), t["topic_label"].as_str()),
        (Some("prior_authorization"), Some("Prior authorization"))
    );
    let agent = w.token(&w.agent).await;
    let (s, v) = w.app.call("GET", "/api/v1/mailbox?topic=prior_authorization", Some(&agent), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["threads"].as_array().map(Vec::len), Some(1), "{v}");
    let (s, v) = w.app.call("GET", "/api/v1/mailbox?topic=Prior%20authorization", Some(&agent), None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("topic")), "{v}");
    // A code of the wrong shape is refused by the schema; an unknown one by the plan's list.
    let before = w.rows().await;
    for (topic, code) in [("Prior authorization", "invalid_body"), ("gossip", "invalid_input")] {
        let mut b = body.clone();
        b["topic"] = json!(topic);
        let (s, v) = w.app.call("POST", "/api/v1/messages", Some(&token), Some(b)).await;
        assert_eq!(
            (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code), Some("topic")),
            "{v}"
        );
    }
    assert_eq!(w.rows().await, before);
    w.app.stop().await;
}
both!(the_api_names_topics_by_code_and_label);
