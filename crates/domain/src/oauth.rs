//! The rules of the OpenID Connect authorization code flow (issue 18): PKCE S256 (RFC 7636; the
//! `plain` method refused, as OAuth 2.1 asks), the authorization request (OIDC Core 3.1.2.1) read
//! in two steps (the client and its redirect URI first, since no error may be redirected before
//! both are known to be registered), the token request (RFC 6749 4.1.3 and 6), lifetimes, and the
//! error responses (RFC 6749 4.1.2.1 and 5.2, with `iss` per RFC 9207). No I/O, no clock.

use crate::time::{Duration, Timestamp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use thiserror::Error;

/// An authorization code is good this long after it is issued.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// An authorization request waits this long for its person to sign in and consent.
pub const PENDING_LIFETIME: Duration = Duration::minutes(30);
/// Access tokens (JWTs) are good this long.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::minutes(10);
/// ID tokens are good this long (they are read once, at sign-in).
pub const ID_TOKEN_LIFETIME: Duration = Duration::minutes(10);
/// A refresh token is good this long unused; its session's limits end it sooner.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::hours(12);

/// A logout token is good this long: long enough to cross the network, too short to replay later.
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::minutes(2);
/// The event a logout token carries (OpenID Connect Back-Channel Logout 1.0, 2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A back-channel logout notice is given up after this many failed attempts (about two hours of
/// retries with the outbox's backoff).
pub const LOGOUT_NOTICE_ATTEMPTS: i64 = 10;

/// The claims of a logout token for `client_id` (Back-Channel Logout 1.0, 2.4): whose session
/// (`sub`, `sid`), a unique `jti`, the logout event, and never a `nonce`; `iss` is set by the
/// signer.
pub fn logout_token_claims(client_id: &str, sub: &str, sid: &str, jti: &str, now: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "aud": client_id,
        "sub": sub,
        "sid": sid,
        "jti": jti,
        "iat": now.0,
        "exp": now.plus(LOGOUT_TOKEN_LIFETIME).0,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

/// Longest `state`, `nonce`, `login_hint` and other free text a request may carry.
pub const MAX_PARAM_LEN: usize = 2_000;

/// The error codes of RFC 6749 (4.1.2.1 and 5.2), RFC 7009 and OIDC Core 3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    UnauthorizedClient,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    UnsupportedTokenType,
    InteractionRequired,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl ErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// An OAuth error: its code and a description for the developer (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {description}", .code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    fn invalid(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
}

/// The characters RFC 3986 leaves unreserved, of which PKCE verifiers are made.
fn unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// A PKCE code verifier: 43 to 128 unreserved characters (RFC 7636 4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(..)")
    }
}

impl CodeVerifier {
    /// Checks a presented verifier.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let n = raw.chars().count();
        if !(43..=128).contains(&n) || !raw.chars().all(unreserved) {
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A PKCE S256 code challenge: `BASE64URL(SHA-256(verifier))`, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks the request's challenge and method: S256 only (an absent method means `plain`,
    /// which is refused like `plain` itself).
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, OAuthError> {
        let challenge = challenge.ok_or_else(|| OAuthError::invalid("code_challenge is required (PKCE with S256)"))?;
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid("code_challenge_method must be S256; plain is not accepted"));
            }
            Some(_) => return Err(OAuthError::invalid("code_challenge_method must be S256")),
        }
        let ok = challenge.len() == 43
            && challenge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|b| b.len() == 32);
        if !ok {
            return Err(OAuthError::invalid(
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge of a verifier.
    pub fn of(verifier: &CodeVerifier) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes())))
    }

    /// A challenge as stored (checked when it was first parsed).
    pub fn from_stored(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// Whether `verifier` is the one this challenge was made from.
    pub fn is_met_by(&self, verifier: &CodeVerifier) -> bool {
        let expected = Self::of(verifier);
        // Not a secret, but compared without an early exit all the same.
        expected.0.len() == self.0.len()
            && expected.0.bytes().zip(self.0.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `prompt` asks for (OIDC Core 3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Show nothing: answer from the session there is, or fail.
    pub none: bool,
    /// Make the person sign in again.
    pub login: bool,
    /// Ask for consent again.
    pub consent: bool,
}

impl Prompt {
    /// Parses the space-separated list; `none` with anything else is refused, and so is an
    /// unknown value. `select_account` is accepted and changes nothing (one account per browser).
    pub fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let mut p = Self::default();
        let mut count = 0;
        for v in raw.unwrap_or_default().split_ascii_whitespace() {
            count += 1;
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => {}
                other => return Err(OAuthError::invalid(format!("prompt value {other:?} is not supported"))),
            }
        }
        if p.none && count > 1 {
            return Err(OAuthError::invalid("prompt=none cannot be combined with other values"));
        }
        Ok(p)
    }
}

/// The scopes a request names, each once, in the order given; `openid` among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedScopes(Vec<String>);

impl RequestedScopes {
    /// Parses `scope`: space-separated tokens (RFC 6749 3.3), which must include `openid`.
    /// Names the provider does not know are kept here and ignored when the grant is decided.
    pub fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let raw = raw.unwrap_or_default();
        let valid_token = |t: &str| t.chars().all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c));
        let mut names: Vec<String> = Vec::new();
        for t in raw.split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(t) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "scope holds a character no scope may hold"));
            }
            if !names.iter().any(|n| n == t) {
                names.push(t.to_owned());
            }
        }
        if !names.iter().any(|n| n == "openid") {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "scope must include openid"));
        }
        Ok(Self(names))
    }

    /// The names, in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `name` was asked for.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }

    /// The space-separated text, as given (without repeats).
    pub fn text(&self) -> String {
        self.0.join(" ")
    }
}

/// The parameters [`AuthorizationRequest::parse`] reads (and refuses, for `request` and
/// `request_uri`).
pub const AUTHORIZATION_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "acr_values",
    "response_mode",
    "request",
    "request_uri",
];

/// The query or form parameters of a request, each name once (RFC 6749 3.1: a parameter sent
/// twice is an invalid request). Parameters with empty values count as absent (RFC 6749 3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
    /// Every pair as sent, to keep a request and read it again later.
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Collects decoded pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut p = Self::default();
        for (k, v) in pairs {
            p.pairs.push((k.clone(), v.clone()));
            if v.is_empty() {
                continue;
            }
            match p.values.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if !p.repeated.contains(e.key()) {
                        p.repeated.push(e.key().clone());
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        p
    }

    /// Every pair as sent, in order (read back with [`Params::from_pairs`]).
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    /// The pairs an authorization request is read from ([`AUTHORIZATION_PARAMS`]), in order, with
    /// a value: what is kept while the person signs in. Others are ignored (OpenID Connect Core
    /// 3.1.2.1), and a request that parsed has each of these once, at most [`MAX_PARAM_LEN`]
    /// characters long.
    pub fn authorization_pairs(&self) -> Vec<(String, String)> {
        // An empty value counts as absent: not kept either.
        self.pairs
            .iter()
            .filter(|(k, v)| !v.is_empty() && AUTHORIZATION_PARAMS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// The value of `name`, unless it was repeated (then an error naming it).
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        if self.repeated.iter().any(|r| r == name) {
            return Err(OAuthError::invalid(format!("{name} was sent more than once")));
        }
        Ok(self.values.get(name).map(String::as_str))
    }

    /// The value of `name`, at most [`MAX_PARAM_LEN`] characters.
    fn text(&self, name: &str) -> Result<Option<String>, OAuthError> {
        match self.get(name)? {
            Some(v) if v.chars().count() > MAX_PARAM_LEN => {
                Err(OAuthError::invalid(format!("{name} is longer than {MAX_PARAM_LEN} characters")))
            }
            v => Ok(v.map(str::to_owned)),
        }
    }
}

/// Why an authorization request cannot even be answered by redirect: the client or its
/// redirect URI is missing or unusable. Shown to the person as an error page.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoRedirect {
    #[error("The application did not say who it is (client_id is missing or sent twice).")]
    NoClient,
    #[error("The application did not say where to send you back (redirect_uri is missing or sent twice).")]
    NoRedirectUri,
    #[error("This application is not known to the portal.")]
    UnknownClient,
    #[error("The address the application asked to send you back to is not one it registered.")]
    UnregisteredRedirectUri,
}

/// The client and redirect URI of an authorization request, read before anything else.
pub fn client_and_redirect(p: &Params) -> Result<(String, String), NoRedirect> {
    let client = p.get("client_id").ok().flatten().filter(|c| c.len() <= 200).ok_or(NoRedirect::NoClient)?;
    let uri = p.get("redirect_uri").ok().flatten().ok_or(NoRedirect::NoRedirectUri)?;
    Ok((client.to_owned(), uri.to_owned()))
}

/// An authorization request whose client and redirect URI were found registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: RequestedScopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    /// Seconds since the person last signed in beyond which they must sign in again.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub acr_values: Vec<String>,
}

impl AuthorizationRequest {
    /// Reads the rest of a request (OIDC Core 3.1.2.1) once `client_id` and `redirect_uri` are
    /// known good: only `response_type=code` in the query response mode, `openid` in the scope,
    /// PKCE S256; parameters the provider does not know are ignored. An error here is answered
    /// by redirect (with `state` when it could be read).
    pub fn parse(p: &Params, client_id: &str, redirect_uri: &str) -> Result<Self, OAuthError> {
        if p.get("request")?.is_some() {
            return Err(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported"));
        }
        if p.get("request_uri")?.is_some() {
            return Err(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
        }
        // Every parameter read, not only the free-text ones: a request is kept while the person
        // signs in, so none may be longer than this.
        for name in AUTHORIZATION_PARAMS {
            p.text(name)?;
        }
        match p.get("response_type")? {
            Some("code") => {}
            None => return Err(OAuthError::invalid("response_type is required")),
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        match p.get("response_mode")? {
            None | Some("query") => {}
            Some(_) => return Err(OAuthError::invalid("only response_mode=query is supported")),
        }
        let scopes = RequestedScopes::parse(p.get("scope")?)?;
        let code_challenge = CodeChallenge::parse(p.get("code_challenge")?, p.get("code_challenge_method")?)?;
        let prompt = Prompt::parse(p.get("prompt")?)?;
        let max_age = match p.get("max_age")? {
            None => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| OAuthError::invalid("max_age must be a whole number of seconds"))?,
            ),
        };
        let acr_values =
            p.text("acr_values")?.map(|v| v.split_ascii_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: p.text("state")?,
            nonce: p.text("nonce")?,
            code_challenge,
            prompt,
            max_age,
            login_hint: p.text("login_hint")?,
            id_token_hint: p.text("id_token_hint")?,
            acr_values,
        })
    }

    /// Whether a sign-in completed at `authenticated_at` is too old for `max_age` at `now`.
    pub fn sign_in_too_old(&self, authenticated_at: Timestamp, now: Timestamp) -> bool {
        self.max_age.is_some_and(|m| now.as_secs() - authenticated_at.as_secs() > m)
    }
}

/// The state of a request's `state` as far as an error response can read it: the value, unless
/// it was repeated or too long.
pub fn readable_state(p: &Params) -> Option<String> {
    p.text("state").ok().flatten()
}

/// Appends response parameters to a registered redirect URI, which is used exactly as
/// registered (a `?` or `&` joins; the URI is never normalised).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", q.finish())
}

/// The redirect of an authorization response with a code (RFC 6749 4.1.2, RFC 9207 `iss`).
pub fn code_response(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    redirect_with(redirect_uri, &pairs)
}

/// The redirect of an authorization error (RFC 6749 4.1.2.1, RFC 9207 `iss`).
pub fn error_response(redirect_uri: &str, e: &OAuthError, state: Option<&str>, issuer: &str) -> String {
    let mut pairs = vec![("error", e.code.as_str()), ("error_description", e.description.as_str())];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    redirect_with(redirect_uri, &pairs)
}

/// What a client sent to the token endpoint to prove who it is (RFC 6749 2.3.1): HTTP Basic
/// (`client_secret_basic`), the form's `client_secret` (`client_secret_post`), or only its
/// `client_id` (a public client).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// Whether the credentials came in the `Authorization` header.
    pub basic: bool,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials").field("client_id", &self.client_id).field("basic", &self.basic).finish()
    }
}

impl ClientCredentials {
    /// Reads the credentials from the `Authorization` header's value (if any) and the form;
    /// more than one method at once is refused (RFC 6749 2.3).
    pub fn read(authorization: Option<&str>, p: &Params) -> Result<Self, OAuthError> {
        let form_id = p.get("client_id")?;
        let form_secret = p.get("client_secret")?;
        if let Some(h) = authorization {
            let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::new(
                    ErrorCode::InvalidClient,
                    "only HTTP Basic client authentication is accepted",
                ));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "the Basic credentials are not base64"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "the Basic credentials hold no ':'"))?;
            // Each half is form-encoded (RFC 6749 2.3.1).
            let unescape = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let (id, secret) = (unescape(id), unescape(secret));
            if form_secret.is_some() {
                return Err(OAuthError::invalid("use one client authentication method, not two"));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid("client_id differs from the Basic credentials"));
            }
            return Ok(Self { client_id: id, secret: Some(secret), basic: true });
        }
        let id =
            form_id.ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "client authentication is required"))?;
        Ok(Self { client_id: id.to_owned(), secret: form_secret.map(str::to_owned), basic: false })
    }
}

/// A token request's grant (RFC 6749 4.1.3 and 6).
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// Redeems an authorization code.
    AuthorizationCode { code: String, redirect_uri: String, verifier: CodeVerifier },
    /// Exchanges a refresh token for new tokens.
    RefreshToken { refresh_token: String },
    /// A confidential application asks an access token for itself, to call the permission
    /// check API (RFC 6749 4.4). The only scope it may name is [`APPLICATION_SCOPE`].
    ClientCredentials,
}

/// The one scope of an application's own access token: the permission check API. Asking none
/// is the same as asking it.
pub const APPLICATION_SCOPE: &str = "authz";

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AuthorizationCode { .. } => "Grant::AuthorizationCode(..)",
            Self::RefreshToken { .. } => "Grant::RefreshToken(..)",
            Self::ClientCredentials => "Grant::ClientCredentials",
        })
    }
}

impl Grant {
    /// Reads the grant from the form. A code without `code_verifier` is refused (PKCE is
    /// required of every client).
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        match p.get("grant_type")? {
            Some("authorization_code") => {
                let code = p.get("code")?.ok_or_else(|| OAuthError::invalid("code is required"))?;
                let redirect_uri =
                    p.get("redirect_uri")?.ok_or_else(|| OAuthError::invalid("redirect_uri is required"))?;
                let verifier = p
                    .get("code_verifier")?
                    .ok_or_else(|| OAuthError::new(ErrorCode::InvalidGrant, "code_verifier is required (PKCE)"))?;
                Ok(Self::AuthorizationCode {
                    code: code.to_owned(),
                    redirect_uri: redirect_uri.to_owned(),
                    verifier: CodeVerifier::parse(verifier)?,
                })
            }
            Some("refresh_token") => {
                let t = p.get("refresh_token")?.ok_or_else(|| OAuthError::invalid("refresh_token is required"))?;
                Ok(Self::RefreshToken { refresh_token: t.to_owned() })
            }
            Some("client_credentials") => {
                let scope = p.get("scope")?.unwrap_or("");
                if scope.split_whitespace().any(|s| s != APPLICATION_SCOPE) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "an application's token has one scope: authz (or none)",
                    ));
                }
                Ok(Self::ClientCredentials)
            }
            None => Err(OAuthError::invalid("grant_type is required")),
            Some(_) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )),
        }
    }
}

/// Whether a code (or pending request) issued to expire at `expires_at` is still good at `now`.
pub fn still_good(expires_at: Timestamp, now: Timestamp) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kept_request_holds_only_what_is_read() {
        let p = params(&[
            ("client_id", "app"),
            ("junk", "x"),
            ("nonce", ""),
            ("nonce", ""),
            ("state", "s1"),
            ("scope", "openid"),
            ("padding", "y"),
        ]);
        let kept = p.authorization_pairs();
        assert_eq!(
            kept,
            [("client_id", "app"), ("state", "s1"), ("scope", "openid")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid profile"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<AuthorizationRequest, OAuthError> {
        AuthorizationRequest::parse(&params(pairs), "app", "https://app.example/cb")
    }

    #[test]
    fn client_credentials_take_no_scope_or_authz() {
        for scope in [None, Some(""), Some("authz"), Some(" authz ")] {
            let mut p = vec![("grant_type", "client_credentials")];
            if let Some(s) = scope {
                p.push(("scope", s));
            }
            assert_eq!(Grant::parse(&params(&p)).unwrap(), Grant::ClientCredentials, "{scope:?}");
        }
        for scope in ["openid", "authz profile"] {
            let e = Grant::parse(&params(&[("grant_type", "client_credentials"), ("scope", scope)])).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidScope, "{scope}");
        }
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        let v = CodeVerifier::parse(VERIFIER).unwrap();
        assert_eq!(CodeChallenge::of(&v).as_str(), CHALLENGE);
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(c.is_met_by(&v));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!c.is_met_by(&other));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        for m in [None, Some("plain"), Some("s256"), Some("RS256")] {
            let e = CodeChallenge::parse(Some(CHALLENGE), m).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{m:?}");
        }
        assert!(CodeChallenge::parse(None, Some("S256")).is_err());
        // A plain verifier sent as the challenge is not a SHA-256.
        assert!(CodeChallenge::parse(Some("short"), Some("S256")).is_err());
        assert!(CodeChallenge::parse(Some(&format!("{CHALLENGE}A")), Some("S256")).is_err());
        assert!(CodeChallenge::parse(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"), Some("S256")).is_err());
    }

    #[test]
    fn verifiers_are_43_to_128_unreserved_characters() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"~._-Az9".repeat(19)[..128]).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}+", "a".repeat(43))).is_err());
        assert!(CodeVerifier::parse(&format!("{}é", "a".repeat(43))).is_err());
        assert_eq!(format!("{:?}", CodeVerifier::parse(VERIFIER).unwrap()), "CodeVerifier(..)");
    }

    #[test]
    fn a_good_request_is_read_whole() {
        let mut pairs = good();
        pairs.extend([
            ("nonce", "n-0S6"),
            ("prompt", "login consent"),
            ("max_age", "300"),
            ("login_hint", "jdoe"),
            ("acr_values", "a b"),
            ("unknown_thing", "ignored"),
        ]);
        let r = parse(&pairs).unwrap();
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert_eq!(r.nonce.as_deref(), Some("n-0S6"));
        assert_eq!(r.prompt, Prompt { none: false, login: true, consent: true });
        assert_eq!(r.max_age, Some(300));
        assert_eq!(r.login_hint.as_deref(), Some("jdoe"));
        assert_eq!(r.acr_values, vec!["a", "b"]);
        assert_eq!(r.scopes.text(), "openid profile");
        assert!(r.sign_in_too_old(Timestamp(0), Timestamp(301)));
        assert!(!r.sign_in_too_old(Timestamp(0), Timestamp(300)));
    }

    #[test]
    fn scopes_in_any_order_with_openid() {
        let mut pairs = good();
        pairs[3] = ("scope", "email  openid profile email offline_access");
        let r = parse(&pairs).unwrap();
        assert_eq!(r.scopes.text(), "email openid profile offline_access");
        assert!(r.scopes.contains("offline_access"));
        pairs[3] = ("scope", "profile email");
        assert_eq!(parse(&pairs).unwrap_err().code, ErrorCode::InvalidScope);
        pairs[3] = ("scope", "openid pro\"file");
        assert_eq!(parse(&pairs).unwrap_err().code, ErrorCode::InvalidScope);
    }

    #[test]
    fn response_type_mode_and_request_objects() {
        let with = |k: &'static str, v: &'static str| {
            let mut p: Vec<_> = good().into_iter().filter(|(n, _)| *n != k).collect();
            p.push((k, v));
            parse(&p).map(|_| ()).map_err(|e| e.code)
        };
        assert_eq!(with("response_type", "token"), Err(ErrorCode::UnsupportedResponseType));
        assert_eq!(with("response_type", "code id_token"), Err(ErrorCode::UnsupportedResponseType));
        assert_eq!(with("response_mode", "fragment"), Err(ErrorCode::InvalidRequest));
        assert_eq!(with("response_mode", "query"), Ok(()));
        assert_eq!(with("request", "eyJ..."), Err(ErrorCode::RequestNotSupported));
        assert_eq!(with("request_uri", "https://x"), Err(ErrorCode::RequestUriNotSupported));
        assert_eq!(with("max_age", "-1"), Err(ErrorCode::InvalidRequest));
        assert_eq!(with("max_age", "ten"), Err(ErrorCode::InvalidRequest));
        assert_eq!(with("prompt", "none login"), Err(ErrorCode::InvalidRequest));
        assert_eq!(with("prompt", "shout"), Err(ErrorCode::InvalidRequest));
        assert_eq!(with("prompt", "select_account"), Ok(()));
        let no_type: Vec<_> = good().into_iter().filter(|(n, _)| *n != "response_type").collect();
        assert_eq!(parse(&no_type).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn repeated_parameters_are_invalid_and_empty_ones_absent() {
        let mut pairs = good();
        pairs.push(("scope", "openid"));
        assert_eq!(parse(&pairs).unwrap_err().code, ErrorCode::InvalidRequest);
        let mut pairs = good();
        pairs.push(("redirect_uri", "https://evil.example/cb"));
        assert_eq!(client_and_redirect(&params(&pairs)), Err(NoRedirect::NoRedirectUri));
        let mut pairs = good();
        pairs.push(("nonce", ""));
        assert_eq!(parse(&pairs).unwrap().nonce, None);
        assert_eq!(client_and_redirect(&params(&good())), Ok(("app".to_owned(), "https://app.example/cb".to_owned())));
        assert_eq!(client_and_redirect(&params(&[("redirect_uri", "x")])), Err(NoRedirect::NoClient));
    }

    #[test]
    fn too_long_text_is_refused() {
        let long = "s".repeat(MAX_PARAM_LEN + 1);
        let mut pairs = good();
        pairs[4] = ("state", long.as_str());
        assert_eq!(parse(&pairs).unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(readable_state(&params(&pairs)), None);
        // Every parameter kept for later, not only free text.
        let zeros = format!("{}1", "0".repeat(MAX_PARAM_LEN));
        let spaces = format!("openid{}", " ".repeat(MAX_PARAM_LEN));
        for (name, value) in [("max_age", zeros.as_str()), ("scope", spaces.as_str()), ("prompt", spaces.as_str())] {
            let mut pairs = good();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            assert_eq!(parse(&pairs).unwrap_err().code, ErrorCode::InvalidRequest, "{name}");
        }
    }

    #[test]
    fn responses_keep_the_redirect_uri_as_registered() {
        let u = code_response("https://app.example/cb", "c0de", Some("a b&c"), "https://portal.example/p/acme");
        assert_eq!(u, "https://app.example/cb?code=c0de&state=a+b%26c&iss=https%3A%2F%2Fportal.example%2Fp%2Facme");
        let e = OAuthError::new(ErrorCode::LoginRequired, "sign in first");
        let u = error_response("https://app.example/cb?tenant=1", &e, None, "https://i");
        assert_eq!(
            u,
            "https://app.example/cb?tenant=1&error=login_required&error_description=sign+in+first&iss=https%3A%2F%2Fi"
        );
    }

    #[test]
    fn client_credentials_by_one_method() {
        use base64::engine::general_purpose::STANDARD;
        let basic = format!("Basic {}", STANDARD.encode("app:s%3Acret"));
        let c = ClientCredentials::read(Some(&basic), &params(&[])).unwrap();
        assert_eq!((c.client_id.as_str(), c.secret.as_deref(), c.basic), ("app", Some("s:cret"), true));
        assert!(!format!("{c:?}").contains("cret"));
        let both = ClientCredentials::read(Some(&basic), &params(&[("client_secret", "x")])).unwrap_err();
        assert_eq!(both.code, ErrorCode::InvalidRequest);
        let c = ClientCredentials::read(None, &params(&[("client_id", "app"), ("client_secret", "s")])).unwrap();
        assert_eq!((c.secret.as_deref(), c.basic), (Some("s"), false));
        let public = ClientCredentials::read(None, &params(&[("client_id", "app")])).unwrap();
        assert_eq!(public.secret, None);
        let none = ClientCredentials::read(None, &params(&[])).unwrap_err();
        assert_eq!(none.code, ErrorCode::InvalidClient);
        let bearer = ClientCredentials::read(Some("Bearer abc"), &params(&[])).unwrap_err();
        assert_eq!(bearer.code, ErrorCode::InvalidClient);
        let garbage = ClientCredentials::read(Some("Basic !!!"), &params(&[])).unwrap_err();
        assert_eq!(garbage.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn grants_need_their_parts() {
        let code = |extra: &[(&str, &str)]| {
            let mut p = vec![("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://a/cb")];
            p.extend_from_slice(extra);
            Grant::parse(&params(&p)).map_err(|e| e.code)
        };
        assert!(matches!(code(&[("code_verifier", VERIFIER)]), Ok(Grant::AuthorizationCode { .. })));
        assert_eq!(code(&[]).unwrap_err(), ErrorCode::InvalidGrant);
        assert_eq!(code(&[("code_verifier", "short")]).unwrap_err(), ErrorCode::InvalidGrant);
        let refresh = Grant::parse(&params(&[("grant_type", "refresh_token"), ("refresh_token", "r")])).unwrap();
        assert!(matches!(refresh, Grant::RefreshToken { .. }));
        assert_eq!(format!("{refresh:?}"), "Grant::RefreshToken(..)");
        let e = Grant::parse(&params(&[("grant_type", "password")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        assert_eq!(Grant::parse(&params(&[])).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn codes_live_sixty_seconds() {
        let issued = Timestamp(1_000);
        let expires = issued.plus(CODE_LIFETIME);
        assert!(still_good(expires, issued.plus(Duration::seconds(59))));
        assert!(!still_good(expires, issued.plus(Duration::seconds(60))));
    }

    #[test]
    fn a_logout_token_names_the_session_and_carries_the_event_but_no_nonce() {
        let c = logout_token_claims("app", "sub-1", "sid-1", "jti-1", Timestamp(1_000));
        assert_eq!(c["aud"], "app");
        assert_eq!(c["sub"], "sub-1");
        assert_eq!(c["sid"], "sid-1");
        assert_eq!(c["jti"], "jti-1");
        assert_eq!(c["iat"], 1_000);
        assert_eq!(c["exp"], 1_120);
        assert_eq!(c["events"][BACKCHANNEL_LOGOUT_EVENT], serde_json::json!({}));
        assert!(c.get("nonce").is_none());
    }
}
