//! Template content as services write it (the internal API stores it as given) and as every
//! message renders it: `((placeholders))` and `((conditional??text))`, the SMS character set
//! and fragments, Notify's email markdown to HTML and plain text, subjects' typography, and
//! letter markdown laid out into a PDF.
//!
//! Input: one byte for the template's type (`s`, `e`, `l`; any other byte renders every type
//! except the letter PDF), the content, then optionally a NUL byte and the personalisation as
//! JSON.

use notify::letters::render::{Language, LetterContent, render_letter};
use notify::templates::{self, Personalisation, email, sms};
use serde_json::{Map, Value};

/// Letter bodies laid out into a PDF are cut here: layout is linear in the text, and the
/// fuzzer learns nothing more from a longer one.
const MAX_LETTER_PDF_BODY: usize = 4096;

pub fn run(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (content, values) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let content = String::from_utf8_lossy(content);
    let map = match serde_json::from_slice::<Value>(values) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let values = Personalisation::new(&map);
    let _ = templates::placeholder_names(&content);
    let _ = templates::missing(&[&content], &values);
    match kind {
        b's' => text_message(&content, &values),
        b'e' => email_message(&content, &values),
        b'l' => letter(&content, &values, true),
        _ => {
            text_message(&content, &values);
            email_message(&content, &values);
            letter(&content, &values, false);
        }
    }
}

fn text_message(content: &str, values: &Personalisation) {
    let body = sms::render_sms_body(content, values);
    let delivered = sms::render_sms_for_delivery(content, values, Some("Fuzz service"));
    let _ = sms::fragment_count(&delivered);
    let _ = sms::character_count(&body);
    let _ = sms::is_too_long(&body);
    let _ = sms::is_unicode(&body);
    let _ = sms::downgrade_to_sms_charset(&body);
}

fn email_message(content: &str, values: &Personalisation) {
    let subject = content.lines().next().unwrap_or_default();
    let _ = email::render_email_subject(subject, values);
    let body = email::render_email_body(content, values);
    let _ = email::is_email_too_long(&body);
    let link = Some("https://example.org/unsubscribe?a=1&b=((name))");
    let _ = email::email_html_body(content, values, link);
    let _ = email::email_plain_text(content, values, link);
    let _ = email::email_html_body(content, values, None);
    let _ = templates::sanitise_value(content);
}

fn letter(content: &str, values: &Personalisation, pdf: bool) {
    let subject = content.lines().next().unwrap_or_default();
    let subject = email::render_letter_subject(subject, values);
    let body = email::render_letter_body(content, values);
    if !pdf || body.len() > MAX_LETTER_PDF_BODY {
        return;
    }
    let address = ["A Person".to_string(), "1 Street".into(), "SW1A 1AA".into()];
    let date = crate::now().date_naive();
    let rendered = render_letter(&LetterContent {
        address_lines: &address,
        contact_block: Some(content),
        date,
        subject: &subject,
        body: &body,
        // Both languages' date and page-number paths, chosen by the input itself.
        language: if body.len().is_multiple_of(2) {
            Language::English
        } else {
            Language::Welsh
        },
        logo: None,
    });
    if let Ok(letter) = rendered {
        assert!(letter.page_count >= 1, "a rendered letter has a page");
    }
}
