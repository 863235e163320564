//! Gatehouse storage. One set of SQL serves SQLite and PostgreSQL through `sqlx::Any`: queries use
//! `$n` placeholders, which both drivers accept, and only types both agree on (64-bit integers and
//! text; times are Unix seconds). Each module holds the queries of one table; every function takes
//! a connection so that the services decide where transactions begin and end.

pub mod access_changes;
pub mod access_index;
pub mod access_requests;
pub mod access_reviews;
pub mod affiliations;
pub mod applications;
pub mod association;
pub mod audit;
pub mod authenticator_apps;
pub mod batch;
pub mod codes;
pub mod consents;
pub mod db;
pub mod directory;
pub mod email_proofs;
pub mod factor_nudges;
pub mod idle;
pub mod invitations;
pub mod jobs;
pub mod legacy;
pub mod logout_notices;
pub mod message_topics;
pub mod offers;
pub mod oidc_grants;
pub mod oidc_keys;
pub mod outbox;
pub mod passkeys;
pub mod plans;
pub mod profile;
pub mod profile_updates;
pub mod recovery_codes;
pub mod registrations;
pub mod resets;
pub mod roster;
pub mod search;
pub mod secrets;
pub mod secure_messages;
pub mod sessions;
mod sqlite_conns;
pub mod throttle;
pub mod user_types;
pub mod users;

pub use batch::{Answers, Batch, Param, Slot, Stmt};
pub use db::{Conn, Db, DbKind, Lease, StoreError, Tx, begin_read, commit, commit_with, end_read};
