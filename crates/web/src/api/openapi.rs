//! The OpenAPI document as served at `/api/v1/openapi.json`. Operations come from the handlers'
//! `#[utoipa::path]` attributes, collected by the router ([`super::routes`]); this module adds
//! what every operation shares, so no handler repeats it:
//!
//! - the refusals of the API's own extractors: a JSON body (`malformed_json`, `body_too_large`,
//!   `unsupported_media_type`, `invalid_body`), a path (`invalid_path`), a query
//!   (`invalid_query`), a bearer session (`unauthenticated`) or an application (`unauthenticated`);
//! - the one error body on every 4xx and 5xx answer, with `error.code` narrowed to the codes the
//!   answer's description names in backticks (`` `not_found`: … ``), so a client and schemathesis
//!   both see which codes each status carries;
//! - the security schemes, the tags (one per product section) and the server paths.
//!
//! A handler's attribute therefore lists only the statuses its own rules answer, each described as
//! `` "`code`: when" `` (several codes: `` "`a`: …; `b`: …" ``).

use serde_json::{Map, Value, json};

/// The product sections, by the module a handler lives in (utoipa tags an operation with its
/// module's name): `(module, tag, description)`.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("auth", "Sign-up and sign-in", "Sign-up from an invitation, sign-in, two-step codes, terms and sessions."),
    ("first_signin", "Sign-up and sign-in", ""),
    ("self_service", "Forgotten username or password", "Recover a username or reset a password."),
    ("profile", "My profile", "A signed-in person's own contact details, two-step phone and email."),
    ("authenticator", "My profile", ""),
    ("associations", "Association", "Link an account to a practice (Tax ID) and ask for access."),
    ("offers", "Offers", "Affiliations a practice offered to an existing account."),
    ("practice", "Practice administration", "A practice administrator's users, affiliations and invitations."),
    ("registrations", "Practice registration", "A practice asks the plan for its first administrator."),
    ("roster", "Provider roster", "Plan staff load the provider roster."),
    ("legacy", "Legacy import", "Plan staff import accounts from the portal being replaced."),
    ("authz", "Permission checks", "Applications ask what a user may do (HTTP Basic)."),
    (
        "messages",
        "Secure messages",
        "Threads between practice users and the plan's staff, with attachments; the plan's mailbox.",
    ),
    (
        "reviews",
        "Access reviews",
        "Practice administrators review and sign their users' access; plan staff follow, remind, review on a practice's behalf and export the evidence.",
    ),
];

/// Statuses every operation shares, with the codes and sentences added to the document.
struct Refusal {
    status: &'static str,
    code: &'static str,
    sentence: &'static str,
}

const JSON_BODY: &[Refusal] = &[
    Refusal { status: "400", code: "malformed_json", sentence: "the body is not JSON" },
    Refusal { status: "413", code: "body_too_large", sentence: "the body is larger than the API accepts" },
    Refusal { status: "415", code: "unsupported_media_type", sentence: "the body is not sent as application/json" },
    Refusal {
        status: "422",
        code: "invalid_body",
        sentence: "a field is missing, unknown or of the wrong type (the error names it in field)",
    },
];
const PATH: Refusal = Refusal { status: "400", code: "invalid_path", sentence: "a path parameter is not of its type" };
const QUERY: Refusal =
    Refusal { status: "400", code: "invalid_query", sentence: "a query parameter is not of its type" };
const SIGNED_OUT: Refusal = Refusal {
    status: "401",
    code: "unauthenticated",
    sentence: "no live session token (or application credentials) was sent",
};

/// The document for `doc`'s operations (paths relative to `/api/v1`), finished as served.
pub fn finish(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    let relative = doc.get_mut("paths").map(Value::take).unwrap_or_else(|| json!({}));
    let mut paths = Map::new();
    if let Value::Object(relative) = relative {
        let taken = operation_ids(&relative);
        for (path, mut item) in relative {
            if let Value::Object(ops) = &mut item {
                for (_, op) in ops.iter_mut() {
                    unique_operation_id(op, &taken);
                    finish_operation(op);
                }
            }
            paths.insert(format!("/api/v1{path}"), item);
        }
    }
    doc["paths"] = Value::Object(paths);
    doc["tags"] = Value::Array(
        SECTIONS
            .iter()
            .filter(|(_, _, description)| !description.is_empty())
            .map(|(_, name, description)| json!({ "name": name, "description": description }))
            .collect(),
    );
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A session token from `POST /api/v1/signin` (and each later step)."
        },
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "An application of the plan: its client id and secret."
        },
        "application_bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An application of the plan: its own access token from `POST /oauth2/token` with `grant_type=client_credentials` (10 minutes)."
        }
    });
    doc
}

/// How many operations carry each operation id (a handler's function name).
fn operation_ids(paths: &Map<String, Value>) -> std::collections::HashMap<String, usize> {
    let mut taken = std::collections::HashMap::new();
    for op in paths.values().filter_map(Value::as_object).flat_map(|ops| ops.values()) {
        if let Some(id) = op["operationId"].as_str() {
            *taken.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    taken
}

/// Operation ids are unique in a document (client generators name functions after them): an id
/// two handlers share (`accept`) is prefixed with the handler's module (`offers_accept`).
fn unique_operation_id(op: &mut Value, taken: &std::collections::HashMap<String, usize>) {
    let Some(id) = op["operationId"].as_str() else { return };
    if taken.get(id).copied().unwrap_or(0) < 2 {
        return;
    }
    if let Some(module) = op["tags"].get(0).and_then(Value::as_str) {
        op["operationId"] = json!(format!("{module}_{id}"));
    }
}

fn finish_operation(op: &mut Value) {
    let Value::Object(op) = op else { return };
    if let Some(Value::Array(tags)) = op.get_mut("tags") {
        for tag in tags.iter_mut() {
            if let Some((_, name, _)) = SECTIONS.iter().find(|(module, _, _)| tag.as_str() == Some(module)) {
                *tag = json!(name);
            }
        }
    }
    let mut shared: Vec<&Refusal> = Vec::new();
    let json_body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key("application/json"));
    if json_body {
        shared.extend(JSON_BODY);
    }
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    if params.iter().any(|p| p["in"] == "path") {
        shared.push(&PATH);
    }
    if params.iter().any(|p| p["in"] == "query") {
        shared.push(&QUERY);
    }
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| !reqs.is_empty() && reqs.iter().all(|r| r.as_object().is_some_and(|r| !r.is_empty())));
    if secured {
        shared.push(&SIGNED_OUT);
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Value::Object(responses) = responses else { return };
    for refusal in shared {
        let response = responses.entry(refusal.status).or_insert_with(|| json!({ "description": "" }));
        let description = response["description"].as_str().unwrap_or("").trim().to_owned();
        if codes(&description).contains(&refusal.code) {
            continue;
        }
        let added = format!("`{}`: {}.", refusal.code, refusal.sentence);
        response["description"] =
            json!(if description.is_empty() { added } else { format!("{} {added}", with_stop(&description)) });
    }
    for (status, response) in responses.iter_mut() {
        let error = status.starts_with('4') || status.starts_with('5');
        if error {
            let description = response["description"].as_str().unwrap_or("").to_owned();
            let codes = codes(&description);
            response["content"] = json!({ "application/json": { "schema": {
                "allOf": [
                    { "$ref": "#/components/schemas/ErrorBody" },
                    { "type": "object", "properties": { "error": { "type": "object", "properties": {
                        "code": { "type": "string", "enum": codes }
                    } } } }
                ]
            } } });
            if status == "503" || description.contains("Retry-After") {
                response["headers"] = json!({ "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": { "type": "integer", "minimum": 0 }
                } });
            }
        } else if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!(match status.as_str() {
                "204" => "Done; nothing to answer.",
                "201" => "Created.",
                _ => "OK.",
            });
        }
    }
}

fn with_stop(s: &str) -> String {
    if s.ends_with('.') { s.to_owned() } else { format!("{s}.") }
}

/// The error codes a response description names: every backticked word of lower-case letters and
/// underscores.
pub fn codes(description: &str) -> Vec<&str> {
    let mut found: Vec<&str> = description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_backticked_words() {
        assert_eq!(
            codes("`not_found`: no such user; `last_admin`: keep one. See `field`."),
            ["field", "last_admin", "not_found"]
        );
        assert_eq!(codes("Not JSON (`rows[0].email`)."), Vec::<&str>::new());
        assert!(codes("").is_empty());
    }

    #[test]
    fn shared_refusals_are_added_and_merged() {
        let mut op = json!({
            "tags": ["practice"],
            "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
            "requestBody": { "content": { "application/json": { "schema": { "type": "object" } } } },
            "security": [{ "bearer": [] }],
            "responses": {
                "204": { "description": "" },
                "422": { "description": "`invalid`: a rule refused the change" }
            }
        });
        finish_operation(&mut op);
        assert_eq!(op["tags"], json!(["Practice administration"]));
        assert_eq!(op["responses"]["204"]["description"], "Done; nothing to answer.");
        let enum_of = |status: &str| {
            op["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
            ["properties"]["error"]["properties"]["code"]["enum"]
            .clone()
        };
        assert_eq!(enum_of("422"), json!(["invalid", "invalid_body"]));
        assert_eq!(enum_of("400"), json!(["invalid_path", "malformed_json"]));
        assert_eq!(enum_of("401"), json!(["unauthenticated"]));
        assert_eq!(enum_of("413"), json!(["body_too_large"]));
        assert_eq!(enum_of("415"), json!(["unsupported_media_type"]));
    }

    #[test]
    fn shared_operation_ids_take_their_module() {
        let paths = json!({
            "/a": { "post": { "operationId": "accept", "tags": ["offers"] } },
            "/b": { "post": { "operationId": "accept", "tags": ["associations"] } },
            "/c": { "get": { "operationId": "me", "tags": ["auth"] } }
        });
        let paths = paths.as_object().cloned().unwrap_or_default();
        let taken = operation_ids(&paths);
        let ids: Vec<Value> = paths
            .values()
            .flat_map(|ops| ops.as_object().cloned().unwrap_or_default().into_values())
            .map(|mut op| {
                unique_operation_id(&mut op, &taken);
                op["operationId"].clone()
            })
            .collect();
        assert_eq!(ids, [json!("offers_accept"), json!("associations_accept"), json!("me")]);
    }

    #[test]
    fn an_open_operation_gets_no_401() {
        let mut op = json!({ "tags": ["self_service"], "responses": { "200": { "description": "" } } });
        finish_operation(&mut op);
        assert!(op["responses"].get("401").is_none());
        assert_eq!(op["tags"], json!(["Forgotten username or password"]));
    }
}
