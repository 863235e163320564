//! Plan settings: policies, timeouts, branding, logo and terms.

use super::{AdminChrome, Staff};
use crate::AppState;
use crate::pages::{Chrome, internal_error, render};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Form, Multipart};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::settings::{FieldErrors, RawSettings};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::settings::{SettingsError, raw_from};
use std::collections::BTreeMap;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/settings", get(show).post(save))
        .route("/admin/settings/terms", post(publish_terms))
        .route("/admin/settings/logo", post(upload_logo))
        .route("/branding/logo", get(logo))
}

struct Field {
    /// An on/off switch (a second-factor setting).
    switch: bool,
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    numeric: bool,
    value: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    admin: AdminChrome,
    groups: Vec<(&'static str, Vec<Field>)>,
    errors: FieldErrors,
    notice: Option<String>,
    logo_error: Option<String>,
    terms_error: Option<String>,
    terms_text: String,
    terms_version: i64,
    /// Suggestions for the time zone field; any IANA name is accepted.
    us_time_zones: &'static [&'static str],
}

/// The zones of the United States, offered as suggestions for the time zone.
const US_TIME_ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
];

type Spec = (&'static str, &'static str, &'static str, bool);

/// The fields shown as on/off choices.
const SWITCHES: [&str; 5] =
    ["voice_allowed", "app_allowed", "passkeys_allowed", "staff_strong_factor", "admin_strong_factor"];

const GROUPS: &[(&str, &[Spec])] = &[
    (
        "Plan and branding",
        &[
            ("name", "Plan name", "Shown in the header of every page and email.", false),
            ("brand_color", "Brand colour", "Like #0b4f6c. Must be dark enough for white text (WCAG AA).", false),
            ("support_phone", "Provider services phone", "", false),
            ("support_hours", "Provider services hours", "", false),
            (
                "time_zone",
                "Time zone",
                "An IANA time zone name, like America/New_York or America/Chicago. Every date and time on the portal's pages and in its emails is shown in it.",
                false,
            ),
        ],
    ),
    (
        "Passwords",
        &[
            ("password_min", "Minimum password length", "8 to 64 characters.", true),
            ("password_max", "Maximum password length", "64 to 256 characters.", true),
        ],
    ),
    (
        "Two-step codes",
        &[
            ("code_length", "Code length (digits)", "6 to 8.", true),
            ("code_lifetime_minutes", "Code lifetime (minutes)", "1 to 30.", true),
            ("code_max_tries", "Tries per code", "3 to 10.", true),
            ("code_max_sends_per_hour", "Codes per user per hour", "1 to 20.", true),
        ],
    ),
    (
        "Second factors",
        &[
            (
                "voice_allowed",
                "Codes by voice call",
                "Text codes are always allowed: every account's phone is its first second factor. When off, nobody can newly choose voice calls; phones already set up for voice calls keep them.",
                false,
            ),
            (
                "app_allowed",
                "Authenticator apps",
                "When off, authenticator apps are not offered to anyone; apps already added keep working.",
                false,
            ),
            (
                "passkeys_allowed",
                "Passkeys",
                "When off, passkeys are not offered to anyone; passkeys already added keep working.",
                false,
            ),
            (
                "staff_strong_factor",
                "Plan staff must use an app or passkey",
                "Recommended. Staff then never sign in with a text or voice code: one who has neither adds one at their next sign-in, after a last texted code. Needs apps or passkeys allowed.",
                false,
            ),
            (
                "admin_strong_factor",
                "Practice administrators must use an app or passkey",
                "The same rule for every active practice administrator. Needs apps or passkeys allowed.",
                false,
            ),
        ],
    ),
    (
        "Sessions and reviews",
        &[
            ("session_idle_minutes", "Idle timeout (minutes)", "5 to 60.", true),
            ("session_absolute_hours", "Longest session (hours)", "1 to 24.", true),
            ("access_review_days", "Access review every (days)", "30 to 365.", true),
        ],
    ),
    (
        "Idle accounts",
        &[
            (
                "idle_flag_days",
                "Flag accounts idle after (days without a sign-in)",
                "30 to 365. Shown as Idle to practice administrators and in the user search.",
                true,
            ),
            (
                "idle_deactivate_days",
                "Deactivate portal accounts after (days without a sign-in)",
                "60 to 730, and at least 14 more than the idle flag: the holder is warned by email 14 days before. Plan staff accounts are flagged but never deactivated.",
                true,
            ),
        ],
    ),
    (
        "Accounts",
        &[
            ("username_format", "Usernames", "For new usernames; existing ones stay as they are.", false),
            (
                "reactivation_days",
                "Reactivation by practice administrators (days)",
                "0 to 3650. After this many days a deactivated account can only be reactivated by provider services.",
                true,
            ),
            (
                "legacy_deadline",
                "Last day for old-portal passwords",
                "Optional. After this day (in the plan's time zone), imported accounts that have not signed in must reset their password by email.",
                false,
            ),
            (
                "legacy_email_proof",
                "Imported accounts prove their email first",
                "Recommended. At the first sign-in with an old-portal password, a link to the email on record must be opened before a new password and two-step phone can be chosen. Turn off only if the imported email addresses were verified.",
                false,
            ),
        ],
    ),
    (
        "Secure messages",
        &[
            (
                "message_response_days",
                "Response time (business days)",
                "1 to 30. Practices are told the plan answers within this time; later threads are marked overdue in the mailbox.",
                true,
            ),
            ("message_max_files", "Files per message", "1 to 5.", true),
            ("message_max_file_mb", "Largest file (MB)", "1 to 10.", true),
            (
                "mailbox_email",
                "Team address for new messages",
                "Optional. New messages are announced to this address (without their content); when empty, each agent who works the mailbox is told.",
                false,
            ),
        ],
    ),
];

async fn render_page(
    staff: &Staff,
    status: StatusCode,
    raw: RawSettings,
    errors: FieldErrors,
    notice: Option<String>,
    logo_error: Option<String>,
    terms_error: Option<String>,
) -> Response {
    let (chrome, admin) = staff.chrome("/admin/settings");
    let terms = match staff.state().svc.current_terms(&staff.plan.0).await {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let groups = GROUPS
        .iter()
        .map(|(title, fields)| {
            let fields = fields
                .iter()
                .map(|(name, label, hint, numeric)| Field {
                    switch: SWITCHES.contains(name),
                    name,
                    label,
                    hint,
                    numeric: *numeric,
                    value: raw.get(*name).cloned().unwrap_or_default(),
                    error: errors.get(name).cloned(),
                })
                .collect();
            (*title, fields)
        })
        .collect();
    render(
        status,
        &SettingsPage {
            chrome,
            admin,
            groups,
            errors,
            notice,
            logo_error,
            terms_error,
            terms_text: terms.text,
            terms_version: terms.version,
            us_time_zones: US_TIME_ZONES,
        },
    )
}

async fn current_raw(staff: &Staff) -> Result<RawSettings, Response> {
    match staff.state().svc.plan(staff.plan.0.id()).await {
        Ok(Some(p)) => Ok(raw_from(&p.row)),
        Ok(None) => Err(internal_error("plan vanished")),
        Err(e) => Err(internal_error(e)),
    }
}

async fn show(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    match current_raw(&staff).await {
        Ok(raw) => render_page(&staff, StatusCode::OK, raw, FieldErrors::new(), None, None, None).await,
        Err(r) => r,
    }
}

async fn save(staff: Staff, Form(form): Form<BTreeMap<String, String>>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let raw: RawSettings =
        form.into_iter().filter(|(k, _)| k != "csrf_token").map(|(k, v)| (k, v.chars().take(200).collect())).collect();
    match staff.state().svc.update_settings(&staff.grant, &staff.plan.0, &raw, &staff.meta).await {
        Ok(changes) => {
            let notice = if changes.is_empty() {
                "Nothing changed.".to_owned()
            } else {
                format!(
                    "Saved. Changed: {}.",
                    changes.iter().map(|c| c.0.replace('_', " ")).collect::<Vec<_>>().join(", ")
                )
            };
            match current_raw(&staff).await {
                Ok(raw) => render_page(&staff, StatusCode::OK, raw, FieldErrors::new(), Some(notice), None, None).await,
                Err(r) => r,
            }
        }
        Err(SettingsError::Invalid(errors)) => {
            render_page(&staff, StatusCode::BAD_REQUEST, raw, errors, None, None, None).await
        }
        Err(e) => internal_error(e),
    }
}

#[derive(serde::Deserialize)]
struct TermsForm {
    #[serde(default)]
    terms_text: String,
}

async fn publish_terms(staff: Staff, Form(f): Form<TermsForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let raw = match current_raw(&staff).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match staff.state().svc.publish_new_terms(&staff.grant, &staff.plan.0, &f.terms_text, &staff.meta).await {
        Ok(v) => {
            let notice = format!("Version {v} of the terms is published. Users sign it at their next sign-in.");
            render_page(&staff, StatusCode::OK, raw, FieldErrors::new(), Some(notice), None, None).await
        }
        Err(e @ SettingsError::EmptyTerms) => {
            render_page(&staff, StatusCode::BAD_REQUEST, raw, FieldErrors::new(), None, None, Some(e.to_string())).await
        }
        Err(e) => internal_error(e),
    }
}

async fn upload_logo(staff: Staff, form: Result<Multipart, MultipartRejection>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let raw = match current_raw(&staff).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    // Read only once the permission is known; a request that is not an upload is a bad logo.
    let mut bytes = None;
    if let Ok(mut form) = form {
        while let Ok(Some(field)) = form.next_field().await {
            if field.name() == Some("logo") {
                bytes = field.bytes().await.ok();
            }
        }
    }
    let bytes = bytes.unwrap_or_default();
    match staff.state().svc.set_logo(&staff.grant, &staff.plan.0, &bytes, &staff.meta).await {
        Ok(()) => {
            render_page(
                &staff,
                StatusCode::OK,
                raw,
                FieldErrors::new(),
                Some("The logo is updated.".into()),
                None,
                None,
            )
            .await
        }
        Err(e @ SettingsError::BadLogo) => {
            render_page(&staff, StatusCode::BAD_REQUEST, raw, FieldErrors::new(), None, Some(e.to_string()), None).await
        }
        Err(e) => internal_error(e),
    }
}

async fn logo(plan: crate::extract::CurrentPlan, axum::extract::State(st): axum::extract::State<AppState>) -> Response {
    match st.svc.logo(&plan.0).await {
        Ok(Some((ct, bytes))) => {
            ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "public, max-age=300".to_owned())], bytes)
                .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => internal_error(e),
    }
}
