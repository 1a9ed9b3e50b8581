//! Template rendering, compatible with GOV.UK Notify (spec §11, §5.2,
//! §5.10).
//!
//! - [`placeholders`]: `((name))` and `((name??text))` syntax, the
//!   insensitive [`Personalisation`] lookup, value-to-text rules and the
//!   missing-personalisation check.
//! - [`sms`]: the SMS body, the GSM + Welsh character set, character and
//!   fragment counts, the length limit and the service-name prefix.
//! - [`email`]: email and letter bodies and subjects, the email size limit,
//!   and the HTML and plain-text bodies that the email provider sends.
//! - [`markdown`]: Notify's email Markdown dialect.
//! - [`sanitise_value`]: the `sanitise_content_for` transformation.
//!
//! A send request renders like this:
//!
//! ```
//! use notify::templates::{Personalisation, email, missing, sms};
//!
//! let personalisation = serde_json::json!({"first_name": "Amala"});
//! let values = Personalisation::from_value(Some(&personalisation));
//!
//! assert!(missing(&["Hello ((First Name))"], &values).is_empty());
//! let body = sms::render_sms_body("Hello ((First Name))", &values);
//! assert_eq!(body, "Hello Amala");
//! assert_eq!(sms::fragment_count(&body), 1);
//! assert!(!sms::is_too_long(&body));
//!
//! let subject = email::render_email_subject("Don't forget, ((first_name))", &values);
//! assert_eq!(subject, "Don’t forget, Amala");
//! ```

pub mod email;
pub mod markdown;
pub mod placeholders;
pub mod sanitise;
pub mod sms;
pub(crate) mod typography;

pub use email::{
    email_html_body, email_plain_text, is_email_too_long, render_email_body, render_email_subject,
    render_letter_body, render_letter_subject,
};
pub use placeholders::{
    ListStyle, Personalisation, is_truthy, missing, normalise_key, placeholder_names,
    placeholder_names_in, substitute, value_to_text,
};
pub use sanitise::sanitise_value;
pub use sms::{
    character_count, downgrade_to_sms_charset, fragment_count, is_too_long, render_sms_body,
    render_sms_for_delivery,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every renderer copes with arbitrary input: no panics on odd
    /// Markdown, multi-byte characters or unbalanced syntax.
    #[test]
    fn renderers_never_panic() {
        const PIECES: [&str; 40] = [
            "a",
            " ",
            "\n",
            "\r\n",
            "\t",
            "*",
            "-",
            "+",
            "•",
            "1.",
            "#",
            "^",
            ">",
            "<",
            "&",
            "[",
            "]",
            "(",
            ")",
            "!",
            "\\",
            "`",
            "~",
            "_",
            "'",
            "\"",
            "http://x.io/p",
            "ŵ",
            "😀",
            "é",
            "((name))",
            "((show??yes))",
            "```",
            "|",
            ":",
            "@",
            ".",
            "gov.uk",
            "\u{a0}",
            "\u{200b}",
        ];
        let values = Personalisation::from_value(Some(&json!({"name": ["a", "b"], "show": "y"})));
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..800 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            for k in 0..len {
                let pick = (seed.rotate_left(k as u32 * 5) % PIECES.len() as u64) as usize;
                text.push_str(PIECES[pick]);
            }
            let _ = render_sms_body(&text, &values);
            let _ = render_sms_for_delivery(&text, &values, Some("Service"));
            let _ = render_email_body(&text, &values);
            let _ = render_email_subject(&text, &values);
            let _ = render_letter_subject(&text, &values);
            let _ = email_html_body(&text, &values, None);
            let _ = email_plain_text(&text, &values, Some("https://example.com/u"));
            let _ = sanitise_value(&text);
            let _ = missing(&[&text], &values);
        }
    }

    #[test]
    fn module_example_renders() {
        let values = Personalisation::from_value(Some(&json!({"first_name": "Amala"})));
        assert_eq!(
            render_sms_body("Hello ((First Name))", &values),
            "Hello Amala"
        );
        assert_eq!(
            render_email_subject("Don't forget, ((first_name))", &values),
            "Don’t forget, Amala"
        );
    }
}
