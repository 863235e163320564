//! OpenID Connect provider, per plan (issue 18): the plan's signing keys, what publishes them
//! (JWKS, discovery document), and signing and verifying the plan's JWTs. The issuer of a plan is
//! [`Services::plan_url`].
//!
//! The flows build on four calls: [`Services::oidc_sign`] (the plan's current key of an
//! algorithm, made on first use), [`Services::oidc_verify`] (a token of one of the plan's
//! published keys, unexpired, of this issuer), [`Services::oidc_jwks`] and
//! [`Services::oidc_rotate_keys`]. The keys' life is in [`gatehouse_domain::oidc_keys`].

pub mod authorize;
pub mod backchannel;
pub mod client_credentials;
pub mod discovery;
pub mod flow;
pub mod keys;
pub mod logout;
pub mod revocation;
pub mod token;
pub mod userinfo;

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::oidc_keys::{self as rules, Rotation, SigningAlg};
use gatehouse_domain::time::Timestamp;
use gatehouse_store::oidc_keys::{self as store, NewSigningKey};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header, Validation};
use keys::Freshness;
use serde_json::{Value, json};

/// The header `typ` of the access tokens this provider signs (RFC 9068), so that no
/// application's library takes one for an ID token (`JWT`).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Why a token was not signed or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The claims to sign break a rule (the text says which); a programming error of the caller.
    #[error("cannot sign these claims: {0}")]
    Claims(&'static str),
    /// Not a JWT signed by one of this plan's published keys with ES256 or RS256 (the text says
    /// why, for logs only: tell the client no more than "invalid token").
    #[error("the token is refused: {0}")]
    Refused(&'static str),
    /// A valid signature, but `exp` has passed.
    #[error("the token has expired")]
    Expired,
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// What a rotation did to one algorithm's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRotation {
    /// A new key `kid` was published; it signs from `active_from`.
    Published { alg: SigningAlg, kid: String, active_from: i64 },
    /// A new key was already published and waiting (by this call's twin, or an earlier run).
    AlreadyPending { alg: SigningAlg },
    /// The plan has no key of this algorithm (RS256 keys are made when first needed).
    NoKeys { alg: SigningAlg },
}

/// What [`Services::oidc_rotate_keys`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub lines: Vec<LineRotation>,
    /// Kids of retired keys deleted because every token they signed has expired.
    pub deleted: Vec<String>,
}

impl RotationReport {
    /// How many new keys were published.
    pub fn published(&self) -> u64 {
        self.lines.iter().filter(|l| matches!(l, LineRotation::Published { .. })).count() as u64
    }
}

/// Which changes of a line a call may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineChange {
    /// Only the first key of an empty line (signing's lazy creation).
    FirstOnly,
    /// The first key, or the next one (a rotation).
    Rotate,
}

/// A registered numeric date claim, if it is one.
fn numeric_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

impl Services {
    /// Signs `claims` as a JWT with the plan's current key of `alg` (made on first use), header
    /// `kid` and `typ: JWT`. The claims must be an object with a numeric `exp` no more than
    /// [`rules::MAX_TOKEN_LIFETIME`] away; `iss` is set to the plan's issuer (a different one is
    /// refused) and `iat` to now unless given.
    pub async fn oidc_sign(&self, plan: &Plan, alg: SigningAlg, claims: &Value) -> Result<String, OidcError> {
        self.oidc_sign_typed(plan, alg, claims, "JWT").await
    }

    /// [`Services::oidc_sign`] with another header `typ` (a logout token is `logout+jwt`, an
    /// access token [`ACCESS_TOKEN_TYP`]).
    pub(crate) async fn oidc_sign_typed(
        &self,
        plan: &Plan,
        alg: SigningAlg,
        claims: &Value,
        typ: &str,
    ) -> Result<String, OidcError> {
        let now = Timestamp(self.now());
        let Value::Object(map) = claims else { return Err(OidcError::Claims("the claims are not a JSON object")) };
        let mut map = map.clone();
        let exp = numeric_claim(&map, "exp").ok_or(OidcError::Claims("exp is missing or not a whole number"))?;
        if !rules::token_expiry_allowed(now, exp) {
            return Err(OidcError::Claims("exp is not in the future within the longest token lifetime"));
        }
        let issuer = self.plan_url(plan);
        match map.get("iss") {
            None => {
                map.insert("iss".into(), Value::String(issuer));
            }
            Some(Value::String(s)) if *s == issuer => {}
            Some(_) => return Err(OidcError::Claims("iss is not this plan's issuer")),
        }
        map.entry("iat").or_insert(json!(now.0));

        let mut plan_keys = self.plan_keys(plan.id(), Freshness::Cached).await?;
        if plan_keys.current(alg, now).is_none() {
            plan_keys = self.plan_keys(plan.id(), Freshness::Reload).await?;
        }
        if plan_keys.current(alg, now).is_none() {
            let meta = RequestMeta { ip: "system".into(), user_agent: "gatehouse-oidc-signing".into() };
            self.change_line(plan, alg, now, &meta, LineChange::FirstOnly).await?;
            // Made here or by a twin at the same moment: read it in either case.
            self.forget_plan_keys(plan.id());
            plan_keys = self.plan_keys(plan.id(), Freshness::Cached).await?;
        }
        let key = plan_keys
            .current(alg, now)
            .ok_or_else(|| Internal::Other(format!("plan {} has no {alg} key after making one", plan.id())))?;
        let encoding = key
            .encoding
            .as_ref()
            .ok_or_else(|| Internal::Other(format!("the {alg} signing key {} does not open", key.kid)))?;
        let mut header = Header::new(keys::jws_alg(alg));
        header.typ = Some(typ.into());
        header.kid = Some(key.kid.as_str().to_owned());
        jsonwebtoken::encode(&header, &Value::Object(map), encoding)
            .map_err(|e| Internal::Other(format!("signing with {}: {e}", key.kid)).into())
    }

    /// Verifies a JWT of this plan: signed with ES256 or RS256 by one of the plan's published
    /// keys (named by its `kid`), `iss` this plan's issuer, `exp` not passed. Returns its claims;
    /// the caller checks `aud` and the rest. `none`, HS*, an unknown kid or another plan's key
    /// are refused.
    pub async fn oidc_verify(&self, plan: &Plan, token: &str) -> Result<Value, OidcError> {
        self.verify_token(plan, token, true).await
    }

    /// Like [`Services::oidc_verify`] but accepts an expired token: for `id_token_hint`, which
    /// may be an old ID token (OpenID Connect Core 3.1.2.1, RP-Initiated Logout 1.0).
    pub async fn oidc_verify_hint(&self, plan: &Plan, token: &str) -> Result<Value, OidcError> {
        self.verify_token(plan, token, false).await
    }

    async fn verify_token(&self, plan: &Plan, token: &str, check_exp: bool) -> Result<Value, OidcError> {
        let now = Timestamp(self.now());
        let header = jsonwebtoken::decode_header(token).map_err(|_| OidcError::Refused("not a JWS"))?;
        let alg = match header.alg {
            Algorithm::ES256 => SigningAlg::Es256,
            Algorithm::RS256 => SigningAlg::Rs256,
            _ => return Err(OidcError::Refused("algorithm not accepted")),
        };
        let kid = header.kid.ok_or(OidcError::Refused("no kid"))?;
        if kid.len() > rules::Kid::MAX_LEN {
            return Err(OidcError::Refused("unknown kid"));
        }
        let mut plan_keys = self.plan_keys(plan.id(), Freshness::Cached).await?;
        if plan_keys.published(&kid, now).is_none() {
            // Perhaps another instance's new key: read again (at most every MIN_RELOAD).
            plan_keys = self.plan_keys(plan.id(), Freshness::Reload).await?;
        }
        let key = plan_keys.published(&kid, now).ok_or(OidcError::Refused("unknown kid"))?;
        if key.alg != alg {
            return Err(OidcError::Refused("algorithm differs from the key's"));
        }
        let mut validation = Validation::new(keys::jws_alg(alg));
        // Times are checked below with the services' clock; the audience by the caller.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .map_err(|_| OidcError::Refused("bad signature or claims"))?;
        let claims = data.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(self.plan_url(plan).as_str()) {
            return Err(OidcError::Refused("another issuer"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(OidcError::Refused("no exp"))?;
        if check_exp && exp <= now.0 {
            return Err(OidcError::Expired);
        }
        Ok(claims)
    }

    /// The plan's JSON Web Key Set: every key published now (the current ones, those waiting to
    /// sign, and retired ones whose tokens may still be alive), newest first per algorithm.
    pub async fn oidc_jwks(&self, plan: &Plan) -> Result<JwkSet, Internal> {
        let now = Timestamp(self.now());
        let mut plan_keys = self.plan_keys(plan.id(), Freshness::Cached).await?;
        // A relying party reads the set before any token is signed (at discovery) and may not read
        // it again: the default algorithm's first key is made here as when signing.
        if plan_keys.current(SigningAlg::Es256, now).is_none() {
            plan_keys = self.plan_keys(plan.id(), Freshness::Reload).await?;
        }
        if plan_keys.current(SigningAlg::Es256, now).is_none() {
            let meta = RequestMeta { ip: "system".into(), user_agent: "gatehouse-oidc-signing".into() };
            self.change_line(plan, SigningAlg::Es256, now, &meta, LineChange::FirstOnly).await?;
            self.forget_plan_keys(plan.id());
            plan_keys = self.plan_keys(plan.id(), Freshness::Cached).await?;
        }
        let mut published: Vec<_> = plan_keys.keys.iter().filter(|k| k.life.published(now)).collect();
        published.sort_by_key(|k| (k.alg, std::cmp::Reverse(k.life.generation)));
        Ok(JwkSet { keys: published.into_iter().map(|k| k.jwk.clone()).collect() })
    }

    /// Rotates the plan's keys at `now`: for each algorithm that has keys (ES256 always), a new
    /// key is published that signs after [`rules::PUBLICATION_DELAY`], and the current one is
    /// retired (kept in the JWKS until its tokens have expired); keys past that are deleted.
    /// Audited (`oidc.key_rotated`, `oidc.keys_deleted`). Idempotent: while a new key waits, a
    /// rotation (or two at once) publishes nothing more.
    pub async fn oidc_rotate_keys(
        &self,
        plan: &Plan,
        now: Timestamp,
        meta: &RequestMeta,
    ) -> Result<RotationReport, Internal> {
        let mut report = RotationReport::default();
        for alg in SigningAlg::ALL {
            report.lines.push(self.change_line(plan, alg, now, meta, LineChange::Rotate).await?);
        }
        report.deleted = self.delete_expired_keys(plan, now, meta).await?;
        Ok(report)
    }

    /// The daily job's step: rotates each of the plan's algorithms whose current key has signed
    /// for [`rules::ROTATE_AFTER`], and deletes keys whose tokens have all expired.
    pub async fn oidc_keys_step(&self, plan: &Plan, now: Timestamp) -> Result<RotationReport, Internal> {
        let meta = RequestMeta::system();
        let plan_keys = self.plan_keys(plan.id(), Freshness::Reload).await?;
        let mut report = RotationReport::default();
        for alg in SigningAlg::ALL {
            if rules::rotation_due(&plan_keys.line(alg), now) {
                report.lines.push(self.change_line(plan, alg, now, &meta, LineChange::Rotate).await?);
            }
        }
        report.deleted = self.delete_expired_keys(plan, now, &meta).await?;
        Ok(report)
    }

    /// Makes the line's first key, or (for a rotation) its next one, once: the key is made
    /// before the transaction (RSA takes a while), the decision taken again inside it, and the
    /// unique generation makes a twin's insert fail.
    async fn change_line(
        &self,
        plan: &Plan,
        alg: SigningAlg,
        now: Timestamp,
        meta: &RequestMeta,
        change: LineChange,
    ) -> Result<LineRotation, Internal> {
        let line_of = |rows: &[store::SigningKeyRow]| -> Vec<rules::KeyLife> {
            rows.iter()
                .filter(|r| r.alg == alg)
                .map(|r| rules::KeyLife {
                    generation: r.generation,
                    active_from: Timestamp(r.active_from),
                    retire_after: r.retire_after.map(Timestamp),
                })
                .collect()
        };
        let wanted = |line: &[rules::KeyLife]| -> Option<Rotation> {
            if line.is_empty() && alg != SigningAlg::Es256 && change == LineChange::Rotate {
                return None;
            }
            match rules::rotation(line, now) {
                r @ Rotation::First { .. } => Some(r),
                r @ Rotation::Next { .. } if change == LineChange::Rotate => Some(r),
                _ => None,
            }
        };
        let settled = |line: &[rules::KeyLife]| {
            if line.is_empty() { LineRotation::NoKeys { alg } } else { LineRotation::AlreadyPending { alg } }
        };
        let before = {
            let mut conn = self.db.acquire().await?;
            line_of(&store::list(&mut conn, plan.id()).await?)
        };
        if wanted(&before).is_none() {
            return Ok(settled(&before));
        }
        let key = keys::generate_off_thread(alg).await?;
        let sealed = keys::seal(&self.sealer, plan.id(), &key)?;
        let mut tx = self.db.begin().await?;
        let line = line_of(&store::list(&mut tx, plan.id()).await?);
        let Some(rotation) = wanted(&line) else { return Ok(settled(&line)) };
        let (generation, active_from, replaced) = match rotation {
            Rotation::First { generation, active_from } => (generation, active_from, None),
            Rotation::Next { generation, active_from, retire_after } => {
                (generation, active_from, Some((generation - 1, retire_after)))
            }
            Rotation::AlreadyPending { .. } => return Ok(LineRotation::AlreadyPending { alg }),
        };
        let new = NewSigningKey {
            plan_id: plan.id(),
            alg,
            generation,
            kid: &key.kid,
            public_jwk: &key.public_jwk,
            private_sealed: &sealed,
            active_from: active_from.0,
        };
        match store::insert(&mut tx, &new, now.0).await {
            Ok(_) => {}
            // Another instance made this generation first (PostgreSQL; SQLite's writer lock
            // makes the second transaction see the first's key above).
            Err(e) if e.is_unique_violation() => return Ok(LineRotation::AlreadyPending { alg }),
            Err(e) => return Err(e.into()),
        }
        let mut detail = json!({"alg": alg.as_str(), "kid": key.kid.as_str(), "generation": generation,
            "active_from": active_from.0});
        let action = match replaced {
            Some((old, retire_after)) => {
                store::retire(&mut tx, plan.id(), alg, old, now.0, retire_after.0).await?;
                detail["replaced_generation"] = json!(old);
                detail["retire_after"] = json!(retire_after.0);
                "oidc.key_rotated"
            }
            None => "oidc.key_created",
        };
        audit::record(&mut tx, now.0, plan.id(), meta, Event::new(action).detail(detail)).await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plan_keys(plan.id());
        tracing::info!(plan = plan.id().0, alg = alg.as_str(), kid = %key.kid, action, "OIDC signing key published");
        Ok(LineRotation::Published { alg, kid: key.kid.as_str().to_owned(), active_from: active_from.0 })
    }

    /// Deletes the plan's keys whose tokens have all expired (audited when there were any).
    async fn delete_expired_keys(
        &self,
        plan: &Plan,
        now: Timestamp,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, Internal> {
        let mut tx = self.db.begin().await?;
        let deleted = store::delete_expired(&mut tx, plan.id(), now.0).await?;
        if deleted.is_empty() {
            return Ok(deleted);
        }
        audit::record(
            &mut tx,
            now.0,
            plan.id(),
            meta,
            Event::new("oidc.keys_deleted").detail(json!({"kids": deleted})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        self.forget_plan_keys(plan.id());
        Ok(deleted)
    }
}
