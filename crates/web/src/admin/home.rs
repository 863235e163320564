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
}

async fn home(staff: Staff) -> Response {
    let (chrome, admin) = staff.chrome("/admin");
    match staff.state().svc.plan_figures(&staff.grant, &staff.plan.0).await {
        Ok(f) => render(
            StatusCode::OK,
            &HomePage {
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
