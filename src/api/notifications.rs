//! `/v2/notifications`: send (§5.1–§5.4), get one (§5.5), list (§5.6), letter PDF (§5.7).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{Notification, NotificationStatus, NotificationType, Template};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::schema::{Checker, parse_uuid};
use super::{V2, authed, body, parse_json_object, query_pairs, raw_query, render};
use crate::app::App;
use crate::config::SendingConfig;
use crate::domain::recipients;
use crate::domain::sending::{self, Admitted, Origin, PrecompiledRequest, Recipient, SendRequest};
use crate::error::{AppError, json_response, v2_reject};

/// Page size of the list endpoint.
pub const PAGE_SIZE: usize = 250;

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

/// Charge the caller's service for one message of type `t` (before the body is read, as
/// upstream does).
fn admit(v2: &V2, t: NotificationType) -> Result<Admitted, AppError> {
    Ok(sending::admit(
        &v2.app,
        v2.caller.service(),
        v2.caller.key().key_type,
        t,
    )?)
}

fn origin(v2: &V2) -> Origin {
    Origin::api_key(v2.caller.key())
}

async fn post_sms(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    let admitted = admit(&v2, NotificationType::Sms)?;
    let body = parse_json_object(&raw, false)?;
    let mut c = Checker::new(&body);
    let phone = c.string("phone_number");
    let recipient = match phone.map(|given| (given, recipients::validate_phone_number(given))) {
        Some((given, Ok(phone))) => Some(Recipient::Phone {
            given: given.to_string(),
            phone,
        }),
        Some((_, Err(e))) => {
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
    let request = SendRequest {
        template_id: template_id.expect("checked"),
        recipient: recipient.expect("checked"),
        personalisation,
        reference: reference.map(str::to_string),
        sender_id,
        one_click_unsubscribe_url: None,
        sanitise_content_for: Vec::new(),
        root_url: v2.root.clone(),
    };
    let service = v2.caller.service();
    let accepted = sending::send(&v2.app, admitted, service, &origin(&v2), request).await?;
    let n = &accepted.notification;
    let from_number = n.reply_to_text.clone().unwrap_or_default();
    let from = recipients::validate_phone_number(&from_number)
        .map(|p| p.normalised)
        .unwrap_or(from_number);
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": n.id,
            "reference": n.client_reference,
            "content": {"body": n.body, "from_number": from},
            "uri": format!("{}v2/notifications/{}", v2.root, n.id),
            "template": template_ref(&accepted.template, &v2.root, service.id),
            "scheduled_for": Value::Null,
        }),
    ))
}

async fn post_email(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    let admitted = admit(&v2, NotificationType::Email)?;
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
    let personalisation = c.object("personalisation").cloned().unwrap_or_default();
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
    let request = SendRequest {
        template_id: template_id.expect("checked"),
        recipient: Recipient::Email(email.expect("checked")),
        personalisation,
        reference: reference.map(str::to_string),
        sender_id: reply_to_id,
        one_click_unsubscribe_url: unsubscribe,
        sanitise_content_for: sanitise_for,
        root_url: v2.root.clone(),
    };
    let service = v2.caller.service();
    let accepted = sending::send(&v2.app, admitted, service, &origin(&v2), request).await?;
    let n = &accepted.notification;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": n.id,
            "reference": n.client_reference,
            "content": {
                "from_email": format!("{}@{}", service.email_sender_local_part, v2.app.config.email_domain()),
                "body": n.body,
                "subject": n.subject,
                "one_click_unsubscribe_url": n.one_click_unsubscribe_url,
            },
            "uri": format!("{}v2/notifications/{}", v2.root, n.id),
            "template": template_ref(&accepted.template, &v2.root, service.id),
            "scheduled_for": Value::Null,
            "sanitised_content": accepted.sanitised,
        }),
    ))
}

async fn post_letter(v2: V2, raw: Bytes) -> Result<Response, AppError> {
    let admitted = admit(&v2, NotificationType::Letter)?;
    let body = parse_json_object(&raw, false)?;
    if body.contains_key("content") {
        return post_precompiled_letter(v2, admitted, body).await;
    }
    // Upstream charges templated letters against the limits a second time.
    let admitted = {
        drop(admitted);
        admit(&v2, NotificationType::Letter)?
    };
    let mut c = Checker::new(&body);
    let template_id = c.uuid("template_id");
    let personalisation = c.object("personalisation").cloned();
    let reference = c.string("reference");
    c.max_length("reference", reference, 1000);
    c.required(&["template_id", "personalisation"]);
    c.no_additional(LETTER_KEYS);
    c.finish()?;
    let request = SendRequest {
        template_id: template_id.expect("checked"),
        recipient: Recipient::Letter,
        personalisation: personalisation.expect("checked"),
        reference: reference.map(str::to_string),
        sender_id: None,
        one_click_unsubscribe_url: None,
        sanitise_content_for: Vec::new(),
        root_url: v2.root.clone(),
    };
    let service = v2.caller.service();
    let accepted = sending::send(&v2.app, admitted, service, &origin(&v2), request).await?;
    let n = &accepted.notification;
    let rendered = accepted.letter.as_ref().expect("a letter is rendered");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": n.id,
            "reference": n.client_reference,
            "content": {"body": rendered.body, "subject": rendered.subject},
            "uri": format!("{}v2/notifications/{}", v2.root, n.id),
            "template": template_ref(&accepted.template, &v2.root, service.id),
            "scheduled_for": Value::Null,
        }),
    ))
}

async fn post_precompiled_letter(
    v2: V2,
    admitted: Admitted,
    body: Map<String, Value>,
) -> Result<Response, AppError> {
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
    let request = PrecompiledRequest {
        reference: reference.expect("checked").to_string(),
        content: content.expect("checked").to_string(),
        postage,
    };
    let accepted = sending::send_precompiled(
        &v2.app,
        admitted,
        v2.caller.service(),
        &origin(&v2),
        request,
    )
    .await?;
    let n = &accepted.notification;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"id": n.id, "reference": n.client_reference, "postage": n.postage}),
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
