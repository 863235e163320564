//! Secure messages between practice users and the plan's staff (seed 004's Message Center), and
//! the profile update requests sent through them (seed 003's "Add Facility"): a thread's
//! status and how messages move it, what a new thread must hold, attachments checked by content,
//! and the plan's stated response time in business days.

use crate::message_topics::TopicCode;
use crate::registration::{Errors, FieldError, text};
use crate::time::{PlanTimeZone, Timestamp};
use thiserror::Error;

/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 120;
/// Longest message body, in characters.
pub const MAX_BODY: usize = 10_000;
/// Longest reference (member ID, claim number, authorization number), in characters.
pub const MAX_REFERENCE: usize = 30;
/// Attachments per message unless the plan sets another number.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 5;
/// Bytes per attachment unless the plan sets another size (10 MB).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// The plan's stated response time unless it sets another, in business days.
pub const DEFAULT_RESPONSE_DAYS: u32 = 3;
/// Longest attachment file name kept, in characters.
pub const MAX_FILE_NAME: usize = 120;
/// The most files per message a plan may allow (it may allow fewer).
pub const MAX_ATTACHMENTS_SETTING: usize = 5;
/// The largest attachment a plan may allow, in MB (it may allow less).
pub const MAX_ATTACHMENT_MB_SETTING: usize = 10;
/// The most file bytes one message can carry under any plan's settings.
pub const MAX_UPLOAD_BYTES: usize = MAX_ATTACHMENTS_SETTING * MAX_ATTACHMENT_MB_SETTING * 1024 * 1024;
/// The longest stated response time a plan may set, in business days.
pub const MAX_RESPONSE_DAYS: u32 = 30;

/// Where a thread stands for the plan's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadStatus {
    /// Nobody on the plan's team has answered or taken it.
    New,
    /// An agent took it or answered and the practice wrote again.
    InProgress,
    /// The plan answered; the practice has the next word.
    WaitingOnPractice,
    /// Done. A message from the practice opens it again.
    Resolved,
}

impl ThreadStatus {
    /// Every status, in the order filters list them.
    pub const ALL: [ThreadStatus; 4] =
        [ThreadStatus::New, ThreadStatus::InProgress, ThreadStatus::WaitingOnPractice, ThreadStatus::Resolved];

    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::New => "new",
            ThreadStatus::InProgress => "in_progress",
            ThreadStatus::WaitingOnPractice => "waiting_on_practice",
            ThreadStatus::Resolved => "resolved",
        }
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            ThreadStatus::New => "New",
            ThreadStatus::InProgress => "In progress",
            ThreadStatus::WaitingOnPractice => "Waiting on practice",
            ThreadStatus::Resolved => "Resolved",
        }
    }

    /// The status stored as `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The status after the practice writes: a thread nobody has taken stays new; any other
    /// (answered, or resolved and now reopened) is in progress again.
    pub fn after_practice_writes(self, assigned: bool) -> Self {
        match self {
            ThreadStatus::New => ThreadStatus::New,
            ThreadStatus::Resolved if !assigned => ThreadStatus::New,
            _ => ThreadStatus::InProgress,
        }
    }

    /// The status after the plan's team replies to the practice (an internal note changes
    /// nothing).
    pub fn after_plan_replies(self) -> Self {
        ThreadStatus::WaitingOnPractice
    }

    /// Whether the plan owes the practice an answer (so the thread can be overdue).
    pub fn awaits_plan(self) -> bool {
        matches!(self, ThreadStatus::New | ThreadStatus::InProgress)
    }
}

/// Optional references a thread names, so the plan's team finds the case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    pub member_id: Option<String>,
    pub claim_number: Option<String>,
    pub authorization_number: Option<String>,
}

/// A new thread as typed into the form.
#[derive(Debug, Clone, Default)]
pub struct NewThreadForm {
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub member_id: String,
    pub claim_number: String,
    pub authorization_number: String,
}

/// A new thread, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewThread {
    /// One of the plan's active topics.
    pub topic: TopicCode,
    pub subject: String,
    pub body: String,
    pub references: References,
}

/// Every problem found in a message form, by field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
pub struct MessageErrors(pub Vec<FieldError>);

impl MessageErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// A message body: kept as written (line breaks matter), at most [`MAX_BODY`] characters, no
/// control characters but line breaks and tabs, not blank.
pub fn parse_body(raw: &str) -> Result<String, String> {
    let body = raw.trim();
    if body.is_empty() {
        return Err("Write your message.".to_owned());
    }
    if body.chars().count() > MAX_BODY {
        return Err(format!("A message can be at most {MAX_BODY} characters."));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("Remove the control characters.".to_owned());
    }
    Ok(body.replace("\r\n", "\n"))
}

fn reference(raw: &str) -> Result<Option<String>, String> {
    let s = text(raw, MAX_REFERENCE, None)?;
    if s.is_empty() {
        return Ok(None);
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("Use letters, digits and dashes only.".to_owned());
    }
    Ok(Some(s))
}

/// The topic a form names, if it is one of `active` (the plan's topics a new thread may have).
fn topic(raw: &str, active: &[TopicCode]) -> Result<TopicCode, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Choose what your message is about.");
    }
    TopicCode::parse(raw).ok().filter(|t| active.contains(t)).ok_or("Choose a topic from the list.")
}

impl NewThreadForm {
    /// Checks every field; the topic must be one of `active`, the plan's active topics.
    pub fn parse(&self, active: &[TopicCode]) -> Result<NewThread, MessageErrors> {
        let mut errs = Errors(Vec::new());
        let topic = errs.check("topic", topic(&self.topic, active));
        let subject = errs.check("subject", text(&self.subject, MAX_SUBJECT, Some("Enter a subject.")));
        let body = errs.check("body", parse_body(&self.body));
        let member_id = errs.check("member_id", reference(&self.member_id));
        let claim_number = errs.check("claim_number", reference(&self.claim_number));
        let authorization_number = errs.check("authorization_number", reference(&self.authorization_number));
        match (topic, subject, body, member_id, claim_number, authorization_number) {
            (
                Some(topic),
                Some(subject),
                Some(body),
                Some(member_id),
                Some(claim_number),
                Some(authorization_number),
            ) if errs.0.is_empty() => Ok(NewThread {
                topic,
                subject,
                body,
                references: References { member_id, claim_number, authorization_number },
            }),
            _ => Err(MessageErrors(errs.0)),
        }
    }
}

/// The kinds of file a message may carry, recognised by their first bytes, never by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Pdf,
    Png,
    Jpeg,
}

impl AttachmentKind {
    /// The kind `bytes` are, if one of ours.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    /// The media type served with the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The kind stored as a media type.
    pub fn from_content_type(raw: &str) -> Option<Self> {
        [Self::Pdf, Self::Png, Self::Jpeg].into_iter().find(|k| k.content_type() == raw)
    }
}

/// How many files a message may carry and how large each may be (plan settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    pub max_files: usize,
    pub max_bytes: usize,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self { max_files: DEFAULT_MAX_ATTACHMENTS, max_bytes: DEFAULT_MAX_ATTACHMENT_BYTES }
    }
}

/// Why an attachment was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AttachmentProblem {
    #[error("Attach at most {0} files to one message.")]
    TooMany(usize),
    #[error("{name} is larger than {limit_mb} MB.")]
    TooLarge { name: String, limit_mb: usize },
    #[error("{0} is not a PDF, PNG or JPEG file.")]
    NotAllowed(String),
    #[error("{0} is empty.")]
    Empty(String),
}

/// A file as received: its name (as the sender's computer called it) and its bytes.
#[derive(Debug, Clone)]
pub struct IncomingFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// An attachment, checked: a clean name and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    pub name: String,
    pub kind: AttachmentKind,
    pub size: usize,
}

/// Checks a message's files against the plan's limits and by their content.
pub fn check_attachments(
    files: &[IncomingFile],
    limits: AttachmentLimits,
) -> Result<Vec<CheckedFile>, AttachmentProblem> {
    if files.len() > limits.max_files {
        return Err(AttachmentProblem::TooMany(limits.max_files));
    }
    files
        .iter()
        .map(|f| {
            let name = clean_file_name(&f.name);
            if f.bytes.is_empty() {
                return Err(AttachmentProblem::Empty(name));
            }
            if f.bytes.len() > limits.max_bytes {
                return Err(AttachmentProblem::TooLarge { name, limit_mb: limits.max_bytes.div_ceil(1024 * 1024) });
            }
            let kind = AttachmentKind::sniff(&f.bytes).ok_or_else(|| AttachmentProblem::NotAllowed(name.clone()))?;
            Ok(CheckedFile { name, kind, size: f.bytes.len() })
        })
        .collect()
}

/// A file name safe to show and to offer back in a download: the last path segment, no control
/// characters or quotes, at most [`MAX_FILE_NAME`] characters; "attachment" when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String =
        last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>')).take(MAX_FILE_NAME).collect();
    let kept = kept.trim().to_owned();
    if kept.is_empty() || kept.chars().all(|c| c == '.') { "attachment".to_owned() } else { kept }
}

/// When the plan's answer to a message sent at `sent` is due: `days` business days later
/// (Saturdays and Sundays do not count) at the same time of day, in the plan's time zone.
pub fn answer_due(sent: Timestamp, zone: &PlanTimeZone, days: u32) -> Timestamp {
    use jiff::civil::Weekday;
    let Ok(start) = jiff::Timestamp::from_second(sent.as_secs()) else { return sent };
    let mut at = start.to_zoned_datetime(zone.tz().clone());
    let mut left = days;
    while left > 0 {
        let Ok(next) = at.checked_add(jiff::Span::new().days(1)) else { return sent };
        at = next;
        if !matches!(at.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    Timestamp(at.timestamp().as_second())
}

/// Whether a thread that has awaited the plan's answer since `waiting_since` is overdue at `now`.
pub fn overdue(status: ThreadStatus, waiting_since: Timestamp, now: Timestamp, zone: &PlanTimeZone, days: u32) -> bool {
    status.awaits_plan() && now > answer_due(waiting_since, zone, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> NewThreadForm {
        NewThreadForm {
            topic: "claims".into(),
            subject: "  Claim   denied ".into(),
            body: "Why was this claim denied?\r\nThanks".into(),
            member_id: "".into(),
            claim_number: "C-2026-0001".into(),
            authorization_number: " ".into(),
        }
    }

    /// The plan's default topics.
    fn topics() -> Vec<TopicCode> {
        crate::message_topics::DEFAULT_TOPICS.iter().map(|(c, _)| c.clone()).collect()
    }

    #[test]
    fn a_new_thread_is_cleaned_and_checked() {
        let t = form().parse(&topics()).expect("valid");
        assert_eq!(t.topic, TopicCode::CLAIMS);
        assert_eq!(t.subject, "Claim denied");
        assert_eq!(t.body, "Why was this claim denied?\nThanks");
        assert_eq!(t.references.claim_number.as_deref(), Some("C-2026-0001"));
        assert_eq!(t.references.member_id, None);
        assert_eq!(t.references.authorization_number, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = NewThreadForm {
            topic: "gossip".into(),
            subject: "x".repeat(MAX_SUBJECT + 1),
            body: " \n ".into(),
            member_id: "M 1;".into(),
            claim_number: "x".repeat(MAX_REFERENCE + 1),
            authorization_number: "ok-1".into(),
        };
        let e = bad.parse(&topics()).expect_err("invalid");
        for field in ["topic", "subject", "body", "member_id", "claim_number"] {
            assert!(e.get(field).is_some(), "{field}: {e:?}");
        }
        assert_eq!(e.get("topic"), Some("Choose a topic from the list."));
        assert!(e.get("authorization_number").is_none());
        assert!(parse_body("a\u{0}b").is_err());
        assert!(parse_body(&"b".repeat(MAX_BODY)).is_ok());
        assert!(parse_body(&"b".repeat(MAX_BODY + 1)).is_err());
    }

    #[test]
    fn the_topic_is_one_of_the_plans_active_topics() {
        let only_claims = [TopicCode::CLAIMS];
        let with = |topic: &str| NewThreadForm { topic: topic.into(), ..form() };
        assert_eq!(with(" claims ").parse(&only_claims).map(|t| t.topic), Ok(TopicCode::CLAIMS));
        for (raw, message) in [
            ("", "Choose what your message is about."),
            ("  ", "Choose what your message is about."),
            ("referrals", "Choose a topic from the list."),
            ("Claims", "Choose a topic from the list."),
            ("no such topic", "Choose a topic from the list."),
        ] {
            let e = with(raw).parse(&only_claims).expect_err("refused");
            assert_eq!((e.get("topic"), e.0.len()), (Some(message), 1), "{raw:?}");
        }
        assert!(with("claims").parse(&[]).is_err(), "a plan with no active topic takes none");
    }

    #[test]
    fn statuses_round_trip() {
        for s in ThreadStatus::ALL {
            assert_eq!(ThreadStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ThreadStatus::parse("New"), None);
    }

    #[test]
    fn messages_move_the_status() {
        use ThreadStatus::*;
        assert_eq!(New.after_practice_writes(false), New);
        assert_eq!(WaitingOnPractice.after_practice_writes(true), InProgress);
        assert_eq!(Resolved.after_practice_writes(true), InProgress, "a reply reopens a resolved thread");
        assert_eq!(Resolved.after_practice_writes(false), New);
        assert_eq!(InProgress.after_plan_replies(), WaitingOnPractice);
        assert!(New.awaits_plan() && InProgress.awaits_plan());
        assert!(!WaitingOnPractice.awaits_plan() && !Resolved.awaits_plan());
    }

    #[test]
    fn files_are_recognised_by_content() {
        let pdf = IncomingFile { name: "C:\\scans\\referral.pdf".into(), bytes: b"%PDF-1.7 ...".to_vec() };
        let png =
            IncomingFile { name: "card.png".into(), bytes: vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0] };
        let jpeg = IncomingFile { name: "card.jpg".into(), bytes: vec![0xff, 0xd8, 0xff, 0xe0] };
        let fake = IncomingFile { name: "notes.pdf".into(), bytes: b"MZ\x90\x00 this is a program".to_vec() };
        let ok = check_attachments(&[pdf, png, jpeg], AttachmentLimits::default()).expect("allowed");
        assert_eq!(
            ok.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [AttachmentKind::Pdf, AttachmentKind::Png, AttachmentKind::Jpeg]
        );
        assert_eq!(ok[0].name, "referral.pdf");
        assert_eq!(
            check_attachments(&[fake], AttachmentLimits::default()),
            Err(AttachmentProblem::NotAllowed("notes.pdf".into()))
        );
    }

    #[test]
    fn too_many_too_large_and_empty_files_are_refused() {
        let one = || IncomingFile { name: "a.pdf".into(), bytes: b"%PDF-1.4".to_vec() };
        let limits = AttachmentLimits::default();
        assert_eq!(check_attachments(&vec![one(); 6], limits), Err(AttachmentProblem::TooMany(5)));
        assert!(check_attachments(&vec![one(); 5], limits).is_ok());
        let mut big = b"%PDF-1.4".to_vec();
        big.resize(limits.max_bytes + 1, b' ');
        assert_eq!(
            check_attachments(&[IncomingFile { name: "big.pdf".into(), bytes: big }], limits),
            Err(AttachmentProblem::TooLarge { name: "big.pdf".into(), limit_mb: 10 })
        );
        assert_eq!(
            check_attachments(&[IncomingFile { name: "e.pdf".into(), bytes: vec![] }], limits),
            Err(AttachmentProblem::Empty("e.pdf".into()))
        );
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\"b<c>.pdf"), "abc.pdf");
        assert_eq!(clean_file_name("..."), "attachment");
        assert_eq!(clean_file_name(""), "attachment");
        assert_eq!(clean_file_name(&"n".repeat(300)).chars().count(), MAX_FILE_NAME);
    }

    #[test]
    fn answers_are_due_in_business_days() {
        let zone = PlanTimeZone::parse("America/New_York").expect("zone");
        // From a Friday, one business day is the Monday after; from a Thursday, three are the
        // Tuesday after.
        let friday =
            jiff::civil::date(2027, 1, 15).at(10, 0, 0, 0).to_zoned_datetime(zone.tz().clone()).expect("friday");
        let sent = Timestamp(friday.timestamp().as_second());
        let monday =
            jiff::civil::date(2027, 1, 18).at(10, 0, 0, 0).to_zoned_datetime(zone.tz().clone()).expect("monday");
        assert_eq!(answer_due(sent, &zone, 1), Timestamp(monday.timestamp().as_second()));
        let thursday =
            jiff::civil::date(2027, 1, 14).at(10, 0, 0, 0).to_zoned_datetime(zone.tz().clone()).expect("thu");
        let tuesday = jiff::civil::date(2027, 1, 19).at(10, 0, 0, 0).to_zoned_datetime(zone.tz().clone()).expect("tue");
        assert_eq!(
            answer_due(Timestamp(thursday.timestamp().as_second()), &zone, 3),
            Timestamp(tuesday.timestamp().as_second())
        );
        assert!(!overdue(ThreadStatus::New, sent, Timestamp(monday.timestamp().as_second()), &zone, 1));
        assert!(overdue(ThreadStatus::New, sent, Timestamp(monday.timestamp().as_second() + 1), &zone, 1));
        assert!(!overdue(ThreadStatus::WaitingOnPractice, sent, Timestamp(i64::from(i32::MAX)), &zone, 1));
    }
}
