//! An application's OpenID Connect registration: how it authenticates, where the provider may
//! send people back to, what it may ask for, and how its ID tokens are signed. Parsed from what
//! plan staff enter; redirects are matched exactly (see [`crate::redirect_uri`]).

use crate::public_address::is_private_url;
use crate::redirect_uri::{RedirectUri, RedirectUriError};
use crate::scopes::{Scope, ScopeError, ScopeSet};
use thiserror::Error;

/// Most redirect URIs (and, apart, post-logout URIs) an application may register.
pub const MAX_URIS: usize = 20;

/// Why a back-channel logout URI on a private network is refused.
pub const PRIVATE_LOGOUT_URI: &str = "This address is on a private network or is this server itself. Logout notices \
     go only to public addresses, unless whoever runs Gatehouse allows private ones.";

/// How an application authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientType {
    /// Holds a secret (`client_secret_basic` or `client_secret_post`): a server-side application.
    Confidential,
    /// Holds no secret (a native or browser application); PKCE alone binds its codes.
    Public,
}

impl ClientType {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(ClientType::Confidential),
            "public" => Some(ClientType::Public),
            _ => None,
        }
    }
}

/// The algorithm that signs an application's ID tokens: one of the plan's signing algorithms.
pub use crate::oidc_keys::SigningAlg as IdTokenAlg;

/// A checked registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub client_type: ClientType,
    /// Where authorization responses may go, exactly as registered.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where people may be sent after signing out, exactly as registered.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// What the application may ask for; always holds `openid`.
    pub scopes: ScopeSet,
    /// A plan's own application: people are not asked to consent.
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    /// Where back-channel logout tokens are posted, if anywhere.
    pub backchannel_logout_uri: Option<RedirectUri>,
}

impl Registration {
    /// What an application registered before OpenID Connect gets: confidential, no redirect
    /// URI (so it cannot sign anyone in until edited), `openid` only, ES256.
    pub fn api_only() -> Self {
        Self {
            client_type: ClientType::Confidential,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            scopes: ScopeSet::of([Scope::OpenId]),
            first_party: false,
            id_token_alg: IdTokenAlg::Es256,
            backchannel_logout_uri: None,
        }
    }

    /// Whether `candidate` is one of the registered redirect URIs, byte for byte.
    pub fn matches_redirect(&self, candidate: &str) -> bool {
        self.redirect_uris.iter().any(|u| u.is_exactly(candidate))
    }

    /// Whether `candidate` is one of the registered post-logout URIs, byte for byte.
    pub fn matches_post_logout(&self, candidate: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|u| u.is_exactly(candidate))
    }
}

/// A field of the registration form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationField {
    Name,
    ClientType,
    RedirectUris,
    PostLogoutRedirectUris,
    Scopes,
    IdTokenAlg,
    BackchannelLogoutUri,
}

/// What was wrong with a registration form, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Error)]
#[error("The registration has {} mistake(s).", .0.len())]
pub struct RegistrationErrors(pub Vec<(RegistrationField, String)>);

impl RegistrationErrors {
    /// Records a mistake in `field`.
    pub fn add(&mut self, field: RegistrationField, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// The message for `field`, if it has one.
    pub fn get(&self, field: RegistrationField) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// Whether nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the server may post an application's back-channel logout notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutDestinations {
    /// Public addresses only (the default): not the server itself, nor the network it runs in.
    #[default]
    Public,
    /// Any address, private networks and loopback included (an operator's choice, for
    /// applications on the plan's own network, and for tests).
    Any,
}

/// A registration as entered: URIs one per line, scopes space-separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationInput<'a> {
    pub client_type: &'a str,
    pub redirect_uris: &'a str,
    pub post_logout_redirect_uris: &'a str,
    pub scopes: &'a str,
    pub first_party: bool,
    pub id_token_alg: &'a str,
    pub backchannel_logout_uri: &'a str,
}

/// URIs one per line: blank lines skipped, repeats kept once, each checked; the first mistake
/// is reported with its line number.
fn uri_lines(text: &str, what: &str) -> Result<Vec<RedirectUri>, String> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let uri = RedirectUri::parse(line).map_err(|e| line_error(n + 1, line, &e))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    if out.len() > MAX_URIS {
        return Err(format!("Register at most {MAX_URIS} {what}."));
    }
    Ok(out)
}

fn line_error(line: usize, text: &str, e: &RedirectUriError) -> String {
    let shown: String = text.trim().chars().take(80).collect();
    let more = if text.trim().chars().count() > 80 { "…" } else { "" };
    format!("Line {line} ({shown}{more}): {e}")
}

impl RegistrationInput<'_> {
    /// Checks every field, the back-channel logout URI against where notices may go; all
    /// mistakes are reported together.
    pub fn parse(&self, logout_to: LogoutDestinations) -> Result<Registration, RegistrationErrors> {
        use RegistrationField as F;
        let mut errors = RegistrationErrors::default();
        let client_type = ClientType::parse(self.client_type.trim());
        if client_type.is_none() {
            errors.add(F::ClientType, "Choose confidential or public.");
        }
        let redirect_uris = uri_lines(self.redirect_uris, "redirect URIs").unwrap_or_else(|e| {
            errors.add(F::RedirectUris, e);
            Vec::new()
        });
        if client_type == Some(ClientType::Public) && redirect_uris.is_empty() && errors.get(F::RedirectUris).is_none()
        {
            errors.add(F::RedirectUris, "A public client signs people in only: register at least one redirect URI.");
        }
        let post_logout_redirect_uris =
            uri_lines(self.post_logout_redirect_uris, "post-logout URIs").unwrap_or_else(|e| {
                errors.add(F::PostLogoutRedirectUris, e);
                Vec::new()
            });
        let mut scopes = ScopeSet::parse(self.scopes).unwrap_or_else(|ScopeError::Unknown(names)| {
            errors.add(F::Scopes, ScopeError::Unknown(names).to_string());
            ScopeSet::default()
        });
        scopes.insert(Scope::OpenId);
        let id_token_alg = IdTokenAlg::parse(self.id_token_alg.trim());
        if id_token_alg.is_none() {
            errors.add(F::IdTokenAlg, "Choose ES256 or RS256.");
        }
        let backchannel_logout_uri = match self.backchannel_logout_uri.trim() {
            "" => None,
            raw => match RedirectUri::parse(raw) {
                Ok(uri) if logout_to == LogoutDestinations::Public && is_private_url(uri.as_str()) => {
                    errors.add(F::BackchannelLogoutUri, PRIVATE_LOGOUT_URI);
                    None
                }
                Ok(uri) => Some(uri),
                Err(e) => {
                    errors.add(F::BackchannelLogoutUri, e.to_string());
                    None
                }
            },
        };
        match (client_type, id_token_alg) {
            (Some(client_type), Some(id_token_alg)) if errors.is_empty() => Ok(Registration {
                client_type,
                redirect_uris,
                post_logout_redirect_uris,
                scopes,
                first_party: self.first_party,
                id_token_alg,
                backchannel_logout_uri,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegistrationField as F;

    fn input<'a>(redirects: &'a str) -> RegistrationInput<'a> {
        RegistrationInput {
            client_type: "confidential",
            redirect_uris: redirects,
            post_logout_redirect_uris: "https://claims.example.org/",
            scopes: "profile email",
            first_party: true,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        }
    }

    #[test]
    fn a_good_registration_keeps_uris_as_entered() {
        let r = input(
            "https://claims.example.org/cb\r\n\r\nhttp://127.0.0.1:8000/callback\n https://claims.example.org/cb ",
        )
        .parse(LogoutDestinations::Public)
        .unwrap();
        assert_eq!(r.client_type, ClientType::Confidential);
        let uris: Vec<&str> = r.redirect_uris.iter().map(RedirectUri::as_str).collect();
        assert_eq!(uris, ["https://claims.example.org/cb", "http://127.0.0.1:8000/callback"]);
        assert_eq!(r.scopes.canonical(), "openid profile email", "openid always");
        assert_eq!(r.id_token_alg, IdTokenAlg::Es256);
        assert!(r.first_party);
        assert!(r.backchannel_logout_uri.is_none());
    }

    #[test]
    fn logout_notices_go_to_public_addresses_unless_any_are_allowed() {
        for private in
            ["http://127.0.0.1:9000/logout", "https://localhost/logout", "https://10.1.2.3/logout", "https://[::1]/x"]
        {
            let reg = RegistrationInput { backchannel_logout_uri: private, ..input("") };
            let e = reg.parse(LogoutDestinations::Public).unwrap_err();
            assert_eq!(e.get(F::BackchannelLogoutUri), Some(PRIVATE_LOGOUT_URI), "{private}");
            let r = reg.parse(LogoutDestinations::Any).unwrap();
            assert_eq!(r.backchannel_logout_uri.unwrap().as_str(), private);
        }
        let public = RegistrationInput { backchannel_logout_uri: "https://claims.example.org/bc", ..input("") };
        assert!(public.parse(LogoutDestinations::Public).unwrap().backchannel_logout_uri.is_some());
        // A malformed address is told what is wrong with it, not that it is private.
        let bad = RegistrationInput { backchannel_logout_uri: "/logout", ..input("") };
        assert!(
            bad.parse(LogoutDestinations::Public).unwrap_err().get(F::BackchannelLogoutUri).unwrap().contains("full")
        );
    }

    #[test]
    fn every_mistake_is_reported_on_its_field() {
        let bad = RegistrationInput {
            client_type: "secret",
            redirect_uris: "https://ok.example/cb\nhttp://example.com/cb",
            post_logout_redirect_uris: "https://ok.example/#top",
            scopes: "openid admin",
            first_party: false,
            id_token_alg: "HS256",
            backchannel_logout_uri: "https://*.example/logout",
        };
        let e = bad.parse(LogoutDestinations::Public).unwrap_err();
        assert_eq!(e.get(F::ClientType), Some("Choose confidential or public."));
        assert_eq!(
            e.get(F::RedirectUris),
            Some("Line 2 (http://example.com/cb): Use https; http is allowed only for 127.0.0.1, [::1] or localhost.")
        );
        assert!(e.get(F::PostLogoutRedirectUris).unwrap().contains("fragment"));
        assert!(e.get(F::Scopes).unwrap().contains("admin"));
        assert_eq!(e.get(F::IdTokenAlg), Some("Choose ES256 or RS256."));
        assert!(e.get(F::BackchannelLogoutUri).unwrap().contains("Wildcards"));
        assert_eq!(e.get(F::Name), None);
    }

    #[test]
    fn a_public_client_needs_a_redirect_uri() {
        let r = RegistrationInput { client_type: "public", ..input("") }.parse(LogoutDestinations::Public).unwrap_err();
        assert!(r.get(F::RedirectUris).unwrap().contains("at least one"));
        assert!(
            input("").parse(LogoutDestinations::Public).is_ok(),
            "a confidential API-only application may have none"
        );
    }

    #[test]
    fn at_most_twenty_uris() {
        let many: String = (0..21).map(|i| format!("https://claims.example.org/cb{i}\n")).collect();
        assert!(
            input(&many)
                .parse(LogoutDestinations::Public)
                .unwrap_err()
                .get(F::RedirectUris)
                .unwrap()
                .contains("at most 20")
        );
        let twenty: String = (0..20).map(|i| format!("https://claims.example.org/cb{i}\n")).collect();
        assert_eq!(input(&twenty).parse(LogoutDestinations::Public).unwrap().redirect_uris.len(), 20);
    }

    #[test]
    fn redirects_match_exactly() {
        let r = input("https://claims.example.org/callback").parse(LogoutDestinations::Public).unwrap();
        assert!(r.matches_redirect("https://claims.example.org/callback"));
        for attack in [
            "https://claims.example.org/callback/evil",
            "https://claims.example.org/callback/",
            "https://claims.example.org/CALLBACK",
            "https://evil@claims.example.org/callback",
            "https://claims.example.org/callbac%6B",
            "https://claims.example.org/callback?x=1",
            "https://claims.example.org",
            "",
        ] {
            assert!(!r.matches_redirect(attack), "{attack}");
        }
        assert!(r.matches_post_logout("https://claims.example.org/"));
        assert!(!r.matches_post_logout("https://claims.example.org"));
        assert!(!Registration::api_only().matches_redirect("https://claims.example.org/callback"));
    }

    #[test]
    fn names_round_trip() {
        for t in [ClientType::Confidential, ClientType::Public] {
            assert_eq!(ClientType::parse(t.as_str()), Some(t));
        }
        for a in [IdTokenAlg::Es256, IdTokenAlg::Rs256] {
            assert_eq!(IdTokenAlg::parse(a.as_str()), Some(a));
        }
        assert_eq!(IdTokenAlg::parse("es256"), None);
    }
}
