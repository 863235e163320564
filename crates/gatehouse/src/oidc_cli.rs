//! `gatehouse oidc rotate-keys`: rotating a plan's OpenID Connect signing keys by hand (the daily
//! job rotates them every 90 days on its own).

use anyhow::Context;
use gatehouse_services::oidc::LineRotation;
use gatehouse_services::{RequestMeta, Services};

/// Rotates the signing keys of the plan named `slug` (the first plan without one) and prints what
/// was done.
pub async fn rotate_keys(svc: &Services, slug: Option<&str>) -> anyhow::Result<()> {
    let plan = svc.resolve_plan(slug).await?.context("no such plan: see `gatehouse plan create`")?;
    let report = svc.oidc_rotate_keys(&plan, svc.clock.now(), &RequestMeta::cli()).await?;
    for line in &report.lines {
        match line {
            LineRotation::Published { alg, kid, active_from } => {
                let when = plan.when(gatehouse_domain::Timestamp(*active_from));
                println!("plan {}: {alg} key {kid} published; it signs from {when}", plan.row.slug);
            }
            LineRotation::AlreadyPending { alg } => {
                println!("plan {}: {alg}: a new key is already published and waiting; nothing to do", plan.row.slug)
            }
            LineRotation::NoKeys { alg } => println!("plan {}: {alg}: no keys (made when first needed)", plan.row.slug),
        }
    }
    if !report.deleted.is_empty() {
        println!("plan {}: retired keys deleted: {}", plan.row.slug, report.deleted.join(", "));
    }
    Ok(())
}
