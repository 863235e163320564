//! The plan's list of secure-message topics (issue 16): read by every message form, filter and
//! page; changed only by staff with the plan-settings permission (add, relabel, retire, restore,
//! move), each change audited in its own transaction. Codes never change, so threads keep their
//! topic whatever happens to its label; the system topic (Add Facility's) is never retired.

use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services, audit};
use gatehouse_domain::message_topics::{
    DEFAULT_TOPICS, Direction, RetireProblem, TopicCode, TopicLabel, TopicLabelError, check_retire, code_for_label,
    swap_with,
};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{PlanId, TopicId};
use gatehouse_store::Conn;
use gatehouse_store::message_topics as store;
pub use gatehouse_store::message_topics::TopicRow;
use serde_json::json;
use thiserror::Error;

/// Why a change of the topic list was refused.
#[derive(Debug, Error)]
pub enum TopicError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// No such topic in this plan (another plan's reads the same).
    #[error("That topic was not found.")]
    NotFound,
    /// The label is empty, too long or another topic's: the form's `label` field.
    #[error("{0}")]
    Label(TopicLabelError),
    #[error("{0}")]
    Retire(RetireProblem),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for TopicError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A plan's topics in list order, retired ones included.
#[derive(Debug, Clone, Default)]
pub struct Topics(pub Vec<TopicRow>);

impl Topics {
    /// Every topic, in list order.
    pub fn all(&self) -> &[TopicRow] {
        &self.0
    }

    /// The topics a new thread may have, in list order.
    pub fn active(&self) -> impl Iterator<Item = &TopicRow> {
        self.0.iter().filter(|t| t.active())
    }

    /// The codes of [`Topics::active`].
    pub fn active_codes(&self) -> Vec<TopicCode> {
        self.active().map(|t| t.code.clone()).collect()
    }

    /// What people read for `code`: its label, or the code itself when the list has no such
    /// topic.
    pub fn label(&self, code: &TopicCode) -> String {
        self.0.iter().find(|t| t.code == *code).map_or_else(|| code.to_string(), |t| t.label.clone())
    }
}

/// Adds the default topics a plan lacks, in the caller's transaction (a new plan's).
pub(crate) async fn add_defaults(conn: &mut Conn, plan: PlanId, now: i64) -> Result<u64, Internal> {
    Ok(store::insert_all(conn, plan, &DEFAULT_TOPICS, now).await?)
}

/// The plan's topics, in the caller's connection.
pub(crate) async fn topics(conn: &mut Conn, plan: PlanId) -> Result<Topics, Internal> {
    Ok(Topics(store::list(conn, plan).await?))
}

/// The label a form sent, unless it is another topic's of the plan (`all`) than `except`.
fn unique_label(raw: &str, all: &[TopicRow], except: Option<TopicId>) -> Result<TopicLabel, TopicError> {
    let label = TopicLabel::parse(raw).map_err(TopicError::Label)?;
    let others = all.iter().filter(|t| Some(t.id) != except).map(|t| t.label.as_str());
    label.check_unique(others).map_err(TopicError::Label)?;
    Ok(label)
}

impl Services {
    /// The topics a new thread may have, in list order, for a signed-in user of the plan.
    pub async fn active_message_topics(
        &self,
        plan: &Plan,
        s: &crate::SessionInfo,
    ) -> Result<Vec<TopicRow>, crate::secure_messages::MessageError> {
        self.message_reader(plan, s).await?;
        let mut conn = self.db.acquire().await?;
        Ok(topics(&mut conn, plan.id()).await?.0.into_iter().filter(TopicRow::active).collect())
    }

    /// The plan's topics in list order, retired ones included (for forms, filters and labels).
    pub async fn message_topics(&self, plan: &Plan) -> Result<Topics, Internal> {
        let mut conn = self.db.acquire().await?;
        topics(&mut conn, plan.id()).await
    }

    /// Adds a topic called `label` at the end of the list, with a code made from the label.
    /// Audited (`plan.message_topic_added`).
    pub async fn add_message_topic(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        label: &str,
        meta: &RequestMeta,
    ) -> Result<TopicRow, TopicError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        TopicLabel::parse(label).map_err(TopicError::Label)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Serializes changes of one plan's list: two administrators adding the same name at
        // once make one topic, and the second is told it exists.
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let all = store::list(&mut tx, plan.id()).await?;
        let label = unique_label(label, &all, None)?;
        let code = code_for_label(&label, all.iter().map(|t| &t.code));
        let id = store::insert(&mut tx, plan.id(), &code, &label, now).await?;
        let detail = json!({"topic": code.as_str(), "label": label.as_str()});
        audit::record(&mut tx, now, plan.id(), meta, grant.event("plan.message_topic_added").detail(detail)).await?;
        let row = store::get(&mut tx, plan.id(), id).await?.ok_or(TopicError::NotFound)?;
        gatehouse_store::commit(tx).await?;
        Ok(row)
    }

    /// Gives a topic a new label (its code, and so its threads, stay). Answers whether anything
    /// changed; a change is audited (`plan.message_topic_relabelled`) with the old and new label.
    pub async fn relabel_message_topic(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: TopicId,
        label: &str,
        meta: &RequestMeta,
    ) -> Result<bool, TopicError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let all = store::list(&mut tx, plan.id()).await?;
        let before = all.iter().find(|t| t.id == id).ok_or(TopicError::NotFound)?;
        let label = unique_label(label, &all, Some(id))?;
        if label.as_str() == before.label {
            return Ok(false);
        }
        store::set_label(&mut tx, plan.id(), id, &label).await?;
        let detail = json!({"topic": before.code.as_str(), "old": before.label, "new": label.as_str()});
        audit::record(&mut tx, now, plan.id(), meta, grant.event("plan.message_topic_relabelled").detail(detail))
            .await?;
        gatehouse_store::commit(tx).await?;
        Ok(true)
    }

    /// Retires a topic (no new thread may have it; its threads keep it and read as before), or
    /// restores it. The system topic is never retired. Answers whether anything changed; a
    /// change is audited (`plan.message_topic_retired` or `plan.message_topic_restored`).
    pub async fn set_message_topic_retired(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: TopicId,
        retired: bool,
        meta: &RequestMeta,
    ) -> Result<bool, TopicError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let t = store::get(&mut tx, plan.id(), id).await?.ok_or(TopicError::NotFound)?;
        if retired {
            check_retire(&t.code, &t.label).map_err(TopicError::Retire)?;
        }
        if t.active() != retired {
            return Ok(false);
        }
        store::set_retired(&mut tx, plan.id(), id, retired.then_some(now)).await?;
        let action = if retired { "plan.message_topic_retired" } else { "plan.message_topic_restored" };
        let detail = json!({"topic": t.code.as_str(), "label": t.label});
        audit::record(&mut tx, now, plan.id(), meta, grant.event(action).detail(detail)).await?;
        gatehouse_store::commit(tx).await?;
        Ok(true)
    }

    /// Moves a topic one place up or down the list (forms list topics in this order). Answers
    /// whether anything changed (the first cannot go up, nor the last down); a move is audited
    /// (`plan.message_topic_moved`) with the places before and after, counted from 1.
    pub async fn move_message_topic(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: TopicId,
        direction: Direction,
        meta: &RequestMeta,
    ) -> Result<bool, TopicError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let mut all = store::list(&mut tx, plan.id()).await?;
        let at = all.iter().position(|t| t.id == id).ok_or(TopicError::NotFound)?;
        let Some(to) = swap_with(at, all.len(), direction) else { return Ok(false) };
        all.swap(at, to);
        // Places are written 1, 2, 3… in the new order (only those that differ), so the list
        // stays in order even if two topics ever shared a place.
        for (i, t) in all.iter().enumerate() {
            let place = i as i64 + 1;
            if t.position != place {
                store::set_position(&mut tx, plan.id(), t.id, place).await?;
            }
        }
        let detail = json!({
            "topic": all[to].code.as_str(), "direction": direction.as_str(), "from": at + 1, "to": to + 1,
        });
        audit::record(&mut tx, now, plan.id(), meta, grant.event("plan.message_topic_moved").detail(detail)).await?;
        gatehouse_store::commit(tx).await?;
        Ok(true)
    }
}
