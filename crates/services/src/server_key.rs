//! The server key for code HMACs when it comes from configuration (`--secret-key-file`,
//! `GATEHOUSE_SECRET_KEY`) rather than the database's `server_secrets` table.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::path::Path;

/// The fewest random bytes a configured key may hold (256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// A validated server key: base64 (standard or URL-safe, padded or not) of at least 32 bytes,
/// e.g. `openssl rand -base64 32`. The key is the text itself, as the database keeps it, so a
/// key copied out of `server_secrets` keeps the codes already sent valid.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKey(String);

/// Why a configured key is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServerKeyError {
    #[error("the secret key is not base64 (make one with `openssl rand -base64 32`)")]
    NotBase64,
    #[error(
        "the secret key holds {0} bytes; it needs at least {MIN_KEY_BYTES} (make one with `openssl rand -base64 32`)"
    )]
    TooShort(usize),
    #[error("cannot read the secret key file {path}: {reason}")]
    File { path: String, reason: String },
}

impl ServerKey {
    /// Validates a key given as text; surrounding white space (a file's last newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, ServerKeyError> {
        let key = text.trim();
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(key).ok())
            .ok_or(ServerKeyError::NotBase64)?;
        if decoded.len() < MIN_KEY_BYTES {
            return Err(ServerKeyError::TooShort(decoded.len()));
        }
        Ok(Self(key.to_owned()))
    }

    /// Reads and validates the key in the file at `path`.
    pub fn read_file(path: &Path) -> Result<Self, ServerKeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerKeyError::File { path: path.display().to_string(), reason: e.to_string() })?;
        Self::parse(&text)
    }

    /// The key's bytes, as used for the HMAC.
    pub fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_base64_of_32_bytes_or_more() {
        let std = STANDARD.encode([7u8; 32]);
        assert_eq!(ServerKey::parse(&format!("{std}\n")).unwrap().bytes(), std.as_bytes());
        let url = URL_SAFE_NO_PAD.encode([0xfbu8; 48]);
        assert!(ServerKey::parse(&url).is_ok());
        // The database's own keys (`tokens::new_token`) are valid configured keys.
        assert!(ServerKey::parse(&crate::tokens::new_token()).is_ok());
    }

    #[test]
    fn refuses_short_or_malformed_keys() {
        assert_eq!(ServerKey::parse(&STANDARD.encode([1u8; 31])), Err(ServerKeyError::TooShort(31)));
        assert_eq!(ServerKey::parse(""), Err(ServerKeyError::TooShort(0)));
        assert_eq!(
            ServerKey::parse("correct horse battery staple correct horse battery"),
            Err(ServerKeyError::NotBase64)
        );
        let e = ServerKey::read_file(Path::new("/nonexistent/gatehouse.key")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/gatehouse.key"), "{e}");
    }

    #[test]
    fn debug_hides_the_key() {
        let k = ServerKey::parse(&STANDARD.encode([9u8; 32])).unwrap();
        assert_eq!(format!("{k:?}"), "ServerKey(****)");
    }
}
