//! The practice administrator's pages ("User Management"): the directory, one user's page with
//! every change an administrator makes, inviting a list of people, and pending invitations.
//! Every handler takes a [`PracticeAdmin`], which exists only for a signed-in user who
//! administers at least one Tax ID; the services check each target against it again.

mod directory;
mod invite;
mod member;

use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::{Chrome, message_page};
use crate::routing::Routes;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::session::SessionStage;
use gatehouse_services::practice::{PracticeError, PracticeGrant};
use gatehouse_services::{RequestMeta, SessionInfo};

pub fn routes() -> Routes {
    Routes::new().merge(directory::routes()).merge(member::routes()).merge(invite::routes())
}

/// A signed-in practice administrator on one of these pages.
pub struct PracticeAdmin {
    pub grant: PracticeGrant,
    pub session: SessionInfo,
    pub plan: CurrentPlan,
    pub csrf: CsrfToken,
    pub meta: RequestMeta,
    state: AppState,
    parts: Parts,
}

impl PracticeAdmin {
    /// The page chrome (wide, for tables), with the account switcher.
    pub async fn chrome(&self) -> Chrome {
        let here = self.parts.uri.path().to_owned();
        match Chrome::for_session(&self.state, &self.plan, &self.csrf, &self.session, &here).await {
            Ok((c, _)) => c.wide(),
            Err(_) => Chrome::new(&self.state, &self.plan, &self.csrf, true).wide(),
        }
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The request's parts (for message pages).
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// A page that only says something (e.g. a refusal), with a link onward.
    pub fn message(&self, status: StatusCode, heading: &str, text: &str, href: &str, link: &str) -> Response {
        message_page(&self.state, &self.parts, status, heading, text, href, link)
    }

    /// The page for a refusal from the services.
    pub fn refused(&self, e: PracticeError) -> Response {
        match e {
            PracticeError::Internal(i) => crate::pages::internal_error(i),
            PracticeError::NotSignedIn => Redirect::to("/signin").into_response(),
            PracticeError::NotFound => self.message(
                StatusCode::NOT_FOUND,
                "Not found",
                &e.to_string(),
                "/practice/users",
                "Back to User Management",
            ),
            PracticeError::OwnAccount => self.message(
                StatusCode::FORBIDDEN,
                "Change it on My Profile",
                &e.to_string(),
                "/profile",
                "Go to My Profile",
            ),
            PracticeError::NotYours(m) => self.message(
                StatusCode::FORBIDDEN,
                "Not yours to change",
                &m,
                "/practice/users",
                "Back to User Management",
            ),
            other => self.message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "That change was not made",
                &other.to_string(),
                "/practice/users",
                "Back to User Management",
            ),
        }
    }
}

impl FromRequestParts<AppState> for PracticeAdmin {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let session = match CookieSession::from_request_parts(parts, st).await?.0 {
            Some(s) if s.stage == SessionStage::Complete => s,
            Some(s) => return Err(Redirect::to(crate::pages::next_url(s.stage)).into_response()),
            None => return Err(Redirect::to("/signin").into_response()),
        };
        let Meta(meta) = Meta::from_request_parts(parts, st).await.map_err(|e| match e {})?;
        let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
        match st.svc.practice_grant(&plan.0, &session).await {
            Ok(grant) => Ok(Self { grant, session, plan, csrf, meta, state: st.clone(), parts: parts.clone() }),
            Err(PracticeError::Internal(e)) => Err(crate::pages::internal_error(e)),
            Err(_) => Err(message_page(
                st,
                parts,
                StatusCode::FORBIDDEN,
                "User management is for practice administrators",
                "Only an administrator of your practice can add or change its users. Ask your practice's administrator.",
                "/",
                "Go to your home page",
            )),
        }
    }
}

/// "Active", "Invited (not signed up yet)" or "Deactivated".
pub fn status_label(s: gatehouse_domain::UserStatus) -> &'static str {
    match s {
        gatehouse_domain::UserStatus::Active => "Active",
        gatehouse_domain::UserStatus::Invited => "Invited (not signed up yet)",
        gatehouse_domain::UserStatus::Deactivated => "Deactivated",
    }
}

/// A query string (`a=1&b=x%20y`) of the non-empty pairs.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let kept: Vec<_> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}
