//! The plans' signing keys: made with well-kept crates (`p256`, `rsa`), sealed in the database
//! (see [`crate::sealing`]), and cached per instance. The database is the truth: a plan's keys are
//! read again every [`KEY_CACHE_TTL`] (by the wall clock or the services' clock, whichever moved
//! more), after this instance changes them, and when a token names a kid this instance does not
//! know or no key signs now (at most every [`MIN_RELOAD`], so that made-up kids cannot make every
//! request read the database).

use crate::sealing::{Purpose, Sealer};
use crate::{Internal, Services};
use gatehouse_domain::PlanId;
use gatehouse_domain::oidc_keys::{KeyLife, Kid, SigningAlg};
use gatehouse_domain::time::Timestamp;
use gatehouse_store::oidc_keys::{self as store, SigningKeyRow};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an instance uses its copy of a plan's keys before reading them again. A rotation
/// publishes its key a day before use, so every instance holds it long before it signs.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// The least time between two reads of a plan's keys caused by unknown kids.
pub const MIN_RELOAD: Duration = Duration::from_secs(1);
/// The RSA modulus of RS256 keys.
pub const RSA_BITS: usize = 2048;

/// One key as an instance holds it.
pub(crate) struct LoadedKey {
    pub(crate) alg: SigningAlg,
    pub(crate) kid: Kid,
    pub(crate) life: KeyLife,
    pub(crate) jwk: Jwk,
    pub(crate) decoding: DecodingKey,
    /// `None` when the sealed private key does not open (the server key changed): the key
    /// still verifies and is published, but cannot sign (logged when loaded).
    pub(crate) encoding: Option<EncodingKey>,
}

/// A plan's keys as read at an instant.
pub(crate) struct PlanKeys {
    pub(crate) read_at: Instant,
    /// The services' clock when read (tests move it; production's moves with `read_at`).
    pub(crate) read_clock: i64,
    pub(crate) keys: Vec<LoadedKey>,
}

impl PlanKeys {
    /// The times of the line of `alg`.
    pub(crate) fn line(&self, alg: SigningAlg) -> Vec<KeyLife> {
        self.keys.iter().filter(|k| k.alg == alg).map(|k| k.life).collect()
    }

    /// The key of `alg` that signs at `now`.
    pub(crate) fn current(&self, alg: SigningAlg, now: Timestamp) -> Option<&LoadedKey> {
        let line = self.line(alg);
        let life = gatehouse_domain::oidc_keys::current(&line, now)?;
        self.keys.iter().find(|k| k.alg == alg && k.life.generation == life.generation)
    }

    /// The published key named `kid` at `now`.
    pub(crate) fn published(&self, kid: &str, now: Timestamp) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.kid.as_str() == kid && k.life.published(now))
    }
}

/// Every plan's keys this instance has read.
#[derive(Default)]
pub(crate) struct KeyCache {
    plans: RwLock<HashMap<PlanId, Arc<PlanKeys>>>,
}

/// How fresh a read of a plan's keys must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// The cached copy, unless older than [`KEY_CACHE_TTL`].
    Cached,
    /// Read again, unless the copy is younger than [`MIN_RELOAD`].
    Reload,
}

/// Binds a sealed private key to its plan and kid.
fn seal_context(plan: PlanId, kid: &Kid) -> String {
    format!("oidc-signing-key:plan:{}:kid:{}", plan.0, kid.as_str())
}

/// The jsonwebtoken algorithm of `alg`.
pub(crate) fn jws_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::Rs256 => Algorithm::RS256,
    }
}

/// A new key pair, not yet stored.
pub(crate) struct NewKey {
    pub(crate) kid: Kid,
    /// The public JWK, as stored.
    pub(crate) public_jwk: String,
    /// PKCS#8 DER (ES256) or PKCS#1 DER (RS256).
    pub(crate) private_der: Vec<u8>,
}

/// Makes a key pair for `alg` (RSA key generation takes a while: call it off the async threads).
pub(crate) fn generate(alg: SigningAlg) -> Result<NewKey, Internal> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Internal::Other(format!("making an {alg} key: {what}: {e}"));
    let (private_der, encoding) = match alg {
        SigningAlg::Es256 => {
            use p256::elliptic_curve::Generate;
            use p256::pkcs8::EncodePrivateKey;
            let secret = p256::SecretKey::try_generate().map_err(|e| fail("random", &e))?;
            let der = secret.to_pkcs8_der().map_err(|e| fail("PKCS#8", &e))?.as_bytes().to_vec();
            let enc = EncodingKey::from_ec_der(&der);
            (der, enc)
        }
        SigningAlg::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let mut rng = p256::elliptic_curve::common::getrandom::SysRng;
            let private = rsa::PrivateKey::new(&mut rng, RSA_BITS).map_err(|e| fail("generation", &e))?;
            let der = private.to_pkcs1_der().map_err(|e| fail("PKCS#1", &e))?.as_bytes().to_vec();
            let enc = EncodingKey::from_rsa_der(&der);
            (der, enc)
        }
    };
    let kid = Kid::parse(&crate::tokens::new_token()[..22])
        .ok_or_else(|| Internal::Other("a random kid was not URL-safe".into()))?;
    let mut jwk = Jwk::from_encoding_key(&encoding, jws_alg(alg)).map_err(|e| fail("JWK", &e))?;
    jwk.common.key_id = Some(kid.as_str().to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let public_jwk = serde_json::to_string(&jwk).map_err(|e| fail("JWK", &e))?;
    Ok(NewKey { kid, public_jwk, private_der })
}

/// Makes a key pair on the blocking pool.
pub(crate) async fn generate_off_thread(alg: SigningAlg) -> Result<NewKey, Internal> {
    tokio::task::spawn_blocking(move || generate(alg))
        .await
        .map_err(|e| Internal::Other(format!("key generation stopped: {e}")))?
}

/// Seals a new key's private part for its row.
pub(crate) fn seal(sealer: &Sealer, plan: PlanId, key: &NewKey) -> Result<String, Internal> {
    sealer
        .seal(Purpose::OidcSigningKey, &seal_context(plan, &key.kid), &key.private_der)
        .map_err(|e| Internal::Other(format!("sealing a signing key: {e}")))
}

fn load(sealer: &Sealer, row: &SigningKeyRow) -> Result<LoadedKey, Internal> {
    let corrupt = |e: &dyn std::fmt::Display| Internal::Other(format!("signing key {}: {e}", row.kid));
    let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|e| corrupt(&e))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| corrupt(&e))?;
    let encoding = match sealer.open(Purpose::OidcSigningKey, &seal_context(row.plan_id, &row.kid), &row.private_sealed)
    {
        Ok(der) => Some(match row.alg {
            SigningAlg::Es256 => EncodingKey::from_ec_der(&der),
            SigningAlg::Rs256 => EncodingKey::from_rsa_der(&der),
        }),
        Err(e) => {
            tracing::error!(plan = row.plan_id.0, kid = %row.kid, error = %e, "an OIDC signing key does not open; it cannot sign");
            None
        }
    };
    Ok(LoadedKey {
        alg: row.alg,
        kid: row.kid.clone(),
        life: KeyLife {
            generation: row.generation,
            active_from: Timestamp(row.active_from),
            retire_after: row.retire_after.map(Timestamp),
        },
        jwk,
        decoding,
        encoding,
    })
}

impl Services {
    /// The plan's keys, read from the database when the cached copy is not fresh enough.
    pub(crate) async fn plan_keys(&self, plan: PlanId, fresh: Freshness) -> Result<Arc<PlanKeys>, Internal> {
        let cached = self.oidc_keys.plans.read().ok().and_then(|m| m.get(&plan).cloned());
        if let Some(c) = cached {
            let moved = Duration::from_secs(u64::try_from(self.now() - c.read_clock).unwrap_or(u64::MAX));
            let age = c.read_at.elapsed().max(moved);
            let ok = match fresh {
                Freshness::Cached => age < KEY_CACHE_TTL,
                Freshness::Reload => age < MIN_RELOAD,
            };
            if ok {
                return Ok(c);
            }
        }
        let rows = {
            let mut conn = self.db.acquire().await?;
            store::list(&mut conn, plan).await?
        };
        let keys = rows.iter().map(|r| load(&self.sealer, r)).collect::<Result<Vec<_>, _>>()?;
        let loaded = Arc::new(PlanKeys { read_at: Instant::now(), read_clock: self.now(), keys });
        if let Ok(mut m) = self.oidc_keys.plans.write() {
            m.insert(plan, loaded.clone());
        }
        Ok(loaded)
    }

    /// Drops this instance's copy of the plan's keys (after it changed them).
    pub(crate) fn forget_plan_keys(&self, plan: PlanId) {
        if let Ok(mut m) = self.oidc_keys.plans.write() {
            m.remove(&plan);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation};
    use serde_json::{Value, json};

    fn sign_and_verify(alg: SigningAlg) {
        let key = generate(alg).unwrap();
        let jwk: Value = serde_json::from_str(&key.public_jwk).unwrap();
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        // Only the public half is published.
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private} in {jwk}");
        }
        // The sealed private key signs after a round trip through the database's form.
        let sealer = Sealer::new(&[3u8; 32]);
        let sealed = seal(&sealer, PlanId(7), &key).unwrap();
        let row = SigningKeyRow {
            id: 1,
            plan_id: PlanId(7),
            alg,
            generation: 1,
            kid: key.kid.clone(),
            public_jwk: key.public_jwk.clone(),
            private_sealed: sealed,
            created_at: 0,
            active_from: 0,
            retired_at: None,
            retire_after: None,
        };
        let loaded = load(&sealer, &row).unwrap();
        let mut header = Header::new(jws_alg(alg));
        header.kid = Some(key.kid.as_str().to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &json!({"sub": "a", "exp": 4_000_000_000i64}),
            loaded.encoding.as_ref().unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(jws_alg(alg));
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&token, &loaded.decoding, &v).unwrap();
        assert_eq!(data.claims["sub"], "a");
        // Another key's public half refuses it.
        let other = load(&sealer, &SigningKeyRow { kid: Kid::parse("otherkid0123456789").unwrap(), ..row.clone() });
        let other_key = generate(alg).unwrap();
        let other_decoding = DecodingKey::from_jwk(&serde_json::from_str(&other_key.public_jwk).unwrap()).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&token, &other_decoding, &v).is_err());
        // The row sealed for plan 7 and this kid does not open as another kid's (or plan's).
        assert!(other.unwrap().encoding.is_none());
        assert!(load(&sealer, &SigningKeyRow { plan_id: PlanId(8), ..row }).unwrap().encoding.is_none());
    }

    #[test]
    fn es256_keys_sign_and_verify() {
        sign_and_verify(SigningAlg::Es256);
    }

    #[test]
    fn rs256_keys_sign_and_verify() {
        sign_and_verify(SigningAlg::Rs256);
    }

    #[test]
    fn an_hmac_token_keyed_with_the_public_key_is_refused() {
        let key = generate(SigningAlg::Rs256).unwrap();
        let jwk: Jwk = serde_json::from_str(&key.public_jwk).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "a"}),
            &EncodingKey::from_secret(key.public_jwk.as_bytes()).unwrap(),
        )
        .unwrap();
        // The verifier only ever allows the key's own algorithm.
        let v = Validation::new(Algorithm::RS256);
        assert!(jsonwebtoken::decode::<Value>(&forged, &decoding, &v).is_err());
    }
}
