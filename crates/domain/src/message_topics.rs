//! The plan's list of secure-message topics (issue 16): what a thread is about. Each topic has a
//! stable **code** (stored on its threads, sent by the API) and a **label** people read, which
//! the plan's administrators may change. Every plan starts with the seeds' seven; a plan adds its
//! own, relabels, reorders and retires them. `provider_profile_update` is a system topic: Add
//! Facility sends its requests under it, so it can be relabelled but never retired.

use std::borrow::Cow;
use thiserror::Error;

/// Longest topic code, in characters.
pub const MAX_CODE: usize = 40;
/// Longest topic label, in characters.
pub const MAX_LABEL: usize = 60;
/// The code a label that leaves nothing to slugify (only symbols, say) is given.
const FALLBACK_CODE: &str = "topic";

/// A topic's code: 1 to [`MAX_CODE`] lowercase ASCII letters, digits and underscores, e.g.
/// `prior_authorization`. It never changes once a topic exists, so old threads keep their topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicCode(Cow<'static, str>);

/// Why a topic code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TopicCodeError {
    #[error("A topic code is 1 to 40 lowercase letters, digits and underscores.")]
    Invalid,
}

impl TopicCode {
    /// Questions about a member's coverage.
    pub const ELIGIBILITY: TopicCode = TopicCode(Cow::Borrowed("eligibility"));
    /// Questions about claims and payments.
    pub const CLAIMS: TopicCode = TopicCode(Cow::Borrowed("claims"));
    /// Prior authorization requests and their status.
    pub const PRIOR_AUTHORIZATION: TopicCode = TopicCode(Cow::Borrowed("prior_authorization"));
    /// Referrals to specialists.
    pub const REFERRALS: TopicCode = TopicCode(Cow::Borrowed("referrals"));
    /// Add Facility and other profile update requests: the system topic.
    pub const PROVIDER_PROFILE_UPDATE: TopicCode = TopicCode(Cow::Borrowed("provider_profile_update"));
    /// Signing in and using the portal.
    pub const PORTAL_ACCESS: TopicCode = TopicCode(Cow::Borrowed("portal_access"));
    /// Anything else.
    pub const OTHER: TopicCode = TopicCode(Cow::Borrowed("other"));

    /// A code as stored or sent; refused unless it has the shape of a code (whether the plan
    /// has such a topic is the plan's list's question).
    pub fn parse(raw: &str) -> Result<Self, TopicCodeError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_CODE
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok { Ok(Self(Cow::Owned(raw.to_owned()))) } else { Err(TopicCodeError::Invalid) }
    }

    /// The code's text, e.g. `prior_authorization`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the portal itself relies on this topic, so it can never be retired.
    pub fn is_system(&self) -> bool {
        SYSTEM_TOPICS.contains(self)
    }
}

impl std::fmt::Display for TopicCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The topics the portal relies on: they can be relabelled, never retired.
pub const SYSTEM_TOPICS: [TopicCode; 1] = [TopicCode::PROVIDER_PROFILE_UPDATE];

/// The topics every plan starts with, in the order forms list them, with their labels.
pub const DEFAULT_TOPICS: [(TopicCode, &str); 7] = [
    (TopicCode::ELIGIBILITY, "Eligibility"),
    (TopicCode::CLAIMS, "Claims"),
    (TopicCode::PRIOR_AUTHORIZATION, "Prior authorization"),
    (TopicCode::REFERRALS, "Referrals"),
    (TopicCode::PROVIDER_PROFILE_UPDATE, "Provider profile update"),
    (TopicCode::PORTAL_ACCESS, "Portal access"),
    (TopicCode::OTHER, "Other"),
];

/// What people read for a topic: trimmed, inner white space one space, 1 to [`MAX_LABEL`]
/// characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicLabel(String);

/// Why a topic label was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicLabelError {
    #[error("Enter the topic's name.")]
    Empty,
    #[error("A topic's name can be at most 60 characters.")]
    TooLong,
    #[error("Remove the control characters.")]
    ControlCharacters,
    /// Another topic of the plan (retired ones included) has this name, whatever its case.
    #[error("Another topic is already called \u{201c}{0}\u{201d}. Choose another name.")]
    Duplicate(String),
}

impl TopicLabel {
    /// A label as typed.
    pub fn parse(raw: &str) -> Result<Self, TopicLabelError> {
        let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return Err(TopicLabelError::Empty);
        }
        if s.chars().count() > MAX_LABEL {
            return Err(TopicLabelError::TooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(TopicLabelError::ControlCharacters);
        }
        Ok(Self(s))
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is the same name to a reader: equal ignoring case.
    pub fn same_name(&self, other: &str) -> bool {
        self.0.to_lowercase() == other.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }

    /// Refuses this label when another topic's (`others`: the labels of every other topic of
    /// the plan, retired ones included) is the same name.
    pub fn check_unique<'a>(&self, others: impl IntoIterator<Item = &'a str>) -> Result<(), TopicLabelError> {
        match others.into_iter().find(|o| self.same_name(o)) {
            Some(taken) => Err(TopicLabelError::Duplicate(taken.to_owned())),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for TopicLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The code of a new topic called `label`: the label in lowercase ASCII letters and digits with
/// `_` between words ("Behavioral health (BH)" → `behavioral_health_bh`), cut to fit; when the
/// plan has that code already (`taken`: every code of the plan, retired ones included), `_2`,
/// `_3`… is added until it is free.
pub fn code_for_label<'a>(label: &TopicLabel, taken: impl IntoIterator<Item = &'a TopicCode>) -> TopicCode {
    let taken: Vec<&str> = taken.into_iter().map(TopicCode::as_str).collect();
    let base = slugify(label.as_str());
    let fits = |suffix: &str| {
        let room = MAX_CODE - suffix.len();
        let cut: String = base.chars().take(room).collect();
        format!("{}{suffix}", cut.trim_end_matches('_'))
    };
    let mut candidate = fits("");
    let mut n = 2u64;
    while taken.contains(&candidate.as_str()) {
        candidate = fits(&format!("_{n}"));
        n += 1;
    }
    TopicCode(Cow::Owned(candidate))
}

/// `raw` as lowercase ASCII letters and digits, every run of anything else one `_`, none at
/// either end; [`FALLBACK_CODE`] when nothing is left. Accented Latin letters lose their accent.
fn slugify(raw: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in raw.chars().map(unaccent) {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    if out.is_empty() { FALLBACK_CODE.to_owned() } else { out }
}

/// The unaccented letter of the common accented Latin letters; any other character as it is.
fn unaccent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'ç' => 'c',
        'Ç' => 'C',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' => 'Y',
        other => other,
    }
}

/// Which way a topic moves in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// The direction a form sends (`up` or `down`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            _ => None,
        }
    }

    /// The form's and the audit log's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The place the item at `at` swaps with when moved `dir` in a list of `len` items; `None` at
/// the end it moves toward (nothing changes).
pub fn swap_with(at: usize, len: usize, dir: Direction) -> Option<usize> {
    match dir {
        Direction::Up => at.checked_sub(1),
        Direction::Down => Some(at + 1).filter(|n| *n < len),
    }
}

/// Why a topic cannot be retired.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RetireProblem {
    #[error("{0} is used by Add Facility requests, so it cannot be retired. You can rename it.")]
    SystemTopic(String),
}

/// Refuses to retire a system topic (`label` names it in the message).
pub fn check_retire(code: &TopicCode, label: &str) -> Result<(), RetireProblem> {
    if code.is_system() { Err(RetireProblem::SystemTopic(label.to_owned())) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str) -> TopicLabel {
        TopicLabel::parse(s).expect("a label")
    }

    #[test]
    fn codes_are_lowercase_slugs() {
        for ok in ["claims", "prior_authorization", "a", "x2", "_", &"a".repeat(MAX_CODE)] {
            assert_eq!(TopicCode::parse(ok).map(|c| c.as_str().to_owned()), Ok(ok.to_owned()), "{ok}");
        }
        for bad in ["", "Claims", "prior authorization", "prior-authorization", "é", &"a".repeat(MAX_CODE + 1)] {
            assert_eq!(TopicCode::parse(bad), Err(TopicCodeError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn the_defaults_are_seven_valid_codes_and_labels_in_order() {
        let codes: Vec<&str> = DEFAULT_TOPICS.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            codes,
            [
                "eligibility",
                "claims",
                "prior_authorization",
                "referrals",
                "provider_profile_update",
                "portal_access",
                "other"
            ]
        );
        for (code, l) in DEFAULT_TOPICS {
            assert_eq!(TopicCode::parse(code.as_str()), Ok(code.clone()), "a constant parses to itself");
            assert_eq!(label(l).as_str(), l);
        }
        for (i, (_, l)) in DEFAULT_TOPICS.iter().enumerate() {
            assert!(label(l).check_unique(DEFAULT_TOPICS[..i].iter().map(|(_, o)| *o)).is_ok(), "{l}");
        }
    }

    #[test]
    fn only_the_profile_update_topic_is_a_system_topic() {
        assert!(TopicCode::PROVIDER_PROFILE_UPDATE.is_system());
        assert!(TopicCode::parse("provider_profile_update").expect("code").is_system());
        for (code, _) in DEFAULT_TOPICS.iter().filter(|(c, _)| *c != TopicCode::PROVIDER_PROFILE_UPDATE) {
            assert!(!code.is_system(), "{code}");
            assert_eq!(check_retire(code, "x"), Ok(()));
        }
        assert_eq!(
            check_retire(&TopicCode::PROVIDER_PROFILE_UPDATE, "Add a facility"),
            Err(RetireProblem::SystemTopic("Add a facility".into()))
        );
    }

    #[test]
    fn labels_are_trimmed_and_between_1_and_60_characters() {
        assert_eq!(label("  Behavioral   health \t").as_str(), "Behavioral health");
        assert_eq!(TopicLabel::parse(""), Err(TopicLabelError::Empty));
        assert_eq!(TopicLabel::parse(" \n\t "), Err(TopicLabelError::Empty));
        assert!(TopicLabel::parse(&"é".repeat(MAX_LABEL)).is_ok(), "characters, not bytes");
        assert_eq!(TopicLabel::parse(&"x".repeat(MAX_LABEL + 1)), Err(TopicLabelError::TooLong));
        assert_eq!(TopicLabel::parse("a\u{7}b"), Err(TopicLabelError::ControlCharacters));
    }

    #[test]
    fn labels_are_unique_ignoring_case_and_spacing() {
        let taken = ["Claims", "Prior  authorization", "Église"];
        assert_eq!(label("CLAIMS").check_unique(taken), Err(TopicLabelError::Duplicate("Claims".into())));
        assert!(label("prior authorization").check_unique(taken).is_err());
        assert!(label("église").check_unique(taken).is_err(), "not only ASCII case");
        assert!(label("Claims appeals").check_unique(taken).is_ok());
        assert!(label("Claims").check_unique([]).is_ok());
        let msg = label("claims").check_unique(taken).expect_err("duplicate").to_string();
        assert!(msg.contains("Claims"), "{msg}");
    }

    #[test]
    fn a_new_code_is_the_label_slugified() {
        let none: [&TopicCode; 0] = [];
        let code = |l: &str| code_for_label(&label(l), none).as_str().to_owned();
        assert_eq!(code("Behavioral health (BH)"), "behavioral_health_bh");
        assert_eq!(code("  Dental -- vision  "), "dental_vision");
        assert_eq!(code("Pharmacy/Rx 2027"), "pharmacy_rx_2027");
        assert_eq!(code("Réclamations"), "reclamations");
        assert_eq!(code("¿?!"), "topic");
        assert_eq!(code("医療"), "topic");
        let long = code(&"word ".repeat(12));
        assert!(long.len() <= MAX_CODE && !long.ends_with('_'), "{long}");
        assert!(TopicCode::parse(&long).is_ok());
    }

    #[test]
    fn a_clashing_code_gets_a_number() {
        let taken = [TopicCode::CLAIMS, TopicCode::parse("claims_2").expect("code")];
        assert_eq!(code_for_label(&label("Claims!"), &taken).as_str(), "claims_3");
        assert_eq!(code_for_label(&label("Claims"), &taken[..1]).as_str(), "claims_2");
        let long = "a".repeat(MAX_CODE);
        let taken = [TopicCode::parse(&long).expect("code")];
        let next = code_for_label(&label(&"a".repeat(MAX_LABEL)), &taken);
        assert_eq!(next.as_str(), format!("{}_2", "a".repeat(MAX_CODE - 2)));
        assert!(TopicCode::parse(next.as_str()).is_ok());
    }

    #[test]
    fn moving_swaps_with_the_neighbour_within_the_list() {
        assert_eq!(swap_with(0, 3, Direction::Up), None);
        assert_eq!(swap_with(1, 3, Direction::Up), Some(0));
        assert_eq!(swap_with(1, 3, Direction::Down), Some(2));
        assert_eq!(swap_with(2, 3, Direction::Down), None);
        assert_eq!(Direction::parse("up"), Some(Direction::Up));
        assert_eq!(Direction::parse("down").map(Direction::as_str), Some("down"));
        assert_eq!(Direction::parse("sideways"), None);
    }
}
