//! The API's own extractors for what the client sends: the JSON body, the path and the query.
//! axum's `Json`, `Path` and `Query` answer a bad request with plain text; these answer it with
//! the documented error body, naming the field at fault by its JSON path (`rows[0].email`).
//!
//! In a handler they come after the caller extractors (`SignedIn`, `Caller`, …), and the body
//! last: a caller without the right session is refused before anything it sent is looked at.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`. Refuses a body that is not declared JSON (415
/// `unsupported_media_type`), larger than the route's body limit (413 `body_too_large`), not
/// JSON (400 `malformed_json`, with the line and column) or not a `T` (422 `invalid_body`, with
/// `field` set to the path of the offending field).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !declares_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON, with Content-Type: application/json.",
            ));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// The request body as bytes, whatever its type (a CSV file, a body the handler reads field by
/// field). Refuses one larger than the route's body limit with 413 `body_too_large`.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                body_too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", "The request body could not be read.")
            }
        })
    }
}

/// 413 `body_too_large`.
pub fn body_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "The request body is too large.")
}

/// `Content-Type: application/json` (or a `+json` type), with or without parameters.
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads one JSON object of type `T` from `bytes`, and nothing after it. Every request body of
/// the API is an object: serde would also read a struct from an array of its fields in order
/// (`["jdoe", "secret"]`), which no document describes, so that is refused.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        body_error(e.into_inner(), &path)
    })?;
    de.end().map_err(|e| body_error(e, "."))?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The body must be a JSON object with the fields the operation lists.",
        ));
    }
    Ok(value)
}

/// A syntax error is 400 `malformed_json`; a value of the wrong shape is 422 `invalid_body`,
/// naming its path (`.` is the whole body). serde reports a missing field at its parent, so the
/// field's name is added to the path.
fn body_error(e: serde_json::Error, path: &str) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let mut field = (path != ".").then(|| path.to_owned());
            let message = e.to_string();
            if let Some(missing) = quoted_after(&message, "missing field `") {
                field = Some(match field {
                    Some(parent) => format!("{parent}.{missing}"),
                    None => missing.to_owned(),
                });
            }
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("The body does not fit: {message}."),
            )
            .field(field)
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("The body is not valid JSON: {e}."))
        }
    }
}

/// The text between `prefix` and the next backtick, if `message` starts with `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix).and_then(|rest| rest.split_once('`')).map(|(name, _)| name)
}

/// A path parameter (or several) of type `T`. Refuses one that does not parse with 400
/// `invalid_path`, naming the parameter.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        let e = match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => return Ok(Self(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => e,
            // No parameters matched: a route whose handler does not fit it, our mistake.
            Err(other) => return Err(ApiError::internal(other.body_text())),
        };
        let key = match e.kind() {
            ErrorKind::ParseErrorAtKey { key, .. }
            | ErrorKind::InvalidUtf8InPathParam { key }
            | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
            // A single value (`Path<i64>`): axum does not name it, but the route has one parameter.
            _ => axum::extract::RawPathParams::from_request_parts(parts, state).await.ok().and_then(|raw| {
                let mut names = raw.iter().map(|(k, _)| k.to_owned());
                names.next().filter(|_| names.next().is_none())
            }),
        };
        Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()).field(key))
    }
}

/// The query string as a `T`. Refuses one that does not fit with 400 `invalid_query`, naming
/// the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let field = match quoted_after(&message, "missing field `") {
                Some(missing) => Some(missing.to_owned()),
                None => (path != ".").then_some(path),
            };
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("The query string does not fit: {message}."),
            )
            .field(field)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Row {
        name: String,
        #[serde(default)]
        providers: Vec<i64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Rows {
        rows: Vec<Row>,
    }

    fn refusal(body: &str) -> (StatusCode, &'static str, Option<String>, String) {
        let e = parse::<Rows>(body.as_bytes()).expect_err("refused");
        (e.status, e.code, e.field, e.message)
    }

    #[test]
    fn a_body_that_fits_is_read() {
        let r: Rows = parse(br#"{"rows": [{"name": "a", "providers": [1]}]}"#).expect("fits");
        assert_eq!(r.rows[0].providers, vec![1]);
    }

    #[test]
    fn syntax_errors_are_malformed_with_line_and_column() {
        let (status, code, field, message) = refusal("{\"rows\": [\n{\"name\": }]}");
        assert_eq!((status, code, field), (StatusCode::BAD_REQUEST, "malformed_json", None));
        assert!(message.contains("line 2 column"), "{message}");
        assert_eq!(refusal(r#"{"rows": []} trailing"#).1, "malformed_json");
        assert_eq!(refusal(r#"{"rows": ["#).1, "malformed_json");
        assert_eq!(refusal("").1, "malformed_json");
    }

    #[test]
    fn shape_errors_name_the_json_path() {
        let cases = [
            (r#"{"rows": [{"name": "a", "bogus": 1}]}"#, Some("rows[0].bogus")),
            (r#"{"rows": [], "extra": true}"#, Some("extra")),
            (r#"{"rows": [{"name": "a"}, {"name": "b", "providers": ["x"]}]}"#, Some("rows[1].providers[0]")),
            (r#"{"rows": [{"providers": []}]}"#, Some("rows[0].name")),
            (r#"{}"#, Some("rows")),
            (r#"[]"#, None),
            // serde reads a struct from an array of its fields: the API does not.
            (r#"[[{"name": "a", "providers": []}]]"#, None),
        ];
        for (body, path) in cases {
            let (status, code, field, message) = refusal(body);
            assert_eq!((status, code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "{body}: {message}");
            assert_eq!(field.as_deref(), path, "{body}: {message}");
        }
    }

    #[test]
    fn json_content_types() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().expect("header"));
            declares_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!declares_json(&HeaderMap::new()));
    }
}
