//! A service's templates: the list (filtered by type), one template with its preview, the
//! form that adds or edits one, and the question before one is deleted (archived).

use askama::Template;

use crate::{FormErrors, Layout, NavItem};

/// A message as it will look: an email (subject and HTML body), a text message (its text and
/// how many fragments it costs) or a letter (subject and text).
#[derive(Debug, Clone, Default)]
pub struct MessagePreview {
    /// "email", "sms" or "letter".
    pub kind: String,
    /// The email's From name (the service's name).
    pub from: String,
    pub to: String,
    pub subject: String,
    /// Emails: the body as HTML, made by the appliance's own renderer (values escaped).
    pub html_body: String,
    /// Text messages and letters: the body as text.
    pub text_body: String,
    /// Text messages: how many fragments ("1 text message", "2 text messages").
    pub fragments: u32,
}

impl MessagePreview {
    /// Upstream's wording for what a text message costs.
    pub fn fragment_wording(&self) -> String {
        match self.fragments {
            1 => "Will be charged as 1 text message".to_string(),
            n => format!("Will be charged as {n} text messages"),
        }
    }
}

/// One template in the list.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub href: String,
    pub name: String,
    /// "Email template", "Text message template", "Letter template".
    pub kind: String,
}

/// `GET /services/{id}/templates[/{type}]`.
#[derive(Template)]
#[template(path = "service/templates.html")]
pub struct TemplatesPage {
    pub layout: Layout,
    /// All, Email, Text message, Letter.
    pub filters: Vec<NavItem>,
    pub templates: Vec<TemplateRow>,
    /// The person may add templates: the links to the forms.
    pub add_links: Vec<NavItem>,
}

/// `GET /services/{id}/templates/{template_id}`.
#[derive(Template)]
#[template(path = "service/template.html")]
pub struct TemplatePage {
    pub layout: Layout,
    pub name: String,
    pub kind: String,
    pub preview: MessagePreview,
    /// "Send" (when the person may send messages).
    pub send_href: Option<String>,
    /// "Upload a list of email addresses" (when the person may send messages).
    pub upload_href: Option<String>,
    /// "email addresses", "phone numbers".
    pub upload_label: String,
    /// "Edit" and "Delete this template" (when they may manage templates).
    pub edit_href: Option<String>,
    pub delete_href: Option<String>,
    pub version: u32,
    pub last_edited: String,
    /// "See previous versions" (once it has been edited).
    pub versions_href: Option<String>,
    /// A letter template's address without an extension: `.png` is its first page as it will
    /// print, `.pdf` the whole letter.
    pub letter_href: Option<String>,
}

/// A message preview on its own, for pages that show several (each version of a template):
/// `suffix` keeps their element ids apart.
#[derive(Template)]
#[template(path = "service/preview.html")]
pub struct PreviewFragment {
    pub preview: MessagePreview,
}

impl PreviewFragment {
    /// The preview's HTML with its ids (`preview`, `fragments`) made unique by `suffix`.
    pub fn html(preview: MessagePreview, suffix: &str) -> String {
        PreviewFragment { preview }
            .render()
            .unwrap_or_default()
            .replace(r#"id="preview""#, &format!(r#"id="preview-{suffix}""#))
            .replace(r#"id="fragments""#, &format!(r#"id="fragments-{suffix}""#))
    }
}

/// One version of a template: who made it and when, and how it looked.
#[derive(Debug, Clone)]
pub struct VersionView {
    /// "Version 3: Appointment reminder".
    pub heading: String,
    /// The version's own page (on the list of versions).
    pub href: Option<String>,
    /// "Edit made today at 2:15pm by Casey Worker" / "Created … by …".
    pub hint: String,
    /// Rendered by [`PreviewFragment::html`].
    pub preview_html: String,
}

/// `GET /services/{id}/templates/{template_id}/versions` and `.../version/{n}`.
#[derive(Template)]
#[template(path = "service/template_versions.html")]
pub struct TemplateVersionsPage {
    pub layout: Layout,
    pub back_href: String,
    pub versions: Vec<VersionView>,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
}

/// `GET /services/{id}/templates/add-{email|sms}` and `.../{template_id}/edit`.
#[derive(Template)]
#[template(path = "service/template_form.html")]
pub struct TemplateFormPage {
    pub layout: Layout,
    pub action: String,
    /// "email", "sms" or "letter": which fields the form has.
    pub kind: String,
    pub name: String,
    pub subject: String,
    pub content: String,
    /// Where the live preview posts the form (the script in `static/preview.js`).
    pub preview_href: String,
    /// The message as it will look, rendered by [`PreviewFragment::html`]; empty before
    /// anything is written.
    pub preview_html: String,
    pub errors: FormErrors,
}

/// `GET /services/{id}/templates/{template_id}/delete`: are you sure?
#[derive(Template)]
#[template(path = "service/template_delete.html")]
pub struct DeleteTemplatePage {
    pub layout: Layout,
    pub name: String,
    pub action: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_worded_as_upstream() {
        let mut p = MessagePreview {
            fragments: 1,
            ..Default::default()
        };
        assert_eq!(p.fragment_wording(), "Will be charged as 1 text message");
        p.fragments = 3;
        assert_eq!(p.fragment_wording(), "Will be charged as 3 text messages");
    }

    #[test]
    fn template_form_keeps_what_was_typed_and_shows_errors() {
        let mut errors = FormErrors::default();
        errors.add("subject", "Enter a subject");
        let mut layout = Layout::new("New email template");
        layout.has_errors = true;
        let html = TemplateFormPage {
            layout,
            action: "/services/s/templates/add-email".into(),
            kind: "email".into(),
            name: "Reminder <b>".into(),
            subject: String::new(),
            content: "Hello ((name))".into(),
            preview_href: "/services/s/templates/preview/email".into(),
            preview_html: String::new(),
            errors,
        }
        .render()
        .unwrap();
        assert!(html.contains(r#"data-preview="/services/s/templates/preview/email""#));
        assert!(html.contains("Write the message, then preview it."));
        assert!(html.contains("There is a problem"));
        assert!(html.contains(r##"href="#subject""##));
        assert!(html.contains("Hello ((name))"));
        assert!(!html.contains("Reminder <b>"));
    }
}
