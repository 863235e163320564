//! Plans and the policies their settings make.

use crate::{Internal, Services};
use gatehouse_domain::lockout::LockoutPolicy;
use gatehouse_domain::session::SessionPolicy;
use gatehouse_domain::two_step::CodePolicy;
use gatehouse_domain::{Duration, PasswordPolicy, PlanId};
use gatehouse_store::plans::{self, PlanRow};
use std::sync::Arc;

/// How long a cached list of plans is used before it is read again.
pub const PLAN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// When accounts are flagged as idle, warned and deactivated.
    pub fn idle_policy(&self) -> gatehouse_domain::idle::IdlePolicy {
        gatehouse_domain::idle::IdlePolicy::from_stored(self.row.idle_flag_days, self.row.idle_deactivate_days)
    }
    /// Lockout rules.
    pub fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy::default()
    }
    /// How new usernames must look.
    pub fn username_format(&self) -> gatehouse_domain::username::UsernameFormat {
        gatehouse_domain::username::UsernameFormat::parse(&self.row.username_format).unwrap_or_default()
    }
    /// The last day imported accounts may sign in with their old password, if any.
    pub fn legacy_deadline(&self) -> Option<gatehouse_domain::settings::LegacyDeadline> {
        gatehouse_domain::settings::LegacyDeadline::parse(&self.row.legacy_deadline).ok().flatten()
    }
    /// Whether an imported account's first sign-in proves the email on record first.
    pub fn legacy_email_proof(&self) -> bool {
        self.row.legacy_email_proof
    }
    /// Which second factors are offered and who must use a strong one.
    pub fn factor_policy(&self) -> gatehouse_domain::factor_policy::FactorPolicy {
        self.row.factors
    }
    /// The zone the plan's dates and times are shown in.
    pub fn time_zone(&self) -> &gatehouse_domain::PlanTimeZone {
        &self.row.time_zone
    }
    /// An instant as the plan's pages and emails show it, like `Jan 15, 2027 3:05 AM EST`.
    pub fn when(&self, at: gatehouse_domain::Timestamp) -> String {
        at.for_people(self.time_zone())
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
    /// Creates a plan with default policies, user types and message topics (audit chain included).
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
            brand_color: "#0b4f6c".into(),
            access_review_days: 90,
            idle_flag_days: gatehouse_domain::idle::DEFAULT_FLAG_DAYS,
            idle_deactivate_days: gatehouse_domain::idle::DEFAULT_DEACTIVATE_DAYS,
            username_format: "plain".into(),
            reactivation_days: 90,
            legacy_deadline: String::new(),
            legacy_email_proof: true,
            message_response_days: i64::from(gatehouse_domain::secure_messages::DEFAULT_RESPONSE_DAYS),
            message_max_files: gatehouse_domain::secure_messages::DEFAULT_MAX_ATTACHMENTS as i64,
            message_max_file_mb: (gatehouse_domain::secure_messages::DEFAULT_MAX_ATTACHMENT_BYTES / (1024 * 1024))
                as i64,
            mailbox_email: String::new(),
            time_zone: gatehouse_domain::PlanTimeZone::default(),
            factors: gatehouse_domain::factor_policy::FactorPolicy::default(),
            has_logo: false,
        };
        let mut tx = self.db.begin().await?;
        row.id = plans::insert(&mut tx, &row, self.now()).await?;
        crate::user_types::add_defaults(&mut tx, row.id, self.now()).await?;
        crate::message_topics::add_defaults(&mut tx, row.id, self.now()).await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plans();
        Ok(Plan { row })
    }

    /// Which plan a request is for: the plan whose host name is `host`; else the plan named by a
    /// `/p/{slug}` path prefix (local use); else, for a loopback host or a deployment where no plan
    /// claims a host name, the first plan. Anything else is served no plan at all, so one plan is
    /// never shown at another's address.
    pub async fn route_plan(
        &self,
        host: Option<&str>,
        prefix_slug: Option<&str>,
    ) -> Result<Option<(Plan, bool)>, Internal> {
        let all = self.all_plans().await?;
        let host = host.map(|h| {
            h.rsplit_once(':')
                .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                .map_or(h, |(n, _)| n)
                .to_ascii_lowercase()
        });
        let found = |f: &dyn Fn(&PlanRow) -> bool| all.iter().find(|p| f(p)).cloned();
        if let Some(h) = &host
            && let Some(row) = found(&|p| p.host.as_deref() == Some(h.as_str()))
        {
            return Ok(Some((Plan { row }, false)));
        }
        if let Some(s) = prefix_slug
            && let Some(row) = found(&|p| p.slug == s)
        {
            return Ok(Some((Plan { row }, true)));
        }
        let loopback = host.as_deref().is_none_or(|h| matches!(h, "localhost" | "127.0.0.1" | "[::1]"));
        if loopback || all.iter().all(|p| p.host.is_none()) {
            return Ok(all.first().cloned().map(|row| (Plan { row }, false)));
        }
        Ok(None)
    }

    /// Every plan, oldest first, from a cache at most [`PLAN_CACHE_TTL`] old (changes made on this
    /// instance are seen at once; on other instances within the TTL).
    async fn all_plans(&self) -> Result<Arc<Vec<PlanRow>>, Internal> {
        if let Ok(g) = self.plans_cache.read()
            && let Some((at, list)) = &*g
            && at.elapsed() < PLAN_CACHE_TTL
        {
            return Ok(list.clone());
        }
        let mut conn = self.db.acquire().await?;
        let list = Arc::new(plans::list(&mut conn).await?);
        if let Ok(mut g) = self.plans_cache.write() {
            *g = Some((std::time::Instant::now(), list.clone()));
        }
        Ok(list)
    }

    /// Drops the cached plans after a change (the settings commands; tests that change a plan row).
    pub fn forget_plans(&self) {
        if let Ok(mut g) = self.plans_cache.write() {
            *g = None;
        }
    }

    /// The first plan, or the plan with `slug`: for command-line tools.
    pub async fn resolve_plan(&self, slug: Option<&str>) -> Result<Option<Plan>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(match slug {
            Some(s) => plans::by_slug(&mut conn, s).await?,
            None => plans::list(&mut conn).await?.into_iter().next(),
        }
        .map(|row| Plan { row }))
    }

    /// The public address of a plan's pages: its own host name when it has one, else the server's
    /// base URL with the plan's `/p/{slug}` prefix.
    pub fn plan_url(&self, plan: &Plan) -> String {
        let base = &self.config.base_url;
        match &plan.row.host {
            Some(h) => {
                let scheme = if base.starts_with("https://") { "https" } else { "http" };
                format!("{scheme}://{h}")
            }
            None => format!("{base}/p/{}", plan.row.slug),
        }
    }

    /// A plan by id.
    pub async fn plan(&self, id: PlanId) -> Result<Option<Plan>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(plans::get(&mut conn, id).await?.map(|row| Plan { row }))
    }
}

/// A plan at a glance, for the control panel's home.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanFigures {
    pub active_users: i64,
    pub invited_users: i64,
    pub practices: i64,
    pub providers: i64,
    /// Administrator registration requests waiting for a decision (shown to staff who decide them).
    pub registrations_waiting: i64,
}

impl Services {
    /// Counts of users and roster records. Any staff role may see them.
    pub async fn plan_figures(&self, grant: &crate::staff::StaffGrant, plan: &Plan) -> Result<PlanFigures, Internal> {
        if grant.plan_id() != plan.id() {
            return Ok(PlanFigures::default());
        }
        let mut conn = self.db.acquire().await?;
        let (active_users, invited_users) = gatehouse_store::users::status_counts(&mut conn, plan.id()).await?;
        let (practices, providers) = gatehouse_store::roster::counts(&mut conn, plan.id()).await?;
        let registrations_waiting = if grant.may(gatehouse_domain::staff::StaffPermission::Registrations) {
            gatehouse_store::registrations::count_pending(&mut conn, plan.id()).await?
        } else {
            0
        };
        Ok(PlanFigures { active_users, invited_users, practices, providers, registrations_waiting })
    }
}
