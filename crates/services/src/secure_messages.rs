//! Secure messages (seed 004's Message Center): threads between a practice user and the plan's
//! staff, sent for one practice (Tax ID).
//!
//! Who reads a thread: its author, the administrators of the practice it was sent for, and plan
//! staff with the messages permission. Nobody else, whatever the id: a thread (or attachment)
//! someone may not read is "not found", exactly as one that does not exist. Staff notes and their
//! files are for staff only. Nothing is deleted: a reader archives a thread out of their inbox.
//!
//! Every change is audited without the subject or body; notices go through the outbox after
//! commit and say only that a message waits, one per thread and recipient until they read it.

use crate::audit::{self, Event};
use crate::messages::{self, secure_message::SecureMessageV1};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::secure_messages::{
    AttachmentLimits, AttachmentProblem, IncomingFile, MessageErrors, NewThread, NewThreadForm, ThreadStatus,
    answer_due, check_attachments, overdue, parse_body,
};
use gatehouse_domain::staff::{StaffPermission, StaffRole};
use gatehouse_domain::{AttachmentId, PracticeId, ThreadId, UserId, UserStatus};
use gatehouse_store::Conn;
use gatehouse_store::affiliations as aff_store;
use gatehouse_store::secure_messages::{self as store, NewMessageRow, NewThreadRow};
pub use gatehouse_store::secure_messages::{
    AttachmentInfo, Folder, MailboxFilter, MessageRow, MessageSettings, ThreadLine, ThreadPage, ThreadRow,
};
use gatehouse_store::users;
use serde_json::json;
use thiserror::Error;

/// Why a message action was refused.
#[derive(Debug, Error)]
pub enum MessageError {
    #[error("Sign in first.")]
    NotSignedIn,
    /// No such thread, attachment or practice for this reader: the same answer either way.
    #[error("That message was not found.")]
    NotFound,
    /// Plan staff work the mailbox; practice users write from their inbox.
    #[error("Only plan staff who work the mailbox can do that.")]
    NotStaff,
    #[error("{0}")]
    Invalid(MessageErrors),
    #[error("{0}")]
    Attachment(AttachmentProblem),
    #[error("Choose an agent who works the mailbox.")]
    NotAnAgent,
    /// A practice user's messages in the last hour reached [`MESSAGES_PER_HOUR`].
    #[error(
        "You have sent many messages in the last hour. Wait a little before sending another, or call provider services."
    )]
    TooMany,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for MessageError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// How many messages (new threads and replies, with their files) a practice user sends in an
/// hour at most: far above an office's day, low enough that nobody fills the plan's database
/// and its agents' inboxes from one account. Plan staff answering the mailbox are not counted.
pub const MESSAGES_PER_HOUR: i64 = 30;

/// Counts a message `r` is sending in `tx` (nothing for plan staff); refuses the one over
/// [`MESSAGES_PER_HOUR`]. A refused message is not counted (its transaction rolls back).
async fn count_message(tx: &mut Conn, plan: &Plan, r: &Reader, now: i64) -> Result<(), MessageError> {
    if r.staff {
        return Ok(());
    }
    let key = format!("msg:{}", r.user.0);
    let since = now - gatehouse_domain::Duration::hours(1).as_secs();
    if gatehouse_store::throttle::add_failure_in_window(tx, plan.id(), &key, now, since).await? > MESSAGES_PER_HOUR {
        return Err(MessageError::TooMany);
    }
    Ok(())
}

/// Who is reading: a practice user (with the practices they work for and administer) or plan
/// staff who work the mailbox.
#[derive(Debug, Clone)]
pub struct Reader {
    pub user: UserId,
    /// Works the plan's mailbox (staff role with the messages permission).
    pub staff: bool,
    /// Practices the user works for (may write for).
    pub member_of: Vec<PracticeId>,
    /// Practices the user administers (reads their threads).
    pub admin_of: Vec<PracticeId>,
}

impl Reader {
    /// Whether this reader may read `t`: plan staff; its author while they still work for its
    /// practice; that practice's administrators.
    pub fn may_read(&self, t: &ThreadRow) -> bool {
        self.staff
            || (t.author == self.user && self.member_of.contains(&t.practice))
            || self.admin_of.contains(&t.practice)
    }

    /// The practices whose threads the reader's inbox lists.
    fn practices(&self) -> store::ReaderPractices<'_> {
        store::ReaderPractices { member_of: &self.member_of, admin_of: &self.admin_of }
    }
}

/// A thread as its reader sees it.
#[derive(Debug, Clone)]
pub struct ThreadView {
    pub thread: ThreadRow,
    /// Replies, and for staff their notes, oldest first.
    pub messages: Vec<MessageRow>,
    /// When the plan's answer is due, while it owes one.
    pub answer_due: Option<i64>,
    /// Staff view: the answer is overdue.
    pub overdue: bool,
    /// The reader is plan staff (sees notes, assigns, resolves).
    pub staff_view: bool,
}

/// A mailbox line for staff: the thread and whether its answer is overdue.
#[derive(Debug, Clone)]
pub struct MailboxLine {
    pub thread: ThreadRow,
    pub overdue: bool,
}

/// An attachment to download.
#[derive(Debug, Clone)]
pub struct Download {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// An agent a thread can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: UserId,
    pub name: String,
}

/// The unread count stops here: a page shows "99+", and the count never reads every thread of
/// a hospital system to say more.
pub const UNREAD_CAP: i64 = 100;

fn limits(s: &MessageSettings) -> AttachmentLimits {
    AttachmentLimits { max_files: s.max_files, max_bytes: s.max_file_mb.saturating_mul(1024 * 1024) }
}

impl Services {
    /// The reader behind a session: a fully signed-in, active user of this plan.
    pub async fn message_reader(&self, plan: &Plan, s: &SessionInfo) -> Result<Reader, MessageError> {
        if !s.is_signed_in_to(plan.id()) {
            return Err(MessageError::NotSignedIn);
        }
        let mut conn = self.db.acquire().await?;
        reader(&mut conn, plan, s.user_id).await
    }

    /// The reader behind a session, who must work the plan's mailbox.
    pub(crate) async fn mailbox_reader(&self, plan: &Plan, s: &SessionInfo) -> Result<Reader, MessageError> {
        let r = self.message_reader(plan, s).await?;
        if r.staff { Ok(r) } else { Err(MessageError::NotStaff) }
    }

    /// The plan's message settings (response time, attachment limits).
    pub async fn message_settings(&self, plan: &Plan) -> Result<MessageSettings, MessageError> {
        let mut conn = self.db.acquire().await?;
        Ok(store::settings(&mut conn, plan.id()).await?)
    }

    /// Starts a thread for `practice`, which the sender must work for, on one of the plan's
    /// active topics. Returns the new thread.
    pub async fn send_thread(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        practice: PracticeId,
        form: &NewThreadForm,
        files: &[IncomingFile],
        meta: &RequestMeta,
    ) -> Result<ThreadId, MessageError> {
        let r = self.message_reader(plan, s).await?;
        if !r.member_of.contains(&practice) {
            return Err(MessageError::NotFound);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // The topic must be one of the plan's active topics: a retired one is offered no more.
        let active = crate::message_topics::topics(&mut tx, plan.id()).await?.active_codes();
        let new = form.parse(&active).map_err(MessageError::Invalid)?;
        let thread = self.open_thread(&mut tx, plan, &r, practice, &new, files, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(thread)
    }

    /// Stores a new thread for `practice` by `r` (who must work for it; the caller checked) with
    /// its first message and files, audits it and queues the staff's notices, in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_thread(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        r: &Reader,
        practice: PracticeId,
        new: &NewThread,
        files: &[IncomingFile],
        meta: &RequestMeta,
        now: i64,
    ) -> Result<ThreadId, MessageError> {
        let settings = store::settings(tx, plan.id()).await?;
        let checked = check_attachments(files, limits(&settings)).map_err(MessageError::Attachment)?;
        count_message(tx, plan, r, now).await?;
        let row = NewThreadRow {
            plan: plan.id(),
            practice,
            author: r.user,
            topic: &new.topic,
            subject: &new.subject,
            member_id: new.references.member_id.as_deref(),
            claim_number: new.references.claim_number.as_deref(),
            authorization_number: new.references.authorization_number.as_deref(),
        };
        let thread = store::insert_thread(tx, &row, now).await?;
        let message = NewMessageRow {
            plan: plan.id(),
            thread,
            author: r.user,
            from_plan: false,
            internal: false,
            body: &new.body,
        };
        let id = store::insert_message(tx, &message, now).await?;
        for (file, c) in files.iter().zip(&checked) {
            store::insert_attachment(tx, plan.id(), id, &c.name, c.kind.content_type(), &file.bytes).await?;
        }
        store::mark_read(tx, thread, r.user, now).await?;
        let event = Event::new("message.thread_started").by(r.user).detail(json!({
            "thread": thread.0, "practice_id": practice.0, "topic": new.topic.as_str(), "attachments": checked.len(),
        }));
        audit::record(tx, now, plan.id(), meta, event).await?;
        self.notify_staff(tx, plan, thread, None, &settings, now).await?;
        Ok(thread)
    }

    /// Writes in a thread: a reply (practice user or staff) or, for staff, an internal note the
    /// practice never sees. A practice reply to a resolved thread opens it again.
    #[allow(clippy::too_many_arguments)]
    pub async fn reply(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: ThreadId,
        body: &str,
        files: &[IncomingFile],
        internal: bool,
        meta: &RequestMeta,
    ) -> Result<(), MessageError> {
        let r = self.message_reader(plan, s).await?;
        let body = parse_body(body).map_err(|m| {
            MessageError::Invalid(MessageErrors(vec![gatehouse_domain::registration::FieldError {
                field: "body",
                message: m,
            }]))
        })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::lock(&mut tx, plan.id(), id).await?;
        let t = store::thread(&mut tx, plan.id(), id).await?.filter(|t| r.may_read(t)).ok_or(MessageError::NotFound)?;
        if internal && !r.staff {
            return Err(MessageError::NotStaff);
        }
        let settings = store::settings(&mut tx, plan.id()).await?;
        let checked = check_attachments(files, limits(&settings)).map_err(MessageError::Attachment)?;
        count_message(&mut tx, plan, &r, now).await?;
        // Staff who are also the thread's author cannot exist (staff hold no practice), so a
        // staff reader writes for the plan.
        let from_plan = r.staff;
        let message = NewMessageRow { plan: plan.id(), thread: id, author: r.user, from_plan, internal, body: &body };
        let mid = store::insert_message(&mut tx, &message, now).await?;
        for (file, c) in files.iter().zip(&checked) {
            store::insert_attachment(&mut tx, plan.id(), mid, &c.name, c.kind.content_type(), &file.bytes).await?;
        }
        store::mark_read(&mut tx, id, r.user, now).await?;
        if r.staff {
            store::clear_team_notice(&mut tx, id).await?;
        }
        let action = if internal {
            "message.note_added"
        } else if from_plan {
            "message.replied_by_plan"
        } else {
            "message.replied_by_practice"
        };
        if !internal {
            if from_plan {
                store::set_status(&mut tx, id, t.status.after_plan_replies(), None).await?;
                self.notify_user(&mut tx, plan, id, t.author, now).await?;
            } else {
                let status = t.status.after_practice_writes(t.assigned_to.is_some());
                let waiting = if t.status.awaits_plan() { t.waiting_since.or(Some(now)) } else { Some(now) };
                store::set_status(&mut tx, id, status, waiting).await?;
                self.notify_staff(&mut tx, plan, id, t.assigned_to, &settings, now).await?;
            }
        }
        let event = Event::new(action).by(r.user).on(t.author).detail(json!({
            "thread": id.0, "practice_id": t.practice.0, "attachments": checked.len(),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The reader of thread `id`, if they may read it (nothing is marked read or audited: for
    /// sending staff to the mailbox's page of a thread).
    pub async fn thread_reader(&self, plan: &Plan, s: &SessionInfo, id: ThreadId) -> Result<Reader, MessageError> {
        let r = self.message_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        store::thread(&mut conn, plan.id(), id).await?.filter(|t| r.may_read(t)).ok_or(MessageError::NotFound)?;
        Ok(r)
    }

    /// A thread for its reader, marked read. Staff reading is audited.
    pub async fn thread_view(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: ThreadId,
        meta: &RequestMeta,
    ) -> Result<ThreadView, MessageError> {
        let r = self.message_reader(plan, s).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = store::thread(&mut tx, plan.id(), id).await?.filter(|t| r.may_read(t)).ok_or(MessageError::NotFound)?;
        let messages = store::messages(&mut tx, id, r.staff).await?;
        store::mark_read(&mut tx, id, r.user, now).await?;
        if r.staff {
            store::clear_team_notice(&mut tx, id).await?;
            let event = Event::new("message.read_by_staff").by(r.user).on(t.author).detail(json!({
                "thread": id.0, "practice_id": t.practice.0,
            }));
            audit::record(&mut tx, now, plan.id(), meta, event).await?;
        }
        let settings = store::settings(&mut tx, plan.id()).await?;
        gatehouse_store::commit(tx).await?;
        let zone = &plan.row.time_zone;
        let due = t
            .waiting_since
            .filter(|_| t.status.awaits_plan())
            .map(|since| answer_due(gatehouse_domain::Timestamp(since), zone, settings.response_days).as_secs());
        let late = t.waiting_since.is_some_and(|since| {
            overdue(
                t.status,
                gatehouse_domain::Timestamp(since),
                gatehouse_domain::Timestamp(now),
                zone,
                settings.response_days,
            )
        });
        Ok(ThreadView { thread: t, messages, answer_due: due, overdue: r.staff && late, staff_view: r.staff })
    }

    /// A practice user's inbox: the threads they started and those of the practices they
    /// administer.
    pub async fn inbox(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        folder: Folder,
        subject: &str,
        page: i64,
    ) -> Result<ThreadPage, MessageError> {
        let r = self.message_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        Ok(store::inbox(&mut conn, plan.id(), r.user, r.practices(), folder, subject, page).await?)
    }

    /// How many of the user's threads have a message they have not read, up to
    /// [`UNREAD_CAP`] (pages show "99+" beyond 99); 0 for staff: their mailbox has its own
    /// filters.
    pub async fn unread_messages(&self, plan: &Plan, s: &SessionInfo) -> Result<i64, MessageError> {
        let r = self.message_reader(plan, s).await?;
        if r.staff {
            return Ok(0);
        }
        let mut conn = self.db.acquire().await?;
        Ok(store::unread_count(&mut conn, plan.id(), r.user, r.practices(), UNREAD_CAP).await?)
    }

    /// Archives a thread out of the reader's inbox, or brings it back. Nothing is deleted.
    pub async fn archive_thread(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: ThreadId,
        archived: bool,
    ) -> Result<(), MessageError> {
        let r = self.message_reader(plan, s).await?;
        let mut tx = self.db.begin().await?;
        store::thread(&mut tx, plan.id(), id).await?.filter(|t| r.may_read(t)).ok_or(MessageError::NotFound)?;
        store::set_archived(&mut tx, id, r.user, archived).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The plan's mailbox, for staff who work it.
    pub async fn mailbox(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        filter: &MailboxFilter,
    ) -> Result<(Vec<MailboxLine>, bool), MessageError> {
        self.mailbox_reader(plan, s).await?;
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let settings = store::settings(&mut conn, plan.id()).await?;
        let page = store::mailbox(&mut conn, plan.id(), filter).await?;
        let zone = &plan.row.time_zone;
        let lines = page
            .lines
            .into_iter()
            .map(|l| {
                let late = l.thread.waiting_since.is_some_and(|since| {
                    overdue(
                        l.thread.status,
                        gatehouse_domain::Timestamp(since),
                        gatehouse_domain::Timestamp(now),
                        zone,
                        settings.response_days,
                    )
                });
                MailboxLine { thread: l.thread, overdue: late }
            })
            .collect();
        Ok((lines, page.has_next))
    }

    /// The agents a thread can be assigned to: active staff who work the mailbox.
    pub async fn mailbox_agents(&self, plan: &Plan, s: &SessionInfo) -> Result<Vec<Agent>, MessageError> {
        self.mailbox_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        Ok(agents(&mut conn, plan).await?.into_iter().map(|(id, name, _)| Agent { id, name }).collect())
    }

    /// Assigns a thread to an agent (or to nobody). A new thread taken by someone is in progress.
    pub async fn assign_thread(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: ThreadId,
        to: Option<UserId>,
        meta: &RequestMeta,
    ) -> Result<(), MessageError> {
        let r = self.mailbox_reader(plan, s).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = locked_thread(&mut tx, plan, id).await?;
        if let Some(agent) = to
            && !agents(&mut tx, plan).await?.iter().any(|(a, _, _)| *a == agent)
        {
            return Err(MessageError::NotAnAgent);
        }
        store::assign(&mut tx, id, to).await?;
        if to.is_some() && t.status == ThreadStatus::New {
            store::set_status(&mut tx, id, ThreadStatus::InProgress, t.waiting_since).await?;
        }
        let event = Event::new("message.assigned").by(r.user).detail(json!({
            "thread": id.0, "to": to.map(|u| u.0), "from": t.assigned_to.map(|u| u.0),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Resolves a thread, or opens it again.
    pub async fn resolve_thread(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: ThreadId,
        resolved: bool,
        meta: &RequestMeta,
    ) -> Result<(), MessageError> {
        let r = self.mailbox_reader(plan, s).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = locked_thread(&mut tx, plan, id).await?;
        let (status, waiting, action) = if resolved {
            (ThreadStatus::Resolved, None, "message.resolved")
        } else {
            let status = if t.assigned_to.is_some() { ThreadStatus::InProgress } else { ThreadStatus::New };
            (status, Some(now), "message.reopened")
        };
        store::set_status(&mut tx, id, status, waiting).await?;
        let event = Event::new(action).by(r.user).on(t.author).detail(json!({ "thread": id.0 }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// An attachment, for a reader of its thread (a note's file: staff only). Each download is
    /// audited (`message.attachment_downloaded`) before the file is handed over: the files are
    /// the part of a thread most likely to hold health information.
    pub async fn attachment(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: AttachmentId,
        meta: &RequestMeta,
    ) -> Result<Download, MessageError> {
        let r = self.message_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        let f = store::attachment(&mut conn, plan.id(), id).await?.ok_or(MessageError::NotFound)?;
        let t = store::thread(&mut conn, plan.id(), f.thread).await?.ok_or(MessageError::NotFound)?;
        if !r.may_read(&t) || (f.internal && !r.staff) {
            return Err(MessageError::NotFound);
        }
        // The content only once the reader is known to be allowed it.
        let bytes = store::attachment_bytes(&mut conn, plan.id(), id).await?.ok_or(MessageError::NotFound)?;
        drop(conn);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let event = Event::new("message.attachment_downloaded").by(r.user).on(t.author).detail(json!({
            "thread": f.thread.0, "attachment": id.0, "internal": f.internal, "bytes": bytes.len(),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(Download { file_name: f.file_name, content_type: f.content_type, bytes })
    }

    /// Queues the content-free notice to the thread's agent, or else the plan's team address, or
    /// else each agent: once per thread and recipient until they read it.
    async fn notify_staff(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        thread: ThreadId,
        assigned: Option<UserId>,
        settings: &MessageSettings,
        now: i64,
    ) -> Result<(), MessageError> {
        let link = format!("{}/admin/messages", self.plan_url(plan));
        let all = agents(tx, plan).await?;
        let recipients: Vec<(UserId, String)> = match assigned {
            Some(a) => all.into_iter().filter(|(id, _, _)| *id == a).map(|(id, _, email)| (id, email)).collect(),
            None if !settings.mailbox_email.trim().is_empty() => {
                if store::claim_team_notice(tx, thread, now).await? {
                    let m = notice(plan, &link).render_to(settings.mailbox_email.trim())?;
                    messages::enqueue(tx, plan.id(), &m, now).await?;
                }
                Vec::new()
            }
            None => all.into_iter().map(|(id, _, email)| (id, email)).collect(),
        };
        for (user, email) in recipients {
            if store::claim_notice(tx, thread, user, now).await? {
                let m = notice(plan, &link).render_to(&email)?;
                messages::enqueue(tx, plan.id(), &m, now).await?;
            }
        }
        Ok(())
    }

    /// Queues the content-free notice to a practice user, once per thread until they read it.
    pub(crate) async fn notify_user(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        thread: ThreadId,
        user: UserId,
        now: i64,
    ) -> Result<(), MessageError> {
        let Some(u) = users::get(tx, plan.id(), user).await? else { return Ok(()) };
        // Someone no longer working for the thread's practice cannot read it: nothing to tell.
        let Some(t) = store::thread(tx, plan.id(), thread).await? else { return Ok(()) };
        if aff_store::of_user_at(tx, user, t.practice.0).await?.is_none() {
            return Ok(());
        }
        if u.status != UserStatus::Active || !store::claim_notice(tx, thread, user, now).await? {
            return Ok(());
        }
        let link = format!("{}/messages", self.plan_url(plan));
        let m = notice(plan, &link).render_to(&u.email)?;
        messages::enqueue(tx, plan.id(), &m, now).await?;
        Ok(())
    }
}

fn notice<'a>(plan: &'a Plan, link: &'a str) -> SecureMessageV1<'a> {
    SecureMessageV1 {
        plan_name: &plan.row.name,
        link,
        support_phone: &plan.row.support_phone,
        support_hours: &plan.row.support_hours,
    }
}

/// The thread `id` of the plan, locked for the rest of the transaction.
pub(crate) async fn locked_thread(tx: &mut Conn, plan: &Plan, id: ThreadId) -> Result<ThreadRow, MessageError> {
    store::lock(tx, plan.id(), id).await?;
    store::thread(tx, plan.id(), id).await?.ok_or(MessageError::NotFound)
}

/// The user as a message reader.
async fn reader(conn: &mut Conn, plan: &Plan, user: UserId) -> Result<Reader, MessageError> {
    let u = users::get(conn, plan.id(), user).await?.ok_or(MessageError::NotSignedIn)?;
    if u.status != UserStatus::Active {
        return Err(MessageError::NotSignedIn);
    }
    if let Some(role) = u.staff_role.as_deref().and_then(StaffRole::parse) {
        return Ok(Reader {
            user,
            staff: role.may(StaffPermission::Messages),
            member_of: Vec::new(),
            admin_of: Vec::new(),
        });
    }
    let affiliations = aff_store::of_user(conn, user).await?;
    Ok(Reader {
        user,
        staff: false,
        member_of: affiliations.iter().map(|a| PracticeId(a.practice_id)).collect(),
        admin_of: affiliations.iter().filter(|a| a.is_admin).map(|a| PracticeId(a.practice_id)).collect(),
    })
}

/// Active staff of the plan who work the mailbox: id, name, email.
async fn agents(conn: &mut Conn, plan: &Plan) -> Result<Vec<(UserId, String, String)>, MessageError> {
    Ok(users::list_staff(conn, plan.id())
        .await?
        .into_iter()
        .filter(|u| u.status == UserStatus::Active)
        .filter(|u| {
            u.staff_role.as_deref().and_then(StaffRole::parse).is_some_and(|r| r.may(StaffPermission::Messages))
        })
        .map(|u| (u.id, format!("{} {}", u.first_name, u.last_name).trim().to_owned(), u.email))
        .collect())
}
