//! OpenID Connect signing keys: the algorithms a plan signs with, a key's id, and the rules of a
//! key's life (when it signs, when it is published, when a rotation is due and when it is gone).
//!
//! Each plan has one line of keys per algorithm, numbered by `generation`. A key signs from its
//! `active_from` until the next generation's `active_from`. A rotation publishes the next key
//! [`PUBLICATION_DELAY`] before it signs, so that every client's copy of the JWKS holds it by
//! then, and gives the old key a `retire_after` (its successor's `active_from` plus
//! [`MAX_TOKEN_LIFETIME`] and [`RETIRE_MARGIN`]): every token it signed has expired by then, so
//! it leaves the JWKS and is deleted.

use crate::time::{Duration, Timestamp};

/// How long a new key is published before it signs (clients cache the JWKS; a day covers the
/// usual hour-long caches many times over).
pub const PUBLICATION_DELAY: Duration = Duration::hours(24);
/// The longest lifetime of any token a plan signs (ID, access and logout tokens): the signing
/// service refuses an `exp` further away, so a key retired with this margin outlives its tokens.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::hours(24);
/// Added to [`MAX_TOKEN_LIFETIME`] before a retired key leaves the JWKS (clock skew, caches).
pub const RETIRE_MARGIN: Duration = Duration::hours(1);
/// The daily job rotates a plan's key once it has signed for this long.
pub const ROTATE_AFTER: Duration = Duration::days(90);

/// A JWS algorithm a plan signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SigningAlg {
    /// ECDSA with P-256 and SHA-256: the default.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys), for clients that ask for it.
    Rs256,
}

impl SigningAlg {
    /// Every algorithm, the default first (the order of the discovery document).
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Es256, SigningAlg::Rs256];

    /// The JWA name (`ES256`, `RS256`), as stored and as written in a JWS header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// Reads a JWA name; anything but `ES256` and `RS256` (`none`, `HS256`, …) is `None`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's id (`kid`): random, URL-safe, unique across plans.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid(String);

impl Kid {
    /// The longest kid accepted.
    pub const MAX_LEN: usize = 64;

    /// Accepts 16 to 64 characters of the URL-safe base64 alphabet (`A-Z a-z 0-9 - _`).
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (16..=Self::MAX_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    /// The kid as written in a JWS header and a JWK.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The times of one key of a line (one plan, one algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLife {
    pub generation: i64,
    pub active_from: Timestamp,
    /// Set when a rotation replaced the key: when it leaves the JWKS.
    pub retire_after: Option<Timestamp>,
}

impl KeyLife {
    /// Whether the key is in the JWKS at `now` (current, next, or retired with live tokens).
    pub fn published(&self, now: Timestamp) -> bool {
        self.retire_after.is_none_or(|t| now < t)
    }

    /// Whether the key may be deleted at `now` (retired, and every token it signed expired).
    pub fn expired(&self, now: Timestamp) -> bool {
        !self.published(now)
    }
}

/// The key that signs at `now`: the newest generation already active and still published.
pub fn current(line: &[KeyLife], now: Timestamp) -> Option<&KeyLife> {
    line.iter().filter(|k| k.active_from <= now && k.published(now)).max_by_key(|k| k.generation)
}

/// A published key that does not sign yet (a rotation's new key during its publication delay).
pub fn pending(line: &[KeyLife], now: Timestamp) -> Option<&KeyLife> {
    line.iter().filter(|k| k.active_from > now).max_by_key(|k| k.generation)
}

/// What a rotation of a line does at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The line has no key that signs: make one that signs at once (nobody can hold a token
    /// of it, so there is nothing to wait for).
    First { generation: i64, active_from: Timestamp },
    /// Publish generation `generation`, signing from `active_from`; the current key (generation
    /// `generation - 1`) leaves the JWKS at `retire_after`.
    Next { generation: i64, active_from: Timestamp, retire_after: Timestamp },
    /// A new key is already published and waits for its turn: nothing to do (so that two
    /// rotations at once, or a repeated command, make one new key).
    AlreadyPending { generation: i64 },
}

/// The rotation of `line` at `now` (see [`Rotation`]).
pub fn rotation(line: &[KeyLife], now: Timestamp) -> Rotation {
    if let Some(p) = pending(line, now) {
        return Rotation::AlreadyPending { generation: p.generation };
    }
    let next = line.iter().map(|k| k.generation).max().unwrap_or(0) + 1;
    match current(line, now) {
        None => Rotation::First { generation: next, active_from: now },
        Some(_) => {
            let active_from = now.plus(PUBLICATION_DELAY);
            Rotation::Next {
                generation: next,
                active_from,
                retire_after: active_from.plus(MAX_TOKEN_LIFETIME).plus(RETIRE_MARGIN),
            }
        }
    }
}

/// Whether the daily job rotates `line` at `now`: its current key has signed for
/// [`ROTATE_AFTER`] and no new key waits.
pub fn rotation_due(line: &[KeyLife], now: Timestamp) -> bool {
    pending(line, now).is_none() && current(line, now).is_some_and(|k| now.0 - k.active_from.0 >= ROTATE_AFTER.0)
}

/// Whether a token signed at `now` may carry the expiry `exp` (later than now, and at most
/// [`MAX_TOKEN_LIFETIME`] away).
pub fn token_expiry_allowed(now: Timestamp, exp: i64) -> bool {
    exp > now.0 && exp <= now.plus(MAX_TOKEN_LIFETIME).0
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp(1_800_000_000);

    fn key(generation: i64, active_from: Timestamp, retire_after: Option<Timestamp>) -> KeyLife {
        KeyLife { generation, active_from, retire_after }
    }

    #[test]
    fn algorithms_by_name_only_es256_and_rs256() {
        for a in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(a.as_str()), Some(a));
        }
        for bad in ["none", "HS256", "es256", "RS512", "", "ES256 "] {
            assert_eq!(SigningAlg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn kids_are_url_safe() {
        assert!(Kid::parse("abcDEF0123456789-_xy").is_some());
        assert!(Kid::parse("short").is_none());
        assert!(Kid::parse("has/slash/0123456789").is_none());
        assert!(Kid::parse("has space 0123456789").is_none());
        assert!(Kid::parse(&"a".repeat(65)).is_none());
    }

    #[test]
    fn first_key_signs_at_once() {
        assert_eq!(rotation(&[], T), Rotation::First { generation: 1, active_from: T });
        assert!(!rotation_due(&[], T));
    }

    #[test]
    fn rotation_publishes_before_use_and_retires_after_the_tokens() {
        let line = [key(1, T, None)];
        let at = T.plus(Duration::days(10));
        let Rotation::Next { generation, active_from, retire_after } = rotation(&line, at) else {
            panic!("a rotation")
        };
        assert_eq!(generation, 2);
        assert_eq!(active_from, at.plus(PUBLICATION_DELAY));
        assert_eq!(retire_after, active_from.plus(MAX_TOKEN_LIFETIME).plus(RETIRE_MARGIN));
        let line = [key(1, T, Some(retire_after)), key(2, active_from, None)];
        // During the publication delay the old key signs and both are published.
        assert_eq!(current(&line, at).map(|k| k.generation), Some(1));
        assert_eq!(pending(&line, at).map(|k| k.generation), Some(2));
        assert!(line.iter().all(|k| k.published(at)));
        // A second rotation meanwhile changes nothing.
        assert_eq!(rotation(&line, at), Rotation::AlreadyPending { generation: 2 });
        // Then the new key signs; the old one stays published until retire_after.
        assert_eq!(current(&line, active_from).map(|k| k.generation), Some(2));
        assert!(line[0].published(retire_after.minus(Duration::seconds(1))));
        assert!(line[0].expired(retire_after));
    }

    #[test]
    fn rotation_is_due_after_ninety_days_unless_a_key_waits() {
        let line = [key(1, T, None)];
        assert!(!rotation_due(&line, T.plus(Duration::days(89))));
        assert!(rotation_due(&line, T.plus(ROTATE_AFTER)));
        let next = T.plus(ROTATE_AFTER).plus(PUBLICATION_DELAY);
        let line = [key(1, T, Some(next.plus(MAX_TOKEN_LIFETIME))), key(2, next, None)];
        assert!(!rotation_due(&line, T.plus(ROTATE_AFTER)));
    }

    #[test]
    fn token_expiry_is_bounded() {
        assert!(token_expiry_allowed(T, T.0 + 3600));
        assert!(token_expiry_allowed(T, T.plus(MAX_TOKEN_LIFETIME).0));
        assert!(!token_expiry_allowed(T, T.plus(MAX_TOKEN_LIFETIME).0 + 1));
        assert!(!token_expiry_allowed(T, T.0));
    }
}
