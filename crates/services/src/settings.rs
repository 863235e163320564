//! Plan settings: policies, timeouts, branding and terms, changed by plan administrators. Every
//! change is audited with its old and new values.

use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services, audit};
use gatehouse_domain::settings::{FieldErrors, PlanSettings, RawSettings, switch_text};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_store::plans::{self, PlanRow};
use serde_json::{Map, Value, json};
use thiserror::Error;

/// Why a settings change was refused.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("Some settings need correcting.")]
    Invalid(FieldErrors),
    #[error("Upload a PNG or JPEG image of at most 256 KB.")]
    BadLogo,
    #[error("Enter the text of the new terms.")]
    EmptyTerms,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for SettingsError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// The settings as a form shows them.
pub fn raw_from(row: &PlanRow) -> RawSettings {
    [
        ("name", row.name.clone()),
        ("brand_color", row.brand_color.clone()),
        ("support_phone", row.support_phone.clone()),
        ("support_hours", row.support_hours.clone()),
        ("password_min", row.password_min.to_string()),
        ("password_max", row.password_max.to_string()),
        ("code_length", row.code_length.to_string()),
        ("code_lifetime_minutes", (row.code_lifetime_secs / 60).to_string()),
        ("code_max_tries", row.code_max_tries.to_string()),
        ("code_max_sends_per_hour", row.code_max_sends_per_hour.to_string()),
        ("session_idle_minutes", (row.session_idle_secs / 60).to_string()),
        ("session_absolute_hours", (row.session_absolute_secs / 3600).to_string()),
        ("access_review_days", row.access_review_days.to_string()),
        ("idle_flag_days", row.idle_flag_days.to_string()),
        ("idle_deactivate_days", row.idle_deactivate_days.to_string()),
        ("username_format", row.username_format.clone()),
        ("reactivation_days", row.reactivation_days.to_string()),
        ("legacy_deadline", row.legacy_deadline.clone()),
        ("legacy_email_proof", switch_text(row.legacy_email_proof).to_owned()),
        ("time_zone", row.time_zone.name().to_owned()),
        ("message_response_days", row.message_response_days.to_string()),
        ("message_max_files", row.message_max_files.to_string()),
        ("message_max_file_mb", row.message_max_file_mb.to_string()),
        ("mailbox_email", row.mailbox_email.clone()),
        ("voice_allowed", switch_text(row.factors.voice_allowed).to_owned()),
        ("app_allowed", switch_text(row.factors.app_allowed).to_owned()),
        ("passkeys_allowed", switch_text(row.factors.passkeys_allowed).to_owned()),
        ("staff_strong_factor", switch_text(row.factors.staff_strong_factor).to_owned()),
        ("admin_strong_factor", switch_text(row.factors.admin_strong_factor).to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Largest logo accepted.
pub const MAX_LOGO: usize = 256 * 1024;

/// The content type of a PNG or JPEG, by its magic bytes.
pub fn logo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

impl Services {
    /// Saves new settings; returns the fields that changed (old → new).
    pub async fn update_settings(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        raw: &RawSettings,
        meta: &RequestMeta,
    ) -> Result<Vec<(String, String, String)>, SettingsError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let s = PlanSettings::parse(raw).map_err(SettingsError::Invalid)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let old = plans::get(&mut tx, plan.id()).await?.ok_or_else(|| Internal::Other("plan vanished".into()))?;
        let mut new = old.clone();
        new.name = s.name;
        new.brand_color = s.brand_color.as_str().to_owned();
        new.support_phone = s.support_phone;
        new.support_hours = s.support_hours;
        new.password_min = s.password_min;
        new.password_max = s.password_max;
        new.code_length = s.code_length;
        new.code_lifetime_secs = s.code_lifetime_minutes * 60;
        new.code_max_tries = s.code_max_tries;
        new.code_max_sends_per_hour = s.code_max_sends_per_hour;
        new.session_idle_secs = s.session_idle_minutes * 60;
        new.session_absolute_secs = s.session_absolute_hours * 3600;
        new.access_review_days = s.access_review_days;
        new.idle_flag_days = s.idle.flag_days();
        new.idle_deactivate_days = s.idle.deactivate_days();
        new.username_format = s.username_format.as_str().to_owned();
        new.reactivation_days = s.reactivation_days;
        new.legacy_deadline = s.legacy_deadline.map(|d| d.as_string()).unwrap_or_default();
        new.legacy_email_proof = s.legacy_email_proof;
        new.time_zone = s.time_zone;
        new.message_response_days = s.message_response_days;
        new.message_max_files = s.message_max_files;
        new.message_max_file_mb = s.message_max_file_mb;
        new.mailbox_email = s.mailbox_email.map(|e| e.as_str().to_owned()).unwrap_or_default();
        new.factors = s.factors;
        let (before, after) = (raw_from(&old), raw_from(&new));
        let changes: Vec<(String, String, String)> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), before.get(k).cloned().unwrap_or_default(), v.clone()))
            .collect();
        if changes.is_empty() {
            return Ok(changes);
        }
        plans::update_settings(&mut tx, &new).await?;
        let detail: Map<String, Value> =
            changes.iter().map(|(k, o, n)| (k.clone(), json!({"old": o, "new": n}))).collect();
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            grant.event("plan.settings_changed").detail(Value::Object(detail)),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plans();
        Ok(changes)
    }

    /// Publishes a new version of the terms; every user signs it at their next sign-in.
    pub async fn publish_new_terms(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        text: &str,
        meta: &RequestMeta,
    ) -> Result<i64, SettingsError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let text = text.trim();
        if text.is_empty() {
            return Err(SettingsError::EmptyTerms);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let old = plans::get(&mut tx, plan.id()).await?.ok_or_else(|| Internal::Other("plan vanished".into()))?;
        let version = old.terms_version + 1;
        plans::set_terms(&mut tx, plan.id(), version, text).await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            grant
                .event("plan.terms_published")
                .detail(json!({"old_version": old.terms_version, "new_version": version})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plans();
        Ok(version)
    }

    /// Replaces the plan's logo (PNG or JPEG, at most 256 KB).
    pub async fn set_logo(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        bytes: &[u8],
        meta: &RequestMeta,
    ) -> Result<(), SettingsError> {
        grant.require(plan.id(), StaffPermission::PlanSettings)?;
        let ct = logo_type(bytes).filter(|_| bytes.len() <= MAX_LOGO).ok_or(SettingsError::BadLogo)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        plans::set_logo(&mut tx, plan.id(), ct, bytes, now).await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            grant.event("plan.logo_changed").detail(json!({"bytes": bytes.len(), "type": ct})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plans();
        Ok(())
    }

    /// The plan's logo, if it has one.
    pub async fn logo(&self, plan: &Plan) -> Result<Option<(String, Vec<u8>)>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(plans::logo(&mut conn, plan.id()).await?)
    }

    /// Whether the plan has a logo (for the page header).
    pub async fn has_logo(&self, plan: &Plan) -> Result<bool, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(plans::has_logo(&mut conn, plan.id()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_types_by_magic_bytes() {
        assert_eq!(logo_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(logo_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(logo_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(logo_type(b""), None);
    }
}
