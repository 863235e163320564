//! Access reviews (issue 17): one open review per practice, each user's decision, the reminders
//! recorded, the frozen copy of a signed review; and the users a review covers, paged.

use crate::{Conn, StoreError};
use gatehouse_domain::access_review::{Decision, Reminder};
use gatehouse_domain::{AccessReviewId, PlanId, PracticeId, UserId, UserStatus};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One review, with its practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: AccessReviewId,
    pub practice_id: PracticeId,
    pub practice_name: String,
    pub tax_id: String,
    pub due_at: i64,
    pub started_by: String,
    /// Decisions recorded.
    pub decided: i64,
    pub signed_at: Option<i64>,
    pub signed_by: Option<UserId>,
    pub signer_name: Option<String>,
    pub on_behalf: bool,
    pub sole_admin: bool,
    pub digest: Option<String>,
    /// The signed review's frozen JSON.
    pub frozen: Option<String>,
}

const REVIEW_COLUMNS: &str = "r.id, r.practice_id, p.name AS practice_name, p.tax_id, r.due_at, r.started_by, \
     r.decided, r.signed_at, r.signed_by, r.signer_name, r.on_behalf, r.sole_admin, r.digest, r.frozen";

/// The columns of a review without its frozen JSON (`frozen` reads as None): lists and the last
/// signed review need the signature, not the record, which for a large practice is megabytes.
const LIST_COLUMNS: &str = "r.id, r.practice_id, p.name AS practice_name, p.tax_id, r.due_at, r.started_by, \
     r.decided, r.signed_at, r.signed_by, r.signer_name, r.on_behalf, r.sole_admin, r.digest, \
     CAST(NULL AS TEXT) AS frozen";

fn review(r: &AnyRow) -> Result<ReviewRow, StoreError> {
    Ok(ReviewRow {
        id: AccessReviewId(r.try_get("id")?),
        practice_id: PracticeId(r.try_get("practice_id")?),
        practice_name: r.try_get("practice_name")?,
        tax_id: r.try_get("tax_id")?,
        due_at: r.try_get("due_at")?,
        started_by: r.try_get("started_by")?,
        decided: r.try_get("decided")?,
        signed_at: r.try_get("signed_at")?,
        signed_by: r.try_get::<Option<i64>, _>("signed_by")?.map(UserId),
        signer_name: r.try_get("signer_name")?,
        on_behalf: r.try_get::<i64, _>("on_behalf")? != 0,
        sole_admin: r.try_get::<i64, _>("sole_admin")? != 0,
        digest: r.try_get("digest")?,
        frozen: r.try_get("frozen")?,
    })
}

/// The review `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: AccessReviewId) -> Result<Option<ReviewRow>, StoreError> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.id = $2"
    );
    let row = sqlx::query(&sql).bind(plan.0).bind(id.0).fetch_optional(&mut *conn).await?;
    row.as_ref().map(review).transpose()
}

/// The open (unsigned) reviews of these practices.
pub async fn open_of(conn: &mut Conn, plan: PlanId, practices: &[i64]) -> Result<Vec<ReviewRow>, StoreError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.practice_id = $2 AND r.signed_at IS NULL"
    );
    for p in practices {
        if let Some(r) = sqlx::query(&sql).bind(plan.0).bind(p).fetch_optional(&mut *conn).await? {
            out.push(review(&r)?);
        }
    }
    Ok(out)
}

/// The last signed review of a practice (without its frozen record).
pub async fn last_signed(conn: &mut Conn, plan: PlanId, practice: PracticeId) -> Result<Option<ReviewRow>, StoreError> {
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.practice_id = $2 AND r.signed_at IS NOT NULL ORDER BY r.signed_at DESC, r.id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql).bind(plan.0).bind(practice.0).fetch_optional(&mut *conn).await?;
    row.as_ref().map(review).transpose()
}

/// Opens the review of every practice of the plan that has an active administrator and no open
/// review: due `days` after its last signed review, else after its earliest current
/// administrator affiliation. Returns how many were opened.
pub async fn schedule_missing(conn: &mut Conn, plan: PlanId, days: i64, now: i64) -> Result<u64, StoreError> {
    let span = days.saturating_mul(gatehouse_domain::access_review::DAY);
    let done = sqlx::query(
        "INSERT INTO access_reviews (plan_id, practice_id, due_at, started_by, decided, on_behalf, sole_admin, created_at) \
         SELECT $1, a.practice_id, \
                COALESCE((SELECT MAX(s.signed_at) FROM access_reviews s WHERE s.practice_id = a.practice_id), MIN(a.created_at)) + $2, \
                'schedule', 0, 0, 0, $3 \
         FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.plan_id = $1 AND a.is_admin = 1 AND u.status = 'active' \
           AND NOT EXISTS (SELECT 1 FROM access_reviews o WHERE o.practice_id = a.practice_id AND o.signed_at IS NULL) \
         GROUP BY a.practice_id",
    )
    .bind(plan.0)
    .bind(span)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// The practices of the plan with active users and no open review, by id.
pub async fn practices_without_review(conn: &mut Conn, plan: PlanId) -> Result<Vec<PracticeId>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT a.practice_id FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.plan_id = $1 AND u.status = 'active' \
           AND NOT EXISTS (SELECT 1 FROM access_reviews o WHERE o.practice_id = a.practice_id AND o.signed_at IS NULL) \
         ORDER BY a.practice_id",
    )
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(PracticeId(r.try_get("practice_id")?))).collect()
}

/// Opens a review of the practice due at `due_at`, unless it has an open one. Returns whether
/// it was opened.
pub async fn open(
    conn: &mut Conn,
    plan: PlanId,
    practice: PracticeId,
    due_at: i64,
    started_by: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO access_reviews (plan_id, practice_id, due_at, started_by, decided, on_behalf, sole_admin, created_at) \
         VALUES ($1, $2, $3, $4, 0, 0, 0, $5) ON CONFLICT DO NOTHING",
    )
    .bind(plan.0)
    .bind(practice.0)
    .bind(due_at)
    .bind(started_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the review's row for the rest of the transaction.
pub async fn lock(conn: &mut Conn, id: AccessReviewId) -> Result<(), StoreError> {
    sqlx::query("UPDATE access_reviews SET decided = decided WHERE id = $1").bind(id.0).execute(&mut *conn).await?;
    Ok(())
}

/// A decision as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRow {
    pub user_id: UserId,
    pub decision: Decision,
    /// For a change: the new user type key (None: unchanged).
    pub user_type: Option<String>,
    /// For a change of providers: all, or the listed rows (None: unchanged).
    pub all_providers: Option<bool>,
    pub provider_rows: Vec<i64>,
    pub reason: Option<String>,
    pub decided_by: UserId,
    pub decided_at: i64,
}

/// A decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision<'a> {
    pub user_id: UserId,
    pub decision: Decision,
    pub user_type: Option<&'a str>,
    pub all_providers: Option<bool>,
    pub provider_rows: &'a [i64],
    pub reason: Option<&'a str>,
    pub decided_by: UserId,
}

/// Records (or replaces) a user's decision and recounts the review's decisions.
pub async fn decide(conn: &mut Conn, review: AccessReviewId, d: &NewDecision<'_>, now: i64) -> Result<(), StoreError> {
    let rows = d.provider_rows.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    sqlx::query(
        "INSERT INTO access_review_decisions (review_id, user_id, decision, user_type, all_providers, provider_rows, reason, decided_by, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (review_id, user_id) DO UPDATE SET decision = excluded.decision, user_type = excluded.user_type, \
           all_providers = excluded.all_providers, provider_rows = excluded.provider_rows, reason = excluded.reason, \
           decided_by = excluded.decided_by, decided_at = excluded.decided_at",
    )
    .bind(review.0)
    .bind(d.user_id.0)
    .bind(d.decision.as_str())
    .bind(d.user_type)
    .bind(d.all_providers.map(i64::from))
    .bind((!rows.is_empty()).then_some(rows))
    .bind(d.reason)
    .bind(d.decided_by.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    recount(conn, review).await
}

/// Takes a user's decision back.
pub async fn undecide(conn: &mut Conn, review: AccessReviewId, user: UserId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM access_review_decisions WHERE review_id = $1 AND user_id = $2")
        .bind(review.0)
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    recount(conn, review).await?;
    Ok(done.rows_affected() == 1)
}

async fn recount(conn: &mut Conn, review: AccessReviewId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE access_reviews SET decided = (SELECT COUNT(*) FROM access_review_decisions d WHERE d.review_id = $1) WHERE id = $1",
    )
    .bind(review.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn decision(r: &AnyRow) -> Result<DecisionRow, StoreError> {
    let raw: String = r.try_get("decision")?;
    let rows: Option<String> = r.try_get("provider_rows")?;
    Ok(DecisionRow {
        user_id: UserId(r.try_get("user_id")?),
        decision: Decision::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("review decision {raw:?}")))?,
        user_type: r.try_get("user_type")?,
        all_providers: r.try_get::<Option<i64>, _>("all_providers")?.map(|v| v != 0),
        provider_rows: rows
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| StoreError::Corrupt("review provider rows".into())))
            .collect::<Result<_, _>>()?,
        reason: r.try_get("reason")?,
        decided_by: UserId(r.try_get("decided_by")?),
        decided_at: r.try_get("decided_at")?,
    })
}

/// Every decision of the review.
pub async fn decisions(conn: &mut Conn, review: AccessReviewId) -> Result<Vec<DecisionRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, decision, user_type, all_providers, provider_rows, reason, decided_by, decided_at \
         FROM access_review_decisions WHERE review_id = $1 ORDER BY user_id",
    )
    .bind(review.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decision).collect()
}

/// One user a review covers: an affiliation with the practice of a user who is not deactivated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRow {
    pub user_id: UserId,
    pub affiliation_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub username: Option<String>,
    pub status: UserStatus,
    pub last_signin_at: Option<i64>,
    /// Since when the account counts as unused (see the idle accounts step).
    pub idle_since: Option<i64>,
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// The user's plan staff role, if they hold one.
    pub staff_role: Option<String>,
}

const SUBJECT_COLUMNS: &str = "u.id AS user_id, a.id AS affiliation_id, u.first_name, u.last_name, u.username, \
     u.status, u.last_signin_at, u.idle_since, a.user_type, a.is_admin, a.all_providers, u.staff_role";

const SUBJECTS: &str = "FROM affiliations a JOIN users u ON u.id = a.user_id \
     WHERE a.practice_id = $1 AND u.status <> 'deactivated'";

/// The practice's users a review covers, in name order: an index range of the affiliations'
/// copies of their users' names and status (migration 0034), never a join of every one.
const IN_NAME_ORDER: &str = "FROM affiliations a WHERE a.practice_id = $1 AND a.user_status <> 'deactivated'";

/// A page of the users the practice's review covers, by last and first name, of `total` (their
/// count): the page's 25 affiliations from the name-ordered index, then their accounts. A page
/// in the back half is read from the end (descending, then turned round), so no page skips more
/// than half the practice.
pub async fn subjects(
    conn: &mut Conn,
    practice: PracticeId,
    limit: i64,
    offset: i64,
    total: i64,
) -> Result<Vec<SubjectRow>, StoreError> {
    let from_end = total - offset - limit;
    let backwards = offset > 0 && from_end < offset;
    let (order, skip, take) = if backwards {
        // The page's rows counted from the end; a short last page starts at the end.
        ("DESC", from_end.max(0), limit + from_end.min(0))
    } else {
        ("ASC", offset, limit)
    };
    let sql = format!(
        "SELECT {SUBJECT_COLUMNS} FROM (SELECT a.id {IN_NAME_ORDER} \
         ORDER BY a.user_last_name {order}, a.user_first_name {order}, a.user_id {order} LIMIT $2 OFFSET $3) p \
         JOIN affiliations a ON a.id = p.id JOIN users u ON u.id = a.user_id \
         ORDER BY a.user_last_name {order}, a.user_first_name {order}, a.user_id {order}"
    );
    let rows = sqlx::query(&sql).bind(practice.0).bind(take.max(0)).bind(skip).fetch_all(&mut *conn).await?;
    let mut out: Vec<SubjectRow> = rows.iter().map(subject_row).collect::<Result<_, _>>()?;
    if backwards {
        out.reverse();
    }
    Ok(out)
}

fn subject_row(r: &AnyRow) -> Result<SubjectRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(SubjectRow {
        user_id: UserId(r.try_get("user_id")?),
        affiliation_id: r.try_get("affiliation_id")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        username: r.try_get("username")?,
        status: UserStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("user status {status:?}")))?,
        last_signin_at: r.try_get("last_signin_at")?,
        idle_since: r.try_get("idle_since")?,
        user_type: r.try_get("user_type")?,
        is_admin: r.try_get::<i64, _>("is_admin")? != 0,
        all_providers: r.try_get::<i64, _>("all_providers")? != 0,
        staff_role: r.try_get("staff_role")?,
    })
}

/// The review's subject `user`, if they are one.
pub async fn subject(conn: &mut Conn, practice: PracticeId, user: UserId) -> Result<Option<SubjectRow>, StoreError> {
    let sql = format!("SELECT {SUBJECT_COLUMNS} {SUBJECTS} AND u.id = $2");
    let row = sqlx::query(&sql).bind(practice.0).bind(user.0).fetch_optional(&mut *conn).await?;
    row.as_ref().map(subject_row).transpose()
}

/// Every user the review covers who has no decision yet (for "keep everyone else").
pub async fn undecided_ids(
    conn: &mut Conn,
    review: AccessReviewId,
    practice: PracticeId,
) -> Result<Vec<SubjectRow>, StoreError> {
    let sql = format!(
        "SELECT {SUBJECT_COLUMNS} {SUBJECTS} \
         AND NOT EXISTS (SELECT 1 FROM access_review_decisions d WHERE d.review_id = $2 AND d.user_id = u.id) ORDER BY u.id"
    );
    let rows = sqlx::query(&sql).bind(practice.0).bind(review.0).fetch_all(&mut *conn).await?;
    rows.iter().map(subject_row).collect()
}

/// How many users the practice's review covers.
pub async fn subject_count(conn: &mut Conn, practice: PracticeId) -> Result<i64, StoreError> {
    let sql = format!("SELECT COUNT(*) AS n {IN_NAME_ORDER}");
    Ok(sqlx::query(&sql).bind(practice.0).fetch_one(&mut *conn).await?.try_get("n")?)
}

/// Decisions of the review on these users.
pub async fn decisions_of(
    conn: &mut Conn,
    review: AccessReviewId,
    users: &[UserId],
) -> Result<Vec<DecisionRow>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let list = (0..users.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT user_id, decision, user_type, all_providers, provider_rows, reason, decided_by, decided_at \
         FROM access_review_decisions WHERE review_id = $1 AND user_id IN ({list}) ORDER BY user_id"
    );
    let mut q = sqlx::query(&sql).bind(review.0);
    for u in users {
        q = q.bind(u.0);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(decision).collect()
}

/// How many users the review covers, and how many of them have no decision yet, in one pass
/// over the practice's name-ordered affiliations.
pub async fn subject_counts(
    conn: &mut Conn,
    review: AccessReviewId,
    practice: PracticeId,
) -> Result<(i64, i64), StoreError> {
    let r = sqlx::query(&format!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN d.user_id IS NULL THEN 1 ELSE 0 END), 0) AS undecided \
         {IN_NAME_ORDER_DECIDED} \
         WHERE a.practice_id = $1 AND a.user_status <> 'deactivated'"
    ))
    .bind(practice.0)
    .bind(review.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok((r.try_get("n")?, r.try_get("undecided")?))
}

/// The practice's affiliations with the review's decision on each user, if any.
const IN_NAME_ORDER_DECIDED: &str =
    "FROM affiliations a LEFT JOIN access_review_decisions d ON d.review_id = $2 AND d.user_id = a.user_id";

/// The users the review covers who have no decision yet, first `limit` by name.
pub async fn undecided(
    conn: &mut Conn,
    review: AccessReviewId,
    practice: PracticeId,
    limit: i64,
) -> Result<(i64, Vec<String>), StoreError> {
    let (_, count) = subject_counts(conn, review, practice).await?;
    Ok((count, undecided_names(conn, review, practice, limit).await?))
}

/// The first `limit` users by name the review covers who have no decision yet, from the
/// affiliations' copies of their names.
pub async fn undecided_names(
    conn: &mut Conn,
    review: AccessReviewId,
    practice: PracticeId,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let missing =
        "AND NOT EXISTS (SELECT 1 FROM access_review_decisions d WHERE d.review_id = $2 AND d.user_id = a.user_id)";
    let rows = sqlx::query(&format!(
        "SELECT a.user_first_name, a.user_last_name {IN_NAME_ORDER} {missing} \
         ORDER BY a.user_last_name, a.user_first_name, a.user_id LIMIT $3"
    ))
    .bind(practice.0)
    .bind(review.0)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let names = rows
        .iter()
        .map(|r| {
            let first: String = r.try_get("user_first_name")?;
            let last: String = r.try_get("user_last_name")?;
            Ok(format!("{first} {last}"))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(names)
}

/// When the practice's earliest current administrator affiliation was made, if it has one
/// whose user is active.
pub async fn first_admin_at(conn: &mut Conn, practice: PracticeId) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "SELECT MIN(a.created_at) AS at FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.practice_id = $1 AND a.is_admin = 1 AND u.status = 'active'",
    )
    .bind(practice.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("at")?)
}

/// Active administrators of the practice who have signed up.
pub async fn active_admins(conn: &mut Conn, practice: PracticeId) -> Result<Vec<UserId>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.user_id FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE a.practice_id = $1 AND a.is_admin = 1 AND u.status = 'active' ORDER BY a.user_id",
    )
    .bind(practice.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(UserId(r.try_get("user_id")?))).collect()
}

/// What signing stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature<'a> {
    pub signed_by: UserId,
    pub signer_name: &'a str,
    pub on_behalf: bool,
    pub sole_admin: bool,
    pub digest: &'a str,
    pub frozen: &'a str,
}

/// Signs and freezes an open review. Returns false when it was already signed.
pub async fn sign(conn: &mut Conn, review: AccessReviewId, s: &Signature<'_>, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE access_reviews SET signed_at = $2, signed_by = $3, signer_name = $4, on_behalf = $5, sole_admin = $6, \
           digest = $7, frozen = $8 WHERE id = $1 AND signed_at IS NULL",
    )
    .bind(review.0)
    .bind(now)
    .bind(s.signed_by.0)
    .bind(s.signer_name)
    .bind(i64::from(s.on_behalf))
    .bind(i64::from(s.sole_admin))
    .bind(s.digest)
    .bind(s.frozen)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unsigned reviews of the plan that owe a reminder at `now`, by due date: `cutoffs` are, for
/// each reminder, the latest due date for which its day has come (`now` minus its offset);
/// a review owes one while fewer reminders are recorded than have come (the job records every
/// reminder whose day has come, so the recorded ones are always among them). Only those are
/// read: the plan's other reviews due within the window cost nothing.
pub async fn open_owing_reminders(
    conn: &mut Conn,
    plan: PlanId,
    cutoffs: &[i64],
) -> Result<Vec<ReviewRow>, StoreError> {
    let Some(until) = cutoffs.iter().max() else { return Ok(Vec::new()) };
    let come = (0..cutoffs.len())
        .map(|i| format!("CASE WHEN r.due_at <= ${} THEN 1 ELSE 0 END", i + 3))
        .collect::<Vec<_>>()
        .join(" + ");
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.signed_at IS NULL AND r.due_at <= $2 \
           AND (SELECT COUNT(*) FROM access_review_reminders m WHERE m.review_id = r.id) < ({come}) \
         ORDER BY r.due_at, r.id"
    );
    let mut q = sqlx::query(&sql).bind(plan.0).bind(*until);
    for c in cutoffs {
        q = q.bind(*c);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(review).collect()
}

/// The reminders recorded for a review.
pub async fn reminders(conn: &mut Conn, review: AccessReviewId) -> Result<Vec<Reminder>, StoreError> {
    let rows = sqlx::query("SELECT reminder FROM access_review_reminders WHERE review_id = $1")
        .bind(review.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let raw: String = r.try_get("reminder")?;
            Reminder::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("review reminder {raw:?}")))
        })
        .collect()
}

/// Records a reminder once. Returns whether this call recorded it (false: already recorded, by
/// this run or another instance's).
pub async fn record_reminder(
    conn: &mut Conn,
    review: AccessReviewId,
    reminder: Reminder,
    emailed: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO access_review_reminders (review_id, reminder, at, emailed) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(review.0)
    .bind(reminder.as_str())
    .bind(now)
    .bind(i64::from(emailed))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One practice on plan staff's Reviews page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewRow {
    pub open: Option<ReviewRow>,
    pub last: Option<ReviewRow>,
    pub practice_id: PracticeId,
    pub practice_name: String,
    pub tax_id: String,
}

/// Filters of the Reviews page.
#[derive(Debug, Clone, Default)]
pub struct OverviewQuery<'a> {
    /// Only reviews due before this time and unsigned (overdue), when set.
    pub due_before: Option<i64>,
    /// Only unsigned reviews due at or after this time, when set.
    pub due_from: Option<i64>,
    /// Only reviews with (true) or without (false) decisions, when set.
    pub started: Option<bool>,
    /// A Tax ID (digits) to find.
    pub tax_id: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// Open reviews of the plan by due date (with each practice's last signed review), filtered.
pub async fn overview(conn: &mut Conn, plan: PlanId, q: &OverviewQuery<'_>) -> Result<Vec<OverviewRow>, StoreError> {
    // Every filter is in the statement, off when its value is 0 or empty (PostgreSQL must see
    // each parameter to type it).
    // A Tax ID names one practice: its open review is found by the practice, not by walking
    // the plan's reviews in due order.
    let practice = if q.tax_id.is_some_and(|t| !t.is_empty()) {
        "AND r.practice_id IN (SELECT t.id FROM practices t WHERE t.plan_id = $1 AND t.tax_id = $4)"
    } else {
        "AND $4 = ''"
    };
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.signed_at IS NULL AND ($2 = 0 OR r.due_at < $2) AND ($3 = 0 OR r.due_at >= $3) \
           {practice} AND ($7 < 0 OR ($7 = 1 AND r.decided > 0) OR ($7 = 0 AND r.decided = 0)) \
         ORDER BY r.due_at, r.id LIMIT $5 OFFSET $6"
    );
    let rows = sqlx::query(&sql)
        .bind(plan.0)
        .bind(q.due_before.unwrap_or(0))
        .bind(q.due_from.unwrap_or(0))
        .bind(q.tax_id.unwrap_or_default())
        .bind(q.limit)
        .bind(q.offset)
        .bind(q.started.map_or(-1, i64::from))
        .fetch_all(&mut *conn)
        .await?;
    let open: Vec<ReviewRow> = rows.iter().map(review).collect::<Result<_, _>>()?;
    let practices: Vec<PracticeId> = open.iter().map(|r| r.practice_id).collect();
    let mut lasts = last_signed_of(conn, plan, &practices).await?;
    let mut out = Vec::with_capacity(open.len());
    for open in open {
        let last = lasts.iter().position(|l| l.practice_id == open.practice_id).map(|i| lasts.swap_remove(i));
        out.push(OverviewRow {
            practice_id: open.practice_id,
            practice_name: open.practice_name.clone(),
            tax_id: open.tax_id.clone(),
            open: Some(open),
            last,
        });
    }
    Ok(out)
}

/// The last signed review (without its frozen record) of each of these practices that has one,
/// in one statement.
pub async fn last_signed_of(
    conn: &mut Conn,
    plan: PlanId,
    practices: &[PracticeId],
) -> Result<Vec<ReviewRow>, StoreError> {
    if practices.is_empty() {
        return Ok(Vec::new());
    }
    let list = (0..practices.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.practice_id IN ({list}) AND r.signed_at IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM access_reviews n WHERE n.practice_id = r.practice_id \
             AND n.signed_at IS NOT NULL AND (n.signed_at > r.signed_at OR (n.signed_at = r.signed_at AND n.id > r.id)))"
    );
    let mut q = sqlx::query(&sql).bind(plan.0);
    for p in practices {
        q = q.bind(p.0);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(review).collect()
}

/// The plan's totals: open reviews not started, in progress, overdue; and, of the reviews due
/// from `quarter_start` up to `now`, how many were signed on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub not_started: i64,
    pub in_progress: i64,
    pub overdue: i64,
    pub follow_up: i64,
    pub due_this_quarter: i64,
    pub on_time_this_quarter: i64,
}

/// Counts the plan's reviews for the Reviews page.
pub async fn totals(
    conn: &mut Conn,
    plan: PlanId,
    now: i64,
    follow_up_before: i64,
    quarter_start: i64,
) -> Result<Totals, StoreError> {
    let r = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN signed_at IS NULL AND due_at >= $2 AND decided = 0 THEN 1 ELSE 0 END), 0) AS not_started, \
           COALESCE(SUM(CASE WHEN signed_at IS NULL AND due_at >= $2 AND decided > 0 THEN 1 ELSE 0 END), 0) AS in_progress, \
           COALESCE(SUM(CASE WHEN signed_at IS NULL AND due_at < $2 THEN 1 ELSE 0 END), 0) AS overdue, \
           COALESCE(SUM(CASE WHEN signed_at IS NULL AND due_at < $3 THEN 1 ELSE 0 END), 0) AS follow_up, \
           COALESCE(SUM(CASE WHEN due_at >= $4 AND due_at <= $2 THEN 1 ELSE 0 END), 0) AS due_q, \
           COALESCE(SUM(CASE WHEN due_at >= $4 AND due_at <= $2 AND signed_at IS NOT NULL AND signed_at <= due_at THEN 1 ELSE 0 END), 0) AS on_time_q \
         FROM access_reviews WHERE plan_id = $1",
    )
    .bind(plan.0)
    .bind(now)
    .bind(follow_up_before)
    .bind(quarter_start)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Totals {
        not_started: r.try_get("not_started")?,
        in_progress: r.try_get("in_progress")?,
        overdue: r.try_get("overdue")?,
        follow_up: r.try_get("follow_up")?,
        due_this_quarter: r.try_get("due_q")?,
        on_time_this_quarter: r.try_get("on_time_q")?,
    })
}

/// Signed reviews of the plan (or one practice) signed in `[from, to)`, oldest first, for the
/// evidence export.
pub async fn signed_between(
    conn: &mut Conn,
    plan: PlanId,
    practice: Option<PracticeId>,
    from: i64,
    to: i64,
) -> Result<Vec<ReviewRow>, StoreError> {
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM access_reviews r JOIN practices p ON p.id = r.practice_id \
         WHERE r.plan_id = $1 AND r.signed_at IS NOT NULL AND r.signed_at >= $2 AND r.signed_at < $3 \
           AND ($4 = 0 OR r.practice_id = $4) ORDER BY r.signed_at, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(plan.0)
        .bind(from)
        .bind(to)
        .bind(practice.map_or(0, |p| p.0))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(review).collect()
}
