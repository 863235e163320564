//! Provider profile update requests (seed 003's "Add Facility"): the providers a signed-in user
//! may act for, a request for more sent as a secure-message thread of topic "provider profile
//! update" with one line per provider ID or NPI, the staff's review of each line against the
//! roster, and one decision per line.
//!
//! Approving a line adds the provider to the requester's affiliation with its Tax ID, or gives
//! them a new affiliation with the user type the agent picks, keeping every rule of affiliations
//! (a user type of the plan, current providers of that practice, the practice locked and left
//! with an active administrator while it has active users). A line is decided once: the thread is
//! locked and the line's row changes only while it is pending, so two agents approving at once
//! grant it once. Access changes reach the permission index at commit. When the last line is
//! decided, the plan replies in the thread with what was granted and what was not, and the thread
//! is resolved. Every decision is audited, without the reason's text.

use crate::affiliations::{self, AffiliationError, ensure_admin_remains};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::secure_messages::{MessageError, ThreadRow, locked_thread};
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::message_topics::TopicCode;
use gatehouse_domain::profile_update::{LineDecision, LineState, ProfileUpdateForm};
use gatehouse_domain::secure_messages::{MessageErrors, NewThread, References, ThreadStatus};
use gatehouse_domain::{PracticeId, ThreadId, UserId, UserStatus};
use gatehouse_store::affiliations::{self as aff_store, NewAffiliation};
use gatehouse_store::profile_updates::{self as store, Decided};
pub use gatehouse_store::profile_updates::{LineRow, RosterMatch};
use gatehouse_store::roster::practices;
use gatehouse_store::secure_messages::{self as threads, NewMessageRow};
use gatehouse_store::user_types::{self, UserTypeRow};
use gatehouse_store::{Conn, users};
use serde_json::json;
use thiserror::Error;

/// Most providers "Providers you may act for" lists under one Tax ID.
pub const PROVIDERS_SHOWN: i64 = 200;

/// Why a profile update action was refused.
#[derive(Debug, Error)]
pub enum ProfileUpdateError {
    #[error("Sign in first.")]
    NotSignedIn,
    /// No such request (or practice) for this reader: the same answer either way.
    #[error("That request was not found.")]
    NotFound,
    #[error("Only plan staff who work the mailbox can decide a request.")]
    NotStaff,
    /// The request form's problems, by field.
    #[error("{0}")]
    Invalid(MessageErrors),
    /// A line's decision cannot be made as asked; nothing was decided.
    #[error("Line {line}: {message}")]
    Line { line: u32, message: String },
    /// The line was decided meanwhile (by another agent); nothing was decided.
    #[error("Line {line} was already decided. Reload the request to see the decision.")]
    AlreadyDecided { line: u32 },
    #[error("Choose approve or deny for at least one line.")]
    NoDecisions,
    /// The request is a message: the sender's messages in the last hour reached the limit.
    #[error("{}", MessageError::TooMany)]
    TooMany,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for ProfileUpdateError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<MessageError> for ProfileUpdateError {
    fn from(e: MessageError) -> Self {
        match e {
            MessageError::NotSignedIn => Self::NotSignedIn,
            MessageError::NotFound => Self::NotFound,
            MessageError::NotStaff => Self::NotStaff,
            MessageError::Invalid(e) => Self::Invalid(e),
            MessageError::Internal(e) => Self::Internal(e),
            MessageError::TooMany => Self::TooMany,
            other => Self::Internal(Internal::Other(format!("profile update thread: {other}"))),
        }
    }
}

fn line_error(line: u32, message: impl Into<String>) -> ProfileUpdateError {
    ProfileUpdateError::Line { line, message: message.into() }
}

/// A provider the user may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingProvider {
    pub provider_id: String,
    pub npi: String,
    pub name: String,
}

/// The providers the user may act for under one Tax ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingFor {
    pub practice: PracticeId,
    pub tax_id: String,
    pub practice_name: String,
    pub is_admin: bool,
    /// The affiliation covers all of the practice's providers, present and future.
    pub all_providers: bool,
    /// The providers, by provider ID (at most [`PROVIDERS_SHOWN`]).
    pub providers: Vec<ActingProvider>,
    /// How many providers there are in all.
    pub total: i64,
}

/// One roster match of a line, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineMatch {
    pub provider: RosterMatch,
    /// The requester may already act for this provider.
    pub already_has: bool,
    /// The requester already has an affiliation with this Tax ID (no user type needed).
    pub has_affiliation: bool,
    /// The Tax ID has an active administrator of its own (who might decide instead).
    pub tax_id_has_admin: bool,
}

/// One line of a request with its roster matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub line: LineRow,
    pub matches: Vec<LineMatch>,
}

impl ReviewLine {
    /// The one provider the line names, when it names exactly one (only such a line can be
    /// approved).
    pub fn single(&self) -> Option<&LineMatch> {
        match self.matches.as_slice() {
            [m] => Some(m),
            _ => None,
        }
    }

    /// Approving needs a user type: one provider, under a Tax ID the requester lacks.
    pub fn needs_user_type(&self) -> bool {
        self.single().is_some_and(|m| !m.has_affiliation)
    }

    /// Still waiting for a decision.
    pub fn pending(&self) -> bool {
        self.line.state == LineState::Pending
    }
}

/// A request as the deciding staff see it.
#[derive(Debug, Clone)]
pub struct ProfileUpdateReview {
    pub thread: ThreadRow,
    pub requester_name: String,
    /// The requester's account is active (only an active account can be granted anything).
    pub requester_active: bool,
    pub lines: Vec<ReviewLine>,
    /// The plan's user types, for a new affiliation.
    pub user_types: Vec<UserTypeRow>,
}

impl ProfileUpdateReview {
    /// Every line is decided.
    pub fn all_decided(&self) -> bool {
        self.lines.iter().all(|l| !l.pending())
    }
}

/// What a call to decide did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideOutcome {
    /// Lines decided by this call.
    pub decided: usize,
    /// The last line was decided: the reply was posted and the thread resolved.
    pub resolved: bool,
}

/// What approving one line did.
enum Granted {
    /// The requester already had the provider.
    AlreadyHad,
    /// Added to the requester's affiliation with the Tax ID.
    Added { affiliation: i64 },
    /// A new affiliation with the Tax ID.
    NewAffiliation { affiliation: i64 },
}

impl Services {
    /// Every provider the signed-in user may act for, by Tax ID (practice name order). Plan
    /// staff act for none.
    pub async fn my_providers(&self, plan: &Plan, s: &SessionInfo) -> Result<Vec<ActingFor>, ProfileUpdateError> {
        let user = affiliations::signed_in(plan, s).map_err(|_| ProfileUpdateError::NotSignedIn)?;
        let mut conn = self.db.acquire().await?;
        let rows = aff_store::of_user(&mut conn, user).await?;
        let mut out = Vec::with_capacity(rows.len());
        for a in rows {
            let (providers, total) = if a.all_providers {
                let (list, total) = practices::providers_of(&mut conn, a.practice_id, PROVIDERS_SHOWN).await?;
                let list = list
                    .into_iter()
                    .map(|p| ActingProvider { provider_id: p.provider_id, npi: p.npi, name: p.name })
                    .collect();
                (list, total)
            } else {
                let list: Vec<ActingProvider> = aff_store::providers_of(&mut conn, a.id)
                    .await?
                    .into_iter()
                    .map(|(_, provider_id, npi, name)| ActingProvider { provider_id, npi, name })
                    .collect();
                let total = i64::try_from(list.len()).unwrap_or(i64::MAX);
                (list.into_iter().take(PROVIDERS_SHOWN as usize).collect(), total)
            };
            out.push(ActingFor {
                practice: PracticeId(a.practice_id),
                tax_id: a.tax_id,
                practice_name: a.practice_name,
                is_admin: a.is_admin,
                all_providers: a.all_providers,
                providers,
                total,
            });
        }
        Ok(out)
    }

    /// Sends a profile update request for `practice` (one the user works for): a thread of
    /// topic "provider profile update" listing the lines, sent like any thread (notices to the
    /// mailbox, audited), and its lines kept for the staff's decisions.
    pub async fn send_profile_update(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        practice: PracticeId,
        form: &ProfileUpdateForm,
        meta: &RequestMeta,
    ) -> Result<ThreadId, ProfileUpdateError> {
        let r = self.message_reader(plan, s).await?;
        if !r.member_of.contains(&practice) {
            return Err(ProfileUpdateError::NotFound);
        }
        let request = form.parse().map_err(ProfileUpdateError::Invalid)?;
        let new = NewThread {
            topic: TopicCode::PROVIDER_PROFILE_UPDATE,
            subject: request.subject(),
            body: request.body(),
            references: References::default(),
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let thread = self.open_thread(&mut tx, plan, &r, practice, &new, &[], meta, now).await?;
        store::insert_lines(&mut tx, plan.id(), thread, &request.lines).await?;
        let event = Event::new("profile_update.requested").by(r.user).detail(json!({
            "thread": thread.0,
            "practice_id": practice.0,
            "lines": request.lines.iter().map(|l| json!({"kind": l.kind(), "value": l.as_str()})).collect::<Vec<_>>(),
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(thread)
    }

    /// The lines of a request and where each stands, for anyone who may read its thread (empty
    /// for a thread that is not a request).
    pub async fn profile_update_lines(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        thread: ThreadId,
    ) -> Result<Vec<LineRow>, ProfileUpdateError> {
        let r = self.message_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        threads::thread(&mut conn, plan.id(), thread)
            .await?
            .filter(|t| r.may_read(t))
            .ok_or(ProfileUpdateError::NotFound)?;
        Ok(store::lines(&mut conn, plan.id(), thread).await?)
    }

    /// A request for the staff who decide it: each line matched against the roster.
    pub async fn profile_update_review(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        thread: ThreadId,
    ) -> Result<ProfileUpdateReview, ProfileUpdateError> {
        self.mailbox_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        let t = request_thread(&mut conn, plan, thread).await?;
        let requester = users::get(&mut conn, plan.id(), t.author).await?;
        let requester_active = requester.as_ref().is_some_and(|u| u.status == UserStatus::Active);
        let requester_name =
            requester.map(|u| format!("{} {}", u.first_name, u.last_name).trim().to_owned()).unwrap_or_default();
        let mut lines = Vec::new();
        for line in store::lines(&mut conn, plan.id(), thread).await? {
            let mut matches = Vec::new();
            for m in store::roster_matches(&mut conn, plan.id(), &line.requested).await? {
                let mine = aff_store::of_user_at(&mut conn, t.author, m.practice.0).await?;
                let already_has = match &mine {
                    Some(a) if a.all_providers => true,
                    Some(a) => aff_store::providers_of(&mut conn, a.id).await?.iter().any(|p| p.0 == m.provider.0),
                    None => false,
                };
                let tax_id_has_admin = aff_store::count_active_admins(&mut conn, m.practice.0).await? > 0;
                matches.push(LineMatch { provider: m, already_has, has_affiliation: mine.is_some(), tax_id_has_admin });
            }
            lines.push(ReviewLine { line, matches });
        }
        let user_types = user_types::list(&mut conn, plan.id()).await?;
        Ok(ProfileUpdateReview { thread: t, requester_name, requester_active, lines, user_types })
    }

    /// Decides lines of a request, all or nothing: each named line must still be pending. When
    /// no line is left pending, the plan's reply is posted and the thread resolved.
    pub async fn decide_profile_update(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        thread: ThreadId,
        decisions: &[(u32, LineDecision)],
        meta: &RequestMeta,
    ) -> Result<DecideOutcome, ProfileUpdateError> {
        let r = self.mailbox_reader(plan, s).await?;
        if decisions.is_empty() {
            return Err(ProfileUpdateError::NoDecisions);
        }
        for (i, (line, _)) in decisions.iter().enumerate() {
            if decisions[..i].iter().any(|(l, _)| l == line) {
                return Err(line_error(*line, "decide each line once."));
            }
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = locked_thread(&mut tx, plan, thread).await?;
        if t.topic != TopicCode::PROVIDER_PROFILE_UPDATE {
            return Err(ProfileUpdateError::NotFound);
        }
        let lines = store::lines(&mut tx, plan.id(), thread).await?;
        let requester = t.author;
        let mut access_changed = false;
        for (line_no, decision) in decisions {
            let line_no = *line_no;
            let line = lines
                .iter()
                .find(|l| l.line_no == line_no)
                .ok_or_else(|| line_error(line_no, "the request has no such line."))?;
            if line.state != LineState::Pending {
                return Err(ProfileUpdateError::AlreadyDecided { line: line_no });
            }
            match decision {
                LineDecision::Deny { reason } => {
                    let d = Decided {
                        thread,
                        line_no,
                        state: LineState::Denied,
                        reason: Some(reason),
                        by: r.user,
                        granted_provider: None,
                    };
                    if !store::decide(&mut tx, &d, now).await? {
                        return Err(ProfileUpdateError::AlreadyDecided { line: line_no });
                    }
                    let event = Event::new("profile_update.denied").by(r.user).on(requester).detail(json!({
                        "thread": thread.0, "line": line_no, "kind": line.requested.kind(), "value": line.requested.as_str(),
                    }));
                    audit::record(&mut tx, now, plan.id(), meta, event).await?;
                }
                LineDecision::Approve { user_type } => {
                    let (m, granted) = grant_line(&mut tx, plan, requester, line, user_type.as_ref(), now).await?;
                    let d = Decided {
                        thread,
                        line_no,
                        state: LineState::Approved,
                        reason: None,
                        by: r.user,
                        granted_provider: Some(m.provider),
                    };
                    if !store::decide(&mut tx, &d, now).await? {
                        return Err(ProfileUpdateError::AlreadyDecided { line: line_no });
                    }
                    let (affiliation, new_affiliation, already_had) = match granted {
                        Granted::AlreadyHad => (None, false, true),
                        Granted::Added { affiliation } => (Some(affiliation), false, false),
                        Granted::NewAffiliation { affiliation } => (Some(affiliation), true, false),
                    };
                    access_changed |= !already_had;
                    let event = Event::new("profile_update.approved").by(r.user).on(requester).detail(json!({
                        "thread": thread.0,
                        "line": line_no,
                        "provider_row": m.provider.0,
                        "provider_id": m.provider_id,
                        "tax_id": m.tax_id,
                        "affiliation": affiliation,
                        "new_affiliation": new_affiliation,
                        "user_type": if new_affiliation { user_type.as_ref().map(|k| k.as_str()) } else { None },
                        "already_had": already_had,
                    }));
                    audit::record(&mut tx, now, plan.id(), meta, event).await?;
                }
            }
        }
        let after = store::lines(&mut tx, plan.id(), thread).await?;
        let resolved = after.iter().all(|l| l.state != LineState::Pending);
        if resolved {
            let body = reply_text(&mut tx, plan, &after).await?;
            let message = NewMessageRow {
                plan: plan.id(),
                thread,
                author: r.user,
                from_plan: true,
                internal: false,
                body: &body,
            };
            threads::insert_message(&mut tx, &message, now).await?;
            threads::set_status(&mut tx, thread, ThreadStatus::Resolved, None).await?;
            threads::mark_read(&mut tx, thread, r.user, now).await?;
            self.notify_user(&mut tx, plan, thread, requester, now).await?;
            let detail = json!({ "thread": thread.0, "practice_id": t.practice.0, "attachments": 0 });
            let replied = Event::new("message.replied_by_plan").by(r.user).on(requester).detail(detail);
            audit::record(&mut tx, now, plan.id(), meta, replied).await?;
            let resolved_event =
                Event::new("message.resolved").by(r.user).on(requester).detail(json!({ "thread": thread.0 }));
            audit::record(&mut tx, now, plan.id(), meta, resolved_event).await?;
        }
        if access_changed {
            affiliations::changed(&mut tx, plan.id(), requester, now).await?;
        }
        gatehouse_store::commit(tx).await?;
        if access_changed {
            self.access_changed(plan.id(), Some(requester)).await;
        }
        Ok(DecideOutcome { decided: decisions.len(), resolved })
    }
}

/// The thread `id` of the plan if it is a profile update request.
async fn request_thread(conn: &mut Conn, plan: &Plan, id: ThreadId) -> Result<ThreadRow, ProfileUpdateError> {
    threads::thread(conn, plan.id(), id)
        .await?
        .filter(|t| t.topic == TopicCode::PROVIDER_PROFILE_UPDATE)
        .ok_or(ProfileUpdateError::NotFound)
}

/// Grants the one provider `line` names to `requester`, keeping the rules of affiliations: the
/// requester is an active practice user; the practice is locked; an existing affiliation gains
/// the provider, else a new one of `user_type` (a user type of the plan) covers it, and the
/// practice must keep an active administrator.
async fn grant_line(
    tx: &mut Conn,
    plan: &Plan,
    requester: UserId,
    line: &LineRow,
    user_type: Option<&gatehouse_domain::permissions::UserTypeKey>,
    now: i64,
) -> Result<(RosterMatch, Granted), ProfileUpdateError> {
    let n = line.line_no;
    let who = users::get(tx, plan.id(), requester).await?;
    match who {
        Some(u) if u.status == UserStatus::Active && u.staff_role.is_none() => {}
        _ => return Err(line_error(n, "the requester's account is not active, so nothing can be granted. Deny it.")),
    }
    let mut matches = store::roster_matches(tx, plan.id(), &line.requested).await?;
    let m = match matches.len() {
        0 => {
            return Err(line_error(
                n,
                format!(
                    "{} is not a current provider on the roster, so it cannot be approved. Deny it with a reason.",
                    line.requested.label()
                ),
            ));
        }
        1 => matches.remove(0),
        k => {
            return Err(line_error(
                n,
                format!(
                    "{} names {k} providers on the roster. Deny it and ask for the provider ID.",
                    line.requested.label()
                ),
            ));
        }
    };
    practices::lock(tx, m.practice.0).await?;
    let granted = match aff_store::of_user_at(tx, requester, m.practice.0).await? {
        Some(a) if a.all_providers => Granted::AlreadyHad,
        Some(a) => {
            let current = practices::current_providers_among(tx, m.practice.0, &[m.provider.0]).await?;
            if current.is_empty() {
                return Err(line_error(n, "the provider is no longer current on the roster."));
            }
            if aff_store::add_provider(tx, a.id, m.provider.0).await? {
                Granted::Added { affiliation: a.id }
            } else {
                Granted::AlreadyHad
            }
        }
        None => {
            let Some(key) = user_type else {
                return Err(line_error(
                    n,
                    format!(
                        "the requester has no access to Tax ID {} yet. Choose the user type of the new affiliation.",
                        m.tax_id
                    ),
                ));
            };
            user_types::get(tx, plan.id(), key).await?.ok_or_else(|| line_error(n, "choose one of the user types."))?;
            let new = NewAffiliation {
                plan_id: plan.id(),
                user_id: requester,
                practice_id: m.practice.0,
                user_type: key.as_str(),
                is_admin: false,
                all_providers: false,
            };
            if !aff_store::insert(tx, &new, now).await? {
                return Err(Internal::Other("affiliation appeared under the practice lock".into()).into());
            }
            let row = aff_store::of_user_at(tx, requester, m.practice.0)
                .await?
                .ok_or_else(|| Internal::Other("new affiliation vanished".into()))?;
            aff_store::set_scope(tx, row.id, false, &[m.provider.0]).await?;
            ensure_admin_remains(tx, m.practice.0).await.map_err(|e| match e {
                AffiliationError::LastAdmin { .. } => line_error(
                    n,
                    format!(
                        "Tax ID {} ({}) has no active administrator, and a practice with active users must have one. \
                         Its first administrator comes through association or registration; deny this line for now.",
                        m.tax_id, m.practice_name
                    ),
                ),
                AffiliationError::Internal(e) => ProfileUpdateError::Internal(e),
                other => ProfileUpdateError::Internal(Internal::Other(format!("new affiliation: {other}"))),
            })?;
            Granted::NewAffiliation { affiliation: row.id }
        }
    };
    Ok((m, granted))
}

/// The plan's reply once every line is decided: what is on the account now, and what was not
/// added and why.
async fn reply_text(tx: &mut Conn, plan: &Plan, lines: &[LineRow]) -> Result<String, ProfileUpdateError> {
    let mut granted = Vec::new();
    let mut denied = Vec::new();
    for l in lines {
        match l.state {
            LineState::Approved => {
                let m = store::roster_matches(tx, plan.id(), &l.requested)
                    .await?
                    .into_iter()
                    .find(|m| Some(m.provider) == l.granted_provider);
                granted.push(match m {
                    Some(m) => format!(
                        "- {} ({}, provider ID {}, Tax ID {}, {})",
                        l.requested.label(),
                        m.name,
                        m.provider_id,
                        m.tax_id,
                        m.practice_name
                    ),
                    None => format!("- {}", l.requested.label()),
                });
            }
            LineState::Denied => {
                denied.push(format!("- {}: {}", l.requested.label(), l.reason.as_deref().unwrap_or("no reason given")))
            }
            LineState::Pending => {}
        }
    }
    let mut out = "We have reviewed your profile update request.".to_owned();
    if !granted.is_empty() {
        out.push_str("\n\nYou may now act for:\n");
        out.push_str(&granted.join("\n"));
    }
    if !denied.is_empty() {
        out.push_str("\n\nNot added:\n");
        out.push_str(&denied.join("\n"));
    }
    if !granted.is_empty() {
        out.push_str("\n\nThe change is effective now; My Profile lists every provider you may act for.");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        assert_eq!(line_error(3, "deny it.").to_string(), "Line 3: deny it.");
        assert!(ProfileUpdateError::AlreadyDecided { line: 2 }.to_string().starts_with("Line 2 was already decided"));
    }
}
