//! Sending one message: the recipient and then each placeholder asked for one by one
//! (`/services/{id}/send/{template_id}/one-off/step-{n}`), then "check and send".
//!
//! The answers given so far travel in the form as hidden fields, so nothing is kept on the
//! server between steps and going back loses nothing.

use askama::Template;

use crate::template_pages::MessagePreview;
use crate::{FormErrors, Layout};

/// An answer already given, carried to the next step.
#[derive(Debug, Clone)]
pub struct Carried {
    pub name: String,
    pub value: String,
}

/// One question of the one-off send.
#[derive(Template)]
#[template(path = "service/send_step.html")]
pub struct SendStepPage {
    pub layout: Layout,
    pub action: String,
    /// The field's label: "Email address", "Phone number" or the placeholder's name.
    pub label: String,
    pub hint: String,
    /// What the person typed (kept when it was refused).
    pub value: String,
    /// `email`, `tel` or `text`; `textarea` for a letter's address.
    pub input_type: String,
    pub autocomplete: String,
    pub carried: Vec<Carried>,
    pub preview: MessagePreview,
    pub errors: FormErrors,
}

/// "Check and send": the message as it will be sent, and the button that sends it.
#[derive(Template)]
#[template(path = "service/send_check.html")]
pub struct SendCheckPage {
    pub layout: Layout,
    pub action: String,
    pub carried: Vec<Carried>,
    pub preview: MessagePreview,
    /// "Send 1 email", "Send 1 text message".
    pub button: String,
    /// Why the message could not be sent (daily limit, trial mode...), shown at the top.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_carry_earlier_answers_and_escape_them() {
        let html = SendStepPage {
            layout: Layout::new("Send ‘Reminder’"),
            action: "/services/s/send/t/one-off/step-1".into(),
            label: "name".into(),
            hint: String::new(),
            value: String::new(),
            input_type: "text".into(),
            autocomplete: "off".into(),
            carried: vec![Carried {
                name: "recipient".into(),
                value: "\"><script>@example.com".into(),
            }],
            preview: MessagePreview {
                kind: "sms".into(),
                text_body: "Hi ((name))".into(),
                fragments: 1,
                ..Default::default()
            },
            errors: FormErrors::default(),
        }
        .render()
        .unwrap();
        assert!(html.contains(r#"name="recipient""#));
        assert!(!html.contains("<script>"));
        assert!(html.contains("Will be charged as 1 text message"));
    }
}
