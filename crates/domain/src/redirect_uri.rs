//! The URIs an OpenID Connect client registers (redirect, post-logout, back-channel logout).
//!
//! A URI is checked when it is registered and then kept **byte for byte as entered**: it is never
//! normalised, so a request matches only the exact text registered (a trailing slash, a letter's
//! case, a percent-encoded character or an extra path segment makes another URI). The `url` crate
//! parses it to check its parts; the parsed form is thrown away.

use serde::Serialize;
use thiserror::Error;

/// Longest URI accepted.
pub const MAX_LEN: usize = 2000;

/// Hosts where plain `http` is allowed: the user's own machine (native and development apps).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// An absolute `https` URI (or `http` on a loopback host), without fragment, user information or
/// wildcard, at most [`MAX_LEN`] characters, kept exactly as registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RedirectUriError {
    #[error("Enter an address.")]
    Empty,
    #[error("An address can be at most {MAX_LEN} characters.")]
    TooLong,
    #[error(
        "Use letters, digits and the characters allowed in a URI only (no spaces or quotes); encode others as %XX."
    )]
    BadCharacter,
    #[error("Enter a full address starting with https://.")]
    NotAbsolute,
    #[error("Use https; http is allowed only for 127.0.0.1, [::1] or localhost.")]
    NotHttps,
    #[error("Remove the part after # (a fragment is not allowed).")]
    Fragment,
    #[error("Remove the user name or password before @ (not allowed in an address).")]
    Userinfo,
    #[error("Wildcards (*) are not allowed: register each address in full.")]
    Wildcard,
}

/// Whether `c` may appear in a URI as written (RFC 3986 unreserved, reserved and `%`).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Whether every `%` starts a two-hex-digit escape.
fn escapes_well_formed(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().filter(|(_, c)| **c == b'%').all(|(i, _)| {
        matches!((b.get(i + 1), b.get(i + 2)), (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit())
    })
}

/// The origin (`scheme://host[:port]`) of an absolute http or https URI, as a browser's
/// Content-Security-Policy source: where a form's navigation may end when it is sent back to an
/// application. None for anything else.
pub fn csp_origin(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    let origin = u.origin().ascii_serialization();
    origin.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'\'' | b'"')).then_some(origin)
}

impl RedirectUri {
    /// Checks a URI as entered; surrounding white space is ignored, nothing else is changed.
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(RedirectUriError::Empty);
        }
        if s.chars().count() > MAX_LEN {
            return Err(RedirectUriError::TooLong);
        }
        if s.contains('*') {
            return Err(RedirectUriError::Wildcard);
        }
        if !s.chars().all(uri_char) || !escapes_well_formed(s) {
            return Err(RedirectUriError::BadCharacter);
        }
        if s.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let (https, rest) = if let Some(rest) = s.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = s.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(RedirectUriError::NotAbsolute);
        };
        if authority(rest).is_empty() {
            return Err(RedirectUriError::NotAbsolute);
        }
        let url = url::Url::parse(s).map_err(|_| RedirectUriError::NotAbsolute)?;
        if !url.username().is_empty() || url.password().is_some() || authority(rest).contains('@') {
            return Err(RedirectUriError::Userinfo);
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(RedirectUriError::NotAbsolute);
        };
        if !https {
            // The host as written, not as the parser normalises it (`127.1`, `0x7f.0.0.1`).
            let written = authority(rest);
            let written_host = match written.rsplit_once(':') {
                Some((h, port)) if !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => written,
            };
            if !LOOPBACK_HOSTS.contains(&written_host) || !LOOPBACK_HOSTS.contains(&host) {
                return Err(RedirectUriError::NotHttps);
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this URI, byte for byte.
    pub fn is_exactly(&self, candidate: &str) -> bool {
        self.0.as_bytes() == candidate.as_bytes()
    }
}

/// The authority of a URI after its `scheme://`: up to the first `/`, `?` or `#`.
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted_as_written() {
        for ok in [
            "https://claims.example.org/callback",
            "https://claims.example.org/cb?x=1&y=2",
            "https://claims.example.org:8443/a/b/",
            "https://Claims.Example.org/CB",
            "https://claims.example.org/a%2Fb",
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1/callback",
            "http://localhost:3000/cb",
            "http://[::1]:8080/cb",
        ] {
            let u = RedirectUri::parse(ok).unwrap();
            assert_eq!(u.as_str(), ok, "kept as written");
        }
        assert_eq!(RedirectUri::parse("  https://a.example/cb \n").unwrap().as_str(), "https://a.example/cb");
    }

    #[test]
    fn bad_uris_are_refused_with_their_reason() {
        use RedirectUriError as E;
        let cases = [
            ("", E::Empty),
            ("   ", E::Empty),
            ("http://example.com/cb", E::NotHttps),
            ("http://127.0.0.1.example.com/cb", E::NotHttps),
            ("http://127.1/cb", E::NotHttps),
            ("http://0x7f.0.0.1/cb", E::NotHttps),
            ("http://localhost.evil.example/cb", E::NotHttps),
            ("https://claims.example.org/cb#frag", E::Fragment),
            ("https://claims.example.org/cb#", E::Fragment),
            ("https://user:pw@claims.example.org/cb", E::Userinfo),
            ("https://user@claims.example.org/cb", E::Userinfo),
            ("http://evil.example@127.0.0.1/cb", E::Userinfo),
            ("https://*.example.org/cb", E::Wildcard),
            ("https://claims.example.org/*", E::Wildcard),
            ("/callback", E::NotAbsolute),
            ("claims.example.org/cb", E::NotAbsolute),
            ("ftp://claims.example.org/cb", E::NotAbsolute),
            ("javascript:alert(1)", E::NotAbsolute),
            ("HTTPS://claims.example.org/cb", E::NotAbsolute),
            ("https:///cb", E::NotAbsolute),
            ("https://claims.example.org/c b", E::BadCharacter),
            ("https://claims.example.org/c\tb", E::BadCharacter),
            ("https://claims.example.org\\@evil.example/", E::BadCharacter),
            ("https://claims.example.org/%zz", E::BadCharacter),
            ("https://claims.example.org/é", E::BadCharacter),
        ];
        for (raw, want) in cases {
            assert_eq!(RedirectUri::parse(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn length_limit_is_2000_characters() {
        let base = "https://claims.example.org/";
        let exactly = format!("{base}{}", "a".repeat(MAX_LEN - base.len()));
        assert!(RedirectUri::parse(&exactly).is_ok());
        let over = format!("{exactly}a");
        assert_eq!(RedirectUri::parse(&over), Err(RedirectUriError::TooLong));
    }

    #[test]
    fn comparison_is_byte_for_byte() {
        let u = RedirectUri::parse("https://claims.example.org/callback").unwrap();
        assert!(u.is_exactly("https://claims.example.org/callback"));
        for other in [
            "https://claims.example.org/callback/",
            "https://claims.example.org/callback/x",
            "https://claims.example.org/Callback",
            "https://CLAIMS.example.org/callback",
            "https://claims.example.org/%63allback",
            "https://claims.example.org:443/callback",
            "https://user@claims.example.org/callback",
            "https://claims.example.org/callback?",
            "https://claims.example.org/callback#",
            "https://claims.example.org/./callback",
            "https://claims.example.org/callback ",
        ] {
            assert!(!u.is_exactly(other), "{other}");
        }
    }

    #[test]
    fn a_csp_origin_is_the_scheme_host_and_port_only() {
        assert_eq!(csp_origin("https://claims.example.org/cb?x=1").as_deref(), Some("https://claims.example.org"));
        assert_eq!(csp_origin("http://127.0.0.1:8000/callback").as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(csp_origin("https://EXAMPLE.org:443/").as_deref(), Some("https://example.org"));
        assert_eq!(csp_origin("com.example.app:/cb"), None);
        assert_eq!(csp_origin("javascript:alert(1)"), None);
        assert_eq!(csp_origin("not a uri"), None);
        assert_eq!(csp_origin("https://a.example; script-src *"), None);
    }
}
