//! Administrator registration requests ("Provider OnLine Account Request"): a primary and a
//! secondary administrator and the practice they ask to administer, as entered on the public
//! form. [`RegistrationForm::parse`] checks every field and reports every problem, each under the
//! name of the field at fault, so a form can show them all beside their fields at once.

use crate::email::{Email, EmailError};
use crate::names::{NameError, PersonName};
use crate::phone::{PhoneError, PhoneNumber};
use crate::roster::{UsState, Zip};
use crate::tax_id::{TaxId, TaxIdError};
use serde::Deserialize;
use thiserror::Error;

/// Longest practice name, in characters.
pub const MAX_PRACTICE_NAME: usize = 120;
/// Longest address line, in characters.
pub const MAX_ADDRESS: usize = 100;
/// Longest city name, in characters.
pub const MAX_CITY: usize = 60;

/// The form as typed: every field raw, missing ones empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RegistrationForm {
    pub primary_first_name: String,
    pub primary_last_name: String,
    pub primary_phone: String,
    pub primary_email: String,
    pub primary_email_confirm: String,
    pub secondary_first_name: String,
    pub secondary_last_name: String,
    pub secondary_phone: String,
    pub secondary_email: String,
    pub secondary_email_confirm: String,
    pub practice_name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
    pub fax: String,
    pub tax_id: String,
    pub tax_id_confirm: String,
}

/// One person the request names as administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminContact {
    pub name: PersonName,
    pub phone: PhoneNumber,
    pub email: Email,
}

/// The practice the request is for. Text is trimmed with inner runs of white space made one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeInfo {
    pub tax_id: TaxId,
    pub name: String,
    pub address1: String,
    /// Empty when not given.
    pub address2: String,
    pub city: String,
    pub state: UsState,
    pub zip: Zip,
    pub phone: PhoneNumber,
    pub fax: Option<PhoneNumber>,
}

/// A request whose every field passed its checks; the two administrators have different emails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub primary: AdminContact,
    pub secondary: AdminContact,
    pub practice: PracticeInfo,
}

/// One problem, under the name of the form field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Every problem found in a form, in the order of the form's fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
pub struct RegistrationErrors(pub Vec<FieldError>);

impl RegistrationErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// Collects problems while fields are parsed.
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError { field, message: message.into() });
    }
    pub(crate) fn check<T, E: std::fmt::Display>(&mut self, field: &'static str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.add(field, e.to_string())).ok()
    }
}

/// Trims, makes inner white space one space, and checks length and control characters.
pub(crate) fn text(raw: &str, max: usize, empty: Option<&str>) -> Result<String, String> {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        return empty.map_or(Ok(s), |m| Err(m.to_owned()));
    }
    if s.chars().count() > max {
        return Err(format!("Use at most {max} characters."));
    }
    if s.chars().any(char::is_control) {
        return Err("Remove the control characters.".to_owned());
    }
    Ok(s)
}

pub(crate) fn us_phone(raw: &str, empty: &str) -> Result<PhoneNumber, String> {
    PhoneNumber::parse("1", raw).map_err(|e| match e {
        PhoneError::Empty => empty.to_owned(),
        PhoneError::CountryCode | PhoneError::Invalid | PhoneError::CountryMismatch { .. } => {
            "Enter a valid US phone number, like 206-555-0143.".to_owned()
        }
    })
}

/// The field names of one administrator's part of the form.
struct AdminFields {
    first: &'static str,
    last: &'static str,
    phone: &'static str,
    email: &'static str,
    confirm: &'static str,
}

const PRIMARY: AdminFields = AdminFields {
    first: "primary_first_name",
    last: "primary_last_name",
    phone: "primary_phone",
    email: "primary_email",
    confirm: "primary_email_confirm",
};
const SECONDARY: AdminFields = AdminFields {
    first: "secondary_first_name",
    last: "secondary_last_name",
    phone: "secondary_phone",
    email: "secondary_email",
    confirm: "secondary_email_confirm",
};

fn admin(errs: &mut Errors, f: &AdminFields, raw: [&str; 5]) -> Option<AdminContact> {
    let [first, last, phone_raw, email, confirm] = raw;
    // Each part alone, so each problem lands beside its own field.
    let first_ok = match PersonName::parse(first, "x") {
        Err(e @ (NameError::FirstEmpty | NameError::TooLong | NameError::BadCharacter)) => {
            errs.add(f.first, e.to_string());
            false
        }
        _ => true,
    };
    let last_ok = match PersonName::parse("x", last) {
        Err(e @ (NameError::LastEmpty | NameError::TooLong | NameError::BadCharacter)) => {
            errs.add(f.last, e.to_string());
            false
        }
        _ => true,
    };
    let name = if first_ok && last_ok { PersonName::parse(first, last).ok() } else { None };
    let phone = errs.check(f.phone, us_phone(phone_raw, "Enter a phone number."));
    let email = match Email::parse_confirmed(email, confirm) {
        Ok(e) => Some(e),
        Err(EmailError::Mismatch) => {
            errs.add(f.confirm, EmailError::Mismatch.to_string());
            None
        }
        Err(e) => {
            errs.add(f.email, e.to_string());
            None
        }
    };
    Some(AdminContact { name: name?, phone: phone?, email: email? })
}

fn practice(errs: &mut Errors, f: &RegistrationForm) -> Option<PracticeInfo> {
    let name = errs.check("practice_name", text(&f.practice_name, MAX_PRACTICE_NAME, Some("Enter the practice name.")));
    let address1 = errs.check("address1", text(&f.address1, MAX_ADDRESS, Some("Enter the street address.")));
    let address2 = errs.check("address2", text(&f.address2, MAX_ADDRESS, None));
    let city = errs.check("city", text(&f.city, MAX_CITY, Some("Enter the city.")));
    let state = errs.check(
        "state",
        UsState::parse(&f.state).ok_or(if f.state.trim().is_empty() {
            "Enter the state as two letters, like WA."
        } else {
            "Enter a US state or territory as two letters, like WA."
        }),
    );
    let zip = errs.check(
        "zip",
        if f.zip.trim().is_empty() {
            Err("Enter the ZIP code.".to_owned())
        } else {
            Zip::parse(&f.zip).map_err(|e| e.to_string())
        },
    );
    let phone = errs.check("phone", us_phone(&f.phone, "Enter the practice's phone number."));
    let fax = if f.fax.trim().is_empty() { Some(None) } else { errs.check("fax", us_phone(&f.fax, "")).map(Some) };
    let tax_id = match TaxId::parse_confirmed(&f.tax_id, &f.tax_id_confirm) {
        Ok(t) => Some(t),
        Err(TaxIdError::Mismatch) => {
            errs.add("tax_id_confirm", TaxIdError::Mismatch.to_string());
            None
        }
        Err(e) => {
            errs.add("tax_id", e.to_string());
            None
        }
    };
    Some(PracticeInfo {
        tax_id: tax_id?,
        name: name?,
        address1: address1?,
        address2: address2?,
        city: city?,
        state: state?,
        zip: zip?,
        phone: phone?,
        fax: fax?,
    })
}

impl RegistrationForm {
    /// Checks every field; on failure, returns every problem found.
    pub fn parse(&self) -> Result<RegistrationRequest, RegistrationErrors> {
        let mut errs = Errors(Vec::new());
        let primary = admin(
            &mut errs,
            &PRIMARY,
            [
                &self.primary_first_name,
                &self.primary_last_name,
                &self.primary_phone,
                &self.primary_email,
                &self.primary_email_confirm,
            ],
        );
        let secondary = admin(
            &mut errs,
            &SECONDARY,
            [
                &self.secondary_first_name,
                &self.secondary_last_name,
                &self.secondary_phone,
                &self.secondary_email,
                &self.secondary_email_confirm,
            ],
        );
        if let (Ok(p), Ok(s)) = (Email::parse(&self.primary_email), Email::parse(&self.secondary_email))
            && p.normalized() == s.normalized()
            && errs.0.iter().all(|e| e.field != SECONDARY.email)
        {
            errs.add(
                SECONDARY.email,
                "The secondary administrator must be a different person from the primary: enter a different email address.",
            );
        }
        let practice = practice(&mut errs, self);
        match (primary, secondary, practice) {
            (Some(primary), Some(secondary), Some(practice)) if errs.0.is_empty() => {
                Ok(RegistrationRequest { primary, secondary, practice })
            }
            _ => Err(RegistrationErrors(errs.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RegistrationForm {
        RegistrationForm {
            primary_first_name: "Maria".into(),
            primary_last_name: "Lopez".into(),
            primary_phone: "206-555-0143".into(),
            primary_email: "maria@clinic.example.org".into(),
            primary_email_confirm: "Maria@Clinic.example.org".into(),
            secondary_first_name: "Sam".into(),
            secondary_last_name: "Okafor".into(),
            secondary_phone: "(206) 555-0188".into(),
            secondary_email: "sam@clinic.example.org".into(),
            secondary_email_confirm: "sam@clinic.example.org".into(),
            practice_name: "  Lakeside   Family Medicine ".into(),
            address1: "1200 Lakeview Ave".into(),
            address2: String::new(),
            city: "Seattle".into(),
            state: "wa".into(),
            zip: "98101".into(),
            phone: "206-555-0100".into(),
            fax: String::new(),
            tax_id: "825671892".into(),
            tax_id_confirm: "825671892".into(),
        }
    }

    fn fields(f: &RegistrationForm) -> Vec<&'static str> {
        f.parse().err().map(|e| e.0.iter().map(|e| e.field).collect()).unwrap_or_default()
    }

    #[test]
    fn a_good_form_parses_and_cleans() {
        let r = good().parse().unwrap();
        assert_eq!(r.practice.name, "Lakeside Family Medicine");
        assert_eq!(r.practice.state.as_str(), "WA");
        assert_eq!(r.practice.fax, None);
        assert_eq!(r.primary.phone.e164(), "+12065550143");
        assert_eq!(r.secondary.name.full(), "Sam Okafor");
    }

    #[test]
    fn every_missing_field_is_reported() {
        let e = RegistrationForm::default().parse().unwrap_err();
        for f in [
            "primary_first_name",
            "primary_last_name",
            "primary_phone",
            "primary_email",
            "secondary_email",
            "practice_name",
            "address1",
            "city",
            "state",
            "zip",
            "phone",
            "tax_id",
        ] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
        assert!(e.get("address2").is_none() && e.get("fax").is_none(), "optional fields");
    }

    #[test]
    fn mismatches_are_reported_on_the_confirmation() {
        let mut f = good();
        f.tax_id_confirm = "825671893".into();
        f.primary_email_confirm = "other@clinic.example.org".into();
        assert_eq!(fields(&f), vec!["primary_email_confirm", "tax_id_confirm"]);
    }

    #[test]
    fn letters_in_the_tax_id_and_bad_values() {
        let mut f = good();
        f.tax_id = "82-567189".into();
        f.tax_id_confirm = f.tax_id.clone();
        f.state = "XX".into();
        f.zip = "9810".into();
        f.fax = "12".into();
        assert_eq!(fields(&f), vec!["state", "zip", "fax", "tax_id"]);
    }

    #[test]
    fn the_two_administrators_are_different_people() {
        let mut f = good();
        f.secondary_email = "MARIA@clinic.example.org".into();
        f.secondary_email_confirm = f.secondary_email.clone();
        let e = f.parse().unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(e.get("secondary_email").is_some_and(|m| m.contains("different person")));
    }

    #[test]
    fn long_and_control_text_refused() {
        let mut f = good();
        f.city = "a".repeat(61);
        f.address1 = "x\u{7}y".into();
        assert_eq!(fields(&f), vec!["address1", "city"]);
    }
}
