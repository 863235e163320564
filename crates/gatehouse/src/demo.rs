//! Demo data: one plan, a few active users with known passwords and two-step phones, and one
//! pending invitation whose email sits in the development outbox.

use anyhow::Context;
use gatehouse_services::audit::{self, Event};
use gatehouse_services::invitations::InviteRequest;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::{RequestMeta, Services};
use gatehouse_store::users::{self, NewUser};
use serde_json::json;

/// A demo account, printed at start.
pub struct DemoAccount {
    pub username: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub phone: &'static str,
}

/// The demo accounts.
pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        username: "ocarter",
        password: "orchard lantern harbor",
        name: "Olivia Carter",
        role: "Office Manager, Lakeside Family Medicine",
        phone: "+12065550143",
    },
    DemoAccount {
        username: "jpatel",
        password: "granite willow compass",
        name: "Jay Patel",
        role: "Billing Staff, Lakeside Family Medicine",
        phone: "+12065559975",
    },
];

/// The plan's terms and conditions (version 1).
pub const TERMS: &str = "PROVIDER PORTAL TERMS OF USE (version 1)\n\n\
1. You will use the portal only for the practices and providers you are authorized to act for.\n\
2. You will keep your username, password and two-step phone to yourself and never share an account.\n\
3. Information about members is protected health information. You will view, use and disclose it only \
as HIPAA permits, for treatment, payment and health care operations.\n\
4. Every action you take is recorded.\n\
5. Tell your practice administrator at once if you suspect someone else used your account.";

/// Loads the demo plan and accounts unless the database already has a plan. Returns the plan and
/// whether data was loaded now.
pub async fn load(svc: &Services) -> anyhow::Result<(Plan, bool)> {
    if let Some(p) = svc.resolve_plan(None, None).await? {
        return Ok((p, false));
    }
    let plan = svc
        .create_plan(NewPlan {
            slug: "chorus".into(),
            name: "Chorus Community Health Plan".into(),
            host: None,
            support_phone: "1-800-555-0199".into(),
            support_hours: "Monday to Friday, 8 a.m. to 6 p.m. Pacific".into(),
            terms_text: TERMS.into(),
        })
        .await?;
    let meta = RequestMeta::cli();
    for a in ACCOUNTS {
        let hash = svc.hasher.hash(a.password).await.context("hashing a demo password")?;
        let (first, last) = a.name.split_once(' ').unwrap_or((a.name, ""));
        let email = format!("{}@lakeside-family.example.org", a.username);
        let now = svc.now();
        let mut tx = svc.db.begin().await?;
        let id = users::insert_active(
            &mut tx,
            &NewUser { plan_id: plan.id(), first_name: first, middle_name: "", last_name: last, email: &email },
            a.username,
            &hash,
            Some((a.phone, "text")),
            Some(plan.row.terms_version),
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            &meta,
            Event::new("demo.user_created").on(id).detail(json!({"username": a.username})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
    }
    let invite = InviteRequest::parse("Maria", "Lopez", "maria.lopez@lakeside-family.example.org")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    svc.invite(&plan, None, &invite, &meta).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((plan, true))
}
