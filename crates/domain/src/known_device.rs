//! Browsers that have signed in to a username before ("device cookies", OWASP's answer to a
//! lockout used as a weapon). The lock across addresses ([`crate::lockout`]) stops a password
//! being guessed from many networks, but whoever has that many networks can keep renewing it,
//! and keep the plan administrator out. A browser that has passed the password of a username
//! before carries a token for it; with that token the username's lock across addresses, and its
//! per-address lock, do not apply: failures from the browser are counted against its token
//! alone, with the same growing lock. A token is only minted after the password was right, so it
//! tells nothing about the account that the person at the keyboard does not already know.
//!
//! A browser keeps tokens for up to [`MAX_TOKENS`] usernames (an office computer is shared), in
//! one cookie, newest first. A token is `base64url(issued_at ‖ nonce ‖ tag)`: the second it was
//! minted, 16 random bytes, and 16 bytes of a keyed hash over the plan, the username, the
//! instant and the nonce (computed by the services, which hold the key). The username is not in
//! the token: a token is recognised by recomputing its tag for the username typed.

use crate::time::{Duration, Timestamp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Usernames a browser keeps tokens for.
pub const MAX_TOKENS: usize = 5;

/// How long a token is honoured after the sign-in that minted it (each sign-in mints a new one).
pub const LIFETIME: Duration = Duration::days(180);

/// Clock difference between instances tolerated for a token minted "in the future".
const SKEW_SECS: i64 = 300;

/// Bytes of the nonce.
pub const NONCE_LEN: usize = 16;
/// Bytes of the tag.
pub const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + NONCE_LEN + TAG_LEN;

/// One token, decoded: when it was minted, its nonce and its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceToken {
    /// When the token was minted.
    pub issued_at: Timestamp,
    /// Its random part, which also names the browser's own failure count.
    pub nonce: [u8; NONCE_LEN],
    /// The keyed hash that binds it to a plan and a username.
    pub tag: [u8; TAG_LEN],
}

impl DeviceToken {
    /// Decodes one token; `None` for anything not made by [`DeviceToken::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != (RAW_LEN * 4).div_ceil(3) {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw: [u8; RAW_LEN] = raw.try_into().ok()?;
        let mut at = [0u8; 8];
        at.copy_from_slice(&raw[..8]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[8..8 + NONCE_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&raw[8 + NONCE_LEN..]);
        Some(Self { issued_at: Timestamp(i64::from_be_bytes(at)), nonce, tag })
    }

    /// The token as the cookie carries it.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&self.issued_at.0.to_be_bytes());
        raw.extend_from_slice(&self.nonce);
        raw.extend_from_slice(&self.tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The bytes the tag is computed over after the plan and username: the instant and the nonce.
    pub fn signed_part(&self) -> [u8; 8 + NONCE_LEN] {
        let mut b = [0u8; 8 + NONCE_LEN];
        b[..8].copy_from_slice(&self.issued_at.0.to_be_bytes());
        b[8..].copy_from_slice(&self.nonce);
        b
    }

    /// Whether the token is still honoured at `now`.
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        let age = now.0 - self.issued_at.0;
        (-SKEW_SECS..=LIFETIME.as_secs()).contains(&age)
    }

    /// The name of this browser's own failure count.
    pub fn nonce_hex(&self) -> String {
        hex::encode(self.nonce)
    }
}

/// The tokens a browser holds, newest first: at most [`MAX_TOKENS`], each well formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceTokens(Vec<DeviceToken>);

/// What separates tokens in the cookie (never part of base64url).
const SEPARATOR: char = '.';

impl DeviceTokens {
    /// Reads a cookie's value. Malformed tokens are skipped and only the first [`MAX_TOKENS`]
    /// kept, so whatever a client sends costs at most that many tag checks.
    pub fn parse(value: &str) -> Self {
        Self(value.split(SEPARATOR).take(MAX_TOKENS).filter_map(DeviceToken::decode).collect())
    }

    /// The tokens, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &DeviceToken> {
        self.0.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens with `new` first, without the token at `replacing` (the username's old one,
    /// if the browser had one) and without any no longer fresh at `now`, at most [`MAX_TOKENS`].
    pub fn renewed(&self, new: DeviceToken, replacing: Option<usize>, now: Timestamp) -> Self {
        let kept = self.0.iter().enumerate().filter(|(i, t)| Some(*i) != replacing && t.is_fresh(now));
        Self(std::iter::once(new).chain(kept.map(|(_, t)| t.clone())).take(MAX_TOKENS).collect())
    }

    /// The cookie's value.
    pub fn to_cookie_value(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(DeviceToken::encode).collect();
        parts.join(&SEPARATOR.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(at: i64, n: u8) -> DeviceToken {
        DeviceToken { issued_at: Timestamp(at), nonce: [n; NONCE_LEN], tag: [n ^ 0xff; TAG_LEN] }
    }

    #[test]
    fn a_token_reads_back_as_written() {
        let t = token(1_800_000_000, 7);
        let text = t.encode();
        assert_eq!(text.len(), 54);
        assert!(!text.contains(SEPARATOR));
        assert_eq!(DeviceToken::decode(&text), Some(t.clone()));
        assert_eq!(t.nonce_hex(), "07".repeat(NONCE_LEN));
        for bad in ["", "abc", &text[1..], &format!("{text}A"), &text.replace('A', "*")] {
            assert_eq!(DeviceToken::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_token_is_honoured_for_its_lifetime_only() {
        let t = token(1_000_000, 1);
        assert!(t.is_fresh(Timestamp(1_000_000)));
        assert!(t.is_fresh(Timestamp(1_000_000).plus(LIFETIME)));
        assert!(!t.is_fresh(Timestamp(1_000_001).plus(LIFETIME)));
        assert!(t.is_fresh(Timestamp(1_000_000 - SKEW_SECS)), "a little clock skew");
        assert!(!t.is_fresh(Timestamp(1_000_000 - SKEW_SECS - 1)), "not minted in the future");
    }

    #[test]
    fn a_cookie_keeps_five_fresh_tokens_newest_first() {
        let now = Timestamp(2_000_000);
        let held: Vec<DeviceToken> = (1..=5).map(|n| token(now.0 - 10, n)).collect();
        let value = held.iter().map(DeviceToken::encode).collect::<Vec<_>>().join(".");
        let tokens = DeviceTokens::parse(&value);
        assert_eq!(tokens.iter().count(), 5);
        assert_eq!(DeviceTokens::parse(&tokens.to_cookie_value()), tokens);

        // A sixth username: the oldest held token goes.
        let six = tokens.renewed(token(now.0, 6), None, now);
        let nonces: Vec<u8> = six.iter().map(|t| t.nonce[0]).collect();
        assert_eq!(nonces, [6, 1, 2, 3, 4]);
        // The same username again: its old token is replaced, not kept beside the new one.
        let again = tokens.renewed(token(now.0, 9), Some(2), now);
        let nonces: Vec<u8> = again.iter().map(|t| t.nonce[0]).collect();
        assert_eq!(nonces, [9, 1, 2, 4, 5]);
        // Stale tokens are dropped.
        let stale = DeviceTokens::parse(&token(now.0 - LIFETIME.as_secs() - 1, 3).encode());
        assert_eq!(stale.renewed(token(now.0, 4), None, now).iter().count(), 1);
    }

    #[test]
    fn a_cookie_of_junk_costs_at_most_five_checks() {
        let good = token(5, 1).encode();
        let value = format!("junk.{good}.more junk");
        assert_eq!(DeviceTokens::parse(&value).iter().count(), 1);
        let many = vec![good.as_str(); 50].join(".");
        assert_eq!(DeviceTokens::parse(&many).iter().count(), MAX_TOKENS);
        assert!(DeviceTokens::parse("").is_empty());
        // Tokens beyond the fifth place are not even read.
        let late = format!("{}.{good}", ["x"; MAX_TOKENS].join("."));
        assert!(DeviceTokens::parse(&late).is_empty());
    }
}
