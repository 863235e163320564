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
    /// A practice (one Tax ID) of a plan.
    PracticeId
);
id_type!(
    /// An affiliation: one user's link to one practice, with a user type and a provider scope.
    AffiliationId
);
id_type!(
    /// A provider row of the plan's roster (what forms and the API send back to name a provider).
    ProviderRowId
);
id_type!(
    /// A user's request for access to a practice, decided by its administrator.
    AccessRequestId
);

id_type!(
    /// A practice administrator's offer of a practice to an existing account.
    OfferId
);
id_type!(
    /// A signed-in (or signing-in) session.
    SessionId
);
id_type!(
    /// One self-service association attempt: the practice matched by the details typed.
    MatchId
);
id_type!(
    /// A practice's registration request, reviewed by plan staff.
    RegistrationId
);
id_type!(
    /// One import of the plan's roster file.
    ImportId
);
id_type!(
    /// A portal application registered with the plan (a client of the permission check API).
    ApplicationId
);

id_type!(
    /// A secure-message thread between a practice and the plan.
    ThreadId
);
id_type!(
    /// One message of a thread (a reply or a staff note).
    MessageId
);
id_type!(
    /// A file attached to a message.
    AttachmentId
);
id_type!(
    /// One access review of a practice (due, in progress or signed).
    AccessReviewId
);
id_type!(
    /// One topic of the plan's list of secure-message topics.
    TopicId
);
id_type!(
    /// One of a user's registered passkeys.
    PasskeyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_on_the_wire() {
        let id: AffiliationId = serde_json::from_str("42").unwrap();
        assert_eq!(id, AffiliationId(42));
        assert_eq!(serde_json::to_string(&PracticeId(7)).unwrap(), "7");
        assert_eq!(ProviderRowId(3).to_string(), "3");
    }
}
