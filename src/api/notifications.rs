//! `/v2/notifications`: send (§5.1–§5.4), get one (§5.5), list (§5.6), letter PDF (§5.7).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType, Template};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::schema::{Checker, parse_uuid};
use super::{V2, authed, body, parse_json_object, query_pairs, raw_query, render};
use crate::app::App;
use crate::config::SendingConfig;
use crate::domain::recipients;
use crate::error::{AppError, json_response, v2_reject};

/// Page size of the list endpoint.
pub const PAGE_SIZE: usize = 250;
/// Queue names the delivery workers claim from.
pub const QUEUE_DELIVER_EMAIL: &str = "deliver-email";
pub const QUEUE_DELIVER_SMS: &str = "deliver-sms";
/// Bulk sends' messages wait on queues of their own, so a 100,000-row job never stands between
/// an API send and its provider.
pub const QUEUE_DELIVER_EMAIL_JOBS: &str = "deliver-email-jobs";
pub const QUEUE_DELIVER_SMS_JOBS: &str = "deliver-sms-jobs";
pub const QUEUE_LETTER_PDF: &str = "letter-create-pdf";
pub const QUEUE_LETTER_SCAN: &str = "letter-scan";

/// The fields each send body may have (the schema's `additionalProperties: false`).
pub const SMS_KEYS: &[&str] = &[
    "phone_number",
    "template_id",
    "personalisation",
    "reference",
    "sms_sender_id",
    "scheduled_for",
];
pub const EMAIL_KEYS: &[&str] = &[
    "email_address",
    "template_id",
    "personalisation",
    "reference",
    "email_reply_to_id",
    "one_click_unsubscribe_url",
    "sanitise_content_for",
    "scheduled_for",
];
pub const LETTER_KEYS: &[&str] = &["template_id", "personalisation", "reference"];
pub const PRECOMPILED_KEYS: &[&str] = &["reference", "content", "postage"];

fn type_name_plural(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Sms => "text messages",
        NotificationType::Email => "emails",
        NotificationType::Letter => "letters",
    }
}

/// The public status of §7.2: letters show `accepted` / `received`.
pub fn public_status(n: &Notification) -> &'static str {
    use NotificationStatus::*;
    match (n.notification_type, n.status) {
        (NotificationType::Letter, Created | Sending) => "accepted",
        (NotificationType::Letter, Delivered | ReturnedLetter) => "received",
        (_, s) => s.as_str(),
    }
}

fn ts(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| Value::String(format_api_timestamp(m)))
}

/// Look a personalisation value up case-insensitively (letters' address lines).
fn personalisation_value(p: &Map<String, Value>, key: &str) -> Value {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| match v {
            Value::Null => Value::Null,
            Value::String(_) => v.clone(),
            other => Value::String(other.to_string()),
        })
        .unwrap_or(Value::Null)
}

/// The notification object of §6.
pub fn notification_json(n: &Notification, root: &str, prices: &SendingConfig) -> Value {
    let sms_rate = prices.sms_rate;
    let p: Map<String, Value> = serde_json::from_str(&n.personalisation).unwrap_or_default();
    let is_letter = n.notification_type == NotificationType::Letter;
    let line = |i: usize| {
        if is_letter {
            personalisation_value(&p, &format!("address_line_{i}"))
        } else {
            Value::Null
        }
    };
    let (ready, cost, details) = match n.notification_type {
        NotificationType::Email => (true, json!(0.0), json!({})),
        NotificationType::Sms => {
            if n.status == NotificationStatus::Created && n.billable_units == 0 {
                (false, Value::Null, json!({}))
            } else {
                let multiplier = recipients::validate_phone_number(&n.to)
                    .map(|p| p.rate_multiplier)
                    .unwrap_or(1) as f64;
                (
                    true,
                    json!(n.billable_units as f64 * multiplier * sms_rate),
                    json!({
                        "billable_sms_fragments": n.billable_units,
                        "international_rate_multiplier": multiplier,
                        "sms_rate": sms_rate,
                    }),
                )
            }
        }
        NotificationType::Letter => {
            let postage = n.postage.clone().unwrap_or_else(|| "second".into());
            use NotificationStatus::*;
            match n.status {
                PendingVirusCheck => (false, Value::Null, json!({})),
                Created if n.billable_units == 0 => (false, Value::Null, json!({})),
                Cancelled | TechnicalFailure | ValidationFailed | VirusScanFailed => (
                    true,
                    json!(0.0),
                    json!({"billable_sheets_of_paper": 0, "postage": postage}),
                ),
                _ => (
                    true,
                    json!(prices.letter_rates.letter_cost(n.billable_units, &postage)),
                    json!({"billable_sheets_of_paper": n.billable_units, "postage": postage}),
                ),
            }
        }
    };
    let mut obj = json!({
        "id": n.id,
        "reference": n.client_reference,
        "email_address": if n.notification_type == NotificationType::Email { Value::String(n.to.clone()) } else { Value::Null },
        "phone_number": if n.notification_type == NotificationType::Sms { Value::String(n.to.clone()) } else { Value::Null },
        "line_1": line(1),
        "line_2": line(2),
        "line_3": line(3),
        "line_4": line(4),
        "line_5": line(5),
        "line_6": line(6),
        "postcode": if is_letter { personalisation_value(&p, "postcode") } else { Value::Null },
        "type": n.notification_type.as_str(),
        "status": public_status(n),
        "template": {
            "id": n.template_id,
            "version": n.template_version,
            "uri": format!("{root}v2/template/{}/version/{}", n.template_id, n.template_version),
        },
        "body": n.body,
        "subject": n.subject,
        "created_at": format_api_timestamp(n.created_at),
        "created_by_name": n.created_by_name,
        "sent_at": ts(n.sent_at),
        "completed_at": if crate::domain::status::is_completed(n.status) { ts(n.updated_at.or(n.sent_at).or(Some(n.created_at))) } else { Value::Null },
        "scheduled_for": Value::Null,
        "postage": if is_letter { json!(n.postage) } else { Value::Null },
        "one_click_unsubscribe_url": n.one_click_unsubscribe_url,
        "is_cost_data_ready": ready,
        "cost_in_pounds": cost,
        "cost_details": details,
    });
    if is_letter {
        obj["estimated_delivery"] = json!(format_api_timestamp(
            crate::domain::letters::estimated_delivery(
                n.created_at,
                n.postage.as_deref().unwrap_or("second")
            )
        ));
    }
    obj
}

fn template_ref(template: &Template, root: &str, service_id: Uuid) -> Value {
    json!({
        "id": template.id,
        "version": template.version,
        "uri": format!("{root}services/{service_id}/templates/{}", template.id),
    })
}

/// Checks shared by every send: permission, then the template (§4 steps 5 and 7).
fn check_permission(v2: &V2, t: NotificationType) -> Result<(), AppError> {
    if !v2
        .caller
        .service()
        .permissions
        .iter()
        .any(|p| p == t.as_str())
    {
        return Err(AppError::BadRequest(format!(
            "Service is not allowed to send {}",
            type_name_plural(t)
        )));
    }
    Ok(())
}

fn load_template(v2: &V2, id: Uuid, t: NotificationType) -> Result<Template, AppError> {
    let template = v2
        .app
        .store
        .read()?
        .get_template(id)?
        .filter(|tpl| tpl.service_id == v2.caller.service().id && !tpl.hidden)
        .ok_or_else(|| AppError::BadRequest("Template not found".into()))?;
    if template.template_type != t {
        return Err(AppError::BadRequest(format!(
            "{} template is not suitable for {} notification",
            template.template_type, t
        )));
    }
    if template.archived {
        return Err(AppError::BadRequest("Template has been deleted".into()));
    }
    Ok(template)
}

/// Team key or trial mode: only team members and the guest list (§3).
fn check_recipient_allowed(v2: &V2, normalised: &str) -> Result<(), AppError> {
    let key_type = v2.caller.key().key_type;
    let service = v2.caller.service();
    let restricted = match key_type {
        KeyType::Test => return Ok(()),
        KeyType::Team => true,
        KeyType::Normal => service.restricted,
    };
    if !restricted {
        return Ok(());
    }
    if service.guest_list.iter().any(|g| g == normalised) {
        return Ok(());
    }
    for user in v2.app.store.read()?.service_users(service.id)? {
        if recipients::normalise_email(&user.email_address) == normalised {
            return Ok(());
        }
        if let Some(mobile) = &user.mobile_number
            && recipients::validate_phone_number(mobile).is_ok_and(|p| p.normalised == normalised)
        {
            return Ok(());
        }
    }
    Err(AppError::BadRequest(match key_type {
        KeyType::Team => "Can’t send to this recipient using a team-only API key".into(),
        _ => "Can’t send to this recipient when service is in trial mode – see https://www.notifications.service.gov.uk/trial-mode".into(),
    }))
}

fn check_limits(v2: &V2, t: NotificationType) -> Result<(), AppError> {
    v2.app
        .limits
        .check_rate(v2.caller.service(), v2.caller.key().key_type)?;
    v2.app.limits.check_daily(
        &v2.app.store,
        v2.caller.service(),
        v2.caller.key().key_type,
        t,
    )?;
    Ok(())
}

/// Store a notification and the queue row that will process it, in one durable commit.
async fn store_and_queue(app: &App, n: Notification, queue: &'static str) -> Result<(), AppError> {
    let count_daily = n.key_type != KeyType::Test;
    let service_id = n.service_id;
    let t = n.notification_type;
    let international = n.international && t == NotificationType::Sms;
    let encoded = storage::codec::encode(&n);
    app.store
        .write(move |ctx| crate::domain::sending::insert_and_queue(ctx, &n, &encoded, queue))
        .await?;
    if count_daily {
        app.limits.record_sent(service_id, t, international);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn new_notification(
    v2: &V2,
    t: NotificationType,
    template: &Template,
    to: String,
    normalised_to: String,
    personalisation: &Map<String, Value>,
    reference: Option<String>,
    body: String,
    subject: Option<String>,
    status: NotificationStatus,
) -> Notification {
    let now = v2.app.store.clock().now_micros();
    Notification {
        id: v2.app.store.clock().new_id(),
        service_id: v2.caller.service().id,
        notification_type: t,
        template_id: template.id,
        template_version: template.version,
        api_key_id: Some(v2.caller.key().id),
        key_type: v2.caller.key().key_type,
        status,
        to,
        normalised_to,
        personalisation: Value::Object(personalisation.clone()).to_string(),
        body,
        subject,
        client_reference: reference,
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: None,
        international: false,
        billable_units: 0,
        sent_by: None,
        created_at: now,
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

async fn post_sms(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    check_limits(&v2, NotificationType::Sms)?;
    let body = parse_json_object(&raw, false)?;
    let mut c = Checker::new(&body);
    let phone = c.string("phone_number");
    let phone = match phone.map(recipients::validate_phone_number) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            c.error("phone_number", &e.to_string());
            None
        }
        None => None,
    };
    let template_id = c.uuid("template_id");
    let personalisation = c.object("personalisation").cloned().unwrap_or_default();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    let sender_id = c.optional_uuid("sms_sender_id");
    render::check_scheduled_for(&mut c, v2.app.store.clock().now());
    c.required(&["phone_number", "template_id"]);
    c.no_additional(SMS_KEYS);
    c.finish()?;
    let (phone, template_id) = (phone.expect("checked"), template_id.expect("checked"));

    check_permission(&v2, NotificationType::Sms)?;
    let template = load_template(&v2, template_id, NotificationType::Sms)?;
    let service = v2.caller.service();
    let rendered = render::sms(
        &template,
        &personalisation,
        service.prefix_sms.then_some(service.name.as_str()),
    )?;
    let from_number = crate::domain::sending::sms_sender(service, sender_id, || {
        v2.app.config.default_sms_sender()
    })
    .map_err(|unknown| {
        AppError::BadRequest(format!(
            "sms_sender_id {} does not exist in database for service id {}",
            unknown.0, service.id
        ))
    })?;
    check_recipient_allowed(&v2, &phone.normalised)?;
    recipients::check_phone_permissions(&phone, &service.permissions)
        .map_err(render::phone_permission_error)?;
    render::check_sms_length(&rendered.body)?;

    let raw_phone = recipients::clean_recipient(phone_input(&body));
    let mut n = new_notification(
        &v2,
        NotificationType::Sms,
        &template,
        raw_phone,
        phone.normalised.clone(),
        &personalisation,
        reference.map(str::to_string),
        rendered.body.clone(),
        None,
        NotificationStatus::Created,
    );
    n.international = phone.international;
    n.billable_units = rendered.fragments;
    n.reply_to_text = Some(from_number.clone());
    let id = n.id;
    if !recipients::is_simulated_phone(&phone.normalised) {
        store_and_queue(&v2.app, n, QUEUE_DELIVER_SMS).await?;
    }
    let from = recipients::validate_phone_number(&from_number)
        .map(|p| p.normalised)
        .unwrap_or(from_number);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": id,
            "reference": reference,
            "content": {"body": rendered.body, "from_number": from},
            "uri": format!("{}v2/notifications/{id}", v2.root),
            "template": template_ref(&template, &v2.root, v2.caller.service().id),
            "scheduled_for": Value::Null,
        }),
    ))
}

fn phone_input(body: &Map<String, Value>) -> &str {
    body.get("phone_number")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

async fn post_email(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    check_limits(&v2, NotificationType::Email)?;
    let body = parse_json_object(&raw, false)?;
    let mut c = Checker::new(&body);
    let email = c.string("email_address");
    let email = match email.map(recipients::validate_email_address) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            c.error("email_address", &e.to_string());
            None
        }
        None => None,
    };
    let template_id = c.uuid("template_id");
    let mut personalisation = c.object("personalisation").cloned().unwrap_or_default();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    let reply_to_id = c.optional_uuid("email_reply_to_id");
    let unsubscribe = match c.get("one_click_unsubscribe_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if render::is_https_url(u) => Some(u.clone()),
        Some(_) => {
            c.error("one_click_unsubscribe_url", "is not a valid https url");
            None
        }
    };
    let sanitise_for = render::check_sanitise_content_for(&mut c);
    render::check_scheduled_for(&mut c, v2.app.store.clock().now());
    render::check_file_uploads(&mut c, &personalisation);
    c.required(&["email_address", "template_id"]);
    c.no_additional(EMAIL_KEYS);
    c.finish()?;
    let (email, template_id) = (email.expect("checked"), template_id.expect("checked"));

    check_permission(&v2, NotificationType::Email)?;
    let sanitised = render::sanitise_personalisation(&mut personalisation, &sanitise_for);
    let template = load_template(&v2, template_id, NotificationType::Email)?;
    if render::has_file_upload(&personalisation) {
        let service = v2.caller.service();
        if service.contact_link.is_none() {
            return Err(AppError::BadRequest(format!(
                "Send files by email has not been set up - add contact details for your service at {}services/{}/service-settings/send-files-by-email",
                v2.root, service.id
            )));
        }
        // Upstream uploads only after the message and the recipient have passed their checks;
        // check those first (uploads stood in for by their future link text) so a refused
        // request stores no file.
        let probe: Map<String, Value> = personalisation
            .iter()
            .map(|(k, v)| match v.as_object() {
                Some(o) if o.contains_key("file") => (k.clone(), json!("file-link")),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        render::email(&template, &probe)?;
        let recipient = recipients::normalise_email(&email);
        check_recipient_allowed(&v2, &recipient)?;
        crate::domain::documents::attach_documents(
            &v2.app,
            service,
            &v2.root,
            &mut personalisation,
            &recipient,
            recipients::is_simulated_email(&recipient),
        )
        .await
        .map_err(|e| match e {
            crate::domain::documents::DocumentError::Rejected(m) => AppError::BadRequest(m),
            other => {
                tracing::error!(error = %other, "could not store a file sent by email");
                AppError::Domain(crate::domain::DomainError::Store(storage::StoreError::Io(
                    std::sync::Arc::new(std::io::Error::other(other.to_string())),
                )))
            }
        })?;
    }
    let rendered = render::email(&template, &personalisation)?;
    let service = v2.caller.service();
    let reply_to =
        crate::domain::sending::email_reply_to(service, reply_to_id).map_err(|unknown| {
            AppError::BadRequest(format!(
                "email_reply_to_id {} does not exist in database for service id {}",
                unknown.0, service.id
            ))
        })?;
    let normalised = recipients::normalise_email(&email);
    check_recipient_allowed(&v2, &normalised)?;
    render::check_email_length(&rendered.body)?;

    let mut n = new_notification(
        &v2,
        NotificationType::Email,
        &template,
        email,
        normalised.clone(),
        &personalisation,
        reference.map(str::to_string),
        rendered.body.clone(),
        Some(rendered.subject.clone()),
        NotificationStatus::Created,
    );
    n.reply_to_text = reply_to;
    n.one_click_unsubscribe_url = unsubscribe.clone();
    let id = n.id;
    if !recipients::is_simulated_email(&normalised) {
        store_and_queue(&v2.app, n, QUEUE_DELIVER_EMAIL).await?;
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": id,
            "reference": reference,
            "content": {
                "from_email": format!("{}@{}", service.email_sender_local_part, v2.app.config.email_domain()),
                "body": rendered.body,
                "subject": rendered.subject,
                "one_click_unsubscribe_url": unsubscribe,
            },
            "uri": format!("{}v2/notifications/{id}", v2.root),
            "template": template_ref(&template, &v2.root, service.id),
            "scheduled_for": Value::Null,
            "sanitised_content": sanitised,
        }),
    ))
}

fn letter_checks(v2: &V2) -> Result<(), AppError> {
    check_permission(v2, NotificationType::Letter)?;
    match v2.caller.key().key_type {
        KeyType::Team => Err(AppError::Forbidden(
            "Cannot send letters with a team api key".into(),
        )),
        KeyType::Normal if v2.caller.service().restricted => Err(AppError::Forbidden(
            "Cannot send letters when service is in trial mode".into(),
        )),
        _ => Ok(()),
    }
}

async fn post_letter(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    check_limits(&v2, NotificationType::Letter)?;
    let body = parse_json_object(&raw, false)?;
    if body.contains_key("content") {
        return post_precompiled_letter(v2, body).await;
    }
    // Upstream charges templated letters against the limits a second time.
    check_limits(&v2, NotificationType::Letter)?;
    let mut c = Checker::new(&body);
    let template_id = c.uuid("template_id");
    let personalisation = c.object("personalisation").cloned();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    c.required(&["template_id", "personalisation"]);
    c.no_additional(LETTER_KEYS);
    c.finish()?;
    let (template_id, personalisation) = (
        template_id.expect("checked"),
        personalisation.expect("checked"),
    );

    check_permission(&v2, NotificationType::Letter)?;
    let template = load_template(&v2, template_id, NotificationType::Letter)?;
    let contact_block =
        crate::domain::sending::letter_contact_block(v2.caller.service(), &template);
    let rendered = render::letter(&template, &personalisation, contact_block.as_deref())?;
    letter_checks(&v2)?;
    let address = crate::domain::sending::letter_address(v2.caller.service(), &personalisation)
        .map_err(|e| AppError::Validation(vec![e.to_string()]))?;
    let test_key = v2.caller.key().key_type == KeyType::Test;
    let mut n = new_notification(
        &v2,
        NotificationType::Letter,
        &template,
        address.lines.first().cloned().unwrap_or_default(),
        address.lines.join("\n").to_lowercase(),
        &personalisation,
        reference.map(str::to_string),
        rendered.body.clone(),
        Some(rendered.subject.clone()),
        if test_key {
            NotificationStatus::Sending
        } else {
            NotificationStatus::Created
        },
    );
    n.international = address.international;
    // The contact block printed on the letter, as it was when the letter was sent.
    n.reply_to_text = contact_block;
    n.postage = Some(crate::domain::sending::letter_postage(&address, &template));
    let id = n.id;
    store_and_queue(&v2.app, n, QUEUE_LETTER_PDF).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": id,
            "reference": reference,
            "content": {"body": rendered.body, "subject": rendered.subject},
            "uri": format!("{}v2/notifications/{id}", v2.root),
            "template": template_ref(&template, &v2.root, v2.caller.service().id),
            "scheduled_for": Value::Null,
        }),
    ))
}

async fn post_precompiled_letter(v2: V2, body: Map<String, Value>) -> Result<Response, AppError> {
    let mut c = Checker::new(&body);
    let reference = c.string("reference");
    let content = c.string("content");
    let postage = match c.get("postage") {
        None => None,
        Some(Value::String(p)) if ["first", "second", "economy"].contains(&p.as_str()) => {
            Some(p.clone())
        }
        Some(_) => {
            c.error(
                "postage",
                "invalid. It must be either first, second or economy.",
            );
            None
        }
    };
    c.required(&["reference", "content"]);
    c.no_additional(PRECOMPILED_KEYS);
    c.finish()?;
    let (reference, content) = (reference.expect("checked"), content.expect("checked"));
    letter_checks(&v2)?;
    let pdf = render::decode_lenient_base64(content).ok_or_else(|| {
        AppError::BadRequest("Cannot decode letter content (invalid base64 encoding)".into())
    })?;
    let template =
        crate::domain::templates::precompiled_template(&v2.app.store, v2.caller.service().id)
            .await?;
    let postage =
        postage.unwrap_or_else(|| template.postage.clone().unwrap_or_else(|| "second".into()));
    let personalisation: Map<String, Value> =
        [("address_line_1".to_string(), json!("Provided as PDF"))]
            .into_iter()
            .collect();
    let mut n = new_notification(
        &v2,
        NotificationType::Letter,
        &template,
        "Provided as PDF".into(),
        "provided as pdf".into(),
        &personalisation,
        Some(reference.to_string()),
        String::new(),
        Some("Pre-compiled PDF".into()),
        NotificationStatus::PendingVirusCheck,
    );
    n.postage = Some(postage.clone());
    let id = n.id;
    // The original goes to the scan area before the notification exists, so a stored
    // notification always has its file; a crash between the two leaves only an orphan file.
    let name = crate::letters::files::scan_name(&n);
    crate::letters::files::LetterFiles::new(v2.app.blobs.clone())
        .put(crate::letters::files::Area::Scan, &name, pdf.into())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not store a precompiled letter");
            AppError::Domain(crate::domain::DomainError::Store(storage::StoreError::Io(
                std::sync::Arc::new(std::io::Error::other(e.to_string())),
            )))
        })?;
    store_and_queue(&v2.app, n, QUEUE_LETTER_SCAN).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"id": id, "reference": reference, "postage": postage}),
    ))
}

fn get_one(v2: &V2, id_text: &str) -> Result<Notification, AppError> {
    let id = parse_uuid(id_text)
        .ok_or_else(|| AppError::Validation(vec!["notification_id is not a valid UUID".into()]))?;
    v2.app
        .store
        .read()?
        .get_notification(id)?
        .filter(|n| n.service_id == v2.caller.service().id)
        .ok_or(AppError::NoResult)
}

const STATUS_VALUES: &str = "cancelled, created, sending, sent, delivered, pending, failed, technical-failure, temporary-failure, permanent-failure, pending-virus-check, validation-failed, virus-scan-failed, returned-letter, accepted, received";

/// §7.3: a status filter value → internal statuses.
fn expand_status(value: &str) -> Option<Vec<NotificationStatus>> {
    use NotificationStatus::*;
    Some(match value {
        "failed" => vec![
            TechnicalFailure,
            TemporaryFailure,
            PermanentFailure,
            ValidationFailed,
            VirusScanFailed,
            ReturnedLetter,
        ],
        "accepted" => vec![Created, Sending],
        "received" => vec![Delivered],
        other => vec![NotificationStatus::parse(other)?],
    })
}

fn list(v2: &V2, raw_query: &str) -> Result<Response, AppError> {
    let pairs = query_pairs(raw_query);
    let mut errors = Vec::new();
    let mut types: Vec<NotificationType> = Vec::new();
    let mut statuses: Vec<NotificationStatus> = Vec::new();
    let mut reference: Option<String> = None;
    let mut older_than: Option<Option<Uuid>> = None;
    let mut include_jobs = false;
    let mut unexpected = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "template_type" => match NotificationType::parse(v) {
                Some(t) => types.push(t),
                None => errors.push(format!(
                    "template_type {v} is not one of [sms, email, letter]"
                )),
            },
            "status" => match expand_status(v) {
                Some(s) => statuses.extend(s),
                None => errors.push(format!("status {v} is not one of [{STATUS_VALUES}]")),
            },
            "reference" => {
                if reference.is_none() {
                    reference = Some(v.clone());
                }
            }
            "older_than" => match parse_uuid(v) {
                Some(id) => older_than = Some(Some(id)),
                None => errors.push("older_than is not a valid UUID".into()),
            },
            "include_jobs" => match v.as_str() {
                "true" | "True" => include_jobs = true,
                other => errors.push(format!("include_jobs {other} is not one of [true, True]")),
            },
            other => {
                if !unexpected.contains(&other.to_string()) {
                    unexpected.push(other.to_string());
                }
            }
        }
    }
    errors.extend(super::schema::additional_properties(&unexpected));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let service_id = v2.caller.service().id;
    let key_type = v2.caller.key().key_type;
    let reader = v2.app.store.read()?;
    let page = match older_than {
        Some(Some(id)) => match reader.get_notification(id)? {
            Some(anchor) if anchor.service_id == service_id => Some(id),
            _ => None,
        },
        _ => Some(Uuid::max()),
    };
    let items = match page {
        None => Vec::new(),
        Some(before) => reader.service_notifications(
            service_id,
            (before != Uuid::max()).then_some(before),
            PAGE_SIZE,
            |n| {
                n.key_type == key_type
                    && (include_jobs || n.job_id.is_none())
                    && (types.is_empty() || types.contains(&n.notification_type))
                    && (statuses.is_empty() || statuses.contains(&n.status))
                    && reference
                        .as_ref()
                        .is_none_or(|r| n.client_reference.as_ref() == Some(r))
            },
        )?,
    };
    let current = if raw_query.is_empty() {
        format!("{}v2/notifications", v2.root)
    } else {
        format!("{}v2/notifications?{}", v2.root, encode_pairs(&pairs))
    };
    let mut links = json!({ "current": current });
    if let Some(last) = items.last() {
        let mut next_pairs: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "older_than")
            .cloned()
            .collect();
        next_pairs.push(("older_than".into(), last.id.to_string()));
        links["next"] = json!(format!(
            "{}v2/notifications?{}",
            v2.root,
            encode_pairs(&next_pairs)
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "notifications": items.iter().map(|n| notification_json(n, &v2.root, &v2.app.config.sending)).collect::<Vec<_>>(),
            "links": links,
        }),
    ))
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn get_pdf(v2: V2, id_text: String) -> Result<Response, AppError> {
    let n = get_one(&v2, &id_text)?;
    if n.notification_type != NotificationType::Letter {
        return Err(AppError::BadRequest("Notification is not a letter".into()));
    }
    match n.status {
        NotificationStatus::VirusScanFailed => {
            return Err(AppError::BadRequest(
                "File did not pass the virus scan".into(),
            ));
        }
        NotificationStatus::TechnicalFailure => {
            return Err(AppError::BadRequest(
                "PDF not available for letters in status technical-failure".into(),
            ));
        }
        NotificationStatus::PendingVirusCheck => return Err(AppError::PdfNotReady),
        _ => {}
    }
    let pdf = crate::domain::letters::read_pdf(&v2.app, &n)
        .await
        .ok_or(AppError::PdfNotReady)?;
    Ok(warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/pdf")
        .body(warp::hyper::body::Bytes::from(pdf).into())
        .expect("static response parts are valid"))
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let auth = authed(app);
    let reply = |r: Result<Response, AppError>| r.map_err(v2_reject);

    let sms = warp::path!("v2" / "notifications" / "sms")
        .and(warp::post())
        .and(auth.clone())
        .and(body())
        .and_then(move |v2: V2, b: Bytes| async move { reply(post_sms(v2, b).await) });
    let email = warp::path!("v2" / "notifications" / "email")
        .and(warp::post())
        .and(auth.clone())
        .and(body())
        .and_then(move |v2: V2, b: Bytes| async move { reply(post_email(v2, b).await) });
    let letter = warp::path!("v2" / "notifications" / "letter")
        .and(warp::post())
        .and(auth.clone())
        .and(body())
        .and_then(move |v2: V2, b: Bytes| async move { reply(post_letter(v2, b).await) });
    let get_one_route = warp::path!("v2" / "notifications" / String)
        .and(warp::get())
        .and(auth.clone())
        .and_then(move |id: String, v2: V2| async move {
            reply(get_one(&v2, &id).map(|n| {
                json_response(
                    StatusCode::OK,
                    &notification_json(&n, &v2.root, &v2.app.config.sending),
                )
            }))
        });
    let pdf = warp::path!("v2" / "notifications" / String / "pdf")
        .and(warp::get())
        .and(auth.clone())
        .and_then(move |id: String, v2: V2| async move { reply(get_pdf(v2, id).await) });
    let list_route = warp::path!("v2" / "notifications")
        .and(warp::get())
        .and(auth)
        .and(raw_query())
        .and_then(move |v2: V2, q: String| async move { reply(list(&v2, &q)) });

    sms.or(email)
        .unify()
        .or(letter)
        .unify()
        .or(pdf)
        .unify()
        .or(get_one_route)
        .unify()
        .or(list_route)
        .unify()
}
