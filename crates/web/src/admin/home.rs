//! The control panel's home: who is signed in and a few figures.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, render};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

pub fn routes() -> Routes {
    Routes::new().route("/admin", get(home))
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    chrome: Chrome,
    admin: AdminChrome,
    stats: Vec<(&'static str, i64, &'static str)>,
    /// What waits for this person: (sentence, count, link).
    waiting: Vec<(String, &'static str)>,
}

async fn home(staff: Staff) -> Response {
    let (chrome, admin) = staff.chrome("/admin");
    match staff.state().svc.plan_figures(&staff.grant, &staff.plan.0).await {
        Ok(f) => render(
            StatusCode::OK,
            &HomePage {
                waiting: waiting(&f),
                chrome,
                admin,
                stats: vec![
                    ("Active users", f.active_users, "/admin/users"),
                    ("Pending invitations", f.invited_users, "/admin/users"),
                    ("Practices on the roster", f.practices, "/admin/roster"),
                    ("Providers on the roster", f.providers, "/admin/roster"),
                ],
            },
        ),
        Err(e) => internal_error(e),
    }
}

/// The things that wait for the signed-in staff member, with where to act on them.
fn waiting(f: &gatehouse_services::plans::PlanFigures) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    match f.registrations_waiting {
        0 => {}
        1 => {
            out.push(("1 administrator registration request waits for a decision.".to_owned(), "/admin/registrations"))
        }
        n => {
            out.push((format!("{n} administrator registration requests wait for a decision."), "/admin/registrations"))
        }
    }
    out
}
