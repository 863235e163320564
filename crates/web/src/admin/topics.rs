//! The plan's message topics (`/admin/settings/topics`, linked from the settings page): the list
//! with a rename form per topic, move up and down, retire and restore, and "Add a topic". Each
//! action calls one service command; a refused name is shown beside its field, nothing changed.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, message_page, render};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::TopicId;
use gatehouse_domain::message_topics::{Direction, MAX_LABEL, TopicCode};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::message_topics::TopicError;
use serde::Deserialize;

/// The page and its actions.
pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/settings/topics", get(show).post(add))
        .route("/admin/settings/topics/{id}/label", post(relabel))
        .route("/admin/settings/topics/{id}/retire", post(retire))
        .route("/admin/settings/topics/{id}/restore", post(restore))
        .route("/admin/settings/topics/{id}/move", post(move_topic))
}

const PAGE: &str = "/admin/settings/topics";

/// One line of the list.
struct TopicLine {
    id: i64,
    code: String,
    /// The saved label.
    label: String,
    /// What the rename field shows: the saved label, or what was typed when it was refused.
    typed: String,
    error: Option<String>,
    active: bool,
    system: bool,
    first: bool,
    last: bool,
}

#[derive(Template)]
#[template(path = "admin/message_topics.html")]
struct TopicsPage {
    chrome: Chrome,
    admin: AdminChrome,
    topics: Vec<TopicLine>,
    /// The system topic's label, for the page's explanation.
    system_label: String,
    new_label: String,
    new_error: Option<String>,
    has_errors: bool,
    notice: Option<&'static str>,
    max_label: usize,
}

/// A refused form to show again: the topic it was for (`None`: "Add a topic"), what was typed
/// (`None`: the saved label) and why.
struct Refused {
    topic: Option<TopicId>,
    typed: Option<String>,
    error: String,
}

async fn render_page(
    staff: &Staff,
    status: StatusCode,
    refused: Option<Refused>,
    notice: Option<&'static str>,
) -> Response {
    let (chrome, admin) = staff.chrome("/admin/settings");
    let topics = match staff.state().svc.message_topics(&staff.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let all = topics.all();
    let lines = all
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mine = refused.as_ref().filter(|r| r.topic == Some(t.id));
            TopicLine {
                id: t.id.0,
                code: t.code.to_string(),
                label: t.label.clone(),
                typed: mine.and_then(|r| r.typed.clone()).unwrap_or_else(|| t.label.clone()),
                error: mine.map(|r| r.error.clone()),
                active: t.active(),
                system: t.code.is_system(),
                first: i == 0,
                last: i + 1 == all.len(),
            }
        })
        .collect();
    let new = refused.as_ref().filter(|r| r.topic.is_none());
    let page = TopicsPage {
        chrome,
        admin,
        topics: lines,
        system_label: topics.label(&TopicCode::PROVIDER_PROFILE_UPDATE),
        new_label: new.and_then(|r| r.typed.clone()).unwrap_or_default(),
        new_error: new.map(|r| r.error.clone()),
        has_errors: refused.is_some(),
        notice,
        max_label: MAX_LABEL,
    };
    render(status, &page)
}

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    done: String,
}

async fn show(staff: Staff, Query(q): Query<ShowQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let notice = match q.done.as_str() {
        "added" => Some("The topic was added at the end of the list. New messages can be sent under it."),
        "renamed" => Some("The topic was renamed. Every page shows the new name, old conversations included."),
        "retired" => {
            Some("The topic was retired. It is no longer offered for new messages; its conversations keep it.")
        }
        "restored" => Some("The topic was restored. It is offered for new messages again."),
        "moved" => Some("The order was saved."),
        "unchanged" => Some("Nothing changed."),
        _ => None,
    };
    render_page(&staff, StatusCode::OK, None, notice).await
}

/// What the add and rename forms send.
#[derive(Deserialize)]
struct LabelForm {
    #[serde(default)]
    label: String,
}

/// The page after a command: back to the list with its notice, or the refusal shown.
async fn answer(staff: &Staff, result: Result<bool, TopicError>, done: &str, refused_for: Option<Refused>) -> Response {
    match result {
        Ok(changed) => {
            let done = if changed { done } else { "unchanged" };
            Redirect::to(&format!("{PAGE}?done={done}")).into_response()
        }
        Err(TopicError::NotFound) => message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "No such topic",
            "This plan has no such message topic.",
            PAGE,
            "Back to message topics",
        ),
        Err(e @ (TopicError::Label(_) | TopicError::Retire(_))) => {
            let refused = refused_for.map(|r| Refused { error: e.to_string(), ..r });
            render_page(staff, StatusCode::UNPROCESSABLE_ENTITY, refused, None).await
        }
        Err(TopicError::Denied(_)) => match staff.require(StaffPermission::PlanSettings).await {
            Err(r) => r,
            Ok(()) => internal_error("grant refused a permitted action"),
        },
        Err(e @ TopicError::Internal(_)) => internal_error(e),
    }
}

/// The most of a typed label shown back (the field allows 60; a longer paste is cut for display).
fn typed(label: &str) -> String {
    label.chars().take(MAX_LABEL * 4).collect()
}

async fn add(staff: Staff, Form(f): Form<LabelForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let result = staff.state().svc.add_message_topic(&staff.grant, &staff.plan.0, &f.label, &staff.meta).await;
    let refused = Refused { topic: None, typed: Some(typed(&f.label)), error: String::new() };
    answer(&staff, result.map(|_| true), "added", Some(refused)).await
}

async fn relabel(staff: Staff, Path(id): Path<TopicId>, Form(f): Form<LabelForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let result = staff.state().svc.relabel_message_topic(&staff.grant, &staff.plan.0, id, &f.label, &staff.meta).await;
    let refused = Refused { topic: Some(id), typed: Some(typed(&f.label)), error: String::new() };
    answer(&staff, result, "renamed", Some(refused)).await
}

async fn set_retired(staff: Staff, id: TopicId, retired: bool) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let svc = &staff.state().svc;
    let result = svc.set_message_topic_retired(&staff.grant, &staff.plan.0, id, retired, &staff.meta).await;
    // A refusal (the system topic) is shown beside that topic's name.
    let refused = Refused { topic: Some(id), typed: None, error: String::new() };
    answer(&staff, result, if retired { "retired" } else { "restored" }, Some(refused)).await
}

async fn retire(staff: Staff, Path(id): Path<TopicId>) -> Response {
    set_retired(staff, id, true).await
}

async fn restore(staff: Staff, Path(id): Path<TopicId>) -> Response {
    set_retired(staff, id, false).await
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    direction: String,
}

async fn move_topic(staff: Staff, Path(id): Path<TopicId>, Form(f): Form<MoveForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let Some(direction) = Direction::parse(&f.direction) else {
        return message_page(
            staff.state(),
            staff.parts(),
            StatusCode::BAD_REQUEST,
            "Choose up or down",
            "A topic moves one place up or down the list.",
            PAGE,
            "Back to message topics",
        );
    };
    let result = staff.state().svc.move_message_topic(&staff.grant, &staff.plan.0, id, direction, &staff.meta).await;
    answer(&staff, result, "moved", None).await
}
