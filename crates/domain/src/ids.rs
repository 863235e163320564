//! Typed identifiers: a `UserId` can never be passed where a `PlanId` is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A health plan (tenant).
    PlanId
);
id_type!(
    /// A person's login within a plan.
    UserId
);
id_type!(
    /// An invitation to sign up.
    InvitationId
);
id_type!(
    /// A row of the audit log.
    AuditId
);
id_type!(
    /// A practice administrator's offer of a practice to an existing account.
    OfferId
);
