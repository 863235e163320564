//! The message center (`/messages`): a practice user's inbox with its folders, search and pages,
//! a new message for one of their practices, a thread with its replies and files, and the
//! attachment download. The plan's staff work the same threads from the control panel's mailbox
//! (`/admin/messages`); the rules are in `gatehouse_services::secure_messages`.

use super::{Chrome, internal_error, message_page, render, require_stage, tax_id_display, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Form, FromRequestParts, Multipart, Path, Query};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::secure_messages::{IncomingFile, MAX_BODY, MAX_SUBJECT, NewThreadForm, ThreadStatus};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{AttachmentId, PracticeId, ThreadId};
use gatehouse_services::SessionInfo;
use gatehouse_services::affiliations::LinkedAccount;
use gatehouse_services::message_topics::Topics;
use gatehouse_services::plans::Plan;
use gatehouse_services::secure_messages::{Folder, MessageError, MessageRow, MessageSettings, ThreadRow, ThreadView};
use serde::Deserialize;

/// The most a message form may send: the most files a plan may allow at the largest size each,
/// and room for the text. Plan settings keep within it.
pub const MAX_MESSAGE_UPLOAD: usize = gatehouse_domain::secure_messages::MAX_UPLOAD_BYTES + 1024 * 1024;

pub fn routes() -> Routes {
    let upload = || DefaultBodyLimit::max(MAX_MESSAGE_UPLOAD);
    Routes::new()
        .route("/messages", get(inbox).post(send).layer(upload()))
        .route("/messages/new", get(new_form))
        .route("/messages/{id}", get(thread))
        .route("/messages/{id}/reply", post(reply).layer(upload()))
        .route("/messages/{id}/archive", post(archive))
        .route("/messages/files/{id}", get(download))
}

/// A signed-in page's session, plan, CSRF token and state.
struct Page {
    st: AppState,
    plan: CurrentPlan,
    csrf: CsrfToken,
    session: SessionInfo,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let CookieSession(s) = CookieSession::from_request_parts(parts, st).await?;
        let session = require_stage(&s, SessionStage::Complete).map_err(IntoResponse::into_response)?;
        let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
        Ok(Self { st: st.clone(), plan, csrf, session })
    }
}

impl Page {
    fn plan(&self) -> &Plan {
        &self.plan.0
    }

    async fn chrome(&self, here: &str) -> Result<(Chrome, Vec<LinkedAccount>), Response> {
        Chrome::for_session(&self.st, &self.plan, &self.csrf, &self.session, here).await
    }

    /// Plan staff who work the mailbox read threads there.
    async fn works_mailbox(&self) -> Result<bool, Response> {
        match self.st.svc.message_reader(self.plan(), &self.session).await {
            Ok(r) => Ok(r.staff),
            Err(e) => Err(refusal(self, e)),
        }
    }
}

/// The answer to a refused message action that is not a form's mistake.
fn refusal(p: &Page, e: MessageError) -> Response {
    refusal_page(&p.st, &p.plan, &p.csrf, e, "/messages", "Back to your messages")
}

/// The page for a refusal that is not a form's mistake (shared with the control panel).
pub(crate) fn refusal_page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    e: MessageError,
    back: &str,
    back_label: &str,
) -> Response {
    #[derive(Template)]
    #[template(path = "message.html")]
    struct Refused<'a> {
        chrome: Chrome,
        heading: &'a str,
        text: &'a str,
        is_error: bool,
        link_href: &'a str,
        link_text: &'a str,
    }
    let (status, heading) = match &e {
        MessageError::NotSignedIn => return Redirect::to("/signin").into_response(),
        MessageError::NotFound => (StatusCode::NOT_FOUND, "Message not found"),
        MessageError::NotStaff | MessageError::NotAnAgent => (StatusCode::FORBIDDEN, "Not allowed"),
        MessageError::Invalid(_) | MessageError::Attachment(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Please check"),
        MessageError::TooMany => (StatusCode::TOO_MANY_REQUESTS, "Please wait a little"),
        MessageError::Internal(e) => return internal_error(e),
    };
    let text = e.to_string();
    let page = Refused {
        chrome: Chrome::new(st, plan, csrf, true),
        heading,
        text: &text,
        is_error: true,
        link_href: back,
        link_text: back_label,
    };
    render(status, &page)
}

/// What a practice user sees of a thread's status.
fn practice_status(s: ThreadStatus) -> &'static str {
    match s {
        ThreadStatus::New | ThreadStatus::InProgress => "With the plan",
        ThreadStatus::WaitingOnPractice => "Answered",
        ThreadStatus::Resolved => "Resolved",
    }
}

/// One line of an inbox.
struct InboxLine {
    id: i64,
    subject: String,
    /// The topic's label.
    topic: String,
    practice: String,
    status: &'static str,
    last_activity: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "messages/inbox.html")]
struct InboxPage {
    chrome: Chrome,
    folder: &'static str,
    folders: Vec<(&'static str, &'static str, bool)>,
    q: String,
    lines: Vec<InboxLine>,
    prev: Option<i64>,
    next: Option<i64>,
    response_days: u32,
    may_write: bool,
}

#[derive(Deserialize)]
struct InboxQuery {
    #[serde(default)]
    folder: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
}

async fn inbox(p: Page, Query(q): Query<InboxQuery>) -> Response {
    match p.works_mailbox().await {
        Ok(true) => return Redirect::to("/admin/messages").into_response(),
        Ok(false) => {}
        Err(r) => return r,
    }
    let folder = Folder::parse(&q.folder).unwrap_or(Folder::All);
    let needle: String = q.q.trim().chars().take(MAX_SUBJECT).collect();
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let svc = &p.st.svc;
    let (threads, settings) =
        match (svc.inbox(p.plan(), &p.session, folder, &needle, page).await, svc.message_settings(p.plan()).await) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(e), _) | (_, Err(e)) => return refusal(&p, e),
        };
    let topics = match svc.message_topics(p.plan()).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let (chrome, linked) = match p.chrome("/messages").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lines = threads
        .lines
        .into_iter()
        .map(|l| InboxLine {
            id: l.thread.id.0,
            subject: l.thread.subject.clone(),
            topic: topics.label(&l.thread.topic),
            practice: format!("{} ({})", l.thread.practice_name, tax_id_display(&l.thread.tax_id)),
            status: practice_status(l.thread.status),
            last_activity: when(p.plan(), l.thread.last_activity_at),
            unread: l.unread,
        })
        .collect();
    let page_view = InboxPage {
        chrome: chrome.wide(),
        folder: folder.key(),
        folders: Folder::ALL.iter().map(|f| (f.key(), f.label(), *f == folder)).collect(),
        q: needle,
        lines,
        prev: (page > 1).then_some(page - 1),
        next: threads.has_next.then_some(page + 1),
        response_days: settings.response_days,
        may_write: !linked.is_empty(),
    };
    render(StatusCode::OK, &page_view)
}

/// The new-message form, as first shown or with what was typed and its problems.
#[derive(Template)]
#[template(path = "messages/new.html")]
struct NewPage {
    chrome: Chrome,
    practices: Vec<(i64, String)>,
    practice: i64,
    /// The plan's active topics: (code, label).
    topics: Vec<(String, String)>,
    form: NewThreadForm,
    errors: Vec<(&'static str, String)>,
    max_files: usize,
    max_file_mb: usize,
    max_body: usize,
    max_subject: usize,
}

impl NewPage {
    fn error(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.clone())
    }
}

#[derive(Deserialize)]
struct NewQuery {
    #[serde(default)]
    topic: String,
}

fn practices_of(linked: &[LinkedAccount]) -> Vec<(i64, String)> {
    linked.iter().map(|a| (a.practice_id.0, format!("{} ({})", a.practice_name, a.tax_id_display()))).collect()
}

async fn new_form(p: Page, Query(q): Query<NewQuery>) -> Response {
    let form = NewThreadForm { topic: q.topic, ..NewThreadForm::default() };
    new_page(&p, StatusCode::OK, form, None, Vec::new()).await
}

async fn new_page(
    p: &Page,
    status: StatusCode,
    form: NewThreadForm,
    practice: Option<i64>,
    errors: Vec<(&'static str, String)>,
) -> Response {
    let settings = match p.st.svc.message_settings(p.plan()).await {
        Ok(s) => s,
        Err(e) => return refusal(p, e),
    };
    let topics = match p.st.svc.message_topics(p.plan()).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let (chrome, linked) = match p.chrome("/messages/new").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if linked.is_empty() {
        return message_page(
            &p.st,
            &request_parts(p),
            StatusCode::NOT_FOUND,
            "Link your account to a practice first",
            "A secure message is sent for a practice (Tax ID) you work for. Link your account to your practice, then write to the plan.",
            "/associate",
            "Link your account to a practice",
        );
    }
    let active = linked.iter().find(|a| a.active).map(|a| a.practice_id.0);
    let page = NewPage {
        chrome,
        practices: practices_of(&linked),
        practice: practice.or(active).unwrap_or_default(),
        topics: topics.active().map(|t| (t.code.to_string(), t.label.clone())).collect(),
        form,
        errors,
        max_files: settings.max_files,
        max_file_mb: settings.max_file_mb,
        max_body: MAX_BODY,
        max_subject: MAX_SUBJECT,
    };
    render(status, &page)
}

/// The parts a message page needs (plan and CSRF token) for [`message_page`].
fn request_parts(p: &Page) -> Parts {
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.extensions.insert(p.plan.clone());
    parts.extensions.insert(p.csrf.clone());
    parts
}

/// What a message form sent: its text fields and its files.
#[derive(Debug, Default)]
pub(crate) struct MessageUpload {
    pub fields: Vec<(String, String)>,
    pub files: Vec<IncomingFile>,
}

impl MessageUpload {
    /// The text of field `name` (empty when absent).
    pub fn field(&self, name: &str) -> String {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

/// Reads a message form. A file larger than `max_bytes` is kept only to one byte past the limit
/// (enough for the rules to refuse it by size) and the rest is read and dropped; the empty part a
/// browser sends when no file was chosen is not a file.
pub(crate) async fn read_upload(
    form: Result<Multipart, MultipartRejection>,
    max_bytes: usize,
) -> Result<MessageUpload, &'static str> {
    const UNREADABLE: &str = "The form could not be read. Please try again.";
    let mut form = form.map_err(|_| UNREADABLE)?;
    let mut out = MessageUpload::default();
    while let Some(mut field) = form.next_field().await.map_err(|_| UNREADABLE)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "files" {
            let file_name = field.file_name().unwrap_or("").to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| UNREADABLE)? {
                let room = (max_bytes + 1).saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            if !(file_name.is_empty() && bytes.is_empty()) {
                out.files.push(IncomingFile { name: file_name, bytes });
            }
        } else if out.fields.len() < 32 {
            let text = field.text().await.map_err(|_| UNREADABLE)?;
            out.fields.push((name, text));
        }
    }
    Ok(out)
}

/// The largest file the plan's settings allow, in bytes.
pub(crate) fn max_file_bytes(s: &MessageSettings) -> usize {
    s.max_file_mb.saturating_mul(1024 * 1024)
}

/// The field errors of a refused message, by field (attachment problems belong to `files`).
pub(crate) fn field_errors(e: &MessageError) -> Option<Vec<(&'static str, String)>> {
    match e {
        MessageError::Invalid(errs) => Some(errs.0.iter().map(|f| (f.field, f.message.clone())).collect()),
        MessageError::Attachment(a) => Some(vec![("files", a.to_string())]),
        _ => None,
    }
}

async fn send(p: Page, Meta(meta): Meta, form: Result<Multipart, MultipartRejection>) -> Response {
    let settings = match p.st.svc.message_settings(p.plan()).await {
        Ok(s) => s,
        Err(e) => return refusal(&p, e),
    };
    let upload = match read_upload(form, max_file_bytes(&settings)).await {
        Ok(u) => u,
        Err(m) => {
            return new_page(
                &p,
                StatusCode::BAD_REQUEST,
                NewThreadForm::default(),
                None,
                vec![("files", m.to_owned())],
            )
            .await;
        }
    };
    let form = NewThreadForm {
        topic: upload.field("topic"),
        subject: upload.field("subject"),
        body: upload.field("body"),
        member_id: upload.field("member_id"),
        claim_number: upload.field("claim_number"),
        authorization_number: upload.field("authorization_number"),
    };
    let Ok(practice) = upload.field("practice").trim().parse::<i64>() else {
        return new_page(
            &p,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            None,
            vec![("practice", "Choose the practice you write for.".to_owned())],
        )
        .await;
    };
    match p.st.svc.send_thread(p.plan(), &p.session, PracticeId(practice), &form, &upload.files, &meta).await {
        Ok(id) => Redirect::to(&format!("/messages/{}?sent=1", id.0)).into_response(),
        Err(MessageError::NotFound) => {
            new_page(
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                None,
                vec![("practice", "Choose the practice you write for.".to_owned())],
            )
            .await
        }
        Err(e) => match field_errors(&e) {
            Some(errors) => new_page(&p, StatusCode::UNPROCESSABLE_ENTITY, form, Some(practice), errors).await,
            None => refusal(&p, e),
        },
    }
}

/// One message of a thread as pages show it (shared with the control panel).
pub(crate) struct MessageView {
    /// "You", the plan's team, or the writer's name.
    pub author: String,
    pub from_plan: bool,
    pub internal: bool,
    pub body: String,
    pub at: String,
    /// (id, file name, "PDF, 1.2 MB").
    pub files: Vec<(i64, String, String)>,
}

/// A file's size as people read it.
fn size_label(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

impl MessageView {
    /// `m` as `reader` (the signed-in user) sees it; `staff_names` shows plan staff by name.
    pub(crate) fn of(plan: &Plan, m: MessageRow, reader: gatehouse_domain::UserId, staff_names: bool) -> Self {
        let author = if m.author == reader {
            "You".to_owned()
        } else if m.from_plan && !staff_names {
            format!("{} provider services", plan.row.name)
        } else {
            m.author_name.clone()
        };
        let files = m
            .attachments
            .iter()
            .map(|a| {
                let kind = match a.content_type.as_str() {
                    "application/pdf" => "PDF",
                    "image/png" => "PNG image",
                    _ => "JPEG image",
                };
                (a.id.0, a.file_name.clone(), format!("{kind}, {}", size_label(a.size)))
            })
            .collect();
        Self { author, from_plan: m.from_plan, internal: m.internal, body: m.body, at: when(plan, m.created_at), files }
    }
}

/// A thread's heading facts (shared with the control panel).
pub(crate) struct ThreadFacts {
    pub id: i64,
    pub subject: String,
    /// The topic's label (its code when the plan's list has no such topic).
    pub topic: String,
    /// The topic's code.
    pub topic_key: String,
    pub practice: String,
    pub author: String,
    pub started: String,
    pub references: Vec<(&'static str, String)>,
    pub resolved: bool,
    pub due: Option<String>,
}

impl ThreadFacts {
    /// The facts of `t`, its topic labelled from the plan's `topics`.
    pub(crate) fn of(plan: &Plan, t: &ThreadRow, due: Option<i64>, topics: &Topics) -> Self {
        let references = [
            ("Member ID", &t.member_id),
            ("Claim number", &t.claim_number),
            ("Authorization number", &t.authorization_number),
        ]
        .into_iter()
        .filter_map(|(label, v)| v.clone().map(|v| (label, v)))
        .collect();
        Self {
            id: t.id.0,
            subject: t.subject.clone(),
            topic: topics.label(&t.topic),
            topic_key: t.topic.to_string(),
            practice: format!("{} ({})", t.practice_name, tax_id_display(&t.tax_id)),
            author: t.author_name.clone(),
            started: when(plan, t.created_at),
            references,
            resolved: t.status == ThreadStatus::Resolved,
            due: due.map(|d| when(plan, d)),
        }
    }
}

#[derive(Template)]
#[template(path = "messages/thread.html")]
struct ThreadPage {
    chrome: Chrome,
    t: ThreadFacts,
    status: &'static str,
    messages: Vec<MessageView>,
    sent: bool,
    body: String,
    error: Option<(&'static str, String)>,
    max_files: usize,
    max_file_mb: usize,
}

#[derive(Deserialize)]
struct ThreadQuery {
    #[serde(default)]
    sent: Option<u8>,
}

async fn thread(p: Page, Meta(meta): Meta, Path(id): Path<ThreadId>, Query(q): Query<ThreadQuery>) -> Response {
    match p.st.svc.thread_reader(p.plan(), &p.session, id).await {
        Ok(r) if r.staff => return Redirect::to(&format!("/admin/messages/{}", id.0)).into_response(),
        Ok(_) => {}
        Err(e) => return refusal(&p, e),
    }
    thread_page(&p, id, &meta, StatusCode::OK, q.sent.is_some(), String::new(), None).await
}

async fn thread_page(
    p: &Page,
    id: ThreadId,
    meta: &gatehouse_services::RequestMeta,
    status: StatusCode,
    sent: bool,
    body: String,
    error: Option<(&'static str, String)>,
) -> Response {
    let svc = &p.st.svc;
    let view: ThreadView = match svc.thread_view(p.plan(), &p.session, id, meta).await {
        Ok(v) => v,
        Err(e) => return refusal(p, e),
    };
    let settings = match svc.message_settings(p.plan()).await {
        Ok(s) => s,
        Err(e) => return refusal(p, e),
    };
    let topics = match svc.message_topics(p.plan()).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let (chrome, _) = match p.chrome(&format!("/messages/{}", id.0)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let reader = p.session.user_id;
    let page = ThreadPage {
        chrome: chrome.wide(),
        t: ThreadFacts::of(p.plan(), &view.thread, view.answer_due, &topics),
        status: practice_status(view.thread.status),
        messages: view.messages.into_iter().map(|m| MessageView::of(p.plan(), m, reader, false)).collect(),
        sent,
        body,
        error,
        max_files: settings.max_files,
        max_file_mb: settings.max_file_mb,
    };
    render(status, &page)
}

async fn reply(
    p: Page,
    Meta(meta): Meta,
    Path(id): Path<ThreadId>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let settings = match p.st.svc.message_settings(p.plan()).await {
        Ok(s) => s,
        Err(e) => return refusal(&p, e),
    };
    let upload = match read_upload(form, max_file_bytes(&settings)).await {
        Ok(u) => u,
        Err(m) => {
            return thread_page(
                &p,
                id,
                &meta,
                StatusCode::BAD_REQUEST,
                false,
                String::new(),
                Some(("files", m.to_owned())),
            )
            .await;
        }
    };
    let body = upload.field("body");
    match p.st.svc.reply(p.plan(), &p.session, id, &body, &upload.files, false, &meta).await {
        Ok(()) => Redirect::to(&format!("/messages/{}#latest", id.0)).into_response(),
        Err(e) => match field_errors(&e).and_then(|v| v.into_iter().next()) {
            Some(err) => thread_page(&p, id, &meta, StatusCode::UNPROCESSABLE_ENTITY, false, body, Some(err)).await,
            None => refusal(&p, e),
        },
    }
}

#[derive(Deserialize)]
struct ArchiveForm {
    #[serde(default)]
    archived: String,
}

async fn archive(p: Page, Path(id): Path<ThreadId>, Form(f): Form<ArchiveForm>) -> Response {
    let archived = f.archived != "0";
    match p.st.svc.archive_thread(p.plan(), &p.session, id, archived).await {
        Ok(()) if archived => Redirect::to("/messages?folder=archived").into_response(),
        Ok(()) => Redirect::to("/messages").into_response(),
        Err(e) => refusal(&p, e),
    }
}

/// An attachment, as a download (never shown inline), for a reader of its thread.
async fn download(p: Page, Meta(meta): Meta, Path(id): Path<AttachmentId>) -> Response {
    match p.st.svc.attachment(p.plan(), &p.session, id, &meta).await {
        Ok(d) => attachment_response(d),
        Err(e) => refusal(&p, e),
    }
}

/// A file served as a download with its stored type and a safe name.
pub(crate) fn attachment_response(d: gatehouse_services::secure_messages::Download) -> Response {
    // The stored name is already clean (no quotes, slashes or control characters); the ASCII
    // fallback drops the rest, and the UTF-8 form carries it whole (RFC 6266).
    let ascii: String = d.file_name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let encoded: String = form_urlencoded::byte_serialize(d.file_name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
        .replace('*', "%2A");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut resp = Response::new(Body::from(d.bytes));
    let headers = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&d.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
