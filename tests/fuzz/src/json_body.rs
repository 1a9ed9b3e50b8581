//! v2 send bodies (`POST /v2/notifications/{sms,email,letter}`): the body parse, the schema
//! checks in the handlers' order, the recipient checks, and rendering against a template with
//! placeholders (values from the body's `personalisation`), as far as a handler goes before it
//! touches the store.
//!
//! Input: one byte naming the route (`s`ms, `e`mail, `l`etter; any other byte tries all
//! three), then the body.

use notify::api::notifications::{EMAIL_KEYS, LETTER_KEYS, PRECOMPILED_KEYS, SMS_KEYS};
use notify::api::schema::Checker;
use notify::api::{parse_json_object, render};
use notify::domain::content;
use notify::domain::recipients;
use notify::domain::sending;
use notify::error::AppError;
use serde_json::{Map, Value, json};
use storage::records::{NotificationType, Template};

pub fn run(data: &[u8]) {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    // `false`: a send refuses an empty body, as the handlers do.
    let body = match parse_json_object(body, false) {
        Ok(body) => body,
        Err(e) => return answer(&e),
    };
    let outcome = match route {
        b's' => sms(&body),
        b'e' => email(&body),
        b'l' => letter(&body),
        _ => sms(&body).and(email(&body)).and(letter(&body)),
    };
    if let Err(e) = outcome {
        answer(&e);
    }
}

/// The error as the client would get it (the v2 envelope).
fn answer(e: &AppError) {
    let _ = e.into_v2_response();
}

pub fn template(kind: NotificationType) -> Template {
    let (subject, content) = match kind {
        NotificationType::Sms => (None, "Hello ((name)), ((colour??your colour is set))"),
        NotificationType::Email => (
            Some("Hi ((name)) about ((thing))"),
            "# Dear ((name))\n\n((items))\n\n^ ((note??A note))\n\n[link](https://example.org/((name)))",
        ),
        NotificationType::Letter => (Some("About ((name))"), "Body ((name))\n\n* ((items))"),
    };
    Template {
        id: uuid::Uuid::nil(),
        service_id: uuid::Uuid::nil(),
        name: "fuzz".into(),
        template_type: kind,
        subject: subject.map(str::to_string),
        content: content.into(),
        version: 1,
        archived: false,
        hidden: false,
        postage: (kind == NotificationType::Letter).then(|| "second".into()),
        letter_contact_id: None,
        created_at: 0,
        updated_at: None,
        created_by: None,
    }
}

fn sms(body: &Map<String, Value>) -> Result<(), AppError> {
    let mut c = Checker::new(body);
    let phone = match c
        .string("phone_number")
        .map(recipients::validate_phone_number)
    {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            c.error("phone_number", &e.to_string());
            None
        }
        None => None,
    };
    c.uuid("template_id");
    let personalisation = c.object("personalisation").cloned().unwrap_or_default();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    c.optional_uuid("sms_sender_id");
    render::check_scheduled_for(&mut c, crate::now());
    c.required(&["phone_number", "template_id"]);
    c.no_additional(SMS_KEYS);
    c.finish()?;
    let phone = phone.expect("checked");
    let rendered = content::sms(
        &template(NotificationType::Sms),
        &personalisation,
        Some("Fuzz service"),
    )?;
    recipients::check_phone_permissions(&phone, &[]).map_err(content::phone_permission_error)?;
    content::check_sms_length(&rendered.body)?;
    let raw = body
        .get("phone_number")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let _ = recipients::clean_recipient(raw);
    let _ = recipients::is_simulated_phone(&phone.normalised);
    Ok(())
}

fn email(body: &Map<String, Value>) -> Result<(), AppError> {
    let mut c = Checker::new(body);
    let email = match c
        .string("email_address")
        .map(recipients::validate_email_address)
    {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            c.error("email_address", &e.to_string());
            None
        }
        None => None,
    };
    c.uuid("template_id");
    let mut personalisation = c.object("personalisation").cloned().unwrap_or_default();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    c.optional_uuid("email_reply_to_id");
    match c.get("one_click_unsubscribe_url") {
        None | Some(Value::Null) => {}
        Some(Value::String(u)) if render::is_https_url(u) => {}
        Some(_) => c.error("one_click_unsubscribe_url", "is not a valid https url"),
    }
    let sanitise_for = render::check_sanitise_content_for(&mut c);
    render::check_scheduled_for(&mut c, crate::now());
    render::check_file_uploads(&mut c, &personalisation);
    c.required(&["email_address", "template_id"]);
    c.no_additional(EMAIL_KEYS);
    c.finish()?;
    let email = email.expect("checked");
    let _ = content::sanitise_personalisation(&mut personalisation, &sanitise_for);
    let template = template(NotificationType::Email);
    if content::has_file_upload(&personalisation) {
        // The handler checks the message with each upload stood in for by its link's text.
        let probe: Map<String, Value> = personalisation
            .iter()
            .map(|(k, v)| match v.as_object() {
                Some(o) if o.contains_key("file") => (k.clone(), json!("file-link")),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        content::email(&template, &probe)?;
        for upload in personalisation.values().filter_map(Value::as_object) {
            if let Some(Value::String(file)) = upload.get("file") {
                let _ = content::decode_lenient_base64(file);
            }
        }
    }
    let rendered = content::email(&template, &personalisation)?;
    let normalised = recipients::normalise_email(&email);
    let _ = recipients::is_simulated_email(&normalised);
    content::check_email_length(&rendered.body)?;
    // What the delivery worker makes of it: the HTML and plain-text parts.
    let _ = content::email_html(&template, &personalisation);
    let values = notify::templates::Personalisation::new(&personalisation);
    let _ = notify::templates::email_plain_text(
        &template.content,
        &values,
        Some("https://example.org/unsubscribe"),
    );
    Ok(())
}

fn letter(body: &Map<String, Value>) -> Result<(), AppError> {
    if body.contains_key("content") {
        return precompiled(body);
    }
    let mut c = Checker::new(body);
    c.uuid("template_id");
    let personalisation = c.object("personalisation").cloned();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    c.required(&["template_id", "personalisation"]);
    c.no_additional(LETTER_KEYS);
    c.finish()?;
    let personalisation = personalisation.expect("checked");
    let template = template(NotificationType::Letter);
    content::letter(
        &template,
        &personalisation,
        Some("The Fuzz Office\n((name))'s desk"),
    )?;
    // `sending::letter_address` with a service that may send abroad: the checks it makes.
    let address =
        recipients::validate_postal_address(&content::address_lines(&personalisation), true)
            .map_err(|e| AppError::Validation(vec![e.to_string()]))?;
    let _ = sending::letter_postage(&address, &template);
    Ok(())
}

fn precompiled(body: &Map<String, Value>) -> Result<(), AppError> {
    let mut c = Checker::new(body);
    c.string("reference");
    let content = c.string("content");
    match c.get("postage") {
        None => {}
        Some(Value::String(p)) if ["first", "second", "economy"].contains(&p.as_str()) => {}
        Some(_) => c.error(
            "postage",
            "invalid. It must be either first, second or economy.",
        ),
    }
    c.required(&["reference", "content"]);
    c.no_additional(PRECOMPILED_KEYS);
    c.finish()?;
    let _ = content::decode_lenient_base64(content.expect("checked"));
    Ok(())
}
