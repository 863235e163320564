//! Password hashes of a legacy system, kept only until the user's first sign-in here: bcrypt,
//! PBKDF2 (HMAC-SHA-256 or HMAC-SHA-1, with iterations and salt) and salted SHA-256 / SHA-1 (salt
//! before or after the password). Verified once, then replaced by Argon2id and erased.
//!
//! Stored form (one text column): bcrypt as its own modular-crypt string (`$2b$…`);
//! `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`, `pbkdf2-sha1$…`; `sha256-prefix$SALT_HEX$HASH_HEX`,
//! `sha256-suffix$…`, `sha1-prefix$…`, `sha1-suffix$…`.

use hmac::digest::Digest as _;
use thiserror::Error;

/// The hash function of a PBKDF2 or salted hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyDigest {
    Sha256,
    Sha1,
}

impl LegacyDigest {
    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha1 => "sha1",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "sha256" => Some(Self::Sha256),
            "sha1" => Some(Self::Sha1),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha1 => 20,
        }
    }
}

/// Where a salted hash put the salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaltPosition {
    /// `hash(salt + password)`.
    Prefix,
    /// `hash(password + salt)`.
    Suffix,
}

impl SaltPosition {
    fn name(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::Suffix => "suffix",
        }
    }

    /// Parses `prefix` or `suffix`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prefix" | "before" => Some(Self::Prefix),
            "suffix" | "after" => Some(Self::Suffix),
            _ => None,
        }
    }
}

/// A legacy password hash.
#[derive(Clone, PartialEq, Eq)]
pub enum LegacyHash {
    /// A bcrypt modular-crypt string (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt(String),
    /// PBKDF2-HMAC with the digest, iterations and salt; `hash` is the derived key.
    Pbkdf2 { digest: LegacyDigest, iterations: u32, salt: Vec<u8>, hash: Vec<u8> },
    /// One pass of the digest over salt and password.
    Salted { digest: LegacyDigest, position: SaltPosition, salt: Vec<u8>, hash: Vec<u8> },
}

impl std::fmt::Debug for LegacyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bcrypt(_) => "LegacyHash::Bcrypt(..)",
            Self::Pbkdf2 { .. } => "LegacyHash::Pbkdf2(..)",
            Self::Salted { .. } => "LegacyHash::Salted(..)",
        })
    }
}

/// Why a legacy hash was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegacyHashError {
    #[error("unknown hash format {0:?}: use bcrypt, pbkdf2-sha256, pbkdf2-sha1, sha256 or sha1")]
    Format(String),
    #[error("the hash is not valid for its format")]
    Hash,
    #[error("the salt is missing or not valid (hex with a `hex:` prefix, or text)")]
    Salt,
    #[error("PBKDF2 needs iterations between 1 and 10,000,000")]
    Iterations,
    #[error("salted hashes need salt_position prefix or suffix")]
    Position,
}

/// Most PBKDF2 iterations accepted (a bigger number would make one sign-in a denial of service).
pub const MAX_ITERATIONS: u32 = 10_000_000;

fn salt_bytes(s: &str) -> Result<Vec<u8>, LegacyHashError> {
    match s.strip_prefix("hex:") {
        Some(h) => hex::decode(h).map_err(|_| LegacyHashError::Salt),
        None if s.is_empty() => Err(LegacyHashError::Salt),
        None => Ok(s.as_bytes().to_vec()),
    }
}

fn digest_hex(h: &str, len: usize) -> Result<Vec<u8>, LegacyHashError> {
    let b = hex::decode(h.trim().to_ascii_lowercase()).map_err(|_| LegacyHashError::Hash)?;
    if b.len() == len { Ok(b) } else { Err(LegacyHashError::Hash) }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl LegacyHash {
    /// Builds a hash from an import's columns: `format` (`bcrypt`, `pbkdf2-sha256`,
    /// `pbkdf2-sha1`, `sha256`, `sha1`), the hash (bcrypt string, or hex), the salt (text, or
    /// hex after `hex:`), PBKDF2's iterations and a salted hash's salt position.
    pub fn from_parts(
        format: &str,
        hash: &str,
        salt: &str,
        iterations: Option<u32>,
        position: Option<SaltPosition>,
    ) -> Result<Self, LegacyHashError> {
        let f = format.trim().to_ascii_lowercase();
        if f == "bcrypt" {
            let h = hash.trim();
            let ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| h.starts_with(p)) && h.len() == 60;
            return if ok { Ok(Self::Bcrypt(h.to_owned())) } else { Err(LegacyHashError::Hash) };
        }
        if let Some(d) = f.strip_prefix("pbkdf2-").or_else(|| f.strip_prefix("pbkdf2_")) {
            let digest = LegacyDigest::parse(d).ok_or_else(|| LegacyHashError::Format(format.to_owned()))?;
            let iterations =
                iterations.filter(|n| (1..=MAX_ITERATIONS).contains(n)).ok_or(LegacyHashError::Iterations)?;
            let hash = hex::decode(hash.trim().to_ascii_lowercase()).map_err(|_| LegacyHashError::Hash)?;
            if hash.is_empty() || hash.len() > 128 {
                return Err(LegacyHashError::Hash);
            }
            return Ok(Self::Pbkdf2 { digest, iterations, salt: salt_bytes(salt)?, hash });
        }
        let digest = LegacyDigest::parse(&f).ok_or_else(|| LegacyHashError::Format(format.to_owned()))?;
        let position = position.ok_or(LegacyHashError::Position)?;
        Ok(Self::Salted { digest, position, salt: salt_bytes(salt)?, hash: digest_hex(hash, digest.len())? })
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Bcrypt(s) => s.clone(),
            Self::Pbkdf2 { digest, iterations, salt, hash } => {
                format!("pbkdf2-{}${iterations}${}${}", digest.name(), hex::encode(salt), hex::encode(hash))
            }
            Self::Salted { digest, position, salt, hash } => {
                format!("{}-{}${}${}", digest.name(), position.name(), hex::encode(salt), hex::encode(hash))
            }
        }
    }

    /// Parses the stored form.
    pub fn parse_stored(s: &str) -> Result<Self, LegacyHashError> {
        if s.starts_with("$2") {
            return Self::from_parts("bcrypt", s, "", None, None);
        }
        let parts: Vec<&str> = s.split('$').collect();
        match parts.as_slice() {
            [kind, iterations, salt, hash] if kind.starts_with("pbkdf2-") => {
                let n = iterations.parse().map_err(|_| LegacyHashError::Iterations)?;
                Self::from_parts(kind, hash, &format!("hex:{salt}"), Some(n), None)
            }
            [kind, salt, hash] => {
                let (d, p) = kind.split_once('-').ok_or_else(|| LegacyHashError::Format((*kind).to_owned()))?;
                Self::from_parts(d, hash, &format!("hex:{salt}"), None, SaltPosition::parse(p))
            }
            _ => Err(LegacyHashError::Format(s.chars().take(12).collect())),
        }
    }

    /// Whether `password` matches. Costly for bcrypt and PBKDF2: run it on the hashing pool.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Self::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Self::Pbkdf2 { digest, iterations, salt, hash } => {
                let mut out = vec![0u8; hash.len()];
                match digest {
                    LegacyDigest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, *iterations, &mut out)
                    }
                    LegacyDigest::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), salt, *iterations, &mut out)
                    }
                }
                same(&out, hash)
            }
            Self::Salted { digest, position, salt, hash } => {
                let mut input = Vec::with_capacity(salt.len() + password.len());
                match position {
                    SaltPosition::Prefix => {
                        input.extend_from_slice(salt);
                        input.extend_from_slice(password.as_bytes());
                    }
                    SaltPosition::Suffix => {
                        input.extend_from_slice(password.as_bytes());
                        input.extend_from_slice(salt);
                    }
                }
                let out = match digest {
                    LegacyDigest::Sha256 => sha2::Sha256::digest(&input).to_vec(),
                    LegacyDigest::Sha1 => sha1::Sha1::digest(&input).to_vec(),
                };
                same(&out, hash)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(h: &LegacyHash) -> LegacyHash {
        LegacyHash::parse_stored(&h.to_stored()).unwrap()
    }

    #[test]
    fn pbkdf2_sha1_rfc_6070() {
        // RFC 6070 section 2: P = "password", S = "salt", dkLen = 20.
        for (c, dk) in [
            (1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
            (2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
            (4096, "4b007901b765489abead49d926f721d065a429c1"),
        ] {
            let h = LegacyHash::from_parts("pbkdf2-sha1", dk, "salt", Some(c), None).unwrap();
            assert!(h.verify("password"), "c = {c}");
            assert!(!h.verify("Password"));
            assert!(round_trip(&h).verify("password"));
        }
    }

    #[test]
    fn pbkdf2_sha256_rfc_7914() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
        let dk = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                  49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
        let h = LegacyHash::from_parts("PBKDF2-SHA256", dk, "hex:73616c74", Some(1), None).unwrap();
        assert!(h.verify("passwd"));
        assert!(!h.verify("passwd "));
        assert!(round_trip(&h).verify("passwd"));
    }

    #[test]
    fn bcrypt_published_vectors() {
        // jBCrypt's / OpenBSD's test vectors.
        for (pw, hash) in [
            ("", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."),
            ("abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"),
        ] {
            let h = LegacyHash::from_parts("bcrypt", hash, "", None, None).unwrap();
            assert!(h.verify(pw), "{pw:?}");
            assert!(!h.verify("abd"));
            assert_eq!(round_trip(&h), h);
        }
        assert_eq!(LegacyHash::from_parts("bcrypt", "$2a$06$short", "", None, None), Err(LegacyHashError::Hash));
    }

    #[test]
    fn salted_sha_fips_180_examples() {
        // FIPS 180-2 appendix examples: SHA-256("abc") and SHA-1("abc"), split into salt and password.
        let s256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let s1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
        let pre = LegacyHash::from_parts("sha256", s256, "a", None, Some(SaltPosition::Prefix)).unwrap();
        assert!(pre.verify("bc") && !pre.verify("ab"));
        let suf = LegacyHash::from_parts("sha256", s256, "c", None, Some(SaltPosition::Suffix)).unwrap();
        assert!(suf.verify("ab") && !suf.verify("bc"));
        let sha1 = LegacyHash::from_parts("SHA-1", s1, "hex:61", None, SaltPosition::parse("prefix")).unwrap();
        assert!(sha1.verify("bc"));
        assert!(round_trip(&sha1).verify("bc") && round_trip(&suf).verify("ab"));
    }

    #[test]
    fn bad_parts_are_refused() {
        assert!(matches!(LegacyHash::from_parts("md5", "00", "s", None, None), Err(LegacyHashError::Format(_))));
        assert_eq!(LegacyHash::from_parts("pbkdf2-sha1", "00", "s", None, None), Err(LegacyHashError::Iterations));
        assert_eq!(
            LegacyHash::from_parts("sha1", "00", "s", None, Some(SaltPosition::Prefix)),
            Err(LegacyHashError::Hash)
        );
        assert_eq!(LegacyHash::from_parts("sha256", "00", "s", None, None), Err(LegacyHashError::Position));
        assert_eq!(
            LegacyHash::from_parts(
                "sha1",
                "a9993e364706816aba3e25717850c26c9cd0d89d",
                "",
                None,
                Some(SaltPosition::Prefix)
            ),
            Err(LegacyHashError::Salt)
        );
        assert!(LegacyHash::parse_stored("nonsense").is_err());
    }
}
