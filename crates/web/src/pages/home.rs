//! The home page and the "Your sessions" page. A signed-in user with no linked account (and not
//! plan staff) is taken from the home page to their offers of a practice when they have some,
//! else to associate their account first. After a sign-in with a code sent by text or voice,
//! the home page may suggest adding an authenticator app or a passkey ("Not now" is a plain form
//! post to `/factor-nudge/dismiss`).

use super::ConfirmPage;
use super::{Chrome, internal_error, message_page, render, when};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, SignedIn};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::SessionId;
use gatehouse_services::SessionInfo;
use gatehouse_services::account::Me;
use gatehouse_services::factor_nudge::Welcome;
use gatehouse_services::sessions::SessionError;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/", get(home))
        .route("/factor-nudge/dismiss", post(dismiss_nudge))
        .route("/sessions", get(sessions_page))
        .route("/sessions/{id}/end", get(end_confirm).post(end_submit))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    me: Me,
    last_signin: String,
    is_staff: bool,
    /// (practice, Tax ID as 12-3456789) of the active linked account.
    acting_for: Option<(String, String)>,
    /// Pending access requests for the practices the user administers.
    waiting_requests: usize,
    /// Open offers of a practice to the user.
    waiting_offers: usize,
    /// The account just linked: (practice, Tax ID, whether the user administers it).
    linked: Option<(String, String, bool)>,
    /// Suggest adding an authenticator app or a passkey.
    nudge: bool,
}

#[derive(Deserialize)]
struct HomeQuery {
    /// The affiliation just linked in step 2 of association.
    linked: Option<gatehouse_domain::AffiliationId>,
}

async fn home(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Query(q): Query<HomeQuery>,
    jar: axum_extra::extract::CookieJar,
) -> Response {
    let is_staff = st.svc.staff_grant(&plan.0, Some(&s)).await.is_ok();
    let (chrome, linked) = match Chrome::for_session(&st, &plan, &csrf, &s, "/").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // Offers of a practice wait for their person; someone with no practice yet answers them first.
    let waiting_offers = match st.svc.my_offers(&plan.0, &s).await {
        Ok(list) => list.len(),
        Err(e) => return internal_error(e),
    };
    if linked.is_empty() && !is_staff {
        return Redirect::to(if waiting_offers > 0 { "/offers" } else { "/associate" }).into_response();
    }
    // An application's sign-in request waits for this browser: its person is now signed in.
    if jar.get(crate::oidc::PENDING_COOKIE).is_some() {
        return Redirect::to("/oauth2/authorize/resume").into_response();
    }
    let waiting_requests = match crate::pages::practice_grant(&st, &plan, &s).await {
        Ok(Some(grant)) => match st.svc.pending_access_requests(&grant, &plan.0).await {
            Ok((list, _)) => list.len(),
            Err(e) => return internal_error(e),
        },
        Ok(None) => 0,
        Err(r) => return r,
    };
    let just_linked = q
        .linked
        .and_then(|id| linked.iter().find(|a| a.id == id))
        .map(|a| (a.practice_name.clone(), a.tax_id_display(), a.is_admin));
    let acting_for = linked.iter().find(|a| a.active).map(|a| (a.practice_name.clone(), a.tax_id_display()));
    match st.svc.welcome(&plan.0, &s).await {
        Ok(Welcome { me, suggest_strong_factor }) => {
            let last_signin =
                me.previous_signin_at.map(|t| when(&plan.0, t)).unwrap_or_else(|| "This is your first sign-in".into());
            let page = HomePage {
                chrome: chrome.staff(is_staff),
                me,
                last_signin,
                is_staff,
                acting_for,
                waiting_requests,
                waiting_offers,
                linked: just_linked,
                nudge: suggest_strong_factor,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => internal_error(e),
    }
}

/// "Not now" on the suggestion to add an app or a passkey: hidden, back to the home page.
async fn dismiss_nudge(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
) -> Response {
    match st.svc.dismiss_factor_nudge(&plan.0, &s, &meta).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => internal_error(e),
    }
}

struct SessionRow {
    id: SessionId,
    current: bool,
    device: String,
    ip: String,
    signed_in: String,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
    notice: Option<String>,
}

/// A short, readable name for a browser's user agent.
fn device(ua: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map(|b| b.trim_end_matches('/'))
        .unwrap_or("Browser");
    let browser = if browser == "Edg" { "Edge" } else { browser };
    let os =
        ["Windows", "Mac OS X", "Android", "iPhone", "Linux"].iter().find(|o| ua.contains(*o)).copied().unwrap_or("");
    if ua.is_empty() {
        "Unknown device".into()
    } else if os.is_empty() {
        browser.to_owned()
    } else {
        format!("{browser} on {}", if os == "Mac OS X" { "Mac" } else { os })
    }
}

async fn list(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    notice: Option<String>,
) -> Response {
    let chrome = match Chrome::for_session(st, plan, csrf, s, "/sessions").await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    match st.svc.list_sessions(&plan.0, s).await {
        Ok(list) => {
            let sessions = list
                .into_iter()
                .map(|v| SessionRow {
                    id: v.id,
                    current: v.current,
                    device: device(&v.user_agent),
                    ip: v.ip,
                    signed_in: when(&plan.0, v.signed_in_at),
                    last_seen: when(&plan.0, v.last_seen_at),
                })
                .collect();
            render(StatusCode::OK, &SessionsPage { chrome: chrome.wide(), sessions, notice })
        }
        Err(SessionError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(SessionError::NotFound) => (StatusCode::NOT_FOUND, "That session was not found.").into_response(),
        Err(SessionError::Internal(e)) => internal_error(e),
    }
}

async fn sessions_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
) -> Response {
    list(&st, &plan, &csrf, &s, None).await
}

async fn end_confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Path(id): Path<SessionId>,
) -> Response {
    // Only one's own session: another's reads as not found.
    match st.svc.list_sessions(&plan.0, &s).await {
        Ok(list) if list.iter().any(|v| v.id == id) => {}
        Ok(_) | Err(SessionError::NotFound) => {
            return (StatusCode::NOT_FOUND, "That session was not found among yours.").into_response();
        }
        Err(SessionError::NotSignedIn) => return Redirect::to("/signin").into_response(),
        Err(SessionError::Internal(e)) => return internal_error(e),
    }
    let chrome = match Chrome::for_session(&st, &plan, &csrf, &s, "/sessions").await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: "Sign out that session?".into(),
            question: "The browser or device using that session will be signed out at once and must sign in again."
                .into(),
            action: format!("/sessions/{id}/end"),
            confirm_label: "Sign out that session".into(),
            cancel_href: "/sessions".into(),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn end_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<SessionId>,
    parts: RequestParts,
) -> Response {
    if id == s.id {
        return message_page(
            &st,
            &parts.0,
            StatusCode::BAD_REQUEST,
            "That is this session",
            "To end this session, use Sign out at the top of the page.",
            "/sessions",
            "Back to your sessions",
        );
    }
    match st.svc.end_session(&plan.0, &s, id, &meta).await {
        Ok(()) => list(&st, &plan, &csrf, &s, Some("That session was signed out.".into())).await,
        Err(SessionError::NotFound) => message_page(
            &st,
            &parts.0,
            StatusCode::NOT_FOUND,
            "Session not found",
            "That session was not found or has already ended.",
            "/sessions",
            "Back to your sessions",
        ),
        Err(SessionError::NotSignedIn) => Redirect::to("/signin").into_response(),
        Err(SessionError::Internal(e)) => internal_error(e),
    }
}

/// The request's parts, for building message pages.
pub(super) struct RequestParts(pub(super) Parts);

impl RequestParts {
    /// The request's CSRF token (for a page rendered after a post).
    pub(super) fn csrf(&self) -> CsrfToken {
        self.0.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestParts {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.clone()))
    }
}
