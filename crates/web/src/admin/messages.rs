//! The plan's mailbox (`/admin/messages`): threads by last activity with filters (topic, status,
//! agent, Tax ID, age), overdue ones marked; a thread with the staff's internal notes, the reply
//! and note form, assignment, and resolve or reopen.

use super::{AdminChrome, Staff};
use crate::pages::messages::{
    MAX_MESSAGE_UPLOAD, MessageView, ThreadFacts, field_errors, max_file_bytes, read_upload, refusal_page,
};
use crate::pages::{Chrome, internal_error, render, tax_id_display, when};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::secure_messages::ThreadStatus;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{ThreadId, UserId};
use gatehouse_services::secure_messages::{Agent, MailboxFilter, MessageError};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/messages", get(mailbox))
        .route("/admin/messages/{id}", get(thread))
        .route("/admin/messages/{id}/reply", post(reply).layer(DefaultBodyLimit::max(MAX_MESSAGE_UPLOAD)))
        .route("/admin/messages/{id}/assign", post(assign))
        .route("/admin/messages/{id}/status", post(set_status))
}

/// The ages a mailbox can be narrowed to: started more than this many days ago.
const AGES: [u32; 5] = [1, 3, 7, 14, 30];

fn refused(staff: &Staff, e: MessageError) -> Response {
    refusal_page(staff.state(), &staff.plan, &staff.csrf, e, "/admin/messages", "Back to the mailbox")
}

/// The mailbox's filters as the query string has them; what does not parse is ignored.
#[derive(Deserialize, Default)]
struct MailboxQuery {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    status: String,
    /// An agent's id, or `none` for threads nobody has taken.
    #[serde(default)]
    agent: String,
    #[serde(default)]
    tax_id: String,
    /// Started more than this many days ago.
    #[serde(default)]
    age: String,
    #[serde(default)]
    page: Option<i64>,
}

struct MailboxRow {
    id: i64,
    subject: String,
    practice: String,
    /// The topic's label.
    topic: String,
    status: &'static str,
    assignee: String,
    started: String,
    last_activity: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "admin/messages.html")]
struct MailboxPage {
    chrome: Chrome,
    admin: AdminChrome,
    /// Every topic of the plan, retired ones marked: (code, label).
    topics: Vec<(String, String)>,
    statuses: Vec<(&'static str, &'static str)>,
    agents: Vec<(i64, String)>,
    ages: Vec<u32>,
    q: MailboxQuery,
    tax_id_error: Option<String>,
    rows: Vec<MailboxRow>,
    /// The filters as a query string, for the paging links.
    filters: String,
    prev: Option<i64>,
    next: Option<i64>,
}

async fn mailbox(staff: Staff, Query(q): Query<MailboxQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Messages).await {
        return r;
    }
    let svc = &staff.state().svc;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let tax = q.tax_id.trim();
    let tax_id = (!tax.is_empty()).then(|| gatehouse_domain::TaxId::parse(tax));
    let tax_id_error = match &tax_id {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let age_days = q.age.parse::<u32>().ok().filter(|d| AGES.contains(d));
    let filter = MailboxFilter {
        topic: TopicCode::parse(q.topic.trim()).ok(),
        status: ThreadStatus::parse(&q.status),
        assigned_to: q.agent.parse::<i64>().ok().map(UserId),
        unassigned: q.agent == "none",
        tax_id: tax_id.and_then(Result::ok),
        started_before: age_days.map(|d| svc.now() - i64::from(d) * 86_400),
        page,
    };
    let (lines, has_next) = match svc.mailbox(&staff.plan.0, &staff.session, &filter).await {
        Ok(r) => r,
        Err(e) => return refused(&staff, e),
    };
    let agents = match svc.mailbox_agents(&staff.plan.0, &staff.session).await {
        Ok(a) => a,
        Err(e) => return refused(&staff, e),
    };
    let topics = match svc.message_topics(&staff.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let plan = &staff.plan.0;
    let rows = lines
        .into_iter()
        .map(|l| MailboxRow {
            id: l.thread.id.0,
            subject: l.thread.subject.clone(),
            practice: format!("{} ({})", l.thread.practice_name, tax_id_display(&l.thread.tax_id)),
            topic: topics.label(&l.thread.topic),
            status: l.thread.status.label(),
            assignee: l.thread.assignee_name.clone().unwrap_or_else(|| "Nobody".into()),
            started: when(plan, l.thread.created_at),
            last_activity: when(plan, l.thread.last_activity_at),
            overdue: l.overdue,
        })
        .collect();
    let filters = form_urlencoded::Serializer::new(String::new())
        .append_pair("topic", &q.topic)
        .append_pair("status", &q.status)
        .append_pair("agent", &q.agent)
        .append_pair("tax_id", &q.tax_id)
        .append_pair("age", &q.age)
        .finish();
    let (chrome, admin) = staff.chrome("/admin/messages");
    let status = if tax_id_error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render(
        status,
        &MailboxPage {
            chrome,
            admin,
            topics: topics
                .all()
                .iter()
                .map(|t| {
                    let label = if t.active() { t.label.clone() } else { format!("{} (retired)", t.label) };
                    (t.code.to_string(), label)
                })
                .collect(),
            statuses: ThreadStatus::ALL.iter().map(|s| (s.as_str(), s.label())).collect(),
            agents: agents.into_iter().map(|a: Agent| (a.id.0, a.name)).collect(),
            ages: AGES.to_vec(),
            q,
            tax_id_error,
            rows,
            filters,
            prev: (page > 1).then_some(page - 1),
            next: has_next.then_some(page + 1),
        },
    )
}

#[derive(Template)]
#[template(path = "admin/message_thread.html")]
struct ThreadPage {
    chrome: Chrome,
    admin: AdminChrome,
    t: ThreadFacts,
    status: &'static str,
    overdue: bool,
    assignee: String,
    /// The assignment choices: (value, label, selected): me first, the other agents, nobody.
    assign_options: Vec<(String, String, bool)>,
    messages: Vec<MessageView>,
    body: String,
    error: Option<(&'static str, String)>,
    done: Option<&'static str>,
    max_files: usize,
    max_file_mb: usize,
}

#[derive(Deserialize)]
struct ThreadQuery {
    #[serde(default)]
    done: String,
}

async fn thread(staff: Staff, Path(id): Path<ThreadId>, Query(q): Query<ThreadQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Messages).await {
        return r;
    }
    let done = match q.done.as_str() {
        "reply" => Some("Your reply was sent. The practice is told by email that a message waits."),
        "note" => Some("Your internal note was added. The practice does not see it."),
        "assigned" => Some("The assignment was saved."),
        "resolved" => Some("The conversation is resolved."),
        "reopened" => Some("The conversation is open again."),
        "decided" => Some(
            "Every requested provider is decided: the approved ones are granted, the reply below is sent and the conversation is resolved.",
        ),
        _ => None,
    };
    thread_page(&staff, id, StatusCode::OK, done, String::new(), None).await
}

async fn thread_page(
    staff: &Staff,
    id: ThreadId,
    status: StatusCode,
    done: Option<&'static str>,
    body: String,
    error: Option<(&'static str, String)>,
) -> Response {
    let svc = &staff.state().svc;
    let plan = &staff.plan.0;
    let view = match svc.thread_view(plan, &staff.session, id, &staff.meta).await {
        Ok(v) => v,
        Err(e) => return refused(staff, e),
    };
    let agents = match svc.mailbox_agents(plan, &staff.session).await {
        Ok(a) => a,
        Err(e) => return refused(staff, e),
    };
    let settings = match svc.message_settings(plan).await {
        Ok(s) => s,
        Err(e) => return refused(staff, e),
    };
    let topics = match svc.message_topics(plan).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let (chrome, admin) = staff.chrome("/admin/messages");
    let reader = staff.session.user_id;
    let page = ThreadPage {
        chrome,
        admin,
        t: ThreadFacts::of(plan, &view.thread, view.answer_due, &topics),
        status: view.thread.status.label(),
        overdue: view.overdue,
        assignee: view.thread.assignee_name.clone().unwrap_or_else(|| "Nobody".into()),
        assign_options: assign_options(&agents, reader, view.thread.assigned_to),
        messages: view.messages.into_iter().map(|m| MessageView::of(plan, m, reader, true)).collect(),
        body,
        error,
        done,
        max_files: settings.max_files,
        max_file_mb: settings.max_file_mb,
    };
    render(status, &page)
}

/// The assignment choices: me first, then the other agents, then nobody; the current one
/// selected, or me while nobody has it.
fn assign_options(agents: &[Agent], me: UserId, current: Option<UserId>) -> Vec<(String, String, bool)> {
    // Nobody has it yet: taking it oneself is what an agent opening it most often does.
    let mut out = vec![(me.0.to_string(), "Me".to_owned(), current.is_none_or(|c| c == me))];
    out.extend(
        agents.iter().filter(|a| a.id != me).map(|a| (a.id.0.to_string(), a.name.clone(), current == Some(a.id))),
    );
    out.push(("none".to_owned(), "Nobody".to_owned(), false));
    out
}

async fn reply(staff: Staff, Path(id): Path<ThreadId>, form: Result<Multipart, MultipartRejection>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Messages).await {
        return r;
    }
    let svc = &staff.state().svc;
    let settings = match svc.message_settings(&staff.plan.0).await {
        Ok(s) => s,
        Err(e) => return refused(&staff, e),
    };
    let upload = match read_upload(form, max_file_bytes(&settings)).await {
        Ok(u) => u,
        Err(m) => {
            return thread_page(
                &staff,
                id,
                StatusCode::BAD_REQUEST,
                None,
                String::new(),
                Some(("files", m.to_owned())),
            )
            .await;
        }
    };
    let body = upload.field("body");
    let internal = upload.field("internal") == "1";
    match svc.reply(&staff.plan.0, &staff.session, id, &body, &upload.files, internal, &staff.meta).await {
        Ok(()) => {
            let done = if internal { "note" } else { "reply" };
            Redirect::to(&format!("/admin/messages/{}?done={done}#latest", id.0)).into_response()
        }
        Err(e) => match field_errors(&e).and_then(|v| v.into_iter().next()) {
            Some(err) => thread_page(&staff, id, StatusCode::UNPROCESSABLE_ENTITY, None, body, Some(err)).await,
            None => refused(&staff, e),
        },
    }
}

#[derive(Deserialize)]
struct AssignForm {
    /// An agent's id, or `none`.
    #[serde(default)]
    agent: String,
}

async fn assign(staff: Staff, Path(id): Path<ThreadId>, Form(f): Form<AssignForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Messages).await {
        return r;
    }
    let to = match f.agent.as_str() {
        "none" => None,
        raw => match raw.parse::<i64>() {
            Ok(n) => Some(UserId(n)),
            Err(_) => return refused(&staff, MessageError::NotAnAgent),
        },
    };
    match staff.state().svc.assign_thread(&staff.plan.0, &staff.session, id, to, &staff.meta).await {
        Ok(()) => Redirect::to(&format!("/admin/messages/{}?done=assigned", id.0)).into_response(),
        Err(e) => refused(&staff, e),
    }
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    resolved: String,
}

async fn set_status(staff: Staff, Path(id): Path<ThreadId>, Form(f): Form<StatusForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Messages).await {
        return r;
    }
    let resolved = f.resolved != "0";
    match staff.state().svc.resolve_thread(&staff.plan.0, &staff.session, id, resolved, &staff.meta).await {
        Ok(()) => {
            let done = if resolved { "resolved" } else { "reopened" };
            Redirect::to(&format!("/admin/messages/{}?done={done}", id.0)).into_response()
        }
        Err(e) => refused(&staff, e),
    }
}
