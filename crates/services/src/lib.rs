//! Gatehouse's capabilities. Each module is one capability and the only place its rules are
//! applied and its transactions opened; the pages and the JSON API call these functions and
//! nothing else. Every change writes its audit event, and any message it causes, in the same
//! transaction as the change.

pub mod access_requests;
pub mod access_review;
pub mod account;
pub mod affiliations;
pub mod applications;
pub mod association;
pub mod audit;
pub mod authenticator_app;
pub mod authz;
pub mod clock;
pub mod context;
pub mod delivery;
pub mod evidence;
pub mod factor_nudge;
pub mod first_signin;
pub mod hashing;
pub mod idle;
pub mod invitations;
pub mod jobs;
mod known_devices;
pub mod legacy_import;
pub mod message_topics;
pub mod messages;
pub mod offers;
pub mod oidc;
pub mod passkeys;
pub mod plans;
pub mod practice;
pub mod profile;
pub mod profile_update;
pub mod registrations;
pub mod roster;
pub mod sealing;
mod search_index;
pub mod secure_messages;
pub mod self_service;
pub mod server_key;
pub mod sessions;
pub mod settings;
pub mod signin;
pub mod signup;
pub mod staff;
pub mod strong_factor;
pub mod support;
pub mod terms;
pub mod tokens;
pub mod two_step;
pub mod user_types;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{RequestMeta, Services, ServicesConfig};
pub use hashing::{HashError, PasswordHasher};
pub use sessions::{SessionInfo, SessionToken};

/// A failure of ours (not the user's): storage or hashing. Its text is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Store(#[from] gatehouse_store::StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("{0}")]
    Other(String),
}
