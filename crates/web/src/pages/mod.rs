//! The pages: one askama template per view, one small module per journey.

mod access_requests;
mod accounts;
mod add_facility;
mod association;
pub(crate) mod auth;
mod authenticator;
mod first_signin;
mod home;
pub(crate) mod messages;
mod offers;
mod outbox;
mod passkeys;
mod practice;
mod profile;
mod registration;
pub(crate) mod reviews;
mod self_service;
mod strong_factor;

use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CurrentPlan, DEVICE_COOKIE, Meta, SESSION_COOKIE};
use crate::routing::Routes;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use gatehouse_domain::known_device::DeviceTokens;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::SessionToken;
use gatehouse_services::affiliations::{AffiliationError, LinkedAccount};

/// What the shared layout shows on every page.
pub struct Chrome {
    /// The plan's path prefix for links ("" when served at its own host).
    pub base: String,
    pub plan_name: String,
    pub support_phone: String,
    pub support_hours: String,
    pub csrf: String,
    pub signed_in: bool,
    /// Part-way through signing in or up: offer a way out.
    pub mid_flow: bool,
    /// Use the wide page (tables).
    pub wide: bool,
    pub dev_outbox: bool,
    /// The plan's colour and a darker shade, `#rrggbb`.
    pub brand: String,
    pub brand_dark: String,
    pub has_logo: bool,
    /// Show the link to the control panel (the user is plan staff).
    pub control_panel: bool,
    /// The signed-in user's linked accounts, for the header's switcher (shown with two or more).
    pub accounts: Vec<AccountChoice>,
    /// This page's path (without the plan prefix): where the switcher comes back to.
    pub here: String,
    /// Show the link to user management (the user administers a practice).
    pub manage_users: bool,
    /// Secure messages the user has not read (shown beside the Messages link), when counted.
    pub unread_messages: Option<i64>,
}

/// One linked account in the header's switcher.
pub struct AccountChoice {
    pub id: gatehouse_domain::AffiliationId,
    /// "Practice name (123456789)".
    pub label: String,
    pub active: bool,
}

impl Chrome {
    /// The layout's data for this request.
    pub fn new(st: &AppState, plan: &CurrentPlan, csrf: &CsrfToken, signed_in: bool) -> Self {
        Self {
            base: plan.1.clone(),
            plan_name: plan.0.row.name.clone(),
            support_phone: plan.0.row.support_phone.clone(),
            support_hours: plan.0.row.support_hours.clone(),
            csrf: csrf.0.clone(),
            signed_in,
            mid_flow: false,
            wide: false,
            dev_outbox: st.dev_outbox.any(),
            brand: plan.0.row.brand_color.clone(),
            brand_dark: gatehouse_domain::settings::BrandColor::parse(&plan.0.row.brand_color)
                .map(|c| c.darker())
                .unwrap_or_else(|_| "#083a50".into()),
            has_logo: plan.0.row.has_logo,
            control_panel: false,
            accounts: Vec::new(),
            manage_users: false,
            unread_messages: None,
            here: "/".into(),
        }
    }

    /// The layout of a signed-in page at `here`, with the switcher's accounts filled in. Also
    /// returns the user's linked accounts, for pages that show them.
    pub async fn for_session(
        st: &AppState,
        plan: &CurrentPlan,
        csrf: &CsrfToken,
        s: &gatehouse_services::SessionInfo,
        here: &str,
    ) -> Result<(Self, Vec<LinkedAccount>), Response> {
        let linked = st.svc.linked_accounts(&plan.0, s).await.map_err(|e| match e {
            AffiliationError::NotSignedIn => Redirect::to("/signin").into_response(),
            other => internal_error(other),
        })?;
        let mut chrome = Self::new(st, plan, csrf, true);
        chrome.here = here.to_owned();
        chrome.manage_users = linked.iter().any(|a| a.is_admin);
        // The count is a courtesy: a failure to read it must not take the page down.
        chrome.unread_messages = st.svc.unread_messages(&plan.0, s).await.ok();
        chrome.accounts = linked
            .iter()
            .map(|a| AccountChoice {
                id: a.id,
                label: format!("{} ({})", a.practice_name, a.tax_id_display()),
                active: a.active,
            })
            .collect();
        Ok((chrome, linked))
    }

    /// Shows the control panel link.
    pub fn staff(mut self, is_staff: bool) -> Self {
        self.control_panel = is_staff;
        self
    }

    /// For the pages between password and home.
    pub fn mid_flow(mut self) -> Self {
        self.mid_flow = true;
        self
    }

    /// For pages with wide tables.
    pub fn wide(mut self) -> Self {
        self.wide = true;
        self
    }
}

/// The page routes, CSRF-protected.
pub fn routes(state: AppState) -> Routes {
    Routes::new()
        .merge(access_requests::routes())
        .merge(add_facility::routes())
        .merge(accounts::routes())
        .merge(association::routes())
        .merge(auth::routes())
        .merge(authenticator::routes())
        .merge(first_signin::routes())
        .merge(home::routes())
        .merge(messages::routes())
        .merge(offers::routes())
        .merge(outbox::routes(state.dev_outbox.any()))
        .merge(passkeys::routes())
        .merge(registration::routes())
        .merge(practice::routes())
        .merge(reviews::routes())
        .merge(profile::routes())
        .merge(self_service::routes())
        .merge(strong_factor::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), end_replaced_session))
        .layer(axum::middleware::from_fn_with_state(state, crate::csrf::protect))
}

/// When a page gives the browser a new session while it still held another (someone else signed
/// in, or signed up, at the same computer), the one it held is ended
/// ([`gatehouse_services::Services::end_replaced_session`]). A stage change under a new token
/// finds the old token gone and does nothing.
async fn end_replaced_session(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let held = CookieJar::from_headers(req.headers()).get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let resp = next.run(req).await;
    let Some(held) = held.filter(|h| !h.is_empty()) else { return resp };
    let given = resp
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Cookie::parse(v).ok())
        .find(|c| c.name() == SESSION_COOKIE && !c.value().is_empty())
        .map(|c| c.value().to_owned());
    if let Some(given) = given.filter(|g| *g != held)
        && let Err(e) = st.svc.end_replaced_session(&plan.0, &held, &given, &meta).await
    {
        // The new session stands; the old one still ends at its limits.
        tracing::warn!(error = %e, "the session a browser replaced could not be ended");
    }
    resp
}

/// One field of an edit form (label, input, hint and error), as `practice/edit.html` and the
/// profile page draw them.
pub struct EditField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub hint: &'static str,
}

/// Shows a stored phone as people type it (206-555-0143).
pub fn phone_for_form(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 => format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
        _ => e164.to_owned(),
    }
}

/// Renders a template with a status.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.").into_response()
        }
    }
}

/// A failure of ours: logged with its cause, shown to the person without it.
pub fn internal_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><html lang=\"en\"><title>Error</title><main><h1>Something went wrong on our side</h1><p>Please try again in a moment. If it keeps happening, call provider services.</p></main></html>")).into_response()
}

/// Password hashing is at capacity: ask the browser to retry shortly.
pub fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "2")],
        Html("<!doctype html><html lang=\"en\"><title>Busy</title><main><h1>The portal is very busy</h1><p>Please go back and try again in a few seconds.</p></main></html>"),
    )
        .into_response()
}

/// A confirmation before a change that cannot be taken back: a question, the button that does it,
/// and a way back.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub heading: String,
    pub question: String,
    /// Where the form posts (without the plan's prefix).
    pub action: String,
    pub confirm_label: String,
    pub cancel_href: String,
    /// The link that backs out, e.g. "Cancel", or "Keep invitation" where "Cancel" would be
    /// ambiguous beside a "Cancel invitation" button.
    pub cancel_label: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    chrome: Chrome,
    heading: &'a str,
    text: &'a str,
    is_error: bool,
    link_href: &'a str,
    link_text: &'a str,
}

/// A page that only says something, with a link onward.
pub fn message_page(
    st: &AppState,
    parts: &Parts,
    status: StatusCode,
    heading: &str,
    text: &str,
    link_href: &str,
    link_text: &str,
) -> Response {
    let Some(plan) = parts.extensions.get::<CurrentPlan>() else {
        return (status, text.to_owned()).into_response();
    };
    let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
    render(
        status,
        &MessagePage {
            chrome: Chrome::new(st, plan, &csrf, false),
            heading,
            text,
            is_error: status.is_client_error() || status.is_server_error(),
            link_href,
            link_text,
        },
    )
}

/// The session if it is at `stage`; otherwise where its visitor belongs (sign-in, or the step
/// their session is at).
pub fn require_stage(
    s: &Option<gatehouse_services::SessionInfo>,
    stage: SessionStage,
) -> Result<gatehouse_services::SessionInfo, Redirect> {
    match s {
        None => Err(Redirect::to("/signin")),
        Some(s) if s.stage != stage => Err(Redirect::to(next_url(s.stage))),
        Some(s) => Ok(s.clone()),
    }
}

/// Where a session at `stage` goes next.
pub fn next_url(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::EmailProof => "/first-signin/email",
        SessionStage::NewPassword => "/first-password",
        SessionStage::TwoStepCode => "/two-step/code",
        SessionStage::TwoStepSetup => "/two-step/setup",
        SessionStage::StrongFactorSetup => "/two-step/strong",
        SessionStage::Terms => "/terms",
        SessionStage::Complete => "/",
    }
}

/// The session cookie for a new token.
pub fn session_cookie(st: &AppState, token: SessionToken) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token.0))
        .path("/")
        .http_only(true)
        .secure(st.secure_cookies)
        .same_site(SameSite::Lax)
        .build()
}

/// The cookie that keeps the browser's tokens of known usernames, for as long as they are
/// honoured. Sent only to this site's own requests: the sign-in form is posted from its page.
pub fn device_cookie(st: &AppState, devices: &DeviceTokens) -> Cookie<'static> {
    let max_age = time::Duration::seconds(gatehouse_domain::known_device::LIFETIME.as_secs());
    Cookie::build((DEVICE_COOKIE, devices.to_cookie_value()))
        .path("/")
        .http_only(true)
        .secure(st.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .build()
}

/// The browser's tokens of known usernames, from its cookie.
pub fn device_tokens(jar: &CookieJar) -> DeviceTokens {
    jar.get(DEVICE_COOKIE).map(|c| DeviceTokens::parse(c.value())).unwrap_or_default()
}

/// Sets the new session cookie and goes to the stage's page.
pub fn to_stage(st: &AppState, jar: CookieJar, token: SessionToken, stage: SessionStage) -> Response {
    (jar.add(session_cookie(st, token)), Redirect::to(next_url(stage))).into_response()
}

/// A local path to come back to: it starts with one `/` (`//host` and `/\\host` are taken by
/// browsers as another site, so no backslash at all) and has no control characters; else the
/// home page.
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next } else { "/" }
}

/// A Tax ID as every page shows it: nine digits, no dash (as the seeds show it and the forms ask
/// for it), so what a person reads is what they type.
pub fn tax_id_display(tax_id: &str) -> String {
    tax_id.to_owned()
}

/// A Unix time as the plan's pages show it, in the plan's time zone with its short name (like
/// `Jan 15, 2027 3:05 AM EST`); a dash when out of range.
pub fn when(plan: &gatehouse_services::plans::Plan, secs: i64) -> String {
    gatehouse_domain::Timestamp(secs).try_for_people(plan.time_zone()).unwrap_or_else(|| "—".into())
}

/// The practice grant of a signed-in session, or `None` when its user administers no practice.
pub async fn practice_grant(
    st: &AppState,
    plan: &CurrentPlan,
    s: &gatehouse_services::SessionInfo,
) -> Result<Option<gatehouse_services::practice::PracticeGrant>, Response> {
    use gatehouse_services::practice::PracticeError;
    match st.svc.practice_grant(&plan.0, s).await {
        Ok(g) => Ok(Some(g)),
        Err(PracticeError::NotAdmin) => Ok(None),
        Err(PracticeError::NotSignedIn) => Err(Redirect::to("/signin").into_response()),
        Err(e) => Err(internal_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/accounts"), "/accounts");
        assert_eq!(local_path("/access-requests?x=1"), "/access-requests?x=1");
        for bad in ["", "accounts", "//evil.example", "/\\evil.example", "https://evil.example/", "/a\nb"] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn tax_ids_are_shown_with_a_dash() {
        assert_eq!(tax_id_display("123456789"), "123456789");
        assert_eq!(tax_id_display("1"), "1");
    }
}
