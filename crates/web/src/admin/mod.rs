//! The plan's control panel (`/admin`): a left navigation showing only what the signed-in staff
//! member's role may use, and every route checked on the server (the services check again).

mod applications;
mod audit;
mod home;
mod messages;
mod migration;
mod profile_updates;
mod registrations;
mod reviews;
mod roster;
mod settings;
mod staff;
mod topics;
mod user_types;
mod users;

use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::{Chrome, render};
use crate::routing::Routes;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::SessionInfo;
use gatehouse_services::staff::{Denied, StaffGrant};

/// The control panel's routes, CSRF-protected like every page.
pub fn routes(state: AppState) -> Routes {
    Routes::new()
        .merge(home::routes())
        .merge(messages::routes())
        .merge(registrations::routes())
        .merge(roster::routes())
        .merge(audit::routes())
        .merge(staff::routes())
        .merge(settings::routes())
        .merge(topics::routes())
        .merge(user_types::routes())
        .merge(users::routes())
        .merge(applications::routes())
        .merge(migration::routes())
        .merge(profile_updates::routes())
        .merge(reviews::routes())
        .layer(axum::middleware::from_fn_with_state(state, crate::csrf::protect))
}

/// The largest roster upload the control panel reads (a roster file); the server-wide limit is
/// this or the API's message body, whichever is larger (`crate::router`). Every other extractor
/// keeps axum's 2 MB default.
pub const MAX_UPLOAD: usize = roster::MAX_ROSTER_FILE + 64 * 1024;

/// One entry of the left navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What the control panel's layout shows.
pub struct AdminChrome {
    pub role_label: &'static str,
    pub actor_name: String,
    pub nav: Vec<NavItem>,
}

/// The sections of the control panel and who may see them.
pub const SECTIONS: &[(&str, &str, Option<StaffPermission>)] = &[
    ("/admin", "Home", None),
    ("/admin/registrations", "Registration requests", Some(StaffPermission::Registrations)),
    ("/admin/messages", "Mailbox", Some(StaffPermission::Messages)),
    ("/admin/users", "Users", Some(StaffPermission::UserSearch)),
    ("/admin/reviews", "Access reviews", Some(StaffPermission::ReviewsRead)),
    ("/admin/migration", "Account migration", Some(StaffPermission::UserSearch)),
    ("/admin/roster", "Roster", Some(StaffPermission::RosterView)),
    ("/admin/audit", "Audit", Some(StaffPermission::AuditRead)),
    ("/admin/staff", "Staff", Some(StaffPermission::ManageStaff)),
    ("/admin/settings", "Settings", Some(StaffPermission::PlanSettings)),
    ("/admin/user-types", "User types", Some(StaffPermission::PlanSettings)),
    ("/admin/applications", "Applications", Some(StaffPermission::Applications)),
];

/// A signed-in staff member on a control-panel page.
pub struct Staff {
    pub grant: StaffGrant,
    pub session: SessionInfo,
    pub plan: CurrentPlan,
    pub csrf: CsrfToken,
    pub meta: gatehouse_services::RequestMeta,
    pub name: String,
    state: AppState,
    parts: Parts,
}

impl Staff {
    /// The page chrome and the navigation with `current` marked.
    pub fn chrome(&self, current: &str) -> (Chrome, AdminChrome) {
        let chrome = Chrome::new(&self.state, &self.plan, &self.csrf, true).wide().staff(true);
        let nav = SECTIONS
            .iter()
            .filter(|(_, _, p)| p.is_none_or(|p| self.grant.may(p)))
            .map(|(href, label, _)| NavItem { href, label, current: *href == current })
            .collect();
        (chrome, AdminChrome { role_label: self.grant.role().label(), actor_name: self.name.clone(), nav })
    }

    /// Checks a permission for this page; refuses (audited) with a 403 page.
    pub async fn require(&self, p: StaffPermission) -> Result<(), Response> {
        if self.grant.may(p) {
            return Ok(());
        }
        let _ = self.state.svc.audit_denied(&self.plan.0, Some(&self.session), "admin.access_denied", &self.meta).await;
        Err(self.denied_page())
    }

    fn denied_page(&self) -> Response {
        #[derive(Template)]
        #[template(path = "admin/denied.html")]
        struct DeniedPage {
            chrome: Chrome,
            admin: AdminChrome,
        }
        let (chrome, admin) = self.chrome("");
        render(StatusCode::FORBIDDEN, &DeniedPage { chrome, admin })
    }

    /// The request's parts (for message pages).
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let session = CookieSession::from_request_parts(parts, st).await?.0;
        let Meta(meta) = Meta::from_request_parts(parts, st).await.map_err(|e| match e {})?;
        let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
        match st.svc.staff_access(&plan.0, session.as_ref(), &meta).await {
            Ok(grant) => {
                let session = session.ok_or_else(|| Redirect::to("/signin").into_response())?;
                let name = match st.svc.me(&plan.0, &session).await {
                    Ok(me) => format!("{} {}", me.first_name, me.last_name),
                    Err(e) => return Err(crate::pages::internal_error(e)),
                };
                Ok(Self { grant, session, plan, csrf, meta, name, state: st.clone(), parts: parts.clone() })
            }
            Err(Denied::NotSignedIn) => Err(match session {
                Some(s) => Redirect::to(crate::pages::next_url(s.stage)).into_response(),
                None => Redirect::to("/signin").into_response(),
            }),
            Err(Denied::NotPermitted) => Err(crate::pages::message_page(
                st,
                parts,
                StatusCode::FORBIDDEN,
                "No access",
                "The control panel is for the plan's staff. If you need access, ask a plan administrator.",
                "/",
                "Go to your home page",
            )),
        }
    }
}
