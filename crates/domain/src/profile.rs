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
    /// Only for users who have signed up; empty keeps the username (checked by the service,
    /// which knows the plan's username format).
    pub username: String,
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

/// Some of a profile's fields, each `None` to keep what is stored (the API's partial edit).
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// A new username (only for a user who has signed up).
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// A new email, which needs `email_confirm` equal to it.
    pub email: Option<String>,
    pub email_confirm: Option<String>,
    pub mobile_phone: Option<String>,
    pub office_phone: Option<String>,
    pub fax: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
}

/// A profile as stored: names and email, phones in E.164 (or empty), the office address.
#[derive(Debug, Clone, Copy)]
pub struct StoredProfile<'a> {
    pub first_name: &'a str,
    pub middle_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub mobile_phone: &'a str,
    pub office_phone: &'a str,
    pub fax: &'a str,
    pub street: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a str,
}

impl ProfileChanges {
    /// Whether a new username was asked for.
    pub fn renames(&self) -> bool {
        self.username.is_some()
    }

    /// The whole form: these changes over what is stored. A stored phone reads back as itself
    /// (E.164 parses), and an email sent without its confirmation does not match.
    pub fn over(self, stored: StoredProfile<'_>) -> ProfileForm {
        let keep = |given: Option<String>, now: &str| given.unwrap_or_else(|| now.to_owned());
        let email_confirm = match (&self.email, self.email_confirm) {
            (_, Some(confirm)) => confirm,
            (Some(_), None) => String::new(),
            (None, None) => stored.email.to_owned(),
        };
        ProfileForm {
            // Empty keeps the username.
            username: self.username.unwrap_or_default(),
            first_name: keep(self.first_name, stored.first_name),
            middle_name: keep(self.middle_name, stored.middle_name),
            last_name: keep(self.last_name, stored.last_name),
            email: keep(self.email, stored.email),
            email_confirm,
            mobile_phone: keep(self.mobile_phone, stored.mobile_phone),
            office_phone: keep(self.office_phone, stored.office_phone),
            fax: keep(self.fax, stored.fax),
            street: keep(self.street, stored.street),
            city: keep(self.city, stored.city),
            state: keep(self.state, stored.state),
            zip: keep(self.zip, stored.zip),
        }
    }
}

/// A profile whose every field passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: PersonName,
    pub middle_name: String,
    pub email: Email,
    pub office: OfficeDetails,
}

/// The office part of a profile as typed: what a user edits on their own profile page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OfficeForm {
    pub mobile_phone: String,
    pub office_phone: String,
    pub fax: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
}

/// Contact numbers and office address, checked; blank fields are `None` or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeDetails {
    pub mobile_phone: Option<PhoneNumber>,
    pub office_phone: Option<PhoneNumber>,
    pub fax: Option<PhoneNumber>,
    pub street: String,
    pub city: String,
    pub state: Option<UsState>,
    pub zip: Option<Zip>,
}

impl OfficeDetails {
    /// The details as stored: phones in E.164, state and ZIP as text, blanks as "".
    pub fn stored(&self) -> [(&'static str, String); 7] {
        let phone = |x: &Option<PhoneNumber>| x.as_ref().map(|n| n.e164().to_owned()).unwrap_or_default();
        [
            ("mobile_phone", phone(&self.mobile_phone)),
            ("office_phone", phone(&self.office_phone)),
            ("fax", phone(&self.fax)),
            ("street", self.street.clone()),
            ("city", self.city.clone()),
            ("state", self.state.map(|s| s.as_str().to_owned()).unwrap_or_default()),
            ("zip", self.zip.as_ref().map(|z| z.as_str().to_owned()).unwrap_or_default()),
        ]
    }
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
        let office = self.office_form().check(&mut errs);
        if !errs.0.is_empty() {
            return Err(ProfileErrors(errs.0));
        }
        match (name, middle, email, office) {
            (Some(name), Some(middle_name), Some(email), Some(office)) => {
                Ok(Profile { name, middle_name, email, office })
            }
            _ => Err(ProfileErrors(errs.0)),
        }
    }

    /// The office fields of the form.
    pub fn office_form(&self) -> OfficeForm {
        OfficeForm {
            mobile_phone: self.mobile_phone.clone(),
            office_phone: self.office_phone.clone(),
            fax: self.fax.clone(),
            street: self.street.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip: self.zip.clone(),
        }
    }
}

impl OfficeForm {
    /// Checks every field.
    pub fn parse(&self) -> Result<OfficeDetails, ProfileErrors> {
        let mut errs = Errors(Vec::new());
        match self.check(&mut errs) {
            Some(o) if errs.0.is_empty() => Ok(o),
            _ => Err(ProfileErrors(errs.0)),
        }
    }

    fn check(&self, errs: &mut Errors) -> Option<OfficeDetails> {
        let mobile = optional_phone(errs, "mobile_phone", &self.mobile_phone);
        let office = optional_phone(errs, "office_phone", &self.office_phone);
        let fax = optional_phone(errs, "fax", &self.fax);
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
        Some(OfficeDetails {
            mobile_phone: mobile?,
            office_phone: office?,
            fax: fax?,
            street: street?,
            city: city?,
            state: state?,
            zip: zip?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProfileForm {
        ProfileForm {
            username: String::new(),
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
        assert_eq!(p.office.mobile_phone.map(|m| m.e164().to_owned()).as_deref(), Some("+12065550143"));
        assert!(p.office.office_phone.is_none() && p.office.fax.is_none());
        assert_eq!(p.office.state.map(|s| s.as_str().to_owned()).as_deref(), Some("WA"));
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

    #[test]
    fn office_details_parse_alone() {
        let f = form().office_form();
        let o = f.parse().unwrap();
        assert_eq!(o.stored()[0], ("mobile_phone", "+12065550143".to_owned()));
        assert_eq!(o.stored()[5], ("state", "WA".to_owned()));
        let bad = OfficeForm { zip: "1".into(), office_phone: "55".into(), ..f };
        let fields: Vec<_> = bad.parse().unwrap_err().0.iter().map(|x| x.field).collect();
        assert_eq!(fields, ["office_phone", "zip"]);
    }

    fn stored() -> StoredProfile<'static> {
        StoredProfile {
            first_name: "Ann",
            middle_name: "",
            last_name: "Newhire",
            email: "ann@clinic.example",
            mobile_phone: "+12065550143",
            office_phone: "",
            fax: "",
            street: "1 Main St",
            city: "Tacoma",
            state: "WA",
            zip: "98402",
        }
    }

    #[test]
    fn changes_keep_what_they_do_not_name() {
        let kept = ProfileChanges { city: Some("Seattle".into()), ..Default::default() }.over(stored());
        let p = kept.parse().expect("the stored profile, with one change, parses");
        assert_eq!((p.email.as_str(), p.office.city.as_str()), ("ann@clinic.example", "Seattle"));
        assert_eq!(p.office.mobile_phone.as_ref().map(|m| m.e164()), Some("+12065550143"));
        assert!(kept.username.is_empty(), "no username asked for keeps the username");
    }

    #[test]
    fn a_new_email_needs_its_confirmation() {
        let unconfirmed = ProfileChanges { email: Some("ann@new.example".into()), ..Default::default() };
        let errs = unconfirmed.over(stored()).parse().expect_err("no confirmation");
        assert!(errs.0.iter().any(|e| e.field == "email_confirm"), "{errs:?}");
        let confirmed = ProfileChanges {
            email: Some("ann@new.example".into()),
            email_confirm: Some("ANN@new.example".into()),
            ..Default::default()
        };
        assert_eq!(confirmed.over(stored()).parse().expect("confirmed").email.as_str(), "ann@new.example");
    }
}
