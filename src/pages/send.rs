//! Sending one message to one recipient, as upstream's admin app asks for it:
//! `/services/{id}/send/{template_id}/one-off` starts at `/one-off/step-0` (the email address
//! or phone number), each further step asks for one placeholder, and the last answer leads to
//! "check and send" (`/services/{id}/template/{template_id}/notification/check`), whose button
//! sends and lands on the message's page.
//!
//! The answers so far travel as hidden fields of each step's form (`recipient`, `pv0`, `pv1`...
//! in the template's placeholder order), so nothing is kept on the server between steps. The
//! send itself is the domain's one send path for people ([`sending::send_one_off`]: `admit`
//! then `send`, `Origin::person`), which checks `send_messages` and audits.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use storage::records::{NotificationType, Permission, Template};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::FormErrors;
use web::send::Carried;

use super::services::{InService, Section, enter, refusal, service_layout};
use super::session::{Visit, csrf_matches, visit};
use super::templates::preview;
use super::{Form, PageError, html, redirect};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::content::template_placeholders;
use crate::domain::sending::{self, OneOff};
use crate::domain::{Code, templates};
use crate::templates::placeholders::normalise_key;

const NEED: Need = Need::MemberWith(Permission::SendMessages);

/// The template to send, if it can be sent from these pages (any template not archived).
pub fn sendable(v: &Visit, s: &InService, template_id: &str) -> Result<Template, Box<Response>> {
    let id =
        Uuid::parse_str(template_id).map_err(|_| Box::new(PageError::NotFound.into_response()))?;
    let t = templates::get_template(&v.app.store, s.id(), id).map_err(refusal)?;
    if t.archived || t.hidden {
        return Err(Box::new(PageError::NotFound.into_response()));
    }
    Ok(t)
}

/// The placeholders a person fills in, in template order: the recipient's own column
/// ("email address", "phone number", a letter's address lines) is the recipient step, not
/// asked again.
pub fn placeholders_to_ask(t: &Template) -> Vec<String> {
    let recipient = recipient_key(t.template_type);
    template_placeholders(t, None)
        .into_iter()
        .filter(|p| {
            let key = normalise_key(p);
            key != recipient
                && !(t.template_type == NotificationType::Letter && is_address_key(&key))
        })
        .collect()
}

/// `address line 1`…`address line 7` and `postcode`, normalised.
fn is_address_key(key: &str) -> bool {
    key == "postcode"
        || key
            .strip_prefix("addressline")
            .is_some_and(|n| matches!(n, "1" | "2" | "3" | "4" | "5" | "6" | "7"))
}

/// A letter's address as the person typed it (one line per line) as the personalisation's
/// address lines, `address_line_1` to `address_line_7`.
fn address_personalisation(address: &str, map: &mut Map<String, Value>) {
    let lines: Vec<&str> = address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for (i, line) in lines.iter().take(7).enumerate() {
        map.insert(
            format!("address_line_{}", i + 1),
            Value::String(line.to_string()),
        );
    }
    // More than seven lines: the last ones share line 7 so the address check can refuse it
    // with upstream's "no more than 7 lines" rather than losing them.
    if lines.len() > 7 {
        map.insert(
            "address_line_7".into(),
            Value::String(lines[6..].join("\n")),
        );
    }
}

fn recipient_key(t: NotificationType) -> String {
    normalise_key(match t {
        NotificationType::Sms => "phone number",
        _ => "email address",
    })
}

/// The answers a form carries: the recipient and the placeholders answered so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub recipient: String,
    pub values: Vec<String>,
}

impl Answers {
    /// The carried answers of a posted form, for the first `count` placeholders.
    fn from_form(form: &Form, count: usize) -> Answers {
        Answers {
            recipient: form.get("recipient"),
            values: (0..count).map(|i| form.raw(&format!("pv{i}"))).collect(),
        }
    }

    fn carried(&self) -> Vec<Carried> {
        let mut out = vec![Carried {
            name: "recipient".into(),
            value: self.recipient.clone(),
        }];
        for (i, value) in self.values.iter().enumerate() {
            out.push(Carried {
                name: format!("pv{i}"),
                value: value.clone(),
            });
        }
        out
    }

    /// The personalisation so far (the recipient's own column included, as upstream fills it).
    pub fn personalisation(&self, t: &Template, names: &[String]) -> Map<String, Value> {
        let mut map = Map::new();
        for (name, value) in names.iter().zip(&self.values) {
            map.insert(name.clone(), Value::String(value.clone()));
        }
        if !self.recipient.is_empty() {
            let column = match t.template_type {
                NotificationType::Sms => "phone number",
                NotificationType::Email => "email address",
                NotificationType::Letter => {
                    address_personalisation(&self.recipient, &mut map);
                    return map;
                }
            };
            map.insert(column.into(), Value::String(self.recipient.clone()));
        }
        map
    }
}

fn step_action(s: &InService, t: &Template, step: usize) -> String {
    format!("/services/{}/send/{}/one-off/step-{step}", s.id(), t.id)
}

fn check_action(s: &InService, t: &Template) -> String {
    format!("/services/{}/template/{}/notification/check", s.id(), t.id)
}

/// The page asking for answer `step` (0: the recipient), `value` typed so far.
fn step_page(
    s: &InService,
    t: &Template,
    answers: &Answers,
    step: usize,
    value: &str,
    errors: FormErrors,
) -> Response {
    let names = placeholders_to_ask(t);
    let (title, label, input_type, autocomplete) = if step == 0 {
        let (label, kind, auto) = match t.template_type {
            NotificationType::Sms => ("Phone number", "tel", "tel"),
            NotificationType::Email => ("Email address", "email", "email"),
            NotificationType::Letter => ("Address", "textarea", "street-address"),
        };
        (format!("Send ‘{}’", t.name), label.to_string(), kind, auto)
    } else {
        (
            "Personalise this message".to_string(),
            names.get(step - 1).cloned().unwrap_or_default(),
            "text",
            "off",
        )
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut layout = service_layout(&title, s, Section::Templates, !errors.is_empty());
    layout.back_link = Some(if step == 0 {
        format!("/services/{}/templates/{}", s.id(), t.id)
    } else {
        step_action(s, t, 0)
    });
    let hint = if step > 0 {
        format!("Step {} of {}", step, names.len())
    } else if t.template_type == NotificationType::Letter {
        "The address must be at least 3 lines long. The last line must be a real UK postcode or the name of a country outside the UK.".to_string()
    } else {
        String::new()
    };
    let to = if step > 0 && t.template_type != NotificationType::Letter {
        answers.recipient.as_str()
    } else {
        ""
    };
    html(
        status,
        &web::send::SendStepPage {
            layout,
            action: step_action(s, t, step),
            label,
            hint,
            value: value.to_string(),
            input_type: input_type.to_string(),
            autocomplete: autocomplete.to_string(),
            carried: if step == 0 {
                Vec::new()
            } else {
                answers.carried()
            },
            preview: preview(&s.service, t, &answers.personalisation(t, &names), to),
            errors,
        },
    )
}

fn check_page(s: &InService, t: &Template, answers: &Answers, error: Option<String>) -> Response {
    let names = placeholders_to_ask(t);
    let mut layout = service_layout(
        &format!("Preview of ‘{}’", t.name),
        s,
        Section::Templates,
        error.is_some(),
    );
    layout.back_link = Some(step_action(s, t, 0));
    let button = match t.template_type {
        NotificationType::Sms => "Send 1 text message",
        NotificationType::Email => "Send 1 email",
        NotificationType::Letter => "Send 1 letter",
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        &web::send::SendCheckPage {
            layout,
            action: check_action(s, t),
            carried: answers.carried(),
            preview: preview(
                &s.service,
                t,
                &answers.personalisation(t, &names),
                &answers.recipient,
            ),
            button: button.to_string(),
            error,
        },
    )
}

async fn get_one_off(service_id: String, template_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match sendable(&v, &s, &template_id) {
        Ok(t) => redirect(&step_action(&s, &t, 0)),
        Err(r) => *r,
    }
}

/// `step-{n}`: the step's number.
fn parse_step(text: &str) -> Option<usize> {
    text.strip_prefix("step-")?.parse().ok()
}

async fn get_step(service_id: String, template_id: String, step: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match sendable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match parse_step(&step) {
        Some(0) => step_page(&s, &t, &Answers::default(), 0, "", FormErrors::default()),
        // The answers travel in the forms: without them, start again.
        Some(_) => redirect(&step_action(&s, &t, 0)),
        None => PageError::NotFound.into_response(),
    }
}

async fn post_step(
    service_id: String,
    template_id: String,
    step: String,
    v: Visit,
    body: Bytes,
) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match sendable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let names = placeholders_to_ask(&t);
    let Some(step) = parse_step(&step).filter(|n| *n <= names.len()) else {
        return PageError::NotFound.into_response();
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let mut answers = Answers::from_form(&form, step.saturating_sub(1));
    let mut errors = FormErrors::default();
    if step == 0 {
        let given = form.get("placeholder_value");
        if given.is_empty() {
            errors.add("placeholder_value", "Cannot be empty");
        } else if t.template_type == NotificationType::Letter {
            let mut address = Map::new();
            address_personalisation(&given, &mut address);
            if let Err(e) = sending::letter_address(&s.service, &address) {
                errors.add("placeholder_value", e.to_string());
            }
        } else if let Err(e) = sending::parse_recipient(t.template_type, &given) {
            errors.add(
                "placeholder_value",
                e.refusal()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string()),
            );
        }
        if !errors.is_empty() {
            return step_page(&s, &t, &answers, 0, &given, errors);
        }
        answers.recipient = given;
    } else {
        let given = form.raw("placeholder_value");
        if given.trim().is_empty() {
            errors.add("placeholder_value", "Cannot be empty");
            return step_page(&s, &t, &answers, step, &given, errors);
        }
        answers.values.push(given);
    }
    if step < names.len() {
        step_page(&s, &t, &answers, step + 1, "", FormErrors::default())
    } else {
        check_page(&s, &t, &answers, None)
    }
}

async fn post_check(
    service_id: String,
    template_id: String,
    v: Visit,
    host: Option<String>,
    body: Bytes,
) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match sendable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let names = placeholders_to_ask(&t);
    let answers = Answers::from_form(&form, names.len());
    let one_off = OneOff {
        template_id: t.id,
        to: answers.recipient.clone(),
        personalisation: answers.personalisation(&t, &names),
        sender_id: None,
        created_by: None,
    };
    let root = crate::api::root_url(&v.app, host.as_deref(), v.info.client.scheme);
    match sending::send_one_off(&v.app, &s.actor, s.id(), one_off, &root).await {
        Ok(accepted) => redirect(&format!(
            "/services/{}/notification/{}",
            s.id(),
            accepted.notification.id
        )),
        // Refused for what the person can fix or should know (trial mode, today's limit, a
        // bad recipient): said on the check page, nothing sent.
        Err(e)
            if e.refusal().is_some() && !matches!(e.code(), Code::Forbidden | Code::NotFound) =>
        {
            let message = e.refusal().unwrap_or_default().to_string();
            check_page(&s, &t, &answers, Some(message))
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The one-off send's routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let start = warp::path!("services" / String / "send" / String / "one-off")
        .and(warp::get())
        .and(v.clone())
        .then(get_one_off);
    let step_get = warp::path!("services" / String / "send" / String / "one-off" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_step);
    let step_post = warp::path!("services" / String / "send" / String / "one-off" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_step);
    let check = warp::path!("services" / String / "template" / String / "notification" / "check")
        .and(warp::post())
        .and(v)
        .and(warp::header::optional::<String>("host"))
        .and(body())
        .then(post_check);
    start
        .or(step_get)
        .unify()
        .or(step_post)
        .unify()
        .or(check)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(kind: NotificationType, content: &str) -> Template {
        Template {
            id: Uuid::new_v4(),
            service_id: Uuid::new_v4(),
            name: "Reminder".into(),
            template_type: kind,
            subject: (kind == NotificationType::Email).then(|| "About ((thing))".to_string()),
            content: content.into(),
            version: 1,
            archived: false,
            hidden: false,
            postage: None,
            letter_contact_id: None,
            created_at: 0,
            updated_at: None,
            created_by: None,
        }
    }

    #[test]
    fn placeholders_are_asked_in_order_without_the_recipient() {
        let t = template(
            NotificationType::Email,
            "Dear ((name)), sent to ((email address)) about ((thing)).",
        );
        assert_eq!(placeholders_to_ask(&t), ["thing", "name"]);
        let sms = template(NotificationType::Sms, "Hi ((Phone Number)) ((code))");
        assert_eq!(placeholders_to_ask(&sms), ["code"]);
        let letter = template(
            NotificationType::Letter,
            "To ((address line 1)) at ((postcode)): your ((permit)) is ready",
        );
        assert_eq!(placeholders_to_ask(&letter), ["permit"]);
    }

    #[test]
    fn a_typed_address_becomes_the_address_lines() {
        let letter = template(NotificationType::Letter, "Hello");
        let answers = Answers {
            recipient: "A Person\n 1 The Street \n\nLondon\nSW1A 1AA".into(),
            values: Vec::new(),
        };
        let p = answers.personalisation(&letter, &[]);
        assert_eq!(p["address_line_1"], "A Person");
        assert_eq!(p["address_line_2"], "1 The Street");
        assert_eq!(p["address_line_4"], "SW1A 1AA");
        assert!(!p.contains_key("address_line_5"));
        let long = Answers {
            recipient: (1..=9)
                .map(|i| format!("Line {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            values: Vec::new(),
        };
        let p = long.personalisation(&letter, &[]);
        assert_eq!(p["address_line_7"], "Line 7\nLine 8\nLine 9");
    }

    #[test]
    fn answers_become_personalisation_and_hidden_fields() {
        // The subject's placeholder comes first: ["thing", "name"].
        let t = template(NotificationType::Email, "Dear ((name))");
        let names = placeholders_to_ask(&t);
        let form = Form::parse(b"recipient=ann%40example.com&pv0=permit&pv1=Ann&pv2=ignored");
        let answers = Answers::from_form(&form, names.len());
        assert_eq!(answers.values, ["permit", "Ann"]);
        let p = answers.personalisation(&t, &names);
        assert_eq!(p["thing"], "permit");
        assert_eq!(p["name"], "Ann");
        assert_eq!(p["email address"], "ann@example.com");
        let carried = answers.carried();
        assert_eq!(carried[0].name, "recipient");
        assert_eq!(carried[1].name, "pv0");
        assert_eq!(parse_step("step-2"), Some(2));
        assert_eq!(parse_step("step-x"), None);
    }
}
