//! The services' shared context: the database, the clock, the hashing pool and the server key.

use crate::Internal;
use crate::clock::Clock;
use crate::hashing::PasswordHasher;
use gatehouse_store::Db;
use std::sync::Arc;

/// The name of the code HMAC key in `server_secrets`.
const CODE_KEY: &str = "code_hmac_key";

/// Settings the services need from the server's configuration.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The public base URL of the portal, used in links sent by email (no trailing slash).
    pub base_url: String,
    /// The key for code HMACs from the configuration; without it the database's copy is used
    /// (created on first start).
    pub code_key: Option<crate::server_key::ServerKey>,
    /// Where back-channel logout notices may be posted: public addresses unless the operator
    /// allows any.
    pub logout_destinations: gatehouse_domain::client_registration::LogoutDestinations,
}

/// Who is asking, as far as the network says: written into every audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: String,
}

impl RequestMeta {
    /// Metadata for commands run from the command line.
    pub fn cli() -> Self {
        Self { ip: "cli".into(), user_agent: "gatehouse-cli".into() }
    }

    /// Metadata for what the system does on its own (the daily job): no address, no browser.
    pub fn system() -> Self {
        Self { ip: "system".into(), user_agent: "gatehouse-daily-job".into() }
    }
}

/// The plans as read at an instant.
pub(crate) type CachedPlans = (std::time::Instant, Arc<Vec<gatehouse_store::plans::PlanRow>>);

/// Everything a capability needs. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub config: Arc<ServicesConfig>,
    /// Key for HMACs of short codes; from the configuration, else shared by all instances
    /// through the database.
    pub(crate) code_key: Arc<Vec<u8>>,
    /// The plans, read at most every [`crate::plans::PLAN_CACHE_TTL`] (every request needs them).
    pub(crate) plans_cache: Arc<std::sync::RwLock<Option<CachedPlans>>>,
    /// The permission index, the applications and the change-log cursor (see [`crate::authz`]).
    pub(crate) access: Arc<crate::authz::AccessState>,
    /// The user searches' in-memory indexes (see [`crate::search_index`]).
    pub(crate) search_indexes: Arc<crate::search_index::SearchIndexes>,
    /// Seals secrets kept in the database, under keys derived from the server key.
    pub(crate) sealer: crate::sealing::Sealer,
    /// The plans' OIDC signing keys as this instance last read them (see [`crate::oidc::keys`]).
    pub(crate) oidc_keys: Arc<crate::oidc::keys::KeyCache>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("db", &self.db.kind()).field("config", &self.config).finish()
    }
}

impl Services {
    /// Builds the context, creating the server key in the database on first start unless the
    /// configuration gives one (then the database's copy is neither read nor created).
    pub async fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        config: ServicesConfig,
    ) -> Result<Self, Internal> {
        let mut conn = db.acquire().await?;
        let key = match &config.code_key {
            Some(k) => {
                if gatehouse_store::secrets::exists(&mut conn, CODE_KEY).await? {
                    tracing::warn!(
                        "the secret key comes from the configuration; the copy in server_secrets ({CODE_KEY}) is \
                         unused and may be deleted"
                    );
                }
                k.bytes().to_vec()
            }
            None => gatehouse_store::secrets::get_or_insert(&mut conn, CODE_KEY, &crate::tokens::new_token())
                .await?
                .into_bytes(),
        };
        drop(conn);
        let access = Arc::new(crate::authz::AccessState::load(&db).await?);
        Ok(Self {
            db,
            clock,
            hasher,
            config: Arc::new(config),
            sealer: crate::sealing::Sealer::new(&key),
            code_key: Arc::new(key),
            plans_cache: Arc::default(),
            access,
            search_indexes: Arc::default(),
            oidc_keys: Arc::default(),
        })
    }

    /// Now, by the injected clock, in seconds.
    pub fn now(&self) -> i64 {
        self.clock.now().as_secs()
    }
}
