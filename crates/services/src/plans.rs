//! Plans and the policies their settings make.

use crate::audit::Event;
use crate::{Internal, Services};
use gatehouse_domain::lockout::LockoutPolicy;
use gatehouse_domain::session::SessionPolicy;
use gatehouse_domain::two_step::CodePolicy;
use gatehouse_domain::{Duration, PasswordPolicy, PlanId};
use gatehouse_store::plans::{self, PlanRow};

/// A plan with its rules in domain form.
#[derive(Debug, Clone)]
pub struct Plan {
    pub row: PlanRow,
}

impl Plan {
    /// The plan's id.
    pub fn id(&self) -> PlanId {
        self.row.id
    }
    /// Password rules.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_len: self.row.password_min.max(1) as usize,
            max_len: self.row.password_max.max(1) as usize,
        }
    }
    /// Two-step code rules.
    pub fn code_policy(&self) -> CodePolicy {
        CodePolicy {
            length: self.row.code_length.clamp(4, 10) as u32,
            lifetime: Duration::seconds(self.row.code_lifetime_secs),
            max_tries: self.row.code_max_tries,
            max_sends_per_hour: self.row.code_max_sends_per_hour,
        }
    }
    /// Session timeouts.
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle: Duration::seconds(self.row.session_idle_secs),
            absolute: Duration::seconds(self.row.session_absolute_secs),
        }
    }
    /// Lockout rules.
    pub fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy::default()
    }
}

/// Settings of a new plan; the rest take the product's defaults.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub slug: String,
    pub name: String,
    pub host: Option<String>,
    pub support_phone: String,
    pub support_hours: String,
    pub terms_text: String,
}

impl Services {
    /// Creates a plan with default policies (audit chain included).
    pub async fn create_plan(&self, p: NewPlan) -> Result<Plan, Internal> {
        let mut row = PlanRow {
            id: PlanId(0),
            slug: p.slug,
            name: p.name,
            host: p.host,
            support_phone: p.support_phone,
            support_hours: p.support_hours,
            terms_version: 1,
            terms_text: p.terms_text,
            password_min: 12,
            password_max: 128,
            code_length: 6,
            code_lifetime_secs: 600,
            code_max_tries: 5,
            code_max_sends_per_hour: 5,
            session_idle_secs: 15 * 60,
            session_absolute_secs: 12 * 3600,
        };
        let mut tx = self.db.begin().await?;
        row.id = plans::insert(&mut tx, &row, self.now()).await?;
        gatehouse_store::commit(tx).await?;
        Ok(Plan { row })
    }

    /// The plan served at `host`; without a match, the plan with `slug_hint`, else the first plan.
    pub async fn resolve_plan(&self, host: Option<&str>, slug_hint: Option<&str>) -> Result<Option<Plan>, Internal> {
        let mut conn = self.db.acquire().await?;
        if let Some(h) = host {
            let h = h.split(':').next().unwrap_or(h).to_ascii_lowercase();
            if let Some(row) = plans::by_host(&mut conn, &h).await? {
                return Ok(Some(Plan { row }));
            }
        }
        if let Some(s) = slug_hint
            && let Some(row) = plans::by_slug(&mut conn, s).await?
        {
            return Ok(Some(Plan { row }));
        }
        Ok(plans::list(&mut conn).await?.into_iter().next().map(|row| Plan { row }))
    }

    /// A plan by id.
    pub async fn plan(&self, id: PlanId) -> Result<Option<Plan>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(plans::get(&mut conn, id).await?.map(|row| Plan { row }))
    }

    /// Publishes new terms; every user signs them at their next sign-in.
    pub async fn publish_terms(&self, plan: PlanId, text: &str, meta: &crate::RequestMeta) -> Result<i64, Internal> {
        let mut tx = self.db.begin().await?;
        let row = plans::get(&mut tx, plan).await?.ok_or_else(|| Internal::Other("no such plan".into()))?;
        let version = row.terms_version + 1;
        plans::set_terms(&mut tx, plan, version, text).await?;
        crate::audit::record(
            &mut tx,
            self.now(),
            plan,
            meta,
            Event::new("plan.terms_published").detail(serde_json::json!({"version": version})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(version)
    }
}
