//! The permission check's provider rule as a Cedar policy, for `gatehouse bench authz` built
//! with `--features cedar-bench`. One policy per permission:
//!
//! ```text
//! permit(principal, action == Action::"claims.submit", resource)
//! when { principal.active && !resource.end_dated &&
//!        (principal.claims_submit_all.contains(resource.practice) ||
//!         principal.claims_submit_listed.contains(resource)) };
//! ```
//!
//! A user's `<permission>_all` holds the practices where an affiliation grants the permission
//! for all providers, `<permission>_listed` the providers of affiliations that list them. The
//! entities of the checked users and providers are built beforehand; each check is one
//! `Authorizer::is_authorized`.

use super::authz::{Synthetic, checks, synthetic};
use super::percentile;
use anyhow::Context;
use cedar_policy::{
    Authorizer, Context as CedarContext, Decision, Entities, Entity, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use gatehouse_domain::permissions::Permission;
use gatehouse_services::authz::index::{Check, PlanIndex, Target, Who};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Instant;

/// Provider checks timed through Cedar.
const SAMPLES: usize = 20_000;

fn attr(p: Permission) -> String {
    p.as_str().replace('.', "_")
}

fn uid(kind: &str, id: &str) -> anyhow::Result<EntityUid> {
    EntityUid::from_str(&format!("{kind}::\"{id}\"")).map_err(|e| anyhow::anyhow!("entity uid: {e}"))
}

fn policies() -> anyhow::Result<PolicySet> {
    let text: String = Permission::ALL
        .iter()
        .map(|p| {
            let a = attr(*p);
            format!(
                "permit(principal, action == Action::\"{}\", resource) when {{ principal.active && !resource.end_dated && \
                 (principal.{a}_all.contains(resource.practice) || principal.{a}_listed.contains(resource)) }};\n",
                p.as_str()
            )
        })
        .collect();
    PolicySet::from_str(&text).map_err(|e| anyhow::anyhow!("policies: {e}"))
}

/// Times provider checks through Cedar and through the index; returns Cedar's p50 and p99 in
/// ns, and how many of the answers agree out of how many.
pub fn compare(affiliations: usize, tax_ids: usize) -> anyhow::Result<(u64, u64, usize, usize)> {
    let s = synthetic(affiliations, tax_ids);
    let list: Vec<Check> = checks(&s, SAMPLES * 2, tax_ids)
        .into_iter()
        .filter(|c| matches!(c.target, Target::ProviderId(_)))
        .take(SAMPLES)
        .collect();
    let entities = entities(&s, &list)?;
    let policies = policies()?;
    let Synthetic { rows, types, .. } = s;
    let ix = PlanIndex::build(rows, types);
    let authorizer = Authorizer::new();
    let mut times = Vec::with_capacity(list.len());
    let mut agree = 0;
    for c in &list {
        let (Who::Id(user), Target::ProviderId(provider)) = (&c.who, &c.target) else { continue };
        let start = Instant::now();
        let request = Request::new(
            uid("User", &user.to_string())?,
            uid("Action", c.permission.as_str())?,
            uid("Provider", provider)?,
            CedarContext::empty(),
            None,
        )
        .map_err(|e| anyhow::anyhow!("request: {e}"))?;
        let allowed = authorizer.is_authorized(&request, &policies, &entities).decision() == Decision::Allow;
        times.push(start.elapsed().as_nanos() as u64);
        agree += usize::from(allowed == ix.check(c).allowed());
    }
    times.sort_unstable();
    let p50 = percentile(&times, 50.0).context("no Cedar sample")?;
    let p99 = percentile(&times, 99.0).context("no Cedar sample")?;
    Ok((p50, p99, agree, times.len()))
}

/// The users and providers the checks name, with the attributes the policies read.
fn entities(s: &Synthetic, list: &[Check]) -> anyhow::Result<Entities> {
    let users: HashSet<i64> = list.iter().filter_map(|c| if let Who::Id(u) = c.who { Some(u) } else { None }).collect();
    let providers: HashSet<&str> = list
        .iter()
        .filter_map(|c| if let Target::ProviderId(p) = &c.target { Some(p.as_str()) } else { None })
        .collect();
    let types: HashMap<&str, _> = s.types.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let by_row: HashMap<i64, &str> = s.rows.providers.iter().map(|p| (p.id, p.provider_id.as_str())).collect();
    let mut scopes: HashMap<i64, Vec<i64>> = HashMap::new();
    for (a, p) in &s.rows.scopes {
        scopes.entry(*a).or_default().push(*p);
    }
    // (user, permission attribute) → practices (all) and providers (listed).
    let mut all: HashMap<(i64, String), Vec<EntityUid>> = HashMap::new();
    let mut listed: HashMap<(i64, String), Vec<EntityUid>> = HashMap::new();
    for a in s.rows.affiliations.iter().filter(|a| users.contains(&a.user_id)) {
        let mut set = types.get(a.user_type.as_str()).copied().unwrap_or_default();
        if a.is_admin {
            set.insert(Permission::UsersManage);
        }
        for p in set.iter() {
            let key = (a.user_id, attr(p));
            if a.all_providers {
                all.entry(key).or_default().push(uid("Practice", &a.practice_id.to_string())?);
            } else {
                for row in scopes.get(&a.id).into_iter().flatten() {
                    if let Some(pid) = by_row.get(row) {
                        listed.entry(key.clone()).or_default().push(uid("Provider", pid)?);
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(users.len() + providers.len());
    let active: HashMap<i64, bool> = s.rows.users.iter().map(|u| (u.id, u.active)).collect();
    for u in &users {
        let mut attrs = HashMap::new();
        attrs.insert("active".to_owned(), RestrictedExpression::new_bool(active.get(u).copied().unwrap_or(false)));
        for p in Permission::ALL {
            let a = attr(p);
            let set = |m: &HashMap<(i64, String), Vec<EntityUid>>| {
                let list = m.get(&(*u, a.clone())).cloned().unwrap_or_default();
                RestrictedExpression::new_set(list.into_iter().map(RestrictedExpression::new_entity_uid))
            };
            attrs.insert(format!("{a}_all"), set(&all));
            attrs.insert(format!("{a}_listed"), set(&listed));
        }
        out.push(Entity::new(uid("User", &u.to_string())?, attrs, HashSet::new()).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    for p in s.rows.providers.iter().filter(|p| providers.contains(p.provider_id.as_str())) {
        let attrs = HashMap::from([
            ("practice".to_owned(), RestrictedExpression::new_entity_uid(uid("Practice", &p.practice_id.to_string())?)),
            ("end_dated".to_owned(), RestrictedExpression::new_bool(p.end_dated)),
        ]);
        out.push(
            Entity::new(uid("Provider", &p.provider_id)?, attrs, HashSet::new()).map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    Entities::from_entities(out, None).map_err(|e| anyhow::anyhow!("entities: {e}"))
}
