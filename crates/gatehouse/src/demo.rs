//! Demo data: one plan, a few active users with known passwords and two-step phones, and one
//! pending invitation, ocarter's of Maria Lopez to Lakeside Family Medicine, whose email sits in
//! the development outbox.

use anyhow::Context;
use gatehouse_domain::roster::{ProviderKind, Zip};
use gatehouse_domain::{Npi, TaxId};
use gatehouse_services::access_requests::Scope;
use gatehouse_services::audit::{self, Event};
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::practice::invites::InviteRow;
use gatehouse_services::{RequestMeta, Services};
use gatehouse_store::roster::{self, NewPractice, NewProvider};
use gatehouse_store::users::{self, NewUser};
use serde_json::json;

/// The demo's configuration: as given, with the development outbox always on (so the demo
/// still refuses a base URL or listening address off this machine).
pub fn config(args: &crate::config::ServeArgs, default_db: &str) -> anyhow::Result<crate::config::ServerConfig> {
    let mut c = crate::config::ServerConfig::from_args(args, default_db)?;
    c.dev_outbox = true;
    Ok(c)
}

/// A demo account, printed at start.
pub struct DemoAccount {
    pub username: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub phone: &'static str,
    /// A plan staff role, for the control panel.
    pub staff_role: Option<&'static str>,
    /// The practice the account acts for: Tax ID, user type, administrator.
    pub practice: Option<(&'static str, &'static str, bool)>,
}

/// The demo's sample OpenID Connect client: a first-party confidential application with a known
/// client id and secret (like the demo accounts' passwords), so a relying party on this machine
/// can sign in without a visit to the control panel.
pub struct SampleClient {
    pub name: &'static str,
    pub client_id: &'static str,
    pub secret: &'static str,
    pub redirect_uri: &'static str,
    pub post_logout_redirect_uri: &'static str,
}

/// The sample client the demo registers.
pub const SAMPLE_CLIENT: SampleClient = SampleClient {
    name: "Eligibility & Claims (sample)",
    client_id: "gh_sample_eligibility_claims",
    secret: "demo-client-secret-not-for-production",
    redirect_uri: "http://127.0.0.1:8000/callback",
    post_logout_redirect_uri: "http://127.0.0.1:8000/",
};

/// The email of the demo's pending invitation (Maria Lopez).
pub const MARIA_EMAIL: &str = "maria.lopez@lakeside-family.example.org";

/// The demo accounts.
pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        username: "ocarter",
        password: "orchard lantern harbor",
        name: "Olivia Carter",
        role: "Office Manager and administrator, Lakeside Family Medicine",
        phone: "+12065550143",
        staff_role: None,
        practice: Some(("825671892", "office_manager", true)),
    },
    DemoAccount {
        username: "jpatel",
        password: "granite willow compass",
        name: "Jay Patel",
        role: "Billing Staff, Lakeside Family Medicine",
        phone: "+12065559975",
        staff_role: None,
        practice: Some(("825671892", "billing_staff", false)),
    },
    DemoAccount {
        username: "tnguyen",
        password: "meadow copper sparrow",
        name: "Tom Nguyen",
        role: "new office manager, not linked yet: associate as practitioner Helen Brooks, Tax ID 914407731, provider ID P300118, ZIP 98402",
        phone: "+12065550166",
        staff_role: None,
        practice: None,
    },
    DemoAccount {
        username: "pshah",
        password: "harbor violet meadow",
        name: "Priya Shah",
        role: "plan administrator (control panel)",
        phone: "+12065550188",
        staff_role: Some("plan_admin"),
        practice: None,
    },
    DemoAccount {
        username: "hdiaz",
        password: "copper fern lantern",
        name: "Hector Diaz",
        role: "help desk agent (control panel)",
        phone: "+12065550177",
        staff_role: Some("help_desk"),
        practice: None,
    },
];

/// Olivia's colleagues at Lakeside Family Medicine (Tax ID 825671892): active accounts with no
/// demo password (nobody signs in as them), so that her access review has people to decide on.
/// `(username, name, user type)`.
pub const COLLEAGUES: &[(&str, &str, &str)] = &[
    ("dbrooks", "Dana Brooks", "billing_staff"),
    ("lromero", "Luis Romero", "billing_staff"),
    ("radams", "Ruth Adams", "billing_staff"),
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
    if let Some(p) = svc.resolve_plan(None).await? {
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
    load_roster(svc, &plan, &meta).await?;
    for a in ACCOUNTS {
        let hash = svc.hasher.hash(a.password).await.context("hashing a demo password")?;
        let (first, last) = a.name.split_once(' ').unwrap_or((a.name, ""));
        let domain = if a.staff_role.is_some() { "chorus-health.example.org" } else { "lakeside-family.example.org" };
        let email = format!("{}@{domain}", a.username);
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
        if let Some(role) = a.staff_role {
            users::set_staff_role(&mut tx, plan.id(), id, Some(role), now).await?;
        }
        if let Some((tin, user_type, is_admin)) = a.practice {
            let practice = gatehouse_store::roster::practices::by_tax_id(&mut tx, plan.id(), tin)
                .await?
                .context("demo practice missing from the demo roster")?;
            let aff = gatehouse_store::affiliations::NewAffiliation {
                plan_id: plan.id(),
                user_id: id,
                practice_id: practice.id,
                user_type,
                is_admin,
                all_providers: true,
            };
            gatehouse_store::affiliations::insert(&mut tx, &aff, now).await?;
        }
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
    add_colleagues(svc, &plan, &meta).await?;
    register_sample_client(svc, &plan, &meta).await?;
    invite_maria(svc, &plan, &meta).await?;
    ask_about_a_claim(svc, &plan, &meta).await?;
    Ok((plan, true))
}

/// Registers [`SAMPLE_CLIENT`]: stored directly with its known id and secret (the services give
/// every other application random ones), audited, and loaded into the instance's copy.
async fn register_sample_client(svc: &Services, plan: &Plan, meta: &RequestMeta) -> anyhow::Result<()> {
    use gatehouse_domain::client_registration::RegistrationInput;
    use gatehouse_store::applications::{self, NewApplication};
    let c = &SAMPLE_CLIENT;
    let post_logout = c.post_logout_redirect_uri;
    let registration = RegistrationInput {
        client_type: "confidential",
        redirect_uris: c.redirect_uri,
        post_logout_redirect_uris: post_logout,
        scopes: "openid profile email phone gatehouse:affiliations",
        first_party: true,
        id_token_alg: "ES256",
        backchannel_logout_uri: "",
    }
    .parse(svc.config.logout_destinations)
    .map_err(|e| anyhow::anyhow!("sample client registration: {:?}", e.0))?;
    let hash = gatehouse_services::tokens::hash_token(c.secret);
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let new = NewApplication {
        plan_id: plan.id(),
        name: c.name,
        client_id: c.client_id,
        secret_hash: &hash,
        created_by: None,
        registration: &registration,
    };
    let id = applications::insert(&mut tx, &new, now).await?;
    let detail = json!({"application_id": id, "name": c.name, "client_id": c.client_id});
    audit::record(&mut tx, now, plan.id(), meta, Event::new("demo.application_created").detail(detail)).await?;
    gatehouse_store::access_changes::record(&mut tx, plan.id(), None, now).await?;
    gatehouse_store::commit(tx).await?;
    svc.access_changed(plan.id(), None).await;
    Ok(())
}

/// A signed-in session of the demo user `username`, never stored: the demo acts through the same
/// service commands as that person's pages.
async fn act_as(svc: &Services, plan: &Plan, username: &str) -> anyhow::Result<gatehouse_services::SessionInfo> {
    let mut conn = svc.db.acquire().await?;
    let user = users::by_username(&mut conn, plan.id(), username).await?.context("demo user missing")?;
    Ok(gatehouse_services::SessionInfo {
        id: gatehouse_domain::SessionId(0),
        plan_id: plan.id(),
        user_id: user.id,
        stage: gatehouse_domain::session::SessionStage::Complete,
        created_at: svc.now(),
        active_affiliation: None,
    })
}

/// Jay Patel (`jpatel`) asks the plan about a denied claim from his "Secure messages" page, so
/// the mailbox of the control panel and Olivia Carter's inbox have a conversation to show.
async fn ask_about_a_claim(svc: &Services, plan: &Plan, meta: &RequestMeta) -> anyhow::Result<()> {
    use gatehouse_domain::secure_messages::NewThreadForm;
    let session = act_as(svc, plan, "jpatel").await?;
    let mut conn = svc.db.acquire().await?;
    let practice = gatehouse_store::roster::practices::by_tax_id(&mut conn, plan.id(), "825671892")
        .await?
        .context("demo practice missing from the demo roster")?;
    drop(conn);
    let form = NewThreadForm {
        topic: "claims".into(),
        subject: "Claim denied as a duplicate".into(),
        body: "Hello,\n\nThe claim for the March 3 visit was denied as a duplicate, but it is the first claim for that visit. Could you look at it again?\n\nThank you,\nJay Patel".into(),
        claim_number: "C-2026-118204".into(),
        ..NewThreadForm::default()
    };
    let id = gatehouse_domain::PracticeId(practice.id);
    svc.send_thread(plan, &session, id, &form, &[], meta).await.map_err(|e| anyhow::anyhow!("demo message: {e}"))?;
    Ok(())
}

/// Olivia's colleagues ([`COLLEAGUES`]): signed up long ago with a random password nobody knows.
async fn add_colleagues(svc: &Services, plan: &Plan, meta: &RequestMeta) -> anyhow::Result<()> {
    let practice = {
        let mut conn = svc.db.acquire().await?;
        gatehouse_store::roster::practices::by_tax_id(&mut conn, plan.id(), "825671892")
            .await?
            .context("Lakeside Family Medicine missing from the demo roster")?
    };
    for (username, name, user_type) in COLLEAGUES {
        let hash = svc.hasher.hash(&gatehouse_services::tokens::new_token()).await.context("hashing")?;
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        let email = format!("{username}@lakeside-family.example.org");
        let now = svc.now();
        let mut tx = svc.db.begin().await?;
        let new = NewUser { plan_id: plan.id(), first_name: first, middle_name: "", last_name: last, email: &email };
        let id = users::insert_active(&mut tx, &new, username, &hash, None, Some(plan.row.terms_version), now).await?;
        let aff = gatehouse_store::affiliations::NewAffiliation {
            plan_id: plan.id(),
            user_id: id,
            practice_id: practice.id,
            user_type,
            is_admin: false,
            all_providers: true,
        };
        gatehouse_store::affiliations::insert(&mut tx, &aff, now).await?;
        let e = Event::new("demo.user_created").on(id).detail(json!({"username": username}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
    }
    Ok(())
}

/// Olivia Carter (`ocarter`) invites Maria Lopez to Lakeside Family Medicine as billing staff,
/// through the same service command as her "Invite New User" page; the email waits in the outbox
/// and the invitation under her "Manage Pending Users".
async fn invite_maria(svc: &Services, plan: &Plan, meta: &RequestMeta) -> anyhow::Result<()> {
    // The demo acts as Olivia, signed in: the grant is made from her affiliations as for any
    // session of hers.
    let session = act_as(svc, plan, "ocarter").await?;
    let grant = svc.practice_grant(plan, &session).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let maria = InviteRow {
        first_name: "Maria".into(),
        last_name: "Lopez".into(),
        email: MARIA_EMAIL.into(),
        email_confirm: MARIA_EMAIL.into(),
        // Olivia administers one practice: naming none means Lakeside Family Medicine.
        practices: Vec::new(),
        user_type: "billing_staff".into(),
        scope: Scope::All,
    };
    let results = svc.invite_batch(&grant, plan, &[maria], meta).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(m)) => Err(anyhow::anyhow!("inviting Maria Lopez: {m}")),
        None => Err(anyhow::anyhow!("inviting Maria Lopez: no result")),
    }
}

/// A demo practice and its providers.
struct DemoPractice {
    tax_id: &'static str,
    name: &'static str,
    street: &'static str,
    city: &'static str,
    zip: &'static str,
    phone: &'static str,
    providers: &'static [DemoProvider],
}

/// A demo provider: for groups and facilities `last` is the organization's name.
struct DemoProvider {
    provider_id: &'static str,
    npi_first_nine: [u8; 9],
    kind: ProviderKind,
    first: &'static str,
    last: &'static str,
    bills_under: Option<&'static str>,
}

const fn prov(
    provider_id: &'static str,
    npi_first_nine: [u8; 9],
    kind: ProviderKind,
    first: &'static str,
    last: &'static str,
    bills_under: Option<&'static str>,
) -> DemoProvider {
    DemoProvider { provider_id, npi_first_nine, kind, first, last, bills_under }
}

const ROSTER: &[DemoPractice] = &[
    DemoPractice {
        tax_id: "825671892",
        name: "Lakeside Family Medicine",
        street: "1200 Lakeview Ave Ste 300",
        city: "Seattle",
        zip: "98101",
        phone: "206-555-0100",
        providers: &[
            prov("G100234", [1, 5, 4, 2, 3, 8, 6, 1, 0], ProviderKind::Group, "", "Lakeside Family Medicine", None),
            prov("P200451", [1, 2, 9, 8, 4, 7, 5, 6, 3], ProviderKind::Practitioner, "Richard", "Kim", Some("G100234")),
            prov(
                "P200452",
                [1, 7, 3, 6, 0, 2, 9, 4, 8],
                ProviderKind::Practitioner,
                "Amara",
                "Okafor",
                Some("G100234"),
            ),
        ],
    },
    DemoPractice {
        tax_id: "914407731",
        name: "Cedar Valley Pediatrics",
        street: "88 Cedar Valley Rd",
        city: "Tacoma",
        zip: "98402-1107",
        phone: "253-555-0142",
        providers: &[prov("P300118", [1, 3, 3, 5, 7, 0, 8, 2, 6], ProviderKind::Practitioner, "Helen", "Brooks", None)],
    },
    DemoPractice {
        tax_id: "731190246",
        name: "St. Brigid Community Hospital",
        street: "4500 Harbor Blvd",
        city: "Everett",
        zip: "98201",
        phone: "425-555-0177",
        providers: &[prov(
            "F400010",
            [1, 6, 2, 0, 9, 4, 4, 7, 1],
            ProviderKind::Facility,
            "",
            "St. Brigid Community Hospital",
            None,
        )],
    },
];

/// Loads the demo practices and providers (valid Tax IDs, ZIPs and NPIs) in one transaction.
async fn load_roster(svc: &Services, plan: &Plan, meta: &RequestMeta) -> anyhow::Result<()> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let (mut practices, mut providers) = (0, 0);
    for dp in ROSTER {
        let tax_id = TaxId::parse(dp.tax_id).map_err(|e| anyhow::anyhow!("demo Tax ID {}: {e}", dp.tax_id))?;
        let zip = Zip::parse(dp.zip).map_err(|e| anyhow::anyhow!("demo ZIP {}: {e}", dp.zip))?;
        let practice = NewPractice {
            plan_id: plan.id(),
            tax_id: &tax_id,
            name: dp.name,
            address1: dp.street,
            address2: "",
            city: dp.city,
            state: "WA",
            zip: &zip,
            phone: dp.phone,
        };
        let practice_id = roster::insert_practice(&mut tx, &practice, now).await?;
        practices += 1;
        for p in dp.providers {
            let npi = Npi::from_first_nine(&p.npi_first_nine);
            let (first_name, last_name, org_name) =
                if p.kind == ProviderKind::Practitioner { (p.first, p.last, "") } else { ("", "", p.last) };
            let new = NewProvider {
                plan_id: plan.id(),
                practice_id,
                provider_id: p.provider_id,
                npi: &npi,
                kind: p.kind,
                first_name,
                last_name,
                org_name,
                address1: dp.street,
                city: dp.city,
                state: "WA",
                zip: &zip,
                group_provider_id: p.bills_under,
            };
            roster::insert_provider(&mut tx, &new, now).await?;
            providers += 1;
        }
    }
    audit::record(
        &mut tx,
        now,
        plan.id(),
        meta,
        Event::new("demo.roster_loaded").detail(json!({"practices": practices, "providers": providers})),
    )
    .await?;
    gatehouse_store::commit(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_roster_values_are_valid() {
        for dp in ROSTER {
            assert!(TaxId::parse(dp.tax_id).is_ok());
            assert!(Zip::parse(dp.zip).is_ok());
            for p in dp.providers {
                let npi = Npi::from_first_nine(&p.npi_first_nine);
                assert!(Npi::parse(npi.as_str()).is_ok());
            }
        }
    }
}
