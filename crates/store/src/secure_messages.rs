//! Secure-message threads, their messages and attachments, and each reader's place in a thread
//! (read, archived, last notice). Who may read what is decided by the services: every query here
//! is bounded by the plan, and the listings by the reader's own threads and practices.

use crate::{Conn, StoreError};
use gatehouse_domain::secure_messages::{ThreadStatus, Topic};
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
    pub topic: Topic,
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
    pub topic: Topic,
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
        topic: Topic::parse(&topic).ok_or_else(|| StoreError::Corrupt(format!("thread topic {topic:?}")))?,
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
    pub bytes: Vec<u8>,
}

/// The attachment `id` of the plan.
pub async fn attachment(conn: &mut Conn, plan: PlanId, id: AttachmentId) -> Result<Option<AttachmentFile>, StoreError> {
    let row = sqlx::query(
        "SELECT m.thread_id, m.internal, f.file_name, f.content_type, f.bytes FROM message_attachments f \
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
            bytes: r.try_get("bytes")?,
        })
    })
    .transpose()
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

/// The threads a practice user reads: those they started and those sent for the practices they
/// administer (`admin_of`), newest activity first. `subject` narrows by words of the subject.
pub async fn inbox(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    admin_of: &[PracticeId],
    folder: Folder,
    subject: &str,
    page: i64,
) -> Result<ThreadPage, StoreError> {
    let practices = (0..admin_of.len()).map(|i| format!("${}", i + 6)).collect::<Vec<_>>().join(", ");
    let mine = if admin_of.is_empty() {
        "t.author_id = $2".to_owned()
    } else {
        format!("(t.author_id = $2 OR t.practice_id IN ({practices}))")
    };
    let unread = "t.last_public_at > COALESCE(r.read_at, -1)";
    let folder_sql = match folder {
        Folder::All => "COALESCE(r.archived, 0) = 0".to_owned(),
        Folder::Unread => format!("COALESCE(r.archived, 0) = 0 AND {unread}"),
        Folder::Read => format!("COALESCE(r.archived, 0) = 0 AND NOT ({unread})"),
        Folder::Sent => "t.author_id = $2".to_owned(),
        Folder::Archived => "COALESCE(r.archived, 0) = 1".to_owned(),
    };
    let sql = format!(
        "SELECT {THREAD_COLUMNS}, r.read_at FROM {THREAD_FROM} \
         LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
         WHERE t.plan_id = $1 AND {mine} AND {folder_sql} AND ($3 = '' OR lower(t.subject) LIKE $3 ESCAPE '\\') \
         ORDER BY t.last_public_at DESC, t.id DESC LIMIT $4 OFFSET $5"
    );
    let needle = subject.trim().to_lowercase();
    let pattern = if needle.is_empty() { String::new() } else { crate::search::like_pattern(&needle) };
    let mut q = sqlx::query(&sql)
        .bind(plan.0)
        .bind(user.0)
        .bind(pattern)
        .bind(PAGE + 1)
        .bind((page.max(1) - 1).saturating_mul(PAGE));
    for p in admin_of {
        q = q.bind(p.0);
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

/// How many of a practice user's threads (see [`inbox`]) have a message they have not read.
pub async fn unread_count(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    admin_of: &[PracticeId],
) -> Result<i64, StoreError> {
    let practices = (0..admin_of.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
    let mine = if admin_of.is_empty() {
        "t.author_id = $2".to_owned()
    } else {
        format!("(t.author_id = $2 OR t.practice_id IN ({practices}))")
    };
    let sql = format!(
        "SELECT COUNT(*) FROM message_threads t LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
         WHERE t.plan_id = $1 AND {mine} AND COALESCE(r.archived, 0) = 0 AND t.last_public_at > COALESCE(r.read_at, -1)"
    );
    let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(plan.0).bind(user.0);
    for p in admin_of {
        q = q.bind(p.0);
    }
    Ok(q.fetch_one(&mut *conn).await?)
}

/// What the plan's mailbox shows: every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxFilter {
    pub topic: Option<Topic>,
    pub status: Option<ThreadStatus>,
    /// Assigned to this agent.
    pub assigned_to: Option<UserId>,
    /// Assigned to nobody.
    pub unassigned: bool,
    /// Sent for this Tax ID.
    pub tax_id: Option<String>,
    /// Started at or before this time (older than an age).
    pub started_before: Option<i64>,
    pub page: i64,
}

/// The plan's mailbox: threads by last activity, newest first.
pub async fn mailbox(conn: &mut Conn, plan: PlanId, f: &MailboxFilter) -> Result<ThreadPage, StoreError> {
    let sql = format!(
        "SELECT {THREAD_COLUMNS} FROM {THREAD_FROM} \
         WHERE t.plan_id = $1 AND ($2 = '' OR t.topic = $2) AND ($3 = '' OR t.status = $3) \
         AND ($4 = 0 OR t.assigned_to = $4) AND ($5 = 0 OR t.assigned_to IS NULL) AND ($6 = '' OR p.tax_id = $6) \
         AND ($7 = 0 OR t.created_at <= $7) ORDER BY t.last_activity_at DESC, t.id DESC LIMIT $8 OFFSET $9"
    );
    let rows = sqlx::query(&sql)
        .bind(plan.0)
        .bind(f.topic.map(Topic::as_str).unwrap_or(""))
        .bind(f.status.map(ThreadStatus::as_str).unwrap_or(""))
        .bind(f.assigned_to.map_or(0, |u| u.0))
        .bind(i64::from(f.unassigned))
        .bind(f.tax_id.clone().unwrap_or_default())
        .bind(f.started_before.unwrap_or(0))
        .bind(PAGE + 1)
        .bind((f.page.max(1) - 1).saturating_mul(PAGE))
        .fetch_all(&mut *conn)
        .await?;
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
