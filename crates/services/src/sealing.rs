//! Secrets at rest: what the database must keep but never hold in the clear (the OIDC signing
//! keys, the authenticator apps' secrets). A value is sealed with AES-256-GCM under a key derived by
//! HKDF-SHA256 from the server key, one derived key per [`Purpose`], with a random 96-bit nonce
//! per value, and bound to the row it belongs to by the associated data (`context`): a sealed
//! value copied to another row, plan or purpose does not open.
//!
//! Sealed text: `v1.` then URL-safe base64 (no padding) of the nonce and the ciphertext with its
//! tag. Changing the server key makes every sealed value unreadable (see docs/architecture.md).

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;

/// The version prefix of sealed text.
const VERSION: &str = "v1.";
/// HKDF's salt: fixed, naming the scheme (the server key is already uniformly random).
const SALT: &[u8] = b"gatehouse sealing v1";
/// Bytes of an AES-GCM nonce.
const NONCE_BYTES: usize = 12;

/// What a sealed value is for; each purpose has its own derived key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A plan's OIDC signing key (context: plan id and kid).
    OidcSigningKey,
    /// A user's authenticator app secret (context: plan id and user id).
    TotpSecret,
}

impl Purpose {
    /// HKDF's `info` for this purpose.
    fn info(self) -> &'static [u8] {
        match self {
            Self::OidcSigningKey => b"gatehouse oidc signing key",
            Self::TotpSecret => b"gatehouse totp secret",
        }
    }
}

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not sealed text of a known version.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Wrong key, wrong context or altered: AES-GCM's tag does not match.
    #[error("the sealed value does not open (altered, moved, or sealed under another server key)")]
    Refused,
    /// The system's random source failed.
    #[error("no random nonce: {0}")]
    Random(String),
}

/// Seals and opens values under keys derived from the server key. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    hkdf: std::sync::Arc<Hkdf<Sha256>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(****)")
    }
}

impl Sealer {
    /// A sealer for the server key's bytes.
    pub fn new(server_key: &[u8]) -> Self {
        Self { hkdf: std::sync::Arc::new(Hkdf::<Sha256>::new(Some(SALT), server_key)) }
    }

    fn cipher(&self, purpose: Purpose) -> Aes256Gcm {
        let mut key = Key::<Aes256Gcm>::default();
        // 32 bytes is far below HKDF-SHA256's limit (255 × 32), so expansion cannot fail.
        if self.hkdf.expand(purpose.info(), &mut key).is_err() {
            tracing::error!("HKDF refused a 32-byte expansion");
        }
        Aes256Gcm::new(&key)
    }

    /// Seals `secret` for `purpose`, bound to `context` (what names its row).
    pub fn seal(&self, purpose: Purpose, context: &str, secret: &[u8]) -> Result<String, SealError> {
        let nonce = Nonce::try_generate().map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self
            .cipher(purpose)
            .encrypt(&nonce, Payload { msg: secret, aad: context.as_bytes() })
            .map_err(|_| SealError::Refused)?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens what [`Sealer::seal`] made for the same purpose and context.
    pub fn open(&self, purpose: Purpose, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(VERSION).ok_or(SealError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Malformed)?;
        self.cipher(purpose)
            .decrypt(&nonce, Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| SealError::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&[byte; 32])
    }

    #[test]
    fn round_trip() {
        let s = sealer(1);
        let sealed = s.seal(Purpose::OidcSigningKey, "plan:1:kid:abc", b"private key").unwrap();
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains("private"));
        assert_eq!(s.open(Purpose::OidcSigningKey, "plan:1:kid:abc", &sealed).unwrap(), b"private key");
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(sealed, s.seal(Purpose::OidcSigningKey, "plan:1:kid:abc", b"private key").unwrap());
    }

    #[test]
    fn tampered_moved_or_foreign_values_do_not_open() {
        let s = sealer(1);
        let sealed = s.seal(Purpose::OidcSigningKey, "plan:1:kid:abc", b"private key").unwrap();
        // Another row's context (another plan, another kid).
        assert_eq!(s.open(Purpose::OidcSigningKey, "plan:2:kid:abc", &sealed), Err(SealError::Refused));
        // Another server key.
        assert_eq!(sealer(2).open(Purpose::OidcSigningKey, "plan:1:kid:abc", &sealed), Err(SealError::Refused));
        // One bit flipped anywhere in the nonce, ciphertext or tag.
        let bytes = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_BYTES, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 1;
            let altered = format!("v1.{}", URL_SAFE_NO_PAD.encode(b));
            assert_eq!(s.open(Purpose::OidcSigningKey, "plan:1:kid:abc", &altered), Err(SealError::Refused), "{i}");
        }
        // Not sealed text at all.
        for bad in ["", "v1.", "v2.AAAA", "v1.!!!", "v1.AAAA"] {
            assert_eq!(s.open(Purpose::OidcSigningKey, "plan:1:kid:abc", bad), Err(SealError::Malformed), "{bad}");
        }
    }
}
