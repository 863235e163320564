//! Secret tokens (links, sessions) and keyed hashes of short codes. Tokens are 256 random bits
//! from the operating system; only their SHA-256 is stored, so a copy of the database cannot be
//! used to sign in or sign up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Characters of a token from [`new_token`]: 32 random bytes in unpadded URL-safe base64.
pub const TOKEN_LEN: usize = 43;

/// A new random token, URL-safe.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random number for a one-time code.
pub fn random_u64() -> u64 {
    OsRng.next_u64()
}

/// The stored form of a short code: HMAC-SHA-256 under the server key, so that a copy of the
/// database does not reveal codes by brute force over a million values.
pub fn hash_code(key: &[u8], code_id_context: &str, code: &str) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(code_id_context.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two stored hashes in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn code_hash_depends_on_key_and_context() {
        let h = hash_code(b"k1", "user:1", "123456");
        assert_eq!(h, hash_code(b"k1", "user:1", "123456"));
        assert_ne!(h, hash_code(b"k2", "user:1", "123456"));
        assert_ne!(h, hash_code(b"k1", "user:2", "123456"));
        assert!(same(&h, &h.clone()));
        assert!(!same(&h, &hash_code(b"k1", "user:1", "123457")));
    }
}
