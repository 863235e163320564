//! The registration form shared by the register and edit pages: the values as posted (or as
//! stored), and each field's error beside it.

use gatehouse_domain::client_registration::{Registration, RegistrationErrors, RegistrationField, RegistrationInput};
use gatehouse_domain::scopes::Scope;
use gatehouse_services::applications::ApplicationForm;

/// One scope's checkbox.
pub(super) struct ScopeBox {
    /// The checkbox's element id.
    pub id: String,
    pub value: &'static str,
    pub description: &'static str,
    pub checked: bool,
}

/// The form's values and errors, as the templates show them.
pub(super) struct FormView {
    pub name: String,
    pub client_type: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    /// Every scope but `openid` (always granted).
    pub scopes: Vec<ScopeBox>,
    pub first_party: bool,
    pub id_token_alg: String,
    pub backchannel_logout_uri: String,
    pub name_error: Option<String>,
    pub client_type_error: Option<String>,
    pub redirect_uris_error: Option<String>,
    pub post_logout_error: Option<String>,
    pub scopes_error: Option<String>,
    pub id_token_alg_error: Option<String>,
    pub backchannel_error: Option<String>,
    /// (field id, label, message) for the error summary, in the form's order.
    pub summary: Vec<(&'static str, &'static str, String)>,
    /// The scopes as posted, space-separated (unknown names included).
    scope_text: String,
}

fn boxes(checked: impl Fn(Scope) -> bool) -> Vec<ScopeBox> {
    Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::OpenId)
        .map(|s| ScopeBox {
            id: format!("scope_{}", s.as_str().replace(':', "-")),
            value: s.as_str(),
            description: s.description(),
            checked: checked(s),
        })
        .collect()
}

impl FormView {
    /// An empty registration form: confidential, ES256, `openid` only.
    pub fn empty() -> Self {
        Self::from_parts(String::new(), String::new())
    }

    fn from_parts(name: String, scope_text: String) -> Self {
        Self {
            name,
            client_type: "confidential".into(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            scopes: boxes(|_| false),
            first_party: false,
            id_token_alg: "ES256".into(),
            backchannel_logout_uri: String::new(),
            name_error: None,
            client_type_error: None,
            redirect_uris_error: None,
            post_logout_error: None,
            scopes_error: None,
            id_token_alg_error: None,
            backchannel_error: None,
            summary: Vec::new(),
            scope_text,
        }
    }

    /// The form filled from a stored registration.
    pub fn stored(name: &str, r: &Registration) -> Self {
        let lines = |l: &[gatehouse_domain::redirect_uri::RedirectUri]| {
            l.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n")
        };
        Self {
            client_type: r.client_type.as_str().into(),
            redirect_uris: lines(&r.redirect_uris),
            post_logout_redirect_uris: lines(&r.post_logout_redirect_uris),
            scopes: boxes(|s| r.scopes.contains(s)),
            first_party: r.first_party,
            id_token_alg: r.id_token_alg.as_str().into(),
            backchannel_logout_uri: r
                .backchannel_logout_uri
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            ..Self::from_parts(name.to_owned(), r.scopes.canonical())
        }
    }

    /// The form as posted (fields by name; `scope` repeated). A choice not posted at all takes
    /// its default (confidential, ES256); one posted with another value is refused.
    pub fn posted(fields: &[(String, String)]) -> Self {
        let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let one = |k: &str| field(k).unwrap_or_default();
        let scope_text =
            fields.iter().filter(|(n, _)| n == "scope").map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ");
        let names: Vec<&str> = scope_text.split_ascii_whitespace().collect();
        Self {
            client_type: field("client_type").unwrap_or_else(|| "confidential".into()),
            redirect_uris: one("redirect_uris"),
            post_logout_redirect_uris: one("post_logout_redirect_uris"),
            scopes: boxes(|s| names.contains(&s.as_str())),
            first_party: fields.iter().any(|(n, v)| n == "first_party" && v == "on"),
            id_token_alg: field("id_token_alg").unwrap_or_else(|| "ES256".into()),
            backchannel_logout_uri: one("backchannel_logout_uri"),
            ..Self::from_parts(one("name").chars().take(200).collect(), scope_text.clone())
        }
    }

    /// What the service command takes.
    pub fn input(&self) -> ApplicationForm<'_> {
        ApplicationForm {
            name: &self.name,
            registration: RegistrationInput {
                client_type: &self.client_type,
                redirect_uris: &self.redirect_uris,
                post_logout_redirect_uris: &self.post_logout_redirect_uris,
                scopes: &self.scope_text,
                first_party: self.first_party,
                id_token_alg: &self.id_token_alg,
                backchannel_logout_uri: &self.backchannel_logout_uri,
            },
        }
    }

    /// Puts each error beside its field and in the summary.
    pub fn with_errors(mut self, errors: &RegistrationErrors) -> Self {
        use RegistrationField as F;
        let order = [
            (F::Name, "name", "Name"),
            (F::ClientType, "client_type_confidential", "Client type"),
            (F::RedirectUris, "redirect_uris", "Redirect URIs"),
            (F::PostLogoutRedirectUris, "post_logout_redirect_uris", "Post-logout redirect URIs"),
            (F::Scopes, "scope_profile", "Scopes"),
            (F::IdTokenAlg, "id_token_alg_es256", "ID token signature"),
            (F::BackchannelLogoutUri, "backchannel_logout_uri", "Back-channel logout URI"),
        ];
        for (field, id, label) in order {
            let Some(message) = errors.get(field) else { continue };
            let slot = match field {
                F::Name => &mut self.name_error,
                F::ClientType => &mut self.client_type_error,
                F::RedirectUris => &mut self.redirect_uris_error,
                F::PostLogoutRedirectUris => &mut self.post_logout_error,
                F::Scopes => &mut self.scopes_error,
                F::IdTokenAlg => &mut self.id_token_alg_error,
                F::BackchannelLogoutUri => &mut self.backchannel_error,
            };
            *slot = Some(message.to_owned());
            self.summary.push((id, label, message.to_owned()));
        }
        self
    }
}
