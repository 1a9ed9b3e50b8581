//! Email and letter rendering (spec §11.3, §11.4, §5.10).
//!
//! What the API returns:
//! - [`render_email_body`] (`content.body`, letters too): the raw template
//!   with values substituted (lists as Markdown bullets) and the ends
//!   trimmed; line endings kept, no Markdown, no typography;
//! - [`render_email_subject`]: values substituted, then "nice typography"
//!   (spaces before `,` and `.` removed, smart quotes, ` - ` → ` – `) and
//!   whitespace collapsed;
//! - [`render_letter_subject`]: the same with template text and values
//!   HTML-escaped;
//! - [`email_html_body`]: the `html` of a template preview.
//!
//! What the email provider sends: [`email_html_body`] (the body inside
//! upstream's branded email layout, which is not reproduced here) and
//! [`email_plain_text`].
//!
//! Sources: UTILS `notifications_utils/template.py` (Template.
//! content_with_placeholders_filled_in, SubjectMixin, BaseEmailTemplate,
//! PlainTextEmailTemplate, BaseLetterTemplate.subject),
//! `notifications_utils/formatters.py`, `notifications_utils/markdown.py`.

use super::markdown::{notify_email_markdown, notify_plain_text_email_markdown};
use super::placeholders::{Escaping, ListStyle, Personalisation, fill};
use super::typography::{
    do_nice_typography, html_unescape, normalise_whitespace, strip_unsupported_characters,
    unlink_govuk_escaped,
};
use crate::python::{py_isspace, py_strip};

/// Largest email body accepted, in UTF-8 bytes of [`render_email_body`].
pub const EMAIL_MAX_BYTES: usize = 2_000_000;

/// The email body returned by the API (`content.body`, and `body` of GET
/// and preview): the template content with the values substituted and the
/// ends trimmed. Lists become `\n\n* a\n* b`.
///
/// Spec example: `Hello ((name))\r\n\r\nFunctional test help make our world
/// a better place` with `name=Foo` gives `Hello Foo\r\n\r\nFunctional test
/// help make our world a better place`.
pub fn render_email_body(content: &str, values: &Personalisation) -> String {
    py_strip(&fill(
        content,
        values,
        ListStyle::Markdown,
        Escaping::Passthrough,
    ))
    .to_string()
}

/// The letter body returned by the API: the same as [`render_email_body`].
pub fn render_letter_body(content: &str, values: &Personalisation) -> String {
    render_email_body(content, values)
}

/// The email subject returned by the API (no HTML escaping). Lists become
/// `a, b and c`.
///
/// Spec example: `Don't ((name)) -- it's "great"` with `name=Foo` gives
/// `Don’t Foo – it’s “great”`.
pub fn render_email_subject(subject: &str, values: &Personalisation) -> String {
    let filled = fill(subject, values, ListStyle::Prose, Escaping::Passthrough);
    normalise_whitespace(&do_nice_typography(&filled))
}

/// The letter heading (`subject`) returned by the API: like
/// [`render_email_subject`], but the template text and values are
/// HTML-escaped (`&` → `&amp;`).
pub fn render_letter_subject(subject: &str, values: &Personalisation) -> String {
    let filled = fill(subject, values, ListStyle::Prose, Escaping::Html);
    normalise_whitespace(&do_nice_typography(&filled))
}

/// Whether the API rejects an email as too long: the UTF-8 length of the
/// rendered body ([`render_email_body`]) is over 2,000,000 bytes.
pub fn is_email_too_long(body: &str) -> bool {
    body.len() > EMAIL_MAX_BYTES
}

/// The content with upstream's unsubscribe footer when the template has an
/// unsubscribe link: a rule, then `[Unsubscribe from these emails](link)`.
pub fn content_with_unsubscribe_link(content: &str, unsubscribe_link: Option<&str>) -> String {
    match unsubscribe_link {
        Some(link) if !link.is_empty() => {
            format!("{content}\n\n---\n\n[Unsubscribe from these emails]({link})")
        }
        _ => content.to_string(),
    }
}

/// The HTML email body (upstream `BaseEmailTemplate.html_body`): template
/// text and values HTML-escaped, values substituted (lists as Markdown
/// bullets), `GOV.UK` kept from becoming a link, Markdown rendered with
/// Notify's dialect, then nice typography.
///
/// This is the template preview's `html` (with no unsubscribe link), e.g.
/// `Some content` gives
/// `<p style="Margin: 0 0 20px 0; font-size: 19px; line-height: 25px; color: #0B0C0C;">Some content</p>`.
pub fn email_html_body(
    content: &str,
    values: &Personalisation,
    unsubscribe_link: Option<&str>,
) -> String {
    let content = content_with_unsubscribe_link(content, unsubscribe_link);
    let filled = fill(&content, values, ListStyle::Markdown, Escaping::Html);
    let source = format!(
        "{}\n",
        strip_unsupported_characters(&unlink_govuk_escaped(&filled))
    );
    do_nice_typography(&notify_email_markdown(&source))
}

/// The plain-text email body sent alongside the HTML (upstream
/// `PlainTextEmailTemplate`): values substituted without escaping,
/// Markdown rendered as text (headings underlined, `•` or `1.` list
/// markers, links as `text: url`), nice typography, HTML entities decoded,
/// leading whitespace removed and one trailing newline.
pub fn email_plain_text(
    content: &str,
    values: &Personalisation,
    unsubscribe_link: Option<&str>,
) -> String {
    let content = content_with_unsubscribe_link(content, unsubscribe_link);
    let filled = fill(&content, values, ListStyle::Markdown, Escaping::Passthrough);
    let source = format!(
        "{}\n",
        strip_unsupported_characters(&unlink_govuk_escaped(&filled))
    );
    let text = html_unescape(&do_nice_typography(&notify_plain_text_email_markdown(
        &source,
    )));
    format!("{}\n", text.trim_start_matches(py_isspace))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const P: &str =
        r#"<p style="Margin: 0 0 20px 0; font-size: 19px; line-height: 25px; color: #0B0C0C;">"#;

    fn values(v: serde_json::Value) -> Personalisation {
        Personalisation::from_value(Some(&v))
    }

    #[test]
    fn email_body_spec_example() {
        let body = render_email_body(
            "Hello ((name))\r\n\r\nFunctional test help make our world a better place",
            &values(json!({"name": "Foo"})),
        );
        assert_eq!(
            body,
            "Hello Foo\r\n\r\nFunctional test help make our world a better place"
        );
    }

    #[test]
    fn email_body_is_raw() {
        let p = values(json!({"name": "<b>A & B</b>", "items": ["x", "y"], "show": "no"}));
        let cases = [
            ("  \n# Hi ((name))  \n", "# Hi <b>A & B</b>"),
            ("List:((items))", "List:\n\n* x\n* y"),
            ("Don't -- \"quote\"", "Don't -- \"quote\""),
            ("a((show??hidden))b", "ab"),
            ("((missing))", "((missing))"),
        ];
        for (content, expected) in cases {
            assert_eq!(
                render_email_body(content, &p),
                expected,
                "content {content:?}"
            );
            assert_eq!(render_letter_body(content, &p), expected);
        }
    }

    #[test]
    fn email_subject_spec_example() {
        let subject = render_email_subject(
            "Don't ((name)) -- it's \"great\"",
            &values(json!({"name": "Foo"})),
        );
        assert_eq!(subject, "Don’t Foo – it’s “great”");
    }

    #[test]
    fn subject_rules() {
        let p = values(json!({"name": "Tom & <Jerry>", "items": ["a", "b", "c"]}));
        let cases = [
            (
                "Hello ((name)) , welcome .",
                "Hello Tom & <Jerry>, welcome.",
            ),
            ("  lots\n\tof   space\u{a0} ", "lots of space"),
            ("a - b -- c --- d ---- e", "a – b – c – d ---- e"),
            ("Items: ((items))", "Items: a, b and c"),
            ("Reply to o'neil@example.com", "Reply to o'neil@example.com"),
        ];
        for (subject, expected) in cases {
            assert_eq!(
                render_email_subject(subject, &p),
                expected,
                "subject {subject:?}"
            );
        }
    }

    #[test]
    fn letter_subject_is_escaped() {
        let p = values(json!({"name": "Tom & <Jerry>"}));
        assert_eq!(
            render_letter_subject("Dear ((name)) -- 'hi'", &p),
            "Dear Tom &amp; &lt;Jerry&gt; – ‘hi’"
        );
        assert_eq!(render_letter_subject("A&B", &p), "A&amp;B");
    }

    #[test]
    fn email_length_limit() {
        assert!(!is_email_too_long(&"a".repeat(2_000_000)));
        assert!(is_email_too_long(&"a".repeat(2_000_001)));
        assert!(is_email_too_long(&"é".repeat(1_000_001)));
    }

    #[test]
    fn html_body() {
        let p = values(json!({"name": "<script>", "items": ["one", "two"]}));
        assert_eq!(
            email_html_body("Some content", &p, None),
            format!("{P}Some content</p>")
        );
        assert_eq!(
            email_html_body("Hi ((name)), it's \"here\"", &p, None),
            format!("{P}Hi &lt;script&gt;, it’s “here”</p>")
        );
        let html = email_html_body("Items:((items))", &p, None);
        assert!(
            html.starts_with(&format!("{P}Items:</p><table role=\"presentation\"")),
            "{html}"
        );
        assert!(
            html.contains(">one</li>") && html.contains(">two</li>"),
            "{html}"
        );
        assert_eq!(
            email_html_body("Visit GOV.UK", &p, None),
            format!("{P}Visit GOV.\u{200b}UK</p>")
        );
        let with_link = email_html_body("Body", &p, Some("https://example.com/u"));
        assert!(with_link.ends_with(
            "<a style=\"word-wrap: break-word; color: #1D70B8;\" href=\"https://example.com/u\">Unsubscribe from these emails</a></p>"
        ), "{with_link}");
        assert!(with_link.contains("<hr "), "{with_link}");
    }

    #[test]
    fn plain_text_body() {
        let p = values(json!({"name": "Tom & <Jerry>", "items": ["one", "two"]}));
        assert_eq!(
            email_plain_text("# Title\n\nHi ((name)), it's here.\n\n((items))", &p, None),
            format!(
                "Title\n{}\n\nHi Tom & <Jerry>, it’s here.\n\n• one\n• two\n",
                "=".repeat(65)
            )
        );
        assert_eq!(
            email_plain_text("[Link](https://example.com) and https://x.org", &p, None),
            "Link: https://example.com and https://x.org\n"
        );
        assert_eq!(
            email_plain_text("Body", &p, Some("https://example.com/u")),
            format!(
                "Body\n\n{}\n\nUnsubscribe from these emails: https://example.com/u\n",
                "=-".repeat(32) + "="
            )
        );
    }
}
