//! A plan's settings as a plan administrator edits them: every value checked against bounds that
//! keep the portal safe (NIST SP 800-63B, HIPAA automatic logoff) and its pages readable (WCAG AA).

use crate::username::UsernameFormat;
use crate::{PlanTimeZone, Timestamp};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// What a plan's minimum password length may be set to. A password shorter than the range's
/// start is refused by every plan.
pub const PASSWORD_MIN_RANGE: RangeInclusive<i64> = 8..=64;
/// What a plan's maximum password length may be set to. A password longer than the range's end
/// is refused by every plan.
pub const PASSWORD_MAX_RANGE: RangeInclusive<i64> = 64..=256;
/// What a plan's two-step code length may be set to.
pub const CODE_LENGTH_RANGE: RangeInclusive<i64> = 6..=8;

/// The editable settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    pub name: String,
    pub brand_color: BrandColor,
    pub support_phone: String,
    pub support_hours: String,
    pub password_min: i64,
    pub password_max: i64,
    pub code_length: i64,
    pub code_lifetime_minutes: i64,
    pub code_max_tries: i64,
    pub code_max_sends_per_hour: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub access_review_days: i64,
    /// Days without a sign-in before an account is flagged, and before a portal account is
    /// deactivated (warned 14 days earlier).
    pub idle: crate::idle::IdlePolicy,
    pub username_format: UsernameFormat,
    /// Days after deactivation during which a practice administrator may reactivate.
    pub reactivation_days: i64,
    /// The last day an imported account may sign in with its old system's password.
    pub legacy_deadline: Option<LegacyDeadline>,
    /// Whether an imported account's first sign-in proves the email on record (by a link)
    /// before a new password and two-step phone can be chosen. Off only for plans whose
    /// imported email addresses were verified by the old portal.
    pub legacy_email_proof: bool,
    /// The zone every date and time on the plan's pages and in its emails is shown in.
    pub time_zone: PlanTimeZone,
    /// The secure-message response time the practices are told, in business days.
    pub message_response_days: i64,
    /// Files one secure message may carry.
    pub message_max_files: i64,
    /// Largest file of a secure message, in MB.
    pub message_max_file_mb: i64,
    /// The team address told of new secure messages; none: each agent is told.
    pub mailbox_email: Option<crate::Email>,
    /// Which second factors are offered and who must use a strong one.
    pub factors: crate::factor_policy::FactorPolicy,
}

/// The factor policy's switches as the form names them, each with what a missing or unknown
/// value is told.
const FACTOR_SWITCHES: [(&str, &str); 5] = [
    ("voice_allowed", "Choose whether codes may be read by a voice call."),
    ("app_allowed", "Choose whether people may add an authenticator app."),
    ("passkeys_allowed", "Choose whether people may add a passkey."),
    ("staff_strong_factor", "Choose whether plan staff must use an app or passkey."),
    ("admin_strong_factor", "Choose whether practice administrators must use an app or passkey."),
];

fn factor_policy(raw: &RawSettings, errs: &mut FieldErrors) -> crate::factor_policy::FactorPolicy {
    let d = crate::factor_policy::FactorPolicy::default();
    let defaults = [d.voice_allowed, d.app_allowed, d.passkeys_allowed, d.staff_strong_factor, d.admin_strong_factor];
    let mut v = defaults;
    for (i, (field, message)) in FACTOR_SWITCHES.iter().enumerate() {
        match parse_switch(raw.get(*field).map(String::as_str)) {
            Some(on) => v[i] = on,
            None => {
                errs.insert(*field, (*message).to_owned());
            }
        }
    }
    let p = crate::factor_policy::FactorPolicy {
        voice_allowed: v[0],
        app_allowed: v[1],
        passkeys_allowed: v[2],
        staff_strong_factor: v[3],
        admin_strong_factor: v[4],
    };
    if let Err(faults) = p.check() {
        for f in faults {
            errs.entry(f.field).or_insert(f.message);
        }
    }
    p
}

/// Parses the email-proof switch as the form sends it: `on` or `off`.
pub fn parse_switch(raw: Option<&str>) -> Option<bool> {
    match raw.map(str::trim) {
        Some("on") => Some(true),
        Some("off") => Some(false),
        _ => None,
    }
}

/// The form's text for a switch.
pub fn switch_text(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// The last day (in the plan's time zone) an imported account may sign in with the password of
/// the old portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyDeadline(::time::Date);

impl LegacyDeadline {
    /// Parses `YYYY-MM-DD`; empty means no deadline.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let format = ::time::macros::format_description!("[year]-[month]-[day]");
        ::time::Date::parse(raw, &format)
            .map(|d| Some(Self(d)))
            .map_err(|_| "Enter the date as year-month-day, like 2027-03-31, or leave it empty.".to_owned())
    }

    /// Whether the deadline is over at `now`: true from the midnight after the day in the plan's
    /// time zone.
    pub fn passed(self, now: Timestamp, zone: &PlanTimeZone) -> bool {
        let day = self.0.next_day().and_then(|d| {
            ::jiff::civil::Date::new(i16::try_from(d.year()).ok()?, u8::from(d.month()) as i8, d.day() as i8).ok()
        });
        let end = day.and_then(|d| zone.start_of(d)).unwrap_or(i64::MAX);
        now.0 >= end
    }

    /// `YYYY-MM-DD`.
    pub fn as_string(self) -> String {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The settings form as typed: field name → text.
pub type RawSettings = BTreeMap<String, String>;

/// Field name → message, for every field at fault.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// A brand colour `#rrggbb` that white text can sit on and that reads as text on white, both at
/// WCAG AA contrast (4.5:1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandColor(String);

/// The WCAG contrast ratio of two sRGB colours.
pub fn contrast_ratio(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn lum((r, g, b): (u8, u8, u8)) -> f64 {
        let ch = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    }
    let (la, lb) = (lum(a), lum(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

impl BrandColor {
    /// Parses `#rrggbb` (or `rrggbb`) and checks its contrast with white.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let hex = raw.trim().trim_start_matches('#');
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("Enter a colour as # followed by six hexadecimal digits, like #0b4f6c.".into());
        }
        let c = Self(format!("#{}", hex.to_ascii_lowercase()));
        let ratio = contrast_ratio(c.rgb(), (255, 255, 255));
        if ratio < 4.5 {
            return Err(format!(
                "This colour is too light: white text on it has a contrast of {ratio:.1}:1, and at least 4.5:1 is needed. Choose a darker colour."
            ));
        }
        Ok(c)
    }

    /// The colour as `#rrggbb`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Red, green and blue.
    pub fn rgb(&self) -> (u8, u8, u8) {
        let v = |i: usize| u8::from_str_radix(&self.0[i..i + 2], 16).unwrap_or(0);
        (v(1), v(3), v(5))
    }

    /// A darker shade for headings and hover states.
    pub fn darker(&self) -> String {
        let (r, g, b) = self.rgb();
        let d = |c: u8| (f64::from(c) * 0.75) as u8;
        format!("#{:02x}{:02x}{:02x}", d(r), d(g), d(b))
    }
}

fn int(raw: &RawSettings, field: &'static str, label: &str, lo: i64, hi: i64, errs: &mut FieldErrors) -> i64 {
    match raw.get(field).map(|s| s.trim().parse::<i64>()) {
        Some(Ok(v)) if (lo..=hi).contains(&v) => v,
        _ => {
            errs.insert(field, format!("{label} must be a whole number from {lo} to {hi}."));
            lo
        }
    }
}

fn int_in(
    raw: &RawSettings,
    field: &'static str,
    label: &str,
    range: &RangeInclusive<i64>,
    errs: &mut FieldErrors,
) -> i64 {
    int(raw, field, label, *range.start(), *range.end(), errs)
}

fn text(raw: &RawSettings, field: &'static str, label: &str, min: usize, max: usize, errs: &mut FieldErrors) -> String {
    let v = raw.get(field).map(|s| s.trim().to_owned()).unwrap_or_default();
    let n = v.chars().count();
    if n < min {
        errs.insert(field, format!("Enter the {label}."));
    } else if n > max {
        errs.insert(field, format!("The {label} can be at most {max} characters."));
    } else if v.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        errs.insert(field, format!("The {label} cannot contain < > or control characters."));
    }
    v
}

impl PlanSettings {
    /// Validates every field, returning all errors at once.
    pub fn parse(raw: &RawSettings) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = text(raw, "name", "plan name", 1, 100, &mut e);
        let brand_color = match BrandColor::parse(raw.get("brand_color").map_or("", String::as_str)) {
            Ok(c) => c,
            Err(m) => {
                e.insert("brand_color", m);
                BrandColor("#000000".into())
            }
        };
        let support_phone = text(raw, "support_phone", "support phone number", 1, 32, &mut e);
        let support_hours = text(raw, "support_hours", "support hours", 0, 100, &mut e);
        let password_min = int_in(raw, "password_min", "Minimum password length", &PASSWORD_MIN_RANGE, &mut e);
        let password_max = int_in(raw, "password_max", "Maximum password length", &PASSWORD_MAX_RANGE, &mut e);
        let code_length = int_in(raw, "code_length", "Code length", &CODE_LENGTH_RANGE, &mut e);
        let code_lifetime_minutes = int(raw, "code_lifetime_minutes", "Code lifetime", 1, 30, &mut e);
        let code_max_tries = int(raw, "code_max_tries", "Tries per code", 3, 10, &mut e);
        let code_max_sends_per_hour = int(raw, "code_max_sends_per_hour", "Codes per hour", 1, 20, &mut e);
        let session_idle_minutes = int(raw, "session_idle_minutes", "Idle timeout", 5, 60, &mut e);
        let session_absolute_hours = int(raw, "session_absolute_hours", "Session length", 1, 24, &mut e);
        let access_review_days = int(raw, "access_review_days", "Access review interval", 30, 365, &mut e);
        let idle_flag_days = int_in(raw, "idle_flag_days", "Idle threshold", &crate::idle::FLAG_DAYS_RANGE, &mut e);
        let idle_deactivate_days =
            int_in(raw, "idle_deactivate_days", "Deactivation threshold", &crate::idle::DEACTIVATE_DAYS_RANGE, &mut e);
        let idle = if e.contains_key("idle_flag_days") || e.contains_key("idle_deactivate_days") {
            crate::idle::IdlePolicy::default()
        } else {
            crate::idle::IdlePolicy::new(idle_flag_days, idle_deactivate_days).unwrap_or_else(|err| {
                e.insert(err.field(), err.to_string());
                crate::idle::IdlePolicy::default()
            })
        };
        let username_format = match raw.get("username_format").map(String::as_str).and_then(UsernameFormat::parse) {
            Some(f) => f,
            None => {
                e.insert("username_format", "Choose plain names or email addresses.".into());
                UsernameFormat::Plain
            }
        };
        let reactivation_days = int(raw, "reactivation_days", "Reactivation period", 0, 3650, &mut e);
        let legacy_deadline = match LegacyDeadline::parse(raw.get("legacy_deadline").map_or("", String::as_str)) {
            Ok(d) => d,
            Err(m) => {
                e.insert("legacy_deadline", m);
                None
            }
        };
        let legacy_email_proof = match parse_switch(raw.get("legacy_email_proof").map(String::as_str)) {
            Some(v) => v,
            None => {
                e.insert("legacy_email_proof", "Choose whether imported accounts prove their email first.".into());
                true
            }
        };
        let time_zone = match PlanTimeZone::parse(raw.get("time_zone").map_or("", String::as_str)) {
            Ok(z) => z,
            Err(m) => {
                e.insert("time_zone", m);
                PlanTimeZone::default()
            }
        };
        let message_response_days = int(
            raw,
            "message_response_days",
            "Response time",
            1,
            i64::from(crate::secure_messages::MAX_RESPONSE_DAYS),
            &mut e,
        );
        let message_max_files = int(
            raw,
            "message_max_files",
            "Files per message",
            1,
            crate::secure_messages::MAX_ATTACHMENTS_SETTING as i64,
            &mut e,
        );
        let message_max_file_mb = int(
            raw,
            "message_max_file_mb",
            "Largest file",
            1,
            crate::secure_messages::MAX_ATTACHMENT_MB_SETTING as i64,
            &mut e,
        );
        let mailbox_email = match raw.get("mailbox_email").map_or("", |s| s.trim()) {
            "" => None,
            typed => match crate::Email::parse(typed) {
                Ok(m) => Some(m),
                Err(m) => {
                    e.insert("mailbox_email", m.to_string());
                    None
                }
            },
        };
        let factors = factor_policy(raw, &mut e);
        if e.is_empty() && session_idle_minutes > session_absolute_hours * 60 {
            e.insert("session_idle_minutes", "The idle timeout cannot be longer than the whole session.".into());
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Self {
            name,
            brand_color,
            support_phone,
            support_hours,
            password_min,
            password_max,
            code_length,
            code_lifetime_minutes,
            code_max_tries,
            code_max_sends_per_hour,
            session_idle_minutes,
            session_absolute_hours,
            access_review_days,
            idle,
            username_format,
            reactivation_days,
            legacy_deadline,
            legacy_email_proof,
            time_zone,
            message_response_days,
            message_max_files,
            message_max_file_mb,
            mailbox_email,
            factors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RawSettings {
        [
            ("name", "Chorus"),
            ("brand_color", "#0b4f6c"),
            ("support_phone", "1-800-555-0199"),
            ("support_hours", "8-5"),
            ("password_min", "12"),
            ("password_max", "128"),
            ("code_length", "6"),
            ("code_lifetime_minutes", "10"),
            ("code_max_tries", "5"),
            ("code_max_sends_per_hour", "5"),
            ("session_idle_minutes", "15"),
            ("session_absolute_hours", "12"),
            ("access_review_days", "90"),
            ("idle_flag_days", "90"),
            ("idle_deactivate_days", "180"),
            ("username_format", "plain"),
            ("reactivation_days", "90"),
            ("legacy_deadline", ""),
            ("legacy_email_proof", "on"),
            ("time_zone", "America/New_York"),
            ("message_response_days", "3"),
            ("message_max_files", "5"),
            ("message_max_file_mb", "10"),
            ("mailbox_email", ""),
            ("voice_allowed", "on"),
            ("app_allowed", "on"),
            ("passkeys_allowed", "on"),
            ("staff_strong_factor", "on"),
            ("admin_strong_factor", "off"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn accepts_defaults() {
        let s = PlanSettings::parse(&good()).unwrap();
        assert_eq!(s.password_min, 12);
        assert_eq!(s.brand_color.as_str(), "#0b4f6c");
    }

    #[test]
    fn reports_every_bad_field() {
        let mut r = good();
        r.insert("password_min".into(), "6".into());
        r.insert("session_idle_minutes".into(), "90".into());
        r.insert("brand_color".into(), "#ffff00".into());
        r.insert("name".into(), " ".into());
        r.insert("code_length".into(), "six".into());
        let e = PlanSettings::parse(&r).unwrap_err();
        for f in ["password_min", "session_idle_minutes", "brand_color", "name", "code_length"] {
            assert!(e.contains_key(f), "{f}: {e:?}");
        }
    }

    #[test]
    fn legacy_deadline_ends_after_its_day() {
        let d = LegacyDeadline::parse("2027-03-31").unwrap().unwrap();
        assert_eq!(d.as_string(), "2027-03-31");
        // Midnight after the day in New York: 2027-04-01T00:00:00-04:00 (summer time).
        let ny = PlanTimeZone::default();
        let midnight_after = 1_806_537_600 + 4 * 3600;
        assert!(!d.passed(Timestamp(midnight_after - 1), &ny));
        assert!(d.passed(Timestamp(midnight_after), &ny));
        let utc = PlanTimeZone::parse("UTC").unwrap();
        assert!(d.passed(Timestamp(1_806_537_600), &utc));
        assert_eq!(LegacyDeadline::parse(" "), Ok(None));
        assert!(LegacyDeadline::parse("31/03/2027").is_err());
        assert!(LegacyDeadline::parse("2027-02-30").is_err());
        let mut r = good();
        r.insert("username_format".into(), "emails".into());
        r.insert("legacy_deadline".into(), "soon".into());
        r.insert("reactivation_days".into(), "-1".into());
        let e = PlanSettings::parse(&r).unwrap_err();
        assert!(
            e.contains_key("username_format")
                && e.contains_key("legacy_deadline")
                && e.contains_key("reactivation_days")
        );
    }

    #[test]
    fn idle_thresholds_are_bounded_and_apart() {
        assert_eq!(PlanSettings::parse(&good()).unwrap().idle, crate::idle::IdlePolicy::default());
        let with = |flag: &str, off: &str| {
            let mut r = good();
            r.insert("idle_flag_days".into(), flag.into());
            r.insert("idle_deactivate_days".into(), off.into());
            PlanSettings::parse(&r)
        };
        assert_eq!(with("30", "60").unwrap().idle.deactivate_days(), 60);
        assert!(with("29", "180").unwrap_err()["idle_flag_days"].contains("from 30 to 365"));
        assert!(with("366", "730").unwrap_err().contains_key("idle_flag_days"));
        assert!(with("90", "59").unwrap_err()["idle_deactivate_days"].contains("from 60 to 730"));
        assert!(with("90", "731").unwrap_err().contains_key("idle_deactivate_days"));
        assert!(with("ninety", "180").unwrap_err().contains_key("idle_flag_days"));
        let e = with("100", "113").unwrap_err();
        assert!(e["idle_deactivate_days"].contains("at least 114 days"), "{e:?}");
        assert!(!e.contains_key("idle_flag_days"));
        assert!(with("100", "114").is_ok());
    }

    #[test]
    fn email_proof_is_a_switch() {
        assert!(PlanSettings::parse(&good()).unwrap().legacy_email_proof);
        let mut r = good();
        r.insert("legacy_email_proof".into(), "off".into());
        assert!(!PlanSettings::parse(&r).unwrap().legacy_email_proof);
        r.insert("legacy_email_proof".into(), "maybe".into());
        assert!(PlanSettings::parse(&r).unwrap_err().contains_key("legacy_email_proof"));
        r.remove("legacy_email_proof");
        assert!(PlanSettings::parse(&r).unwrap_err().contains_key("legacy_email_proof"));
        assert_eq!((switch_text(true), switch_text(false)), ("on", "off"));
    }

    #[test]
    fn factor_switches_and_their_rule() {
        let f = PlanSettings::parse(&good()).unwrap().factors;
        assert_eq!(f, crate::factor_policy::FactorPolicy::default());
        let mut r = good();
        r.insert("app_allowed".into(), "off".into());
        r.insert("passkeys_allowed".into(), "off".into());
        let e = PlanSettings::parse(&r).unwrap_err();
        assert!(e["staff_strong_factor"].contains("neither is allowed"), "{e:?}");
        assert_eq!(e.len(), 1, "{e:?}");
        r.insert("staff_strong_factor".into(), "off".into());
        let s = PlanSettings::parse(&r).unwrap();
        assert!(!s.factors.app_allowed && !s.factors.passkeys_allowed && !s.factors.staff_strong_factor);
        r.insert("admin_strong_factor".into(), "on".into());
        assert!(PlanSettings::parse(&r).unwrap_err().contains_key("admin_strong_factor"));
        let mut r = good();
        r.insert("voice_allowed".into(), "maybe".into());
        r.remove("passkeys_allowed");
        let e = PlanSettings::parse(&r).unwrap_err();
        assert!(e.contains_key("voice_allowed") && e.contains_key("passkeys_allowed"), "{e:?}");
    }

    #[test]
    fn time_zone_is_an_iana_name() {
        assert_eq!(PlanSettings::parse(&good()).unwrap().time_zone.name(), "America/New_York");
        let mut r = good();
        r.insert("time_zone".into(), "america/denver".into());
        assert_eq!(PlanSettings::parse(&r).unwrap().time_zone.name(), "America/Denver");
        r.insert("time_zone".into(), "Atlantis/Capital".into());
        let e = PlanSettings::parse(&r).unwrap_err();
        assert!(e["time_zone"].contains("is not a time zone we know"), "{e:?}");
        r.remove("time_zone");
        assert!(PlanSettings::parse(&r).unwrap_err().contains_key("time_zone"));
    }

    #[test]
    fn contrast_is_wcag() {
        assert!((contrast_ratio((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
        assert!(BrandColor::parse("#767676").is_ok()); // 4.54:1, the lightest grey that passes
        assert!(BrandColor::parse("#777777").is_err());
        assert!(BrandColor::parse("0B4F6C").is_ok());
        assert!(BrandColor::parse("#12345").is_err());
    }
}
