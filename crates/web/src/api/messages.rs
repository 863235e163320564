//! Secure messages over JSON (issue 16), the same capabilities as the message center's pages. A
//! practice user reads their inbox (the threads they started and those of the practices they
//! administer), starts a thread for a practice they work for, replies, archives and downloads
//! attachments. Plan staff with the messages permission work the plan's mailbox: its filters,
//! assignment, staff notes (never shown to the practice), resolving and reopening; others are
//! answered 403 `not_staff` there.
//!
//! A thread or attachment the caller may not read answers 404 `not_found`, exactly as one that
//! does not exist. Files travel in the JSON body as standard base64 and are recognised by their
//! content (PDF, PNG or JPEG), never by their name. Values are read as the document states them:
//! one outside its schema is refused with 422 `invalid_body` naming the field, and what no schema
//! states (a blank subject, a control character) by the services' rules, 422 `invalid_input`.

use super::ApiError;
use super::body::{ApiPath, ApiQuery};
use super::caller::SignedIn;
use super::profile::ObjectBody;
use super::roster::UploadFile;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::secure_messages::{
    AttachmentProblem, DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_ATTACHMENTS, IncomingFile, MAX_BODY, MAX_REFERENCE,
    MAX_SUBJECT, NewThreadForm, ThreadStatus, clean_file_name,
};
use gatehouse_domain::{AttachmentId, PracticeId, ThreadId, UserId};
use gatehouse_services::message_topics::Topics;
use gatehouse_services::secure_messages::{
    AttachmentInfo, Folder, MailboxFilter, MailboxLine, MessageError, MessageRow, ThreadLine, ThreadRow, ThreadView,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// The largest body a message (a new thread or a reply) may come in: the plan's default number
/// of files at the default size, in base64 (four bytes for every three), and a megabyte for the
/// text around them.
pub const MAX_MESSAGE_BODY: usize =
    DEFAULT_MAX_ATTACHMENTS * (DEFAULT_MAX_ATTACHMENT_BYTES.div_ceil(3) * 4) + 1024 * 1024;

/// The oldest age the mailbox filters by, in days (a hundred years).
const MAX_AGE_DAYS: i64 = 36_500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox, send).layer(DefaultBodyLimit::max(MAX_MESSAGE_BODY)))
        .routes(routes!(unread_count))
        .routes(routes!(topics))
        .routes(routes!(thread))
        .routes(routes!(reply).layer(DefaultBodyLimit::max(MAX_MESSAGE_BODY)))
        .routes(routes!(archive))
        .routes(routes!(attachment))
        .routes(routes!(mailbox))
        .routes(routes!(agents))
        .routes(routes!(assign))
        .routes(routes!(resolve))
        .routes(routes!(reopen))
}

fn error(e: MessageError) -> ApiError {
    match e {
        MessageError::Internal(i) => ApiError::internal(i),
        MessageError::NotSignedIn => ApiError::unauthenticated(),
        MessageError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        MessageError::NotStaff => ApiError::new(StatusCode::FORBIDDEN, "not_staff", e.to_string()),
        MessageError::Invalid(ref errors) => {
            let field = errors.0.first().map(|f| f.field);
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()).field(field)
        }
        MessageError::Attachment(ref p) => {
            let code = match p {
                AttachmentProblem::TooMany(_) => "too_many_attachments",
                AttachmentProblem::TooLarge { .. } => "attachment_too_large",
                AttachmentProblem::NotAllowed(_) => "attachment_type",
                AttachmentProblem::Empty(_) => "attachment_empty",
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string()).field(Some("attachments"))
        }
        MessageError::NotAnAgent => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_an_agent", e.to_string()).field(Some("agent_id"))
        }
        MessageError::TooMany => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_messages", e.to_string()),
    }
}

/// [`error`], naming the attachment at fault by its place in `files` (`attachments[2]`).
fn error_with_files(e: MessageError, files: &[IncomingFile]) -> ApiError {
    let name = match &e {
        MessageError::Attachment(
            AttachmentProblem::TooLarge { name, .. }
            | AttachmentProblem::NotAllowed(name)
            | AttachmentProblem::Empty(name),
        ) => Some(name.clone()),
        _ => None,
    };
    let at = name.and_then(|n| files.iter().position(|f| clean_file_name(&f.name) == n));
    let mut api = error(e);
    if let Some(i) = at {
        api.field = Some(format!("attachments[{i}]"));
    }
    api
}

// The sentences of the statuses several operations share, as the document shows them.
const NOT_FOUND_THREAD: &str =
    "`not_found`: no such thread among those the caller reads (another practice's or plan's reads the same)";
const NOT_STAFF: &str = "`not_staff`: the caller does not work the plan's mailbox (staff with the messages permission)";
const TOO_MANY_MESSAGES: &str = "`too_many_messages`: the caller, a practice user, sent 30 messages (new threads and replies) in the last hour; nothing was stored. Plan staff are not limited.";

const ATTACHMENT_REFUSALS: &str = "`invalid_input`: a field breaks a rule no schema states, e.g. a blank subject, a control character, or a topic that is not one of the plan's active topics (named in the error's field); `invalid_encoding`: a file's `content_base64` is not standard base64; `too_many_attachments`: more files than the plan allows (5 unless it sets another number); `attachment_too_large`: a file is larger than the plan allows (10 MB unless it sets another size); `attachment_type`: a file is not a PDF, PNG or JPEG by its content; `attachment_empty`: a file has no bytes. The error's field names the file (attachments[0])";

// ---------------------------------------------------------------------------------------------
// Values as the document states them

/// What a topic code looks like, for refusals of one that does not.
const TOPIC_SHAPE: &str = "a topic code is 1 to 40 lowercase letters, digits and underscores";

/// Where a thread stands for the plan's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Nobody on the plan's team has answered or taken it.
    New,
    /// An agent took it, or the practice wrote again after an answer.
    InProgress,
    /// The plan answered; the practice has the next word.
    WaitingOnPractice,
    /// Done; a message from the practice opens it again.
    Resolved,
}

impl From<MessageStatus> for ThreadStatus {
    fn from(s: MessageStatus) -> Self {
        match s {
            MessageStatus::New => ThreadStatus::New,
            MessageStatus::InProgress => ThreadStatus::InProgress,
            MessageStatus::WaitingOnPractice => ThreadStatus::WaitingOnPractice,
            MessageStatus::Resolved => ThreadStatus::Resolved,
        }
    }
}

impl From<ThreadStatus> for MessageStatus {
    fn from(s: ThreadStatus) -> Self {
        match s {
            ThreadStatus::New => Self::New,
            ThreadStatus::InProgress => Self::InProgress,
            ThreadStatus::WaitingOnPractice => Self::WaitingOnPractice,
            ThreadStatus::Resolved => Self::Resolved,
        }
    }
}

/// Which of the caller's threads an inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxFolder {
    /// Every thread not archived (the default).
    All,
    /// Not archived, with a message the caller has not read.
    Unread,
    /// Not archived, nothing unread.
    Read,
    /// Threads the caller started.
    Sent,
    /// Threads the caller archived.
    Archived,
}

impl From<InboxFolder> for Folder {
    fn from(f: InboxFolder) -> Self {
        match f {
            InboxFolder::All => Folder::All,
            InboxFolder::Unread => Folder::Unread,
            InboxFolder::Read => Folder::Read,
            InboxFolder::Sent => Folder::Sent,
            InboxFolder::Archived => Folder::Archived,
        }
    }
}

/// A subject: 1 to 120 characters.
fn subject() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_SUBJECT))
        .examples([json!("Denied claim C-2026-4410")])
        .build()
}

/// A message's text: 1 to 10,000 characters; line breaks are kept.
fn message_text() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_BODY))
        .examples([json!("Please look at the denial again; the referral is attached.")])
        .build()
}

/// A member ID, claim or authorization number: up to 30 letters, digits and dashes; `""` or
/// `null` for none.
fn reference() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_REFERENCE))
        .pattern(Some(format!("^[A-Za-z0-9-]{{0,{MAX_REFERENCE}}}$")))
        .examples([json!("C-2026-4410")])
        .build()
}

/// What [`reference`] allows.
fn is_reference(s: &str) -> bool {
    s.chars().count() <= MAX_REFERENCE && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A file's bytes in standard base64, with padding.
fn base64_content() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_encoding("base64")
        .description(Some("The file's bytes in standard base64 (RFC 4648, with padding)."))
        .examples([json!("JVBERi0xLjQK")])
        .build()
}

/// Refuses a value its schema does not allow: 422 `invalid_body`, naming the field.
fn require(ok: bool, field: &str, what: &str) -> Result<(), ApiError> {
    if ok {
        return Ok(());
    }
    let message = format!("The body does not fit: {what}.");
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).field(Some(field)))
}

fn chars_within(s: &str, min: usize, max: usize) -> bool {
    let n = s.chars().count();
    n >= min && n <= max
}

/// Refuses a subject or message text outside its schema.
fn require_text(value: &str, field: &str, max: usize) -> Result<(), ApiError> {
    require(chars_within(value, 1, max), field, &format!("{field} is 1 to {max} characters"))
}

/// A file to attach.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    /// The file's name on the sender's computer (only its last part is kept).
    pub file_name: String,
    #[schema(schema_with = base64_content)]
    pub content_base64: String,
}

/// The files as received, decoded; a file that is not base64 is refused with 422
/// `invalid_encoding`, naming it.
fn decode(list: Vec<NewAttachment>) -> Result<Vec<IncomingFile>, ApiError> {
    let engine = base64::engine::general_purpose::STANDARD;
    list.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let bytes = engine.decode(a.content_base64.as_bytes()).map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_encoding",
                    "A file's content_base64 is not standard base64 (with padding).",
                )
                .field(Some(format!("attachments[{i}].content_base64")))
            })?;
            Ok(IncomingFile { name: a.file_name, bytes })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What the API answers

/// A thread as its reader sees it. Staff-only values are `null` for practice users.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageThread {
    pub id: i64,
    /// The practice it was sent for.
    pub practice_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub author_id: i64,
    pub author_name: String,
    #[schema(schema_with = super::schema::topic_code)]
    pub topic: String,
    /// What people read for the topic: its label in the plan's list (retired topics included),
    /// or the code when the list has no such topic.
    pub topic_label: String,
    pub subject: String,
    pub status: MessageStatus,
    pub member_id: Option<String>,
    pub claim_number: Option<String>,
    pub authorization_number: Option<String>,
    /// When it was started (seconds since 1970).
    pub created_at: i64,
    /// When its last message the practice sees was written.
    pub last_message_at: i64,
    /// Staff only: the agent it is assigned to.
    pub assigned_to: Option<i64>,
    /// Staff only: that agent's name.
    pub assignee_name: Option<String>,
    /// Staff only: when anything was last written, notes included.
    pub last_activity_at: Option<i64>,
}

impl MessageThread {
    /// `t` as `staff` or a practice user sees it, its topic labelled from the plan's `topics`.
    fn of(t: ThreadRow, staff: bool, topics: &Topics) -> Self {
        Self {
            id: t.id.0,
            practice_id: t.practice.0,
            tax_id: t.tax_id,
            practice_name: t.practice_name,
            author_id: t.author.0,
            author_name: t.author_name,
            topic_label: topics.label(&t.topic),
            topic: t.topic.to_string(),
            subject: t.subject,
            status: t.status.into(),
            member_id: t.member_id,
            claim_number: t.claim_number,
            authorization_number: t.authorization_number,
            created_at: t.created_at,
            last_message_at: t.last_public_at,
            assigned_to: t.assigned_to.filter(|_| staff).map(|u| u.0),
            assignee_name: t.assignee_name.filter(|_| staff),
            last_activity_at: staff.then_some(t.last_activity_at),
        }
    }
}

/// A line of an inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxThread {
    pub thread: MessageThread,
    /// A message came after the caller last read the thread.
    pub unread: bool,
}

impl InboxThread {
    fn of(l: ThreadLine, topics: &Topics) -> Self {
        Self { thread: MessageThread::of(l.thread, false, topics), unread: l.unread }
    }
}

/// A page of an inbox (25 threads), newest message first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub threads: Vec<InboxThread>,
    /// Whether the next page has threads.
    pub has_next: bool,
}

/// A file attached to a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageAttachment {
    /// For `GET /messages/attachments/{id}`.
    pub id: i64,
    pub file_name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

impl From<AttachmentInfo> for MessageAttachment {
    fn from(a: AttachmentInfo) -> Self {
        Self { id: a.id.0, file_name: a.file_name, content_type: a.content_type, size: a.size }
    }
}

/// One message of a thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadMessage {
    pub id: i64,
    pub author_id: i64,
    pub author_name: String,
    /// Written by the plan's staff.
    pub from_plan: bool,
    /// A staff note (only staff see notes).
    pub internal: bool,
    pub body: String,
    pub created_at: i64,
    pub attachments: Vec<MessageAttachment>,
}

impl From<MessageRow> for ThreadMessage {
    fn from(m: MessageRow) -> Self {
        Self {
            id: m.id.0,
            author_id: m.author.0,
            author_name: m.author_name,
            from_plan: m.from_plan,
            internal: m.internal,
            body: m.body,
            created_at: m.created_at,
            attachments: m.attachments.into_iter().map(Into::into).collect(),
        }
    }
}

/// A thread with its messages, oldest first (and, for staff, their notes).
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadBody {
    pub thread: MessageThread,
    pub messages: Vec<ThreadMessage>,
    /// When the plan's answer is due (seconds since 1970), while it owes one.
    pub answer_due: Option<i64>,
    /// Staff only: the answer is overdue (always `false` for practice users).
    pub overdue: bool,
    /// The caller reads as plan staff (sees notes, assigns, resolves).
    pub staff_view: bool,
}

impl ThreadBody {
    fn of(v: ThreadView, topics: &Topics) -> Self {
        Self {
            thread: MessageThread::of(v.thread, v.staff_view, topics),
            messages: v.messages.into_iter().map(Into::into).collect(),
            answer_due: v.answer_due,
            overdue: v.overdue,
            staff_view: v.staff_view,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A practice user's inbox

/// What an inbox lists (every parameter optional). A query parameter it does not know is
/// ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Which threads (default `all`).
    #[param(inline)]
    pub folder: Option<InboxFolder>,
    /// Words of the subject.
    pub q: Option<String>,
    /// The page, from 1 (25 threads a page).
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

/// 400 `invalid_query` for a page below 1.
fn page(page: Option<i64>) -> Result<i64, ApiError> {
    match page {
        Some(p) if p < 1 => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "The query string does not fit: pages are numbered from 1.",
        )
        .field(Some("page"))),
        p => Ok(p.unwrap_or(1)),
    }
}

/// Lists the caller's threads: those they started and those of the practices they administer.
#[utoipa::path(get, path = "/messages", operation_id = "list_messages", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, body = InboxPage)))]
pub async fn inbox(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let page = page(q.page)?;
    let folder = q.folder.unwrap_or(InboxFolder::All).into();
    let subject = q.q.unwrap_or_default();
    let p = st.svc.inbox(&plan.0, &s, folder, &subject, page).await.map_err(error)?;
    let topics = st.svc.message_topics(&plan.0).await.map_err(ApiError::internal)?;
    let threads = p.lines.into_iter().map(|l| InboxThread::of(l, &topics)).collect();
    Ok(Json(InboxPage { threads, has_next: p.has_next }))
}

/// How many unread threads the caller has.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    /// Threads not archived with a message the caller has not read (0 for staff).
    pub unread: i64,
}

/// Counts the caller's threads with a message they have not read.
#[utoipa::path(get, path = "/messages/unread-count", operation_id = "count_unread_messages", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount)))]
pub async fn unread_count(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<UnreadCount>, ApiError> {
    let unread = st.svc.unread_messages(&plan.0, &s).await.map_err(error)?;
    Ok(Json(UnreadCount { unread }))
}

/// A topic a new thread may have.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageTopic {
    /// For a new thread's `topic` and the mailbox's filter.
    #[schema(schema_with = super::schema::topic_code)]
    pub code: String,
    /// What people read, e.g. "Prior authorization".
    pub label: String,
}

/// The plan's topics a new thread may have.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageTopics {
    /// In the order the plan lists them.
    pub topics: Vec<MessageTopic>,
}

/// Lists the topics a new thread may have: the plan's active topics, in its order (a retired
/// topic's threads keep it; `topic_label` names it on each thread).
#[utoipa::path(get, path = "/messages/topics", operation_id = "list_message_topics", security(("bearer" = [])),
    responses((status = 200, body = MessageTopics)))]
pub async fn topics(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<MessageTopics>, ApiError> {
    let list = st.svc.active_message_topics(&plan.0, &s).await.map_err(error)?;
    let topics = list.into_iter().map(|t| MessageTopic { code: t.code.to_string(), label: t.label }).collect();
    Ok(Json(MessageTopics { topics }))
}

/// A new thread.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "practice_id": 1, "topic": "claims", "subject": "Denied claim C-2026-4410",
    "body": "Please look at the denial again; the referral is attached.", "claim_number": "C-2026-4410",
    "attachments": [{"file_name": "referral.pdf", "content_base64": "JVBERi0xLjQK"}]
}))]
pub struct NewMessageBody {
    /// The practice it is sent for: one the caller works for.
    #[schema(value_type = i64)]
    pub practice_id: PracticeId,
    /// One of the plan's active topics (`GET /messages/topics`); any other is refused with 422
    /// `invalid_input`, field `topic`.
    #[schema(schema_with = super::schema::topic_code)]
    pub topic: String,
    #[schema(schema_with = subject)]
    pub subject: String,
    #[schema(schema_with = message_text)]
    pub body: String,
    #[serde(default)]
    #[schema(schema_with = reference)]
    pub member_id: Option<String>,
    #[serde(default)]
    #[schema(schema_with = reference)]
    pub claim_number: Option<String>,
    #[serde(default)]
    #[schema(schema_with = reference)]
    pub authorization_number: Option<String>,
    /// Up to 5 PDF, PNG or JPEG files of up to 10 MB each (unless the plan sets other limits).
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

impl NewMessageBody {
    /// Refuses a value outside its schema.
    fn check(&self) -> Result<(), ApiError> {
        require(TopicCode::parse(&self.topic).is_ok(), "topic", TOPIC_SHAPE)?;
        require_text(&self.subject, "subject", MAX_SUBJECT)?;
        require_text(&self.body, "body", MAX_BODY)?;
        for (field, value) in [
            ("member_id", &self.member_id),
            ("claim_number", &self.claim_number),
            ("authorization_number", &self.authorization_number),
        ] {
            let ok = value.as_deref().is_none_or(is_reference);
            require(ok, field, "a reference is up to 30 letters, digits and dashes")?;
        }
        Ok(())
    }
}

/// The new thread's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadCreated {
    pub id: i64,
}

/// Starts a thread with the plan's team for a practice the caller works for, with any files.
///
/// The plan's team is told (without the content) that a message waits.
#[utoipa::path(post, path = "/messages", operation_id = "send_message", request_body = NewMessageBody, security(("bearer" = [])),
    responses(
        (status = 201, body = ThreadCreated, description = "The thread was started."),
        (status = 404, description = "`not_found`: the caller does not work for that practice (another practice's reads the same)"),
        (status = 422, description = ATTACHMENT_REFUSALS),
        (status = 429, description = TOO_MANY_MESSAGES),
    ))]
pub async fn send(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<NewMessageBody>,
) -> Result<(StatusCode, Json<ThreadCreated>), ApiError> {
    b.check()?;
    let form = NewThreadForm {
        topic: b.topic,
        subject: b.subject,
        body: b.body,
        member_id: b.member_id.unwrap_or_default(),
        claim_number: b.claim_number.unwrap_or_default(),
        authorization_number: b.authorization_number.unwrap_or_default(),
    };
    let files = decode(b.attachments)?;
    let id = st
        .svc
        .send_thread(&plan.0, &s, b.practice_id, &form, &files, &meta)
        .await
        .map_err(|e| error_with_files(e, &files))?;
    Ok((StatusCode::CREATED, Json(ThreadCreated { id: id.0 })))
}

/// Shows a thread with its messages (and, for staff, their notes), and marks it read.
#[utoipa::path(get, path = "/messages/{id}", operation_id = "get_message_thread", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses((status = 200, body = ThreadBody), (status = 404, description = NOT_FOUND_THREAD)))]
pub async fn thread(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ThreadId>,
) -> Result<Json<ThreadBody>, ApiError> {
    let v = st.svc.thread_view(&plan.0, &s, id, &meta).await.map_err(error)?;
    let topics = st.svc.message_topics(&plan.0).await.map_err(ApiError::internal)?;
    Ok(Json(ThreadBody::of(v, &topics)))
}

/// A reply, or for staff a note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "We reprocessed the claim.", "internal": false, "attachments": []}))]
pub struct ReplyBody {
    #[schema(schema_with = message_text)]
    pub body: String,
    /// A staff note the practice never sees (staff only; default `false`).
    #[serde(default)]
    pub internal: bool,
    /// As for a new thread.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

/// Writes in a thread: a reply, or for staff a note the practice never sees.
///
/// A practice's reply to a resolved thread opens it again; a staff reply leaves it waiting on
/// the practice. The other side is told (without the content) that a message waits.
#[utoipa::path(post, path = "/messages/{id}/replies", operation_id = "reply_to_message", request_body = ReplyBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses(
        (status = 201, description = "The reply (or note) was added."),
        (status = 403, description = "`not_staff`: only plan staff who work the mailbox write notes (`internal`)"),
        (status = 404, description = NOT_FOUND_THREAD),
        (status = 422, description = ATTACHMENT_REFUSALS),
        (status = 429, description = TOO_MANY_MESSAGES),
    ))]
pub async fn reply(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ThreadId>,
    ObjectBody(b): ObjectBody<ReplyBody>,
) -> Result<StatusCode, ApiError> {
    require_text(&b.body, "body", MAX_BODY)?;
    let files = decode(b.attachments)?;
    st.svc.reply(&plan.0, &s, id, &b.body, &files, b.internal, &meta).await.map_err(|e| error_with_files(e, &files))?;
    Ok(StatusCode::CREATED)
}

/// Whether the thread is archived for the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"archived": true}))]
pub struct ArchiveBody {
    /// `true` moves it out of the inbox into the archive; `false` brings it back.
    pub archived: bool,
}

/// Archives a thread out of the caller's inbox, or brings it back. Nothing is deleted.
#[utoipa::path(put, path = "/messages/{id}/archived", operation_id = "archive_message_thread", request_body = ArchiveBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses((status = 204), (status = 404, description = NOT_FOUND_THREAD)))]
pub async fn archive(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    ApiPath(id): ApiPath<ThreadId>,
    ObjectBody(b): ObjectBody<ArchiveBody>,
) -> Result<StatusCode, ApiError> {
    st.svc.archive_thread(&plan.0, &s, id, b.archived).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `attachment` with the file's name: an ASCII fallback and the exact name (RFC 6266 and 8187).
fn content_disposition(name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let exact: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Downloads an attachment of a thread the caller reads (a note's file: staff only).
#[utoipa::path(get, path = "/messages/attachments/{id}", operation_id = "download_message_attachment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The attachment's id")),
    responses(
        (status = 200, description = "The file, as a download.",
            content((inline(UploadFile) = "application/pdf"), (inline(UploadFile) = "image/png"), (inline(UploadFile) = "image/jpeg")),
            headers(("Content-Disposition" = String, description = "`attachment`, with the file's name."))),
        (status = 404, description = "`not_found`: no such attachment in a thread the caller reads (a note's file, for a practice user, reads the same)"),
    ))]
pub async fn attachment(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<AttachmentId>,
) -> Result<Response, ApiError> {
    let d = st.svc.attachment(&plan.0, &s, id, &meta).await.map_err(error)?;
    let content_type = HeaderValue::from_str(&d.content_type).map_err(ApiError::internal)?;
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, content_disposition(&d.file_name))];
    Ok((headers, d.bytes).into_response())
}

// ---------------------------------------------------------------------------------------------
// The plan's mailbox

/// What the mailbox lists (every parameter optional). A query parameter it does not know is
/// ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MailboxQuery {
    /// Only threads of this topic (retired topics included).
    #[param(schema_with = super::schema::topic_code, required = false)]
    pub topic: Option<String>,
    #[param(inline)]
    pub status: Option<MessageStatus>,
    /// Only threads assigned to this agent.
    #[param(value_type = Option<i64>)]
    pub agent_id: Option<UserId>,
    /// Only threads assigned to nobody.
    pub unassigned: Option<bool>,
    /// Only threads sent for this Tax ID.
    #[param(schema_with = super::schema::tax_id, required = false)]
    pub tax_id: Option<String>,
    /// Only threads started at least this many days ago.
    #[param(minimum = 0, maximum = 36500)]
    pub older_than_days: Option<i64>,
    /// The page, from 1 (25 threads a page).
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

impl MailboxQuery {
    /// The store's filter at `now`; a value outside its schema is refused with 400
    /// `invalid_query`.
    fn filter(self, now: i64) -> Result<MailboxFilter, ApiError> {
        let refuse = |field: &str, message: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("The query string does not fit: {message}."),
            )
            .field(Some(field))
        };
        let tax_id = match self.tax_id.as_deref().map(gatehouse_domain::TaxId::parse) {
            Some(Err(_)) => return Err(refuse("tax_id", "a Tax ID is nine digits")),
            Some(Ok(t)) => Some(t),
            None => None,
        };
        let topic = match self.topic.as_deref().map(TopicCode::parse) {
            Some(Err(_)) => return Err(refuse("topic", TOPIC_SHAPE)),
            Some(Ok(t)) => Some(t),
            None => None,
        };
        let days = self.older_than_days;
        if days.is_some_and(|d| !(0..=MAX_AGE_DAYS).contains(&d)) {
            return Err(refuse("older_than_days", "an age is 0 to 36500 days"));
        }
        Ok(MailboxFilter {
            topic,
            status: self.status.map(Into::into),
            assigned_to: self.agent_id,
            unassigned: self.unassigned.unwrap_or(false),
            tax_id,
            // Zero reads as "any age" in the store, so an age reaching before 1970 is one second
            // after it (no thread is that old).
            started_before: days.map(|d| now.saturating_sub(d.saturating_mul(86_400)).max(1)),
            page: page(self.page)?,
        })
    }
}

/// A line of the mailbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxThread {
    pub thread: MessageThread,
    /// The plan's answer is overdue (the plan's stated response time, in business days).
    pub overdue: bool,
}

impl MailboxThread {
    fn of(l: MailboxLine, topics: &Topics) -> Self {
        Self { thread: MessageThread::of(l.thread, true, topics), overdue: l.overdue }
    }
}

/// A page of the mailbox (25 threads), latest activity first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxPage {
    pub threads: Vec<MailboxThread>,
    /// Whether the next page has threads.
    pub has_next: bool,
}

/// Lists the plan's threads for staff who work the mailbox, filtered and paged.
#[utoipa::path(get, path = "/mailbox", operation_id = "list_mailbox", params(MailboxQuery), security(("bearer" = [])),
    responses((status = 200, body = MailboxPage), (status = 403, description = NOT_STAFF)))]
pub async fn mailbox(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    ApiQuery(q): ApiQuery<MailboxQuery>,
) -> Result<Json<MailboxPage>, ApiError> {
    let filter = q.filter(st.svc.now())?;
    let (lines, has_next) = st.svc.mailbox(&plan.0, &s, &filter).await.map_err(error)?;
    let topics = st.svc.message_topics(&plan.0).await.map_err(ApiError::internal)?;
    Ok(Json(MailboxPage { threads: lines.into_iter().map(|l| MailboxThread::of(l, &topics)).collect(), has_next }))
}

/// An agent a thread can be assigned to.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxAgent {
    /// For `agent_id`.
    pub id: i64,
    pub name: String,
}

/// The agents who work the mailbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxAgents {
    pub agents: Vec<MailboxAgent>,
}

/// Lists the agents threads can be assigned to: active staff who work the mailbox.
#[utoipa::path(get, path = "/mailbox/agents", operation_id = "list_mailbox_agents", security(("bearer" = [])),
    responses((status = 200, body = MailboxAgents), (status = 403, description = NOT_STAFF)))]
pub async fn agents(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<MailboxAgents>, ApiError> {
    let list = st.svc.mailbox_agents(&plan.0, &s).await.map_err(error)?;
    Ok(Json(MailboxAgents { agents: list.into_iter().map(|a| MailboxAgent { id: a.id.0, name: a.name }).collect() }))
}

/// Who a thread is assigned to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agent_id": 5}))]
pub struct AssignBody {
    /// An agent from `GET /mailbox/agents`; `null` (or left out) for nobody.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub agent_id: Option<UserId>,
}

/// Assigns a thread to an agent, or to nobody. A new thread taken by someone is in progress.
#[utoipa::path(post, path = "/mailbox/{id}/assign", operation_id = "assign_mailbox_thread", request_body = AssignBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_STAFF),
        (status = 404, description = "`not_found`: no such thread in the plan"),
        (status = 422, description = "`not_an_agent`: `agent_id` is not an active agent who works the mailbox"),
    ))]
pub async fn assign(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ThreadId>,
    ObjectBody(b): ObjectBody<AssignBody>,
) -> Result<StatusCode, ApiError> {
    st.svc.assign_thread(&plan.0, &s, id, b.agent_id, &meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolves a thread. A message from the practice opens it again.
#[utoipa::path(post, path = "/mailbox/{id}/resolve", operation_id = "resolve_mailbox_thread", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_STAFF),
        (status = 404, description = "`not_found`: no such thread in the plan"),
    ))]
pub async fn resolve(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ThreadId>,
) -> Result<StatusCode, ApiError> {
    st.svc.resolve_thread(&plan.0, &s, id, true, &meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens a thread again: in progress when assigned, else new, and awaiting the plan's answer.
#[utoipa::path(post, path = "/mailbox/{id}/reopen", operation_id = "reopen_mailbox_thread", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The thread's id")),
    responses(
        (status = 204),
        (status = 403, description = NOT_STAFF),
        (status = 404, description = "`not_found`: no such thread in the plan"),
    ))]
pub async fn reopen(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ThreadId>,
) -> Result<StatusCode, ApiError> {
    st.svc.resolve_thread(&plan.0, &s, id, false, &meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's keys are the domain's stored forms, both ways.
    #[test]
    fn statuses_are_the_domains() {
        for s in ThreadStatus::ALL {
            let api = MessageStatus::from(s);
            assert_eq!(serde_json::to_value(api).ok(), Some(json!(s.as_str())));
            assert_eq!(ThreadStatus::from(api), s);
        }
    }

    #[test]
    fn references_fit_their_schema_and_the_domain() {
        let re = regex::Regex::new(reference().pattern.as_deref().unwrap_or("")).expect("pattern");
        for r in ["C-2026-4410", "", "M1", &"9".repeat(30), &"9".repeat(31), "a b", "a;b", "é", " C-1"] {
            assert_eq!(re.is_match(r) && r.chars().count() <= MAX_REFERENCE, is_reference(r), "{r:?}");
            if is_reference(r) {
                let form = NewThreadForm {
                    topic: "claims".into(),
                    subject: "s".into(),
                    body: "b".into(),
                    member_id: r.into(),
                    ..Default::default()
                };
                assert!(form.parse(&[TopicCode::CLAIMS]).is_ok(), "the domain takes {r:?}");
            }
        }
    }

    /// The schema's topic code is the domain's.
    #[test]
    fn topic_codes_fit_their_schema_and_the_domain() {
        let schema = super::super::schema::topic_code();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or("")).expect("pattern");
        for c in
            ["claims", "prior_authorization", "x_2", "_", &"a".repeat(40), &"a".repeat(41), "", "Claims", "a b", "é"]
        {
            assert_eq!(re.is_match(c), TopicCode::parse(c).is_ok(), "{c:?}");
        }
    }

    /// Five files of the default size fit in the body limit, in base64, with their text.
    #[test]
    fn the_body_limit_fits_five_full_files() {
        let one = base64::engine::general_purpose::STANDARD.encode(vec![0u8; DEFAULT_MAX_ATTACHMENT_BYTES]);
        let text = "b".repeat(MAX_BODY);
        let body = json!({"practice_id": 1, "topic": "claims", "subject": "s".repeat(MAX_SUBJECT), "body": text,
            "attachments": vec![json!({"file_name": "n".repeat(300), "content_base64": one}); DEFAULT_MAX_ATTACHMENTS]});
        assert!(body.to_string().len() <= MAX_MESSAGE_BODY);
    }

    #[test]
    fn downloads_name_the_file_safely() {
        let v = content_disposition("référé \"scan\".pdf");
        let s = v.to_str().expect("ascii");
        assert_eq!(
            s,
            "attachment; filename=\"r_f_r_ _scan_.pdf\"; filename*=UTF-8''r%C3%A9f%C3%A9r%C3%A9%20%22scan%22.pdf"
        );
        assert_eq!(
            content_disposition("a.pdf").to_str().ok(),
            Some("attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf")
        );
    }

    #[test]
    fn attachments_must_be_base64() {
        let ok = decode(vec![NewAttachment { file_name: "a.pdf".into(), content_base64: "JVBERi0xLjQK".into() }])
            .expect("decoded");
        assert_eq!(ok[0].bytes, b"%PDF-1.4\n");
        let e = decode(vec![
            NewAttachment { file_name: "a.pdf".into(), content_base64: "JVBERi0xLjQK".into() },
            NewAttachment { file_name: "b.pdf".into(), content_base64: "not base64!".into() },
        ])
        .expect_err("refused");
        assert_eq!((e.code, e.field.as_deref()), ("invalid_encoding", Some("attachments[1].content_base64")));
    }

    /// Every code a message's refusal can carry is one its operation documents (schemathesis
    /// checks answers against the documented codes).
    #[test]
    fn every_refusal_code_is_documented() {
        let doc = crate::api::document();
        let codes = |path: &str, method: &str, status: &str| {
            doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
                ["properties"]["error"]["properties"]["code"]["enum"]
                .as_array()
                .map(|v| v.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let problems = [
            AttachmentProblem::TooMany(5),
            AttachmentProblem::TooLarge { name: "a".into(), limit_mb: 10 },
            AttachmentProblem::NotAllowed("a".into()),
            AttachmentProblem::Empty("a".into()),
        ];
        for path in ["/api/v1/messages", "/api/v1/messages/{id}/replies"] {
            let documented = codes(path, "post", "422");
            let invalid = MessageError::Invalid(gatehouse_domain::secure_messages::MessageErrors(Vec::new()));
            let mut answered: Vec<&str> = vec![error(invalid).code, "invalid_encoding"];
            answered.extend(problems.iter().map(|p| error(MessageError::Attachment(p.clone())).code));
            for code in answered {
                assert!(documented.iter().any(|d| d == code), "{path}: {code} is not in {documented:?}");
            }
        }
        assert!(codes("/api/v1/messages/{id}/replies", "post", "403").contains(&"not_staff".to_owned()));
        assert!(codes("/api/v1/mailbox/{id}/assign", "post", "422").contains(&"not_an_agent".to_owned()));
    }
}
