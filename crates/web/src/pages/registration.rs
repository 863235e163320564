//! The public "Provider OnLine Account Request" (`/register`): a practice asks for administrator
//! access. Every problem is shown beside its field and listed above the form; nothing is stored
//! until the whole form is right.

use super::{Chrome, internal_error, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CurrentPlan, Meta};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::registration::{FieldError, RegistrationErrors, RegistrationForm};
use gatehouse_services::registrations::RegistrationError;

pub fn routes() -> Routes {
    Routes::new().route("/register", get(form_page).post(submit))
}

/// One input of the form.
struct Field {
    id: &'static str,
    label: &'static str,
    /// How the error summary names it ("Primary administrator: First name").
    long_label: String,
    value: String,
    error: Option<String>,
    hint: Option<&'static str>,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
    numeric: bool,
    maxlength: usize,
}

/// A group of inputs under a legend.
struct Section {
    legend: &'static str,
    intro: Option<&'static str>,
    note: Option<&'static str>,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    sections: Vec<Section>,
    /// (field id, long label, message) of every problem, in form order.
    summary: Vec<(&'static str, String, String)>,
    form_error: Option<String>,
}

#[derive(Template)]
#[template(path = "register_received.html")]
struct ReceivedPage {
    chrome: Chrome,
    emails: Vec<String>,
}

/// (id, label, kind, autocomplete, required, max length, hint)
type Spec = (&'static str, &'static str, &'static str, &'static str, bool, usize, Option<&'static str>);

fn admin_specs(prefix: &'static str) -> [Spec; 5] {
    let p = |primary: &'static str, secondary: &'static str| if prefix == "primary" { primary } else { secondary };
    [
        (
            p("primary_first_name", "secondary_first_name"),
            "First name",
            "text",
            p("section-primary given-name", "section-secondary given-name"),
            true,
            60,
            None,
        ),
        (
            p("primary_last_name", "secondary_last_name"),
            "Last name",
            "text",
            p("section-primary family-name", "section-secondary family-name"),
            true,
            60,
            None,
        ),
        (
            p("primary_phone", "secondary_phone"),
            "Phone number",
            "tel",
            p("section-primary tel-national", "section-secondary tel-national"),
            true,
            32,
            Some("A US number, like 206-555-0143."),
        ),
        (
            p("primary_email", "secondary_email"),
            "Email",
            "email",
            p("section-primary email", "section-secondary email"),
            true,
            254,
            None,
        ),
        (
            p("primary_email_confirm", "secondary_email_confirm"),
            "Confirm email",
            "email",
            "off",
            true,
            254,
            Some("Type the email address again."),
        ),
    ]
}

const PRACTICE: [Spec; 10] = [
    ("practice_name", "Practice name", "text", "organization", true, 120, None),
    ("address1", "Address 1", "text", "address-line1", true, 100, None),
    ("address2", "Address 2", "text", "address-line2", false, 100, None),
    ("city", "City", "text", "address-level2", true, 60, None),
    ("state", "State", "text", "address-level1", true, 2, Some("Two letters, like WA.")),
    ("zip", "ZIP code", "text", "postal-code", true, 10, None),
    ("phone", "Phone number", "tel", "tel-national", true, 32, None),
    ("fax", "Fax number", "tel", "off", false, 32, None),
    ("tax_id", "9-digit Tax ID", "text", "off", true, 20, Some("No spaces, dashes, or letters.")),
    ("tax_id_confirm", "Confirm 9-digit Tax ID", "text", "off", true, 20, Some("Type the Tax ID again.")),
];

fn value_of<'a>(f: &'a RegistrationForm, id: &str) -> &'a str {
    match id {
        "primary_first_name" => &f.primary_first_name,
        "primary_last_name" => &f.primary_last_name,
        "primary_phone" => &f.primary_phone,
        "primary_email" => &f.primary_email,
        "primary_email_confirm" => &f.primary_email_confirm,
        "secondary_first_name" => &f.secondary_first_name,
        "secondary_last_name" => &f.secondary_last_name,
        "secondary_phone" => &f.secondary_phone,
        "secondary_email" => &f.secondary_email,
        "secondary_email_confirm" => &f.secondary_email_confirm,
        "practice_name" => &f.practice_name,
        "address1" => &f.address1,
        "address2" => &f.address2,
        "city" => &f.city,
        "state" => &f.state,
        "zip" => &f.zip,
        "phone" => &f.phone,
        "fax" => &f.fax,
        "tax_id" => &f.tax_id,
        "tax_id_confirm" => &f.tax_id_confirm,
        _ => "",
    }
}

fn section(
    legend: &'static str,
    intro: Option<&'static str>,
    note: Option<&'static str>,
    specs: &[Spec],
    form: &RegistrationForm,
    errors: Option<&RegistrationErrors>,
) -> Section {
    let fields = specs
        .iter()
        .map(|&(id, label, kind, autocomplete, required, maxlength, hint)| Field {
            id,
            label,
            long_label: format!("{legend}: {label}"),
            value: value_of(form, id).chars().take(maxlength.max(60)).collect(),
            error: errors.and_then(|e| e.get(id)).map(str::to_owned),
            hint,
            kind,
            autocomplete,
            required,
            numeric: id.starts_with("tax_id") || id == "zip",
            maxlength,
        })
        .collect();
    Section { legend, intro, note, fields }
}

fn form_view(
    chrome: Chrome,
    form: &RegistrationForm,
    errors: Option<&RegistrationErrors>,
    form_error: Option<String>,
) -> RegisterPage {
    let sections = vec![
        section(
            "Primary administrator",
            Some("The person who will mainly manage your practice's portal users."),
            None,
            &admin_specs("primary"),
            form,
            errors,
        ),
        section(
            "Secondary administrator",
            Some("A different person, who can step in when the primary administrator is away."),
            None,
            &admin_specs("secondary"),
            form,
            errors,
        ),
        section(
            "Practice information",
            None,
            Some(
                "This Tax ID may be associated with additional practice locations. Only one practice address needs to be entered for each Tax ID.",
            ),
            &PRACTICE,
            form,
            errors,
        ),
    ];
    let summary = sections
        .iter()
        .flat_map(|s| s.fields.iter())
        .filter_map(|f| f.error.as_ref().map(|e| (f.id, f.long_label.clone(), e.clone())))
        .collect();
    RegisterPage { chrome, sections, summary, form_error }
}

async fn form_page(State(st): State<AppState>, plan: CurrentPlan, csrf: axum::Extension<CsrfToken>) -> Response {
    render(StatusCode::OK, &form_view(Chrome::new(&st, &plan, &csrf, false), &RegistrationForm::default(), None, None))
}

async fn submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    Form(form): Form<RegistrationForm>,
) -> Response {
    let chrome = Chrome::new(&st, &plan, &csrf, false);
    match st.svc.request_registration(&plan.0, &form, &meta).await {
        Ok(r) => render(StatusCode::OK, &ReceivedPage { chrome, emails: r.emails.to_vec() }),
        Err(RegistrationError::Invalid(errors)) => {
            render(StatusCode::BAD_REQUEST, &form_view(chrome, &form, Some(&errors), None))
        }
        Err(e @ RegistrationError::DuplicatePending) => {
            let errors = RegistrationErrors(vec![FieldError { field: "tax_id", message: e.to_string() }]);
            render(StatusCode::CONFLICT, &form_view(chrome, &form, Some(&errors), None))
        }
        Err(e @ RegistrationError::Throttled) => {
            render(StatusCode::TOO_MANY_REQUESTS, &form_view(chrome, &form, None, Some(e.to_string())))
        }
        Err(RegistrationError::Internal(e)) => internal_error(e),
    }
}
