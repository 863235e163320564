//! The plan's OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414), served at
//! `/.well-known/openid-configuration` under the plan's issuer.

use crate::Services;
use crate::plans::Plan;
use gatehouse_domain::oidc_keys::SigningAlg;
use serde::Serialize;

/// The endpoints' paths under the issuer (the routes of `gatehouse_web::oidc`).
pub mod paths {
    /// The discovery document.
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// The JSON Web Key Set.
    pub const JWKS: &str = "/oauth2/jwks";
    pub const AUTHORIZE: &str = "/oauth2/authorize";
    pub const TOKEN: &str = "/oauth2/token";
    pub const USERINFO: &str = "/oauth2/userinfo";
    pub const END_SESSION: &str = "/oauth2/logout";
    pub const INTROSPECT: &str = "/oauth2/introspect";
    pub const REVOKE: &str = "/oauth2/revoke";
}

/// The scopes a client may ask for (`gatehouse:affiliations` adds the user's affiliations).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "gatehouse:affiliations"];

/// The claims ID tokens and userinfo may carry.
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "affiliations",
    "active_affiliation",
];

/// The client authentication methods of the token, introspection and revocation endpoints.
const CLIENT_AUTH: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

/// The discovery document's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub prompt_values_supported: Vec<&'static str>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub authorization_response_iss_parameter_supported: bool,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
}

impl Services {
    /// The plan's discovery document: its issuer ([`Services::plan_url`]) and endpoints.
    pub fn oidc_discovery(&self, plan: &Plan) -> Discovery {
        let issuer = self.plan_url(plan);
        let at = |path: &str| format!("{issuer}{path}");
        Discovery {
            authorization_endpoint: at(paths::AUTHORIZE),
            token_endpoint: at(paths::TOKEN),
            userinfo_endpoint: at(paths::USERINFO),
            jwks_uri: at(paths::JWKS),
            end_session_endpoint: at(paths::END_SESSION),
            introspection_endpoint: at(paths::INTROSPECT),
            revocation_endpoint: at(paths::REVOKE),
            issuer,
            scopes_supported: SCOPES.to_vec(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: vec!["authorization_code", "refresh_token", "client_credentials"],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: SigningAlg::ALL.iter().map(|a| a.as_str()).collect(),
            token_endpoint_auth_methods_supported: CLIENT_AUTH.to_vec(),
            introspection_endpoint_auth_methods_supported: CLIENT_AUTH.to_vec(),
            revocation_endpoint_auth_methods_supported: CLIENT_AUTH.to_vec(),
            code_challenge_methods_supported: vec!["S256"],
            claims_supported: CLAIMS.to_vec(),
            prompt_values_supported: vec!["none", "login", "consent"],
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
        }
    }
}
