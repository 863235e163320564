//! A user's information as an administrator edits it ("Edit" on Portal User Information, seed
//! 002): names, email entered twice, mobile, office phone and fax, and the office address. Every
//! field is checked and every problem reported under its field's name, like the registration form.

use crate::email::{Email, EmailError};
use crate::names::{NameError, PersonName};
use crate::phone::PhoneNumber;
use crate::registration::{Errors, FieldError, text, us_phone};
use crate::roster::{UsState, Zip};
use serde::Deserialize;
use thiserror::Error;

/// Longest middle name, street or city, in characters.
pub const MAX_TEXT: usize = 100;

/// The form as typed: every field raw, missing ones empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
    pub email_confirm: String,
    pub mobile_phone: String,
    pub office_phone: String,
    pub fax: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
}

/// A profile whose every field passed its checks; optional ones are `None` or empty when blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: PersonName,
    pub middle_name: String,
    pub email: Email,
    pub mobile_phone: Option<PhoneNumber>,
    pub office_phone: Option<PhoneNumber>,
    pub fax: Option<PhoneNumber>,
    pub street: String,
    pub city: String,
    pub state: Option<UsState>,
    pub zip: Option<Zip>,
}

/// Every problem found in the form, in the order of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
pub struct ProfileErrors(pub Vec<FieldError>);

impl ProfileErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

fn optional_phone(errs: &mut Errors, field: &'static str, raw: &str) -> Option<Option<PhoneNumber>> {
    if raw.trim().is_empty() {
        return Some(None);
    }
    errs.check(field, us_phone(raw, "")).map(Some)
}

impl ProfileForm {
    /// Checks every field.
    pub fn parse(&self) -> Result<Profile, ProfileErrors> {
        let mut errs = Errors(Vec::new());
        let first_ok = match PersonName::parse(&self.first_name, "x") {
            Err(e @ (NameError::FirstEmpty | NameError::TooLong | NameError::BadCharacter)) => {
                errs.add("first_name", e.to_string());
                false
            }
            _ => true,
        };
        let middle = errs.check("middle_name", text(&self.middle_name, MAX_TEXT, None));
        let last_ok = match PersonName::parse("x", &self.last_name) {
            Err(e @ (NameError::LastEmpty | NameError::TooLong | NameError::BadCharacter)) => {
                errs.add("last_name", e.to_string());
                false
            }
            _ => true,
        };
        let name = if first_ok && last_ok { PersonName::parse(&self.first_name, &self.last_name).ok() } else { None };
        let email = match Email::parse_confirmed(&self.email, &self.email_confirm) {
            Ok(e) => Some(e),
            Err(EmailError::Mismatch) => {
                errs.add("email_confirm", EmailError::Mismatch.to_string());
                None
            }
            Err(e) => {
                errs.add("email", e.to_string());
                None
            }
        };
        let mobile = optional_phone(&mut errs, "mobile_phone", &self.mobile_phone);
        let office = optional_phone(&mut errs, "office_phone", &self.office_phone);
        let fax = optional_phone(&mut errs, "fax", &self.fax);
        let street = errs.check("street", text(&self.street, MAX_TEXT, None));
        let city = errs.check("city", text(&self.city, MAX_TEXT, None));
        let state = if self.state.trim().is_empty() {
            Some(None)
        } else {
            errs.check(
                "state",
                UsState::parse(&self.state).ok_or("Enter a US state or territory as two letters, like WA."),
            )
            .map(Some)
        };
        let zip =
            if self.zip.trim().is_empty() { Some(None) } else { errs.check("zip", Zip::parse(&self.zip)).map(Some) };
        if !errs.0.is_empty() {
            return Err(ProfileErrors(errs.0));
        }
        match (name, middle, email, mobile, office, fax, street, city, state, zip) {
            (
                Some(name),
                Some(middle_name),
                Some(email),
                Some(mobile_phone),
                Some(office_phone),
                Some(fax),
                Some(street),
                Some(city),
                Some(state),
                Some(zip),
            ) => Ok(Profile { name, middle_name, email, mobile_phone, office_phone, fax, street, city, state, zip }),
            _ => Err(ProfileErrors(errs.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProfileForm {
        ProfileForm {
            first_name: "Ann".into(),
            middle_name: "B".into(),
            last_name: "Newhire".into(),
            email: "Ann@Clinic.example".into(),
            email_confirm: "Ann@Clinic.example".into(),
            mobile_phone: "206-555-0143".into(),
            office_phone: "".into(),
            fax: "".into(),
            street: "1 Main St".into(),
            city: "Seattle".into(),
            state: "wa".into(),
            zip: "98101".into(),
        }
    }

    #[test]
    fn a_complete_form_parses_and_blanks_stay_blank() {
        let p = form().parse().unwrap();
        assert_eq!(p.name.full(), "Ann Newhire");
        assert_eq!(p.mobile_phone.map(|m| m.e164().to_owned()).as_deref(), Some("+12065550143"));
        assert!(p.office_phone.is_none() && p.fax.is_none());
        assert_eq!(p.state.map(|s| s.as_str().to_owned()).as_deref(), Some("WA"));
    }

    #[test]
    fn every_problem_is_under_its_field() {
        let mut f = form();
        f.first_name = " ".into();
        f.email_confirm = "other@clinic.example".into();
        f.fax = "12".into();
        f.state = "ZZ".into();
        f.zip = "981".into();
        let e = f.parse().unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|x| x.field).collect();
        assert_eq!(fields, ["first_name", "email_confirm", "fax", "state", "zip"]);
    }
}
