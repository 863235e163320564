//! `gatehouse plan create` and `gatehouse staff invite`: bootstrapping a plan and its first
//! administrator from the command line.

use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::staff::StaffRole;
use gatehouse_services::invitations::InviteRequest;
use gatehouse_services::plans::NewPlan;
use gatehouse_services::{RequestMeta, Services};

/// Options of `gatehouse plan create`.
#[derive(Debug, Clone, Args)]
pub struct PlanCreateArgs {
    /// Short name used in paths (`/p/SLUG`) and commands: lower-case letters, digits, dashes.
    #[arg(long)]
    pub slug: String,
    /// The plan's name as members and providers know it.
    #[arg(long)]
    pub name: String,
    /// Host name the plan's portal is served at, e.g. `providers.example.org`.
    #[arg(long)]
    pub host: Option<String>,
    /// Provider services phone number shown on every page.
    #[arg(long, default_value = "1-800-555-0100")]
    pub support_phone: String,
    /// Provider services hours.
    #[arg(long, default_value = "Monday to Friday, 8 a.m. to 5 p.m.")]
    pub support_hours: String,
    /// A file with the terms and conditions (version 1).
    #[arg(long)]
    pub terms_file: Option<std::path::PathBuf>,
}

/// Options of `gatehouse staff invite`.
#[derive(Debug, Clone, Args)]
pub struct StaffInviteArgs {
    /// The plan's slug (default: the first plan).
    #[arg(long)]
    pub plan: Option<String>,
    /// `plan_admin`, `help_desk` or `auditor`.
    #[arg(long, default_value = "plan_admin")]
    pub role: String,
    #[arg(long)]
    pub first_name: String,
    #[arg(long)]
    pub last_name: String,
    #[arg(long)]
    pub email: String,
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Creates a plan.
pub async fn create_plan(svc: &Services, a: &PlanCreateArgs) -> anyhow::Result<()> {
    if !valid_slug(&a.slug) {
        bail!("--slug must be 1 to 40 lower-case letters, digits or dashes");
    }
    if svc.resolve_plan(Some(&a.slug)).await?.is_some() {
        bail!("a plan with slug {:?} already exists", a.slug);
    }
    let terms = match &a.terms_file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => "Use this portal only for the practices and providers you are authorized to act for. \
                 Protect member information as HIPAA requires. Every action is recorded."
            .to_owned(),
    };
    let plan = svc
        .create_plan(NewPlan {
            slug: a.slug.clone(),
            name: a.name.trim().to_owned(),
            host: a.host.as_ref().map(|h| h.trim().to_ascii_lowercase()),
            support_phone: a.support_phone.clone(),
            support_hours: a.support_hours.clone(),
            terms_text: terms,
        })
        .await?;
    println!("Created plan {} ({}), served at {}", plan.row.slug, plan.row.name, svc.plan_url(&plan));
    println!("Next: gatehouse staff invite --plan {} --first-name … --last-name … --email …", plan.row.slug);
    Ok(())
}

/// Invites a staff member and prints the sign-up link.
pub async fn invite_staff(svc: &Services, a: &StaffInviteArgs) -> anyhow::Result<()> {
    let plan =
        svc.resolve_plan(a.plan.as_deref()).await?.context("no such plan: create one with `gatehouse plan create`")?;
    let role = StaffRole::parse(&a.role).context("--role must be plan_admin, help_desk or auditor")?;
    let req = InviteRequest::parse(&a.first_name, &a.last_name, &a.email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let grant = svc.operator_grant(&plan);
    let invited =
        svc.invite_staff(&grant, &plan, &req, role, &RequestMeta::cli()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Invited {} as {} of {}.", req.email, role.label(), plan.row.name);
    println!("Sign-up link (also emailed; works once, for 72 hours):\n  {}", invited.link);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_slug;

    #[test]
    fn slugs() {
        assert!(valid_slug("chorus-2"));
        assert!(!valid_slug("Chorus"));
        assert!(!valid_slug(""));
        assert!(!valid_slug("a/b"));
    }
}
