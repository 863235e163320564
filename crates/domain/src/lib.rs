//! Gatehouse's domain: the types a value must pass through to enter the system, and the rules
//! that decide what is allowed. Nothing here performs I/O or reads the clock; callers pass the
//! current [`Timestamp`] and any randomness in, so every rule is tested fast and alone.

pub mod access_review;
pub mod association;
pub mod audit;
pub mod client_address;
pub mod client_registration;
pub mod email;
pub mod email_proof;
pub mod factor_nudge;
pub mod factor_policy;
pub mod idle;
pub mod ids;
pub mod known_device;
pub mod legacy;
pub mod lockout;
pub mod message_topics;
pub mod names;
pub mod npi;
pub mod oauth;
pub mod oidc_keys;
pub mod passkey;
pub mod password;
pub mod permissions;
pub mod phone;
pub mod profile;
pub mod profile_update;
pub mod public_address;
pub mod recovery_codes;
pub mod redirect_uri;
pub mod registration;
pub mod roster;
pub mod scopes;
pub mod secure_messages;
pub mod session;
pub mod settings;
pub mod staff;
pub mod tax_id;
pub mod terms;
pub mod time;
pub mod totp;
pub mod two_step;
pub mod user;
pub mod username;

pub use email::Email;
pub use ids::{
    AccessRequestId, AccessReviewId, AffiliationId, ApplicationId, AttachmentId, ImportId, MatchId, MessageId,
    PasskeyId, PlanId, PracticeId, ProviderRowId, RegistrationId, SessionId, ThreadId, TopicId, UserId,
};
pub use names::PersonName;
pub use npi::Npi;
pub use password::{PasswordPolicy, PasswordProblem};
pub use phone::{PhoneNumber, TwoStepMethod};
pub use tax_id::TaxId;
pub use time::{Duration, PlanTimeZone, Timestamp};
pub use user::UserStatus;
pub use username::Username;
