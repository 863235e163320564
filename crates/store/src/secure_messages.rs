//! Secure-message threads, their messages and attachments, and each reader's place in a thread
//! (read, archived, last notice). Who may read what is decided by the services: every query here
//! is bounded by the plan, and the listings by the reader's own threads and practices.

use crate::{Conn, StoreError};
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::secure_messages::ThreadStatus;
use gatehouse_domain::{AttachmentId, MessageId, PlanId, PracticeId, ThreadId, UserId};
use sqlx::Row;

/// Rows per page of an inbox or the mailbox.
pub const PAGE: i64 = 25;

/// A thread to store.
#[derive(Debug, Clone)]
pub struct NewThreadRow<'a> {
    pub plan: PlanId,
    pub practice: PracticeId,
    pub author: UserId,
    pub topic: &'a TopicCode,
    pub subject: &'a str,
    pub member_id: Option<&'a str>,
    pub claim_number: Option<&'a str>,
    pub authorization_number: Option<&'a str>,
}

/// A thread with the names people see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    pub id: ThreadId,
    pub practice: PracticeId,
    pub tax_id: String,
    pub practice_name: String,
    pub author: UserId,
    pub author_name: String,
    /// The topic's code; its label is in the plan's list.
    pub topic: TopicCode,
    pub subject: String,
    pub status: ThreadStatus,
    pub assigned_to: Option<UserId>,
    pub assignee_name: Option<String>,
    pub member_id: Option<String>,
    pub claim_number: Option<String>,
    pub authorization_number: Option<String>,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub last_public_at: i64,
    /// Since when the plan owes an answer, while it does.
    pub waiting_since: Option<i64>,
}

/// The columns [`thread_from`] reads.
const THREAD_COLUMNS: &str = "t.id, t.practice_id, p.tax_id, p.name AS practice_name, t.author_id, \
     a.first_name AS author_first, a.last_name AS author_last, t.topic, t.subject, t.status, t.assigned_to, \
     s.first_name AS assignee_first, s.last_name AS assignee_last, t.member_id, t.claim_number, \
     t.authorization_number, t.created_at, t.last_activity_at, t.last_public_at, t.waiting_since";

/// The tables those columns come from.
const THREAD_FROM: &str = "message_threads t JOIN practices p ON p.id = t.practice_id \
     JOIN users a ON a.id = t.author_id LEFT JOIN users s ON s.id = t.assigned_to";

fn name(first: String, last: String) -> String {
    format!("{first} {last}").trim().to_owned()
}

fn thread_from(r: &sqlx::any::AnyRow) -> Result<ThreadRow, StoreError> {
    let topic: String = r.try_get("topic")?;
    let status: String = r.try_get("status")?;
    let assigned_to: Option<i64> = r.try_get("assigned_to")?;
    let assignee = match assigned_to {
        Some(_) => Some(name(r.try_get("assignee_first")?, r.try_get("assignee_last")?)),
        None => None,
    };
    Ok(ThreadRow {
        id: ThreadId(r.try_get("id")?),
        practice: PracticeId(r.try_get("practice_id")?),
        tax_id: r.try_get("tax_id")?,
        practice_name: r.try_get("practice_name")?,
        author: UserId(r.try_get("author_id")?),
        author_name: name(r.try_get("author_first")?, r.try_get("author_last")?),
        topic: TopicCode::parse(&topic).map_err(|_| StoreError::Corrupt(format!("thread topic {topic:?}")))?,
        subject: r.try_get("subject")?,
        status: ThreadStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("thread status {status:?}")))?,
        assigned_to: assigned_to.map(UserId),
        assignee_name: assignee,
        member_id: r.try_get("member_id")?,
        claim_number: r.try_get("claim_number")?,
        authorization_number: r.try_get("authorization_number")?,
        created_at: r.try_get("created_at")?,
        last_activity_at: r.try_get("last_activity_at")?,
        last_public_at: r.try_get("last_public_at")?,
        waiting_since: r.try_get("waiting_since")?,
    })
}

/// Stores a new thread, status new and awaiting the plan since `now`.
pub async fn insert_thread(conn: &mut Conn, t: &NewThreadRow<'_>, now: i64) -> Result<ThreadId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO message_threads (plan_id, practice_id, author_id, topic, subject, status, member_id, \
         claim_number, authorization_number, created_at, last_activity_at, last_public_at, waiting_since) \
         VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $9, $9, $9, $9) RETURNING id",
    )
    .bind(t.plan.0)
    .bind(t.practice.0)
    .bind(t.author.0)
    .bind(t.topic.as_str())
    .bind(t.subject)
    .bind(t.member_id)
    .bind(t.claim_number)
    .bind(t.authorization_number)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ThreadId(id))
}

/// The thread `id` of the plan.
pub async fn thread(conn: &mut Conn, plan: PlanId, id: ThreadId) -> Result<Option<ThreadRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {THREAD_COLUMNS} FROM {THREAD_FROM} WHERE t.plan_id = $1 AND t.id = $2"))
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(thread_from).transpose()
}

/// Locks the thread's row for the rest of the transaction (PostgreSQL; SQLite's writer lock is
/// taken by the first write), so two decisions on one thread are made one after the other.
pub async fn lock(conn: &mut Conn, plan: PlanId, id: ThreadId) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE message_threads SET id = id WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessageRow<'a> {
    pub plan: PlanId,
    pub thread: ThreadId,
    pub author: UserId,
    /// Written by the plan's staff.
    pub from_plan: bool,
    /// A staff note the practice never sees.
    pub internal: bool,
    pub body: &'a str,
}

/// Stores a message and moves the thread's activity times (a note moves only the staff's).
pub async fn insert_message(conn: &mut Conn, m: &NewMessageRow<'_>, now: i64) -> Result<MessageId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (plan_id, thread_id, author_id, from_plan, internal, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(m.plan.0)
    .bind(m.thread.0)
    .bind(m.author.0)
    .bind(i64::from(m.from_plan))
    .bind(i64::from(m.internal))
    .bind(m.body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let sql = if m.internal {
        "UPDATE message_threads SET last_activity_at = $2 WHERE id = $1"
    } else {
        "UPDATE message_threads SET last_activity_at = $2, last_public_at = $2 WHERE id = $1"
    };
    sqlx::query(sql).bind(m.thread.0).bind(now).execute(&mut *conn).await?;
    Ok(MessageId(id))
}

/// Stores an attachment of a message.
pub async fn insert_attachment(
    conn: &mut Conn,
    plan: PlanId,
    message: MessageId,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<AttachmentId, StoreError> {
    let size = i64::try_from(bytes.len()).map_err(|_| StoreError::Corrupt("attachment size".into()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO message_attachments (plan_id, message_id, file_name, content_type, size, bytes) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(plan.0)
    .bind(message.0)
    .bind(file_name)
    .bind(content_type)
    .bind(size)
    .bind(bytes)
    .fetch_one(&mut *conn)
    .await?;
    Ok(AttachmentId(id))
}

/// Sets where the thread stands: its status and since when the plan owes an answer.
pub async fn set_status(
    conn: &mut Conn,
    id: ThreadId,
    status: ThreadStatus,
    waiting_since: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_threads SET status = $2, waiting_since = $3 WHERE id = $1")
        .bind(id.0)
        .bind(status.as_str())
        .bind(waiting_since)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Assigns the thread to an agent, or to nobody.
pub async fn assign(conn: &mut Conn, id: ThreadId, to: Option<UserId>) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_threads SET assigned_to = $2 WHERE id = $1")
        .bind(id.0)
        .bind(to.map(|u| u.0))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An attachment as listed under its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub id: AttachmentId,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

/// A message with its author's name and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: MessageId,
    pub author: UserId,
    pub author_name: String,
    pub from_plan: bool,
    pub internal: bool,
    pub body: String,
    pub created_at: i64,
    pub attachments: Vec<AttachmentInfo>,
}

/// The messages of a thread, oldest first; staff notes only when `with_notes`.
pub async fn messages(conn: &mut Conn, thread: ThreadId, with_notes: bool) -> Result<Vec<MessageRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.id, m.author_id, u.first_name, u.last_name, m.from_plan, m.internal, m.body, m.created_at \
         FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.thread_id = $1 AND ($2 = 1 OR m.internal = 0) ORDER BY m.id",
    )
    .bind(thread.0)
    .bind(i64::from(with_notes))
    .fetch_all(&mut *conn)
    .await?;
    let files = sqlx::query(
        "SELECT f.id, f.message_id, f.file_name, f.content_type, f.size FROM message_attachments f \
         JOIN messages m ON m.id = f.message_id WHERE m.thread_id = $1 ORDER BY f.id",
    )
    .bind(thread.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let mut attachments = Vec::new();
        for f in files.iter() {
            if f.try_get::<i64, _>("message_id")? == id {
                attachments.push(AttachmentInfo {
                    id: AttachmentId(f.try_get("id")?),
                    file_name: f.try_get("file_name")?,
                    content_type: f.try_get("content_type")?,
                    size: f.try_get("size")?,
                });
            }
        }
        out.push(MessageRow {
            id: MessageId(id),
            author: UserId(r.try_get("author_id")?),
            author_name: name(r.try_get("first_name")?, r.try_get("last_name")?),
            from_plan: r.try_get::<i64, _>("from_plan")? != 0,
            internal: r.try_get::<i64, _>("internal")? != 0,
            body: r.try_get("body")?,
            created_at: r.try_get("created_at")?,
            attachments,
        });
    }
    Ok(out)
}

/// An attachment's bytes, with the thread it belongs to (for the reader's permission) and
/// whether it hangs on a staff note.
#[derive(Debug, Clone)]
pub struct AttachmentFile {
    pub thread: ThreadId,
    pub internal: bool,
    pub file_name: String,
    pub content_type: String,
}

/// The attachment `id` of the plan, without its content: whose it is is checked first
/// ([`attachment_bytes`]).
pub async fn attachment(conn: &mut Conn, plan: PlanId, id: AttachmentId) -> Result<Option<AttachmentFile>, StoreError> {
    let row = sqlx::query(
        "SELECT m.thread_id, m.internal, f.file_name, f.content_type FROM message_attachments f \
         JOIN messages m ON m.id = f.message_id WHERE f.plan_id = $1 AND f.id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(AttachmentFile {
            thread: ThreadId(r.try_get("thread_id")?),
            internal: r.try_get::<i64, _>("internal")? != 0,
            file_name: r.try_get("file_name")?,
            content_type: r.try_get("content_type")?,
        })
    })
    .transpose()
}

/// The content of the attachment `id` of the plan.
pub async fn attachment_bytes(conn: &mut Conn, plan: PlanId, id: AttachmentId) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT bytes FROM message_attachments WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| r.try_get("bytes")).transpose().map_err(Into::into)
}

/// Records that `user` has read the thread up to `now`; the notice they had for it is spent, so
/// the next message may send another.
pub async fn mark_read(conn: &mut Conn, thread: ThreadId, user: UserId, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO message_reads (thread_id, user_id, read_at, archived) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (thread_id, user_id) DO UPDATE SET read_at = $3, notified_at = NULL",
    )
    .bind(thread.0)
    .bind(user.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Archives the thread for `user` (or brings it back): it leaves their inbox, nothing is deleted.
pub async fn set_archived(conn: &mut Conn, thread: ThreadId, user: UserId, archived: bool) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO message_reads (thread_id, user_id, archived) VALUES ($1, $2, $3) \
         ON CONFLICT (thread_id, user_id) DO UPDATE SET archived = $3",
    )
    .bind(thread.0)
    .bind(user.0)
    .bind(i64::from(archived))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims the one notice `user` gets for the thread until they read it: true (and recorded at
/// `now`) when they have had none since they last read it. [`mark_read`] clears the claim, so
/// this does not depend on the times (a read and two replies may fall in one second).
pub async fn claim_notice(conn: &mut Conn, thread: ThreadId, user: UserId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO message_reads (thread_id, user_id, notified_at, archived) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (thread_id, user_id) DO UPDATE SET notified_at = $3 \
         WHERE message_reads.notified_at IS NULL",
    )
    .bind(thread.0)
    .bind(user.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records that the plan's team address is told of `thread` now, unless it was told and nobody
/// of the team has read the thread since; true when the notice is to be sent.
pub async fn claim_team_notice(conn: &mut Conn, thread: ThreadId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE message_threads SET team_notified_at = $2 WHERE id = $1 AND team_notified_at IS NULL")
        .bind(thread.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Someone of the team read `thread`: the team address may be told of it again.
pub async fn clear_team_notice(conn: &mut Conn, thread: ThreadId) -> Result<(), StoreError> {
    sqlx::query("UPDATE message_threads SET team_notified_at = NULL WHERE id = $1")
        .bind(thread.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which of a reader's threads an inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Every thread not archived.
    All,
    /// Not archived, with a message the reader has not read.
    Unread,
    /// Not archived, nothing unread.
    Read,
    /// Threads the reader started.
    Sent,
    /// Threads the reader archived.
    Archived,
}

impl Folder {
    /// Every folder, in the order an inbox lists them.
    pub const ALL: [Folder; 5] = [Folder::All, Folder::Unread, Folder::Read, Folder::Sent, Folder::Archived];

    /// The folder's key in links (`unread`).
    pub fn key(self) -> &'static str {
        match self {
            Folder::All => "all",
            Folder::Unread => "unread",
            Folder::Read => "read",
            Folder::Sent => "sent",
            Folder::Archived => "archived",
        }
    }

    /// The folder's name as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Folder::All => "All messages",
            Folder::Unread => "Unread",
            Folder::Read => "Read",
            Folder::Sent => "Sent by you",
            Folder::Archived => "Archived",
        }
    }

    /// The folder with key `raw`.
    pub fn parse(raw: &str) -> Option<Folder> {
        Folder::ALL.into_iter().find(|f| f.key() == raw)
    }
}

/// One line of an inbox or the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLine {
    pub thread: ThreadRow,
    /// For an inbox: a message came after the reader last read the thread.
    pub unread: bool,
}

/// A page of threads and whether another follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    pub lines: Vec<ThreadLine>,
    pub has_next: bool,
}

/// Not archived by the reader (`r`, their row in `message_reads`, if any). Written on the
/// columns, not through `COALESCE`, so PostgreSQL estimates from its statistics how many rows
/// pass, and walks the index newest first instead of sorting the practice's every thread.
const KEPT: &str = "(r.archived IS NULL OR r.archived = 0)";
/// A public message came after the reader last read the thread.
const UNREAD: &str = "(r.read_at IS NULL OR r.read_at < t.last_public_at)";

/// The conditions that pick a reader's threads, one per index: those they started (`$2`, on
/// `message_threads_author`) and those of each practice they administer (on
/// `message_threads_practice`). Each is read on its own index, newest first, and the results
/// merged: one condition joined with `OR` would read every thread of the plan. The practice's id
/// is written into the statement (a number): PostgreSQL then plans for that practice, where a
/// generic plan guesses an average practice of a hundred threads and sorts a hospital system's
/// forty thousand.
/// The practices a practice user reads threads of: those they work for (their own threads) and
/// those they administer (every thread).
#[derive(Debug, Clone, Copy)]
pub struct ReaderPractices<'a> {
    pub member_of: &'a [PracticeId],
    pub admin_of: &'a [PracticeId],
}

fn reader_branches(member_of: &[PracticeId], admin_of: &[PracticeId]) -> Vec<String> {
    // Their own threads only of practices they still work for: someone removed from a practice
    // no longer reads its conversations.
    let own = (!member_of.is_empty()).then(|| {
        let ids: Vec<String> = member_of.iter().map(|p| p.0.to_string()).collect();
        format!("t.author_id = $2 AND t.practice_id IN ({})", ids.join(", "))
    });
    own.into_iter().chain(admin_of.iter().map(|p| format!("t.practice_id = {}", p.0))).collect()
}

/// The threads a practice user reads: those they started and those sent for the practices they
/// administer (`admin_of`), newest activity first. `subject` narrows by words of the subject.
///
/// Each source of threads gives at most the rows up to the end of the page, in order on its own
/// index; the page is cut from their union, so a page costs the same however many threads the
/// reader's practices hold.
pub async fn inbox(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    practices: ReaderPractices<'_>,
    folder: Folder,
    subject: &str,
    page: i64,
) -> Result<ThreadPage, StoreError> {
    let folder_sql = match folder {
        Folder::All => KEPT.to_owned(),
        Folder::Unread => format!("{KEPT} AND {UNREAD}"),
        Folder::Read => format!("{KEPT} AND r.read_at IS NOT NULL AND r.read_at >= t.last_public_at"),
        Folder::Sent => "t.author_id = $2".to_owned(),
        Folder::Archived => "r.archived = 1".to_owned(),
    };
    // Sent holds only the reader's own threads: the practices' add nothing.
    let sources: &[PracticeId] = if folder == Folder::Sent { &[] } else { practices.admin_of };
    let needle = subject.trim().to_lowercase();
    // The subject's condition only when searched: a switched-off condition still weighs in a plan.
    let by_subject = if needle.is_empty() { "" } else { " AND lower(t.subject) LIKE $3 ESCAPE '\\'" };
    let offset = (page.max(1) - 1).saturating_mul(PAGE);
    // Every source gives the rows up to the end of this page; the outer query cuts the page. The
    // numbers are written in, so PostgreSQL plans for them (see [`reader_branches`]).
    let upto = offset.saturating_add(PAGE + 1);
    let branches = reader_branches(practices.member_of, sources);
    if branches.is_empty() {
        return Ok(ThreadPage { lines: Vec::new(), has_next: false });
    }
    let branches = branches
        .iter()
        .enumerate()
        .map(|(i, cond)| {
            format!(
                "SELECT id FROM (SELECT t.id FROM message_threads t \
                 LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
                 WHERE t.plan_id = $1 AND {cond} AND {folder_sql}{by_subject} \
                 ORDER BY t.last_public_at DESC, t.id DESC LIMIT {upto}) AS b{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ");
    let sql = format!(
        "SELECT {THREAD_COLUMNS}, r.read_at FROM {THREAD_FROM} \
         LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
         WHERE t.id IN ({branches}) ORDER BY t.last_public_at DESC, t.id DESC LIMIT {} OFFSET {offset}",
        PAGE + 1
    );
    let mut q = sqlx::query(&sql).bind(plan.0).bind(user.0);
    if !needle.is_empty() {
        q = q.bind(crate::search::like_pattern(&needle));
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let has_next = rows.len() as i64 > PAGE;
    let mut lines = Vec::new();
    for r in rows.iter().take(PAGE as usize) {
        let thread = thread_from(r)?;
        let read_at: Option<i64> = r.try_get("read_at")?;
        lines.push(ThreadLine { unread: thread.last_public_at > read_at.unwrap_or(-1), thread });
    }
    Ok(ThreadPage { lines, has_next })
}

/// How many of a practice user's threads (see [`inbox`]) have a message they have not read,
/// counted up to `cap`: each source of threads is walked newest first (where unread threads
/// gather) and stops at `cap` unread ones, so the count does not read every thread of a large
/// practice whose administrator has many unread.
pub async fn unread_count(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    practices: ReaderPractices<'_>,
    cap: i64,
) -> Result<i64, StoreError> {
    let cap = cap.max(0);
    let branches = reader_branches(practices.member_of, practices.admin_of);
    if branches.is_empty() {
        return Ok(0);
    }
    let branches = branches
        .iter()
        .enumerate()
        .map(|(i, cond)| {
            format!(
                "SELECT id FROM (SELECT t.id FROM message_threads t \
                 LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
                 WHERE t.plan_id = $1 AND {cond} AND {KEPT} AND {UNREAD} \
                 ORDER BY t.last_public_at DESC, t.id DESC LIMIT {cap}) AS b{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ");
    // A thread of both sources (their own, of their practice) is one thread: UNION keeps it once.
    let sql = format!("SELECT COUNT(*) FROM ({branches}) AS u");
    let n = sqlx::query_scalar::<_, i64>(&sql).bind(plan.0).bind(user.0).fetch_one(&mut *conn).await?;
    Ok(n.min(cap))
}

/// What the plan's mailbox shows: every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxFilter {
    /// Of this topic (a code of the plan's list, retired or not).
    pub topic: Option<TopicCode>,
    pub status: Option<ThreadStatus>,
    /// Assigned to this agent.
    pub assigned_to: Option<UserId>,
    /// Assigned to nobody.
    pub unassigned: bool,
    /// Sent for this Tax ID.
    pub tax_id: Option<gatehouse_domain::TaxId>,
    /// Started at or before this time (older than an age).
    pub started_before: Option<i64>,
    pub page: i64,
}

/// The plan's mailbox: threads by last activity, newest first.
///
/// Only the filters given are written into the query, so each can be served by its own index
/// (migration 0025: status, agent, practice; the Tax ID is read as its practice first, and the
/// age is checked inside `message_threads_mailbox`), walked newest first until the page is full.
pub async fn mailbox<'a>(conn: &mut Conn, plan: PlanId, f: &'a MailboxFilter) -> Result<ThreadPage, StoreError> {
    let practice = match &f.tax_id {
        Some(tax_id) => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM practices WHERE plan_id = $1 AND tax_id = $2")
                .bind(plan.0)
                .bind(tax_id.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            match id {
                Some(id) => Some(id),
                None => return Ok(ThreadPage { lines: Vec::new(), has_next: false }),
            }
        }
        None => None,
    };
    /// A value bound to a condition.
    enum Value<'a> {
        Text(&'a str),
        Number(i64),
    }
    let mut conds = vec!["t.plan_id = $1".to_owned()];
    let mut values: Vec<Value<'_>> = Vec::new();
    // $1 is the plan; the filters' values follow. The page's bounds are written in (numbers), so
    // PostgreSQL plans for them.
    let mut add = |sql: &str, v: Option<Value<'a>>| match v {
        Some(v) => {
            values.push(v);
            conds.push(sql.replace('?', &format!("${}", 1 + values.len())));
        }
        None => conds.push(sql.to_owned()),
    };
    if let Some(t) = &f.topic {
        add("t.topic = ?", Some(Value::Text(t.as_str())));
    }
    if let Some(s) = f.status {
        add("t.status = ?", Some(Value::Text(s.as_str())));
    }
    if let Some(a) = f.assigned_to {
        add("t.assigned_to = ?", Some(Value::Number(a.0)));
    }
    if f.unassigned {
        add("t.assigned_to IS NULL", None);
    }
    if let Some(p) = practice {
        add("t.practice_id = ?", Some(Value::Number(p)));
    }
    if let Some(before) = f.started_before {
        add("t.created_at <= ?", Some(Value::Number(before)));
    }
    let sql = format!(
        "SELECT {THREAD_COLUMNS} FROM {THREAD_FROM} WHERE {} \
         ORDER BY t.last_activity_at DESC, t.id DESC LIMIT {} OFFSET {}",
        conds.join(" AND "),
        PAGE + 1,
        (f.page.max(1) - 1).saturating_mul(PAGE)
    );
    let mut q = sqlx::query(&sql).bind(plan.0);
    for v in values {
        q = match v {
            Value::Text(t) => q.bind(t),
            Value::Number(n) => q.bind(n),
        };
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let has_next = rows.len() as i64 > PAGE;
    let lines = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| Ok(ThreadLine { thread: thread_from(r)?, unread: false }))
        .collect::<Result<_, StoreError>>()?;
    Ok(ThreadPage { lines, has_next })
}

/// A plan's message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettings {
    /// The stated response time, in business days.
    pub response_days: u32,
    pub max_files: usize,
    pub max_file_mb: usize,
    /// Where notices of new threads go (the team's address); empty: to each agent.
    pub mailbox_email: String,
}

/// The plan's message settings.
pub async fn settings(conn: &mut Conn, plan: PlanId) -> Result<MessageSettings, StoreError> {
    let r = sqlx::query(
        "SELECT message_response_days, message_max_files, message_max_file_mb, mailbox_email FROM plans WHERE id = $1",
    )
    .bind(plan.0)
    .fetch_one(&mut *conn)
    .await?;
    let number = |col: &str| -> Result<i64, StoreError> { Ok(r.try_get::<i64, _>(col)?) };
    let corrupt = |col: &str| StoreError::Corrupt(format!("plan {col}"));
    Ok(MessageSettings {
        response_days: u32::try_from(number("message_response_days")?).map_err(|_| corrupt("message_response_days"))?,
        max_files: usize::try_from(number("message_max_files")?).map_err(|_| corrupt("message_max_files"))?,
        max_file_mb: usize::try_from(number("message_max_file_mb")?).map_err(|_| corrupt("message_max_file_mb"))?,
        mailbox_email: r.try_get("mailbox_email")?,
    })
}
