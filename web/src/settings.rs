//! A service's settings pages (`/services/{id}/service-settings` and the pages its "Change"
//! links lead to): the summary, the service name, reply-to addresses, text message senders,
//! letter contact blocks, sending on or off per channel, trial mode or live, and data retention.

use askama::Template;

use crate::people::ButtonForm;
use crate::{Choice, FormErrors, Layout};

/// The "Change" (or "Manage") link of a summary row; `hidden` completes it for screen readers.
#[derive(Debug, Clone)]
pub struct RowAction {
    pub href: String,
    pub text: String,
    pub hidden: String,
}

/// One row of a summary list: its key, its value (one or more lines), a hint under the value.
#[derive(Debug, Clone, Default)]
pub struct SummaryRow {
    pub key: String,
    pub lines: Vec<String>,
    pub hint: String,
    /// The value is a default ("Not set"), shown in secondary text.
    pub muted: bool,
    pub action: Option<RowAction>,
}

impl SummaryRow {
    pub fn new(key: &str, value: impl Into<String>) -> SummaryRow {
        SummaryRow {
            key: key.to_string(),
            lines: vec![value.into()],
            ..SummaryRow::default()
        }
    }

    pub fn with_action(mut self, href: String, text: &str, hidden: &str) -> SummaryRow {
        self.action = Some(RowAction {
            href,
            text: text.to_string(),
            hidden: hidden.to_string(),
        });
        self
    }
}

/// A titled group of rows ("Email settings").
#[derive(Debug, Clone)]
pub struct SummarySection {
    pub heading: String,
    /// The heading is for screen readers only (upstream's first, "General", group).
    pub heading_hidden: bool,
    pub rows: Vec<SummaryRow>,
}

/// `GET /services/{id}/service-settings`.
#[derive(Template)]
#[template(path = "service/settings/index.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub sections: Vec<SummarySection>,
    /// The service is live (not in trial mode).
    pub live: bool,
    /// Platform admins' rows (empty for everyone else).
    pub admin_rows: Vec<SummaryRow>,
}

/// `/service-settings/name`.
#[derive(Template)]
#[template(path = "service/settings/name.html")]
pub struct NamePage {
    pub layout: Layout,
    pub action: String,
    pub name: String,
    pub errors: FormErrors,
}

/// One reply-to address, text message sender or letter contact block in its list.
#[derive(Debug, Clone)]
pub struct SenderItem {
    /// The entry's text, by line (a contact block has several).
    pub lines: Vec<String>,
    pub default: bool,
    /// Shown under the entry ("Receives replies" for an inbound number).
    pub hint: String,
    /// "Change" (for people who may change it).
    pub change_href: Option<String>,
}

/// Letter contact blocks' "Blank" entry: a letter with no contact block.
#[derive(Debug, Clone)]
pub struct BlankItem {
    pub default: bool,
    /// "Make default", when another block is the default and the person may change it.
    pub make_default: Option<ButtonForm>,
}

/// The list of one kind of sender entry (`/email-reply-to`, `/sms-sender`, `/letter-contacts`).
#[derive(Template)]
#[template(path = "service/settings/senders.html")]
pub struct SendersPage {
    pub layout: Layout,
    pub empty_text: String,
    pub blank: Option<BlankItem>,
    pub items: Vec<SenderItem>,
    /// (href, label) of the add button, for people who may add.
    pub add: Option<(String, String)>,
    pub paragraphs: Vec<String>,
}

/// Adding or changing one sender entry.
#[derive(Template)]
#[template(path = "service/settings/sender_form.html")]
pub struct SenderFormPage {
    pub layout: Layout,
    pub action: String,
    /// The field's id and name.
    pub field: String,
    pub label: String,
    pub hint: String,
    pub value: String,
    /// A contact block (a textarea) rather than one line.
    pub multiline: bool,
    /// The entry cannot be changed, only made the default (an inbound number).
    pub read_only: bool,
    /// The "make this the default" checkbox; `None` when it is not offered.
    pub default_choice: Option<Choice>,
    /// Said instead of the checkbox ("This is the default reply-to address ...").
    pub default_note: String,
    pub button: String,
    /// "Delete" link (to the confirmation).
    pub delete_href: Option<String>,
    /// Asked before deleting: "Are you sure ...?" and its button.
    pub confirm_delete: Option<(String, ButtonForm)>,
    pub errors: FormErrors,
}

/// On or off (sending a channel; live).
#[derive(Template)]
#[template(path = "service/settings/on_off.html")]
pub struct OnOffPage {
    pub layout: Layout,
    pub action: String,
    pub choices: Vec<Choice>,
    pub errors: FormErrors,
}

/// `/services/{id}/data-retention`: the service's retention per channel (platform admins).
#[derive(Template)]
#[template(path = "service/settings/retention.html")]
pub struct RetentionPage {
    pub layout: Layout,
    pub default_days: u32,
    pub rows: Vec<SummaryRow>,
    pub add_href: String,
}

/// Adding (with its channel) or changing a retention setting.
#[derive(Template)]
#[template(path = "service/settings/retention_form.html")]
pub struct RetentionFormPage {
    pub layout: Layout,
    pub action: String,
    /// The channels to choose from (adding); empty when changing one.
    pub types: Vec<Choice>,
    pub days: String,
    pub button: String,
    pub errors: FormErrors,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_escapes_values_and_offers_changes() {
        let html = SettingsPage {
            layout: Layout::new("Settings"),
            sections: vec![SummarySection {
                heading: "General".into(),
                heading_hidden: true,
                rows: vec![SummaryRow::new("Service name", "<Parking>").with_action(
                    "/services/s/service-settings/name".into(),
                    "Change",
                    "service name",
                )],
            }],
            live: false,
            admin_rows: vec![],
        }
        .render()
        .unwrap();
        assert!(html.contains("/services/s/service-settings/name"));
        assert!(html.contains("service name"));
        assert!(!html.contains("<Parking>"));
        assert!(html.contains("trial mode"));
        assert!(!html.contains("Platform admin settings"));
    }

    #[test]
    fn a_sender_form_keeps_the_typed_value_and_shows_its_error() {
        let mut errors = FormErrors::default();
        errors.add("letter_contact_block", "Enter a sender address");
        let html = SenderFormPage {
            layout: Layout::new("Add a sender address"),
            action: "/a".into(),
            field: "letter_contact_block".into(),
            label: "Sender address".into(),
            hint: "10 lines maximum".into(),
            value: "1 High St\n<Town>".into(),
            multiline: true,
            read_only: false,
            default_choice: None,
            default_note: String::new(),
            button: "Add".into(),
            delete_href: None,
            confirm_delete: None,
            errors,
        }
        .render()
        .unwrap();
        assert!(html.contains("There is a problem"));
        assert!(
            html.contains("1 High St\n&#60;Town&#62;") || html.contains("1 High St\n&lt;Town&gt;")
        );
        assert!(html.contains("<textarea"));
    }
}
