//! "User Management": the administrator's practices' users, with search, filters, sorting by
//! any column and paging.

use super::{PracticeAdmin, query_string, status_label};
use crate::pages::{Chrome, render};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_services::practice::directory::{DirectoryRequest, Total};

pub fn routes() -> Routes {
    Routes::new().route("/practice/users", get(directory))
}

struct Row {
    id: i64,
    name: String,
    username: String,
    email: String,
    phone: String,
    status: &'static str,
    user_types: String,
    /// Flagged as idle (no sign-in for the plan's idle threshold).
    idle: bool,
    last_signin: String,
}

/// A sortable column header.
struct Column {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    sort: &'static str,
}

#[derive(Template)]
#[template(path = "practice/directory.html")]
struct DirectoryPage {
    chrome: Chrome,
    q: String,
    status: String,
    user_type: String,
    practice: i64,
    practices: Vec<(i64, String)>,
    user_types: Vec<(String, String)>,
    columns: Vec<Column>,
    rows: Vec<Row>,
    /// "12", "1,234" or "more than 1,000".
    total: String,
    /// Whether counting stopped (the search matches more users than are counted).
    capped: bool,
    first: i64,
    last: i64,
    prev: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

async fn directory(admin: PracticeAdmin, Query(req): Query<DirectoryRequest>) -> Response {
    let st = admin.state();
    let result = st.svc.practice_directory(&admin.grant, &admin.plan.0, &req).await;
    let (page, error) = match result {
        Ok(p) => (Some(p), None),
        Err(gatehouse_services::practice::PracticeError::Internal(e)) => return crate::pages::internal_error(e),
        Err(e) => (None, Some(e.to_string())),
    };
    let types = match st.svc.list_user_types(&admin.plan.0).await {
        Ok(t) => t,
        Err(e) => return crate::pages::internal_error(e),
    };
    let filters = |page: Option<i64>, sort: &str, dir: &str| {
        let q = query_string(&[
            ("q", req.q.clone()),
            ("status", req.status.clone()),
            ("user_type", req.user_type.clone()),
            ("practice", req.practice.map(|p| p.to_string()).unwrap_or_default()),
            ("sort", sort.to_owned()),
            ("dir", dir.to_owned()),
            ("page", page.map(|p| p.to_string()).unwrap_or_default()),
        ]);
        format!("/practice/users?{q}")
    };
    let current = if req.sort.is_empty() { "name" } else { req.sort.as_str() };
    let columns = [("Name", "name"), ("Username", "username"), ("Email", "email"), ("Status", "status")]
        .into_iter()
        .map(|(label, key)| {
            let here = key == current;
            let desc = here && req.dir == "desc";
            Column {
                label,
                href: filters(None, key, if here && !desc { "desc" } else { "" }),
                sort: if !here {
                    "none"
                } else if desc {
                    "descending"
                } else {
                    "ascending"
                },
            }
        })
        .collect();
    let (rows, total, first, last, prev, next) = match page {
        Some(p) => {
            let rows = p
                .entries
                .into_iter()
                .map(|e| Row {
                    id: e.row.id.0,
                    name: format!("{} {}", e.row.first_name, e.row.last_name),
                    username: e.row.username.unwrap_or_else(|| "—".into()),
                    email: e.row.email,
                    phone: e.row.phone.map(|p| gatehouse_domain::phone::mask_digits(&p)).unwrap_or_else(|| "—".into()),
                    status: status_label(e.row.status),
                    user_types: e.user_types.join(", "),
                    idle: e.idle,
                    last_signin: e
                        .row
                        .last_signin_at
                        .map(|t| crate::pages::when(&admin.plan.0, t))
                        .unwrap_or_else(|| "Never".into()),
                })
                .collect();
            let prev = (p.page > 1).then(|| filters(Some(p.page - 1), &req.sort, &req.dir));
            let next = p.has_next.then(|| filters(Some(p.page + 1), &req.sort, &req.dir));
            (rows, p.total, p.first, p.last, prev, next)
        }
        None => (Vec::new(), Total::Exact(0), 0, 0, None, None),
    };
    render(
        if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        &DirectoryPage {
            chrome: admin.chrome().await,
            q: req.q.clone(),
            status: req.status.clone(),
            user_type: req.user_type.clone(),
            practice: req.practice.unwrap_or(0),
            practices: admin.grant.practices().iter().map(|p| (p.id.0, format!("{} – {}", p.tax_id, p.name))).collect(),
            user_types: types.into_iter().map(|t| (t.key.as_str().to_owned(), t.name)).collect(),
            columns,
            rows,
            total: total.to_string(),
            capped: !total.is_exact(),
            first,
            last,
            prev,
            next,
            error,
        },
    )
}
