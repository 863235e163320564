//! Provider profile update requests (seed 003's "Add Facility"): a practice user lists the
//! provider IDs or NPIs they want added to their account, one per line with an optional note,
//! and the plan's staff decide each line: approve (with a user type when the requester needs a
//! new Tax ID affiliation for it) or deny with a reason.

use crate::Npi;
use crate::permissions::UserTypeKey;
use crate::registration::{Errors, text};
use crate::roster::ProviderId;
use crate::secure_messages::MessageErrors;

/// Most lines one request may list.
pub const MAX_LINES: usize = 25;
/// Longest note, in characters.
pub const MAX_NOTE: usize = 1_000;
/// Longest reason for a denial, in characters.
pub const MAX_REASON: usize = 300;
/// Most characters of a bad line quoted back in an error.
const QUOTED: usize = 24;

/// One requested provider: by provider ID, or by NPI (ten digits with a valid check digit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestedProvider {
    ProviderId(ProviderId),
    Npi(Npi),
}

impl RequestedProvider {
    /// Reads one line: a valid NPI is an NPI; anything else that is a provider ID is one
    /// (a plan may use ten-digit provider IDs, so ten digits failing the NPI check stay a
    /// provider ID).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        if let Ok(npi) = Npi::parse(s) {
            return Some(Self::Npi(npi));
        }
        ProviderId::parse(s).map(Self::ProviderId)
    }

    /// The stored kind: `provider_id` or `npi`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ProviderId(_) => "provider_id",
            Self::Npi(_) => "npi",
        }
    }

    /// The value as stored and shown (a provider ID in capitals, an NPI's ten digits).
    pub fn as_str(&self) -> &str {
        match self {
            Self::ProviderId(p) => p.as_str(),
            Self::Npi(n) => n.as_str(),
        }
    }

    /// What people read, e.g. "NPI 1234567893" or "provider ID P100".
    pub fn label(&self) -> String {
        match self {
            Self::ProviderId(p) => format!("provider ID {p}"),
            Self::Npi(n) => format!("NPI {n}"),
        }
    }

    /// The line as stored: kind and value.
    pub fn from_stored(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "provider_id" => ProviderId::parse(value).map(Self::ProviderId),
            "npi" => Npi::parse(value).ok().map(Self::Npi),
            _ => None,
        }
    }
}

/// The form as typed: the lines in one text area, and a note.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdateForm {
    pub lines: String,
    pub note: String,
}

/// A request, checked: at least one provider, each once, at most [`MAX_LINES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdateRequest {
    pub lines: Vec<RequestedProvider>,
    pub note: Option<String>,
}

impl ProfileUpdateForm {
    /// Checks the lines (blank ones ignored, the same provider twice kept once) and the note.
    pub fn parse(&self) -> Result<ProfileUpdateRequest, MessageErrors> {
        let mut errs = Errors(Vec::new());
        let mut lines: Vec<RequestedProvider> = Vec::new();
        let mut bad = Vec::new();
        for (n, raw) in self.lines.lines().enumerate() {
            let s = raw.trim();
            if s.is_empty() {
                continue;
            }
            match RequestedProvider::parse(s) {
                Some(p) if lines.contains(&p) => {}
                Some(p) => lines.push(p),
                None => bad.push((n + 1, s.chars().filter(|c| !c.is_control()).take(QUOTED).collect::<String>())),
            }
        }
        if let Some((n, quoted)) = bad.first() {
            let more = match bad.len() {
                1 => String::new(),
                2 => " (and 1 more line)".to_owned(),
                k => format!(" (and {} more lines)", k - 1),
            };
            errs.add(
                "lines",
                format!(
                    "Line {n} (\u{201c}{quoted}\u{201d}) is not a provider ID or an NPI{more}. Use letters, digits and \
                     dashes for a provider ID, or the 10-digit NPI."
                ),
            );
        } else if lines.is_empty() {
            errs.add("lines", "Enter at least one provider ID or NPI, one per line.");
        } else if lines.len() > MAX_LINES {
            errs.add("lines", format!("List at most {MAX_LINES} provider IDs or NPIs in one request."));
        }
        let note = errs.check("note", note(&self.note));
        match note {
            Some(note) if errs.0.is_empty() => Ok(ProfileUpdateRequest { lines, note }),
            _ => Err(MessageErrors(errs.0)),
        }
    }
}

fn note(raw: &str) -> Result<Option<String>, String> {
    let s = raw.trim().replace("\r\n", "\n");
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > MAX_NOTE {
        return Err(format!("A note can be at most {MAX_NOTE} characters."));
    }
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return Err("Remove the control characters.".to_owned());
    }
    Ok(Some(s))
}

impl ProfileUpdateRequest {
    /// The subject of the thread the request is sent as.
    pub fn subject(&self) -> String {
        match self.lines.len() {
            1 => "Add 1 provider to my account".to_owned(),
            n => format!("Add {n} providers to my account"),
        }
    }

    /// The first message of the thread: the lines, then the note.
    pub fn body(&self) -> String {
        let mut out = "Please add these providers to my account:\n".to_owned();
        for (i, l) in self.lines.iter().enumerate() {
            out.push_str(&format!("{}. {}\n", i + 1, l.label()));
        }
        if let Some(n) = &self.note {
            out.push_str(&format!("\nNote: {n}"));
        }
        out.trim_end().to_owned()
    }
}

/// Where a line stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineState {
    Pending,
    Approved,
    Denied,
}

impl LineState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Waiting for a decision",
            Self::Approved => "Approved",
            Self::Denied => "Denied",
        }
    }

    /// The state stored as `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied].into_iter().find(|s| s.as_str() == raw)
    }
}

/// The decision on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDecision {
    /// Grant the provider; `user_type` is used only when the requester has no affiliation with
    /// the provider's Tax ID yet (then it is required).
    Approve { user_type: Option<UserTypeKey> },
    /// Refuse, saying why (the requester reads it).
    Deny { reason: String },
}

/// One line's decision as posted by the form: `decision` is `approve` or `deny`.
#[derive(Debug, Clone, Default)]
pub struct DecisionForm {
    pub decision: String,
    pub user_type: String,
    pub reason: String,
}

impl DecisionForm {
    /// Checks the decision: approve (a user type key if one is chosen) or deny with a reason of
    /// at most [`MAX_REASON`] characters. `None` when no decision was chosen (the line waits).
    pub fn parse(&self) -> Result<Option<LineDecision>, String> {
        match self.decision.trim() {
            "" => Ok(None),
            "approve" => {
                let raw = self.user_type.trim();
                let user_type = if raw.is_empty() {
                    None
                } else {
                    Some(UserTypeKey::parse(raw).map_err(|_| "Choose one of the user types.".to_owned())?)
                };
                Ok(Some(LineDecision::Approve { user_type }))
            }
            "deny" => {
                let reason = text(&self.reason, MAX_REASON, Some("Say why this line is denied."))?;
                Ok(Some(LineDecision::Deny { reason }))
            }
            _ => Err("Choose approve or deny.".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npi() -> Npi {
        Npi::from_first_nine(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    fn form(lines: &str, note: &str) -> ProfileUpdateForm {
        ProfileUpdateForm { lines: lines.into(), note: note.into() }
    }

    #[test]
    fn lines_are_provider_ids_or_npis() {
        let r = form(&format!(" p100 \n\n{}\r\nG-200\n", npi()), "  New clinic on Elm St. ").parse().expect("valid");
        assert_eq!(
            r.lines,
            vec![
                RequestedProvider::ProviderId(ProviderId::parse("P100").expect("id")),
                RequestedProvider::Npi(npi()),
                RequestedProvider::ProviderId(ProviderId::parse("G-200").expect("id")),
            ]
        );
        assert_eq!(r.note.as_deref(), Some("New clinic on Elm St."));
        assert_eq!(r.lines[1].kind(), "npi");
        assert_eq!(r.lines[0].label(), "provider ID P100");
        // Ten digits failing the NPI check are a provider ID.
        let ten = "1234567890";
        assert!(Npi::parse(ten).is_err());
        assert_eq!(RequestedProvider::parse(ten).map(|p| p.kind()), Some("provider_id"));
    }

    #[test]
    fn duplicates_are_kept_once() {
        let r = form("P100\np100\n P100 ", "").parse().expect("valid");
        assert_eq!(r.lines.len(), 1);
        assert_eq!(r.note, None);
    }

    #[test]
    fn blank_and_bad_requests_are_refused() {
        let e = form(" \n\n", "").parse().expect_err("empty");
        assert!(e.get("lines").is_some_and(|m| m.contains("at least one")), "{e:?}");
        let e = form("P100\nP 200\nP_300", "").parse().expect_err("bad line");
        let m = e.get("lines").expect("lines error");
        assert!(m.contains("Line 2") && m.contains("P 200") && m.contains("1 more line"), "{m}");
        let many = (0..=MAX_LINES).map(|i| format!("P{i}")).collect::<Vec<_>>().join("\n");
        assert!(form(&many, "").parse().is_err(), "{} lines", MAX_LINES + 1);
        let enough = (0..MAX_LINES).map(|i| format!("P{i}")).collect::<Vec<_>>().join("\n");
        assert_eq!(form(&enough, "").parse().expect("at the limit").lines.len(), MAX_LINES);
    }

    #[test]
    fn the_note_is_limited() {
        assert!(form("P1", &"n".repeat(MAX_NOTE)).parse().is_ok());
        let e = form("P1", &"n".repeat(MAX_NOTE + 1)).parse().expect_err("long note");
        assert!(e.get("note").is_some() && e.get("lines").is_none());
        assert!(form("P1", "a\u{0}b").parse().is_err());
    }

    #[test]
    fn the_thread_lists_every_line() {
        let r = form(&format!("P100\n{}", npi()), "Second office").parse().expect("valid");
        assert_eq!(r.subject(), "Add 2 providers to my account");
        let body = r.body();
        assert!(body.contains("1. provider ID P100"), "{body}");
        assert!(body.contains(&format!("2. NPI {}", npi())), "{body}");
        assert!(body.ends_with("Note: Second office"), "{body}");
    }

    #[test]
    fn decisions_are_checked() {
        let d = |decision: &str, user_type: &str, reason: &str| DecisionForm {
            decision: decision.into(),
            user_type: user_type.into(),
            reason: reason.into(),
        };
        assert_eq!(d("", "", "").parse(), Ok(None));
        assert_eq!(d("approve", "", "").parse(), Ok(Some(LineDecision::Approve { user_type: None })));
        assert_eq!(
            d("approve", "billing_staff", "").parse(),
            Ok(Some(LineDecision::Approve { user_type: Some(UserTypeKey::parse("billing_staff").expect("key")) }))
        );
        assert!(d("approve", "Billing Staff", "").parse().is_err());
        assert!(d("deny", "", "  ").parse().is_err(), "a denial needs a reason");
        assert!(d("deny", "", &"r".repeat(MAX_REASON + 1)).parse().is_err());
        assert_eq!(
            d("deny", "", " Not  your practice ").parse(),
            Ok(Some(LineDecision::Deny { reason: "Not your practice".into() }))
        );
        assert!(d("maybe", "", "").parse().is_err());
    }

    #[test]
    fn states_round_trip() {
        for s in [LineState::Pending, LineState::Approved, LineState::Denied] {
            assert_eq!(LineState::parse(s.as_str()), Some(s));
        }
        let p = RequestedProvider::Npi(npi());
        assert_eq!(RequestedProvider::from_stored(p.kind(), p.as_str()), Some(p));
    }
}
