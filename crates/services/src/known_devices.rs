//! Tokens for browsers that have passed a username's password, which the sign-in's lockout
//! treats as that username's own (the rules: [`gatehouse_domain::known_device`]). The tag is an
//! HMAC-SHA-256 under the server key, so a token cannot be made or moved to another username or
//! plan without it; nothing is stored.

use gatehouse_domain::known_device::{DeviceToken, DeviceTokens, NONCE_LEN, TAG_LEN};
use gatehouse_domain::{PlanId, Timestamp};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The token a browser holds for the username typed: its place in the cookie, and the name of
/// its own failure count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownDevice {
    index: usize,
    nonce_hex: String,
}

impl KnownDevice {
    /// The name of this browser's failure count for the username.
    pub(crate) fn nonce_hex(&self) -> &str {
        &self.nonce_hex
    }
}

fn tag(key: &[u8], plan: PlanId, name: &str, token: &DeviceToken) -> [u8; TAG_LEN] {
    let mut out = [0u8; TAG_LEN];
    // HMAC accepts keys of any length.
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
        mac.update(b"known-device\0");
        mac.update(&plan.0.to_be_bytes());
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(&token.signed_part());
        out.copy_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
    }
    out
}

/// The fresh token among `tokens` minted for `name` (lower case) in `plan`, if any.
pub(crate) fn recognise(
    key: &[u8],
    plan: PlanId,
    name: &str,
    tokens: &DeviceTokens,
    now: Timestamp,
) -> Option<KnownDevice> {
    tokens.iter().enumerate().find_map(|(index, t)| {
        let matches = bool::from(tag(key, plan, name, t).ct_eq(&t.tag));
        (matches && t.is_fresh(now)).then(|| KnownDevice { index, nonce_hex: t.nonce_hex() })
    })
}

/// The browser's tokens after `name`'s password passed: a new token for it first, in place of
/// the one it had.
pub(crate) fn renew(
    key: &[u8],
    plan: PlanId,
    name: &str,
    tokens: &DeviceTokens,
    known: Option<&KnownDevice>,
    now: Timestamp,
) -> DeviceTokens {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut new = DeviceToken { issued_at: now, nonce, tag: [0u8; TAG_LEN] };
    new.tag = tag(key, plan, name, &new);
    tokens.renewed(new, known.map(|k| k.index), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::known_device::LIFETIME;

    fn plan(id: i64) -> PlanId {
        PlanId(id)
    }

    #[test]
    fn a_token_is_recognised_for_its_username_plan_and_key_only() {
        let now = Timestamp(1_900_000_000);
        let (p1, p2) = (plan(1), plan(2));
        let tokens = renew(b"key one", p1, "mlopez", &DeviceTokens::default(), None, now);
        let known = recognise(b"key one", p1, "mlopez", &tokens, now).expect("recognised");
        assert_eq!(known.index, 0);
        assert_eq!(known.nonce_hex().len(), 2 * NONCE_LEN);
        assert_eq!(recognise(b"key one", p1, "admin", &tokens, now), None, "another username");
        assert_eq!(recognise(b"key one", p2, "mlopez", &tokens, now), None, "another plan");
        assert_eq!(recognise(b"key two", p1, "mlopez", &tokens, now), None, "another server key");
        assert_eq!(recognise(b"key one", p1, "mlopez", &tokens, Timestamp(now.plus(LIFETIME).0 + 1)), None, "stale");
    }

    #[test]
    fn a_shared_browser_keeps_a_token_per_username() {
        let now = Timestamp(1_900_000_000);
        let p = plan(1);
        let a = renew(b"k", p, "ann", &DeviceTokens::default(), None, now);
        let ab = renew(b"k", p, "bob", &a, None, now);
        assert_eq!(ab.iter().count(), 2);
        let ann = recognise(b"k", p, "ann", &ab, now).expect("ann");
        assert_eq!(ann.index, 1);
        // Ann signs in again: her old token is replaced, and Bob's kept.
        let again = renew(b"k", p, "ann", &ab, Some(&ann), now);
        assert_eq!(again.iter().count(), 2);
        assert_eq!(recognise(b"k", p, "ann", &again, now).map(|k| k.index), Some(0));
        assert_ne!(recognise(b"k", p, "ann", &again, now), Some(ann), "a new nonce");
        assert!(recognise(b"k", p, "bob", &again, now).is_some());
    }
}
