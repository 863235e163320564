//! Terms and conditions: signed by typing the account's first and last name; a new version is
//! signed at the next sign-in.

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::{self, SessionInfo, SessionToken};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{PersonName, terms};
use gatehouse_store::{Conn, plans, users};
use serde_json::json;
use thiserror::Error;

/// Why a signature was refused.
#[derive(Debug, Error)]
pub enum TermsError {
    #[error("Type your first and last name exactly as they appear on your account.")]
    NameMismatch,
    #[error("This step is not available now. Start again from sign in.")]
    WrongStage,
    /// The plan published new terms after these were shown: nobody signs a version they did
    /// not see.
    #[error("The terms changed while you were reading them. Read the new version below, then sign it.")]
    Outdated,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for TermsError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// The terms to sign.
#[derive(Debug, Clone)]
pub struct Terms {
    pub version: i64,
    pub text: String,
}

impl Services {
    /// The plan's current terms.
    pub async fn current_terms(&self, plan: &Plan) -> Result<Terms, Internal> {
        let mut conn = self.db.acquire().await?;
        let p = plans::get(&mut conn, plan.id()).await?.unwrap_or_else(|| plan.row.clone());
        Ok(Terms { version: p.terms_version, text: p.terms_text })
    }

    /// Signs the current terms and completes sign-in.
    pub async fn sign_terms(
        &self,
        plan: &Plan,
        session: &SessionInfo,
        version: i64,
        first: &str,
        last: &str,
        meta: &RequestMeta,
    ) -> Result<(SessionToken, SessionStage), TermsError> {
        if session.stage != SessionStage::Terms {
            return Err(TermsError::WrongStage);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let user = users::get(&mut tx, plan.id(), session.user_id).await?.ok_or(TermsError::WrongStage)?;
        // The terms come after the second step, or before it only for an account with no second
        // factor yet (an imported account's first sign-in): its set-up comes next then.
        // A session that reached them any other way does not complete here.
        let has_second_factor =
            user.two_step_phone.is_some() || crate::strong_factor::has_strong(&mut tx, plan, &user).await?;
        if has_second_factor && !second_step_passed(&mut tx, plan, session).await? {
            tracing::warn!(session = %session.id, "terms reached without the second step");
            return Err(TermsError::WrongStage);
        }
        let current = plans::get(&mut tx, plan.id()).await?.map_or(plan.row.terms_version, |p| p.terms_version);
        if version != current {
            return Err(TermsError::Outdated);
        }
        let name = PersonName::parse(&user.first_name, &user.last_name).map_err(|e| Internal::Other(e.to_string()))?;
        if !terms::signature_matches(&name, first, last) {
            audit::record(
                &mut tx,
                now,
                plan.id(),
                meta,
                Event::new("terms.signed")
                    .by_self(user.id)
                    .outcome(Outcome::Failure)
                    .detail(json!({"reason": "name_mismatch"})),
            )
            .await?;
            gatehouse_store::commit(tx).await?;
            return Err(TermsError::NameMismatch);
        }
        users::sign_terms(&mut tx, user.id, current, now).await?;
        // An imported account signs the terms before it has a two-step phone: set-up comes next.
        // Someone the plan requires to use an app or passkey, holding neither, adds one next.
        let next = if user.two_step_phone.is_none() {
            SessionStage::TwoStepSetup
        } else if crate::strong_factor::required(&mut tx, plan, &user).await?
            && !crate::strong_factor::has_strong(&mut tx, plan, &user).await?
        {
            SessionStage::StrongFactorSetup
        } else {
            SessionStage::Complete
        };
        let token = sessions::advance(&mut tx, session, next, now).await?.ok_or(TermsError::WrongStage)?;
        if next == SessionStage::Complete {
            users::record_signin(&mut tx, user.id, now).await?;
        }
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("terms.signed").by_self(user.id).detail(json!({"version": current})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok((token, next))
    }
}

/// Whether the session's sign-in recorded its two factors.
async fn second_step_passed(conn: &mut Conn, plan: &Plan, session: &SessionInfo) -> Result<bool, TermsError> {
    let row = gatehouse_store::sessions::get(conn, plan.id(), session.id).await?;
    Ok(row.is_some_and(|r| sessions::factors_proven(&r)))
}
