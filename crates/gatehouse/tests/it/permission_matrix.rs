//! The permission matrix (after Keycloak's `PermissionsTest`): every route the router serves
//! (read from `gatehouse_web::route_table`, so a new route without a row here fails) × every
//! actor × every kind of target, each answer compared with the rule of the route's row.
//!
//! Policy (PRODUCT.md "Who may act on whom"): plan administrator > help desk > auditor >
//! practice administrator > portal user; nobody acts on an account above their own role; no
//! practice administrator reaches an account holding a staff role; a practice administrator
//! changes an account only when they administer every practice it works for; another practice's
//! or plan's object reads as 404.
//!
//! The forbidden cells run first and must change nothing (a digest of the tables that matter is
//! taken before and after); then the allowed cells, the destructive ones last.

mod table;
mod world;

use crate::both;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};
use table::{Expect, IdKind, Row, rows};
use world::{Actor, Target, World};

/// One request of the matrix.
#[derive(Clone, Copy)]
struct Cell<'a> {
    row: &'a Row,
    action: Option<&'static str>,
    actor: &'a Actor,
    target: Option<&'a Target>,
    expect: Expect,
    phase: u8,
}

impl Cell<'_> {
    fn path(&self) -> String {
        let mut p = self.row.path.to_owned();
        if let Some(t) = self.target {
            if p.contains("{aid}") {
                p = p.replace("{aid}", &t.value).replace("{id}", &t.owner_value());
            } else if p.contains("{id}") && p.contains("{user}") {
                // A review's user: the review in `{id}`, its member in `{user}`.
                p = p.replace("{id}", &t.value).replace("{user}", &t.owner_value());
            } else {
                for k in ["{id}", "{user}", "{attempt}", "{key}"] {
                    p = p.replace(k, &t.value);
                }
            }
        }
        if let Some(a) = self.action {
            p = p.replace("{action}", a);
        }
        p
    }

    fn name(&self) -> String {
        let target = self.target.map_or("-".to_owned(), |t| t.label.clone());
        format!("{} {} | {} | {}", self.row.method, self.path(), self.actor.name, target)
    }
}

/// An answer as the matrix judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
}

impl Answer {
    fn show(&self) -> String {
        match &self.location {
            Some(l) => format!("{} → {l}", self.status.as_u16()),
            None => self.status.as_u16().to_string(),
        }
    }

    /// Redirected into one of `steps` of signing in; `after_sign_out` counts the sign-in page
    /// shown after signing out (`?signed_out=1`) too.
    fn redirected_to(&self, steps: &[&str], after_sign_out: bool) -> bool {
        self.status.is_redirection()
            && self.location.as_deref().is_some_and(|l| {
                let (path, query) = l.split_once('?').unwrap_or((l, ""));
                (after_sign_out || !query.contains("signed_out")) && steps.iter().any(|s| path.ends_with(s))
            })
    }

    /// A refusal: 401, 403, 404, or (pages) a redirect to sign in or to finish signing in. (Signing
    /// out without a session lands on the sign-in page: nothing was done.)
    fn denied(&self) -> bool {
        matches!(self.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
            || self.redirected_to(&["/signin", "/two-step/code", "/two-step/setup", "/terms"], true)
    }

    /// Refused where it should have been let through: 401, 403, 404, or sent to sign in. (Being
    /// sent on to the next step of signing in is the answer of a step that is not yours yet, and
    /// the sign-in page after signing out is the answer of signing out.)
    fn refused(&self) -> bool {
        matches!(self.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
            || self.redirected_to(&["/signin"], false)
    }

    /// Whether the answer matches the expectation; `None` when it does.
    fn judge(&self, expect: Expect) -> Option<&'static str> {
        match expect {
            Expect::Allow | Expect::Public if self.status.is_server_error() => Some("no server error"),
            Expect::Allow if self.refused() => Some("allowed, not denied"),
            // A public route answers bad credentials with 401 (sign-in), never "forbidden".
            Expect::Public if self.status == StatusCode::FORBIDDEN => Some("public, not forbidden"),
            Expect::Deny if !self.denied() => Some("denied (401/403/404 or to /signin)"),
            Expect::NotFound if self.status != StatusCode::NOT_FOUND => Some("404 not found"),
            _ => None,
        }
    }
}

async fn permission_matrix(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let started = std::time::Instant::now();
    let world = World::build(&app).await;
    let setup = started.elapsed();
    let table = rows();

    // Every route of the router has a row, and every row a route.
    let routes: BTreeSet<(String, String)> =
        world.routes.iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    let rowed: BTreeSet<(String, String)> = table.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    let missing: Vec<String> = routes.difference(&rowed).map(|(m, p)| format!("{m} {p}")).collect();
    let stale: Vec<String> = rowed.difference(&routes).map(|(m, p)| format!("{m} {p}")).collect();
    assert!(missing.is_empty(), "routes without a row in the permission matrix (add one to table.rs): {missing:#?}");
    assert!(stale.is_empty(), "rows of the permission matrix for routes the router no longer has: {stale:#?}");

    // All cells.
    let mut cells = Vec::new();
    for row in &table {
        let actions: Vec<Option<&'static str>> =
            if row.actions.is_empty() { vec![None] } else { row.actions.iter().map(|a| Some(a.0)).collect() };
        for action in actions {
            let rule = action.and_then(|a| row.actions.iter().find(|x| x.0 == a)).map_or(row.rule, |x| x.1);
            let phase = row.phase_of(action);
            for actor in &world.actors {
                if row.ids == IdKind::None {
                    let expect = rule.expect(actor, None);
                    cells.push(Cell { row, action, actor, target: None, expect, phase });
                } else {
                    for t in world.targets(row.ids, actor) {
                        let expect = rule.expect(actor, Some(t));
                        cells.push(Cell { row, action, actor, target: Some(t), expect, phase });
                    }
                }
            }
        }
    }
    let total = cells.len();
    let (forbidden, mut allowed): (Vec<&Cell>, Vec<&Cell>) =
        cells.iter().partition(|c| matches!(c.expect, Expect::Deny | Expect::NotFound));
    // Stable: within a phase, reads first, then the table's order.
    allowed.sort_by_key(|c| (c.phase, c.row.method != "GET"));

    let mut failures: Vec<String> = Vec::new();
    // 1. Forbidden cells: each a refusal, and all of them together change nothing.
    let before = world.digest(&app).await;
    for c in &forbidden {
        let a = world.send(&app, c).await;
        if let Some(wanted) = a.judge(c.expect) {
            failures.push(format!("{} | expected {wanted}, got {}", c.name(), a.show()));
        }
    }
    let after = world.digest(&app).await;
    let changed: Vec<String> = before
        .iter()
        .filter(|(t, d)| after.get(*t) != Some(*d))
        .map(|(t, d)| {
            format!("table {t}: {} rows before, {} after (or contents differ)", d.0, after.get(t).map_or(0, |a| a.0))
        })
        .collect();

    // 2. Allowed cells, in phases: reads and harmless writes, destructive actions, the actor's own end.
    let mut phase = 0;
    let mut skipped = 0;
    for c in &allowed {
        if c.phase != phase {
            phase = c.phase;
            world.refresh_sessions(&app).await;
        }
        if c.phase >= 1 && c.target.is_some_and(|t| t.is_actor(c.actor)) {
            skipped += 1; // acting destructively on oneself would end or demote the actor: not run
            continue;
        }
        // Taking a user out of a practice spoils the target for the next actor: each such cell
        // gets a throwaway user of the same practices.
        let fresh = match c.target {
            Some(t) if c.phase == 2 && matches!(c.row.ids, IdKind::User | IdKind::Affiliation | IdKind::Invitation) => {
                Some(world.throwaway(&app, c.row.ids, t).await)
            }
            _ => None,
        };
        let c = &Cell { target: fresh.as_ref().or(c.target), ..**c };
        let a = world.send(&app, c).await;
        if let Some(wanted) = a.judge(c.expect) {
            failures.push(format!("{} | expected {wanted}, got {}", c.name(), a.show()));
        }
    }

    let by_rule: BTreeMap<&str, usize> = table.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.rule.name()).or_default() += 1;
        m
    });
    eprintln!(
        "permission matrix ({backend:?}): {} routes × {} actors × targets = {total} cells ({} forbidden, {} allowed); \
         {skipped} destructive cells on the actor themselves not run; set-up {:.1}s, total {:.1}s; \
         rows by rule: {by_rule:?}",
        routes.len(),
        world.actors.len(),
        forbidden.len(),
        allowed.len(),
        setup.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    let report = failures.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n");
    if !failures.is_empty() || !changed.is_empty() {
        eprintln!("FAILING CELLS ({}):\n{report}\nCHANGED BY FORBIDDEN CELLS: {changed:#?}", failures.len());
    }
    app.stop().await;
    assert!(changed.is_empty(), "forbidden requests changed data: {changed:#?}");
    assert!(failures.is_empty(), "{} of {total} cells differ from the table:\n{report}", failures.len());
}
both!(permission_matrix);
