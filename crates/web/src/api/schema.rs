//! JSON Schemas of the values the API reads, built from the domain's own limits (lengths,
//! characters) so the document cannot drift from the rules. Use on a request field with
//! `#[schema(schema_with = schema::username)]`. What a schema cannot say (a password's strength,
//! an NPI's check digit, a phone number's validity, two entries that must match) is refused with
//! 422 and the field named.

use gatehouse_domain::{email, message_topics, names, roster::provider_id, username};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

fn text(min: usize, max: usize, pattern: Option<String>) -> ObjectBuilder {
    let b = ObjectBuilder::new().schema_type(Type::String).min_length(Some(min)).max_length(Some(max));
    match pattern {
        Some(p) => b.pattern(Some(p)),
        None => b,
    }
}

/// Escapes `c` for a character class of an ECMA-262 (and Python) regular expression.
fn class_escaped(chars: &str) -> String {
    chars.chars().map(|c| if "\\]^-[".contains(c) { format!("\\{c}") } else { c.to_string() }).collect()
}

/// Control characters, as a character-class range (C0, DEL and C1).
const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";
/// Control characters that are not white space (a name's tab or line break is read as a space).
const CONTROL_NOT_SPACE: &str = "\\x00-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f";

/// A username: 1–64 characters, no white space, control or forbidden characters.
pub fn username() -> Object {
    let forbidden = class_escaped(username::FORBIDDEN);
    text(1, username::MAX_LEN, Some(format!("^[^\\s{CONTROL}{forbidden}]+$")))
        .description(Some("A username (case does not matter when signing in)."))
        .examples([serde_json::json!("jdoe")])
        .build()
}

/// An email address with a dotted domain, at most 254 characters (64 before the `@`).
pub fn email() -> Object {
    text(5, email::MAX_LEN, Some("^[^\\s@]{1,64}@[^\\s@]+\\.[^\\s@]+$".into()))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Email)))
        .examples([serde_json::json!("jdoe@clinic.example")])
        .build()
}

/// A person's first or last name: 1–60 characters, at least one not white space, no `<`, `>` or
/// control characters.
pub fn person_name() -> Object {
    let allowed = format!("[^<>{CONTROL_NOT_SPACE}]");
    text(1, names::MAX_LEN, Some(format!("^{allowed}*[^\\s<>{CONTROL}]{allowed}*$")))
        .examples([serde_json::json!("Maria")])
        .build()
}

/// A Tax ID: exactly nine digits.
pub fn tax_id() -> Object {
    text(9, 9, Some("^[0-9]{9}$".into())).examples([serde_json::json!("914407731")]).build()
}

/// A secure-message topic's code: 1–40 lowercase letters, digits and underscores. Which codes
/// exist is the plan's list (`GET /api/v1/messages/topics`).
pub fn topic_code() -> Object {
    let max = message_topics::MAX_CODE;
    text(1, max, Some(format!("^[a-z0-9_]{{1,{max}}}$")))
        .description(Some("One of the plan's topic codes, see GET /api/v1/messages/topics."))
        .examples([serde_json::json!("claims")])
        .build()
}

/// A National Provider Identifier: ten digits (the last a check digit).
pub fn npi() -> Object {
    text(10, 10, Some("^[0-9]{10}$".into())).examples([serde_json::json!("1234567893")]).build()
}

/// A provider ID (billing number): 1–20 letters, digits and dashes.
pub fn provider_id() -> Object {
    text(1, provider_id::MAX_LEN, Some(format!("^[A-Za-z0-9-]{{1,{}}}$", provider_id::MAX_LEN)))
        .examples([serde_json::json!("P300118")])
        .build()
}

/// A US ZIP code: five digits, or ZIP+4 (`98402-1234`).
pub fn zip() -> Object {
    text(5, 10, Some("^[0-9]{5}(-?[0-9]{4})?$".into())).examples([serde_json::json!("98402")]).build()
}

/// A secret token from an emailed link (or a session token): 43 URL-safe base64 characters.
pub fn token() -> Object {
    let len = gatehouse_services::tokens::TOKEN_LEN;
    text(len, len, Some(format!("^[A-Za-z0-9_-]{{{len}}}$"))).build()
}

/// A two-step or confirmation code: digits, as many as the plan's codes have (6 unless set;
/// a plan may choose within the domain's range).
pub fn code() -> Object {
    let range = gatehouse_domain::settings::CODE_LENGTH_RANGE;
    let (min, max) = (usize::try_from(*range.start()).unwrap_or(6), usize::try_from(*range.end()).unwrap_or(8));
    text(min, max, Some(format!("^[0-9]{{{min},{max}}}$"))).examples([serde_json::json!("123456")]).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::{Email, PersonName, TaxId, Username};

    fn matches(schema: &Object, s: &str) -> bool {
        let len = s.chars().count();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or(".*")).expect("pattern");
        schema.min_length.is_none_or(|m| len >= m) && schema.max_length.is_none_or(|m| len <= m) && re.is_match(s)
    }

    /// Each schema accepts what the domain accepts and refuses what it refuses, on the edges.
    #[test]
    fn schemas_agree_with_the_domain() {
        let s = username();
        for u in [
            "jdoe",
            "a",
            "J.Doe-2",
            &"x".repeat(64),
            "j@clinic.example",
            "",
            &"x".repeat(65),
            "j doe",
            "a;b",
            "a\u{7}b",
        ] {
            assert_eq!(matches(&s, u), Username::parse(u).is_ok(), "username {u:?}");
        }
        let s = email();
        for e in [
            "a@b.co",
            "jdoe@clinic.example",
            "",
            "a@b",
            "a b@c.de",
            &format!("{}@b.co", "a".repeat(64)),
            &format!("{}@b.co", "a".repeat(65)),
        ] {
            assert_eq!(matches(&s, e), Email::parse(e).is_ok(), "email {e:?}");
        }
        let s = person_name();
        for n in [
            "Maria",
            "Mary Ann",
            "Mary\tAnn",
            "O'Brien",
            "",
            " ",
            &"n".repeat(60),
            &"n".repeat(61),
            "<b>",
            "a\u{0}",
            "a\u{1f}",
        ] {
            assert_eq!(matches(&s, n), PersonName::parse(n, "Lopez").is_ok(), "name {n:?}");
        }
        let s = tax_id();
        for t in ["914407731", "91440773", "9144077310", "91-4407731", ""] {
            assert_eq!(matches(&s, t), TaxId::parse(t).is_ok(), "tax id {t:?}");
        }
        let s = zip();
        for z in ["98402", "98402-1234", "984021234", "9840", "98402-", "abcde"] {
            assert_eq!(matches(&s, z), gatehouse_domain::roster::Zip::parse(z).is_ok(), "zip {z:?}");
        }
        let s = provider_id();
        for p in ["P300118", "A-1", &"P".repeat(20), &"P".repeat(21), "P 1", ""] {
            assert_eq!(matches(&s, p), gatehouse_domain::roster::ProviderId::parse(p).is_some(), "provider id {p:?}");
        }
        assert!(matches(&token(), &gatehouse_services::tokens::new_token()));
        assert!(!matches(&token(), "short"));
    }
}
