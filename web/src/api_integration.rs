//! A service's API integration pages: the overview with the message log, API keys (the list,
//! the create form, the new key shown once, the revoke question), callbacks, the guest list and
//! received text messages.

use askama::Template;

use crate::{FormErrors, Layout};

/// One message sent with an API key, in the overview's message log.
#[derive(Debug, Clone, Default)]
pub struct ApiMessageRow {
    pub id: String,
    pub to: String,
    pub key_name: String,
    pub when: String,
    /// (field, value) as upstream's log lists them, only fields with a value.
    pub fields: Vec<(String, String)>,
    /// "View email", "View text message", "View letter".
    pub view_label: String,
    pub href: String,
}

/// `GET /services/{id}/api`.
#[derive(Template)]
#[template(path = "service/api/index.html")]
pub struct ApiIntegrationPage {
    pub layout: Layout,
    pub service_id: String,
    pub keys_href: String,
    pub guest_list_href: String,
    pub callbacks_href: String,
    pub refresh_href: String,
    pub messages: Vec<ApiMessageRow>,
    /// The log shows the most it shows: upstream's "Only showing the first 50 messages".
    pub capped: bool,
    pub shown_at_most: usize,
}

/// One key in the list.
#[derive(Debug, Clone, Default)]
pub struct KeyRow {
    pub name: String,
    /// Upstream's label of its type ("Live – sends to anyone", ...).
    pub kind: String,
    /// "Revoked 7 December 2026 at 3:04pm", when revoked.
    pub revoked: Option<String>,
    /// The link to revoke it, when not revoked.
    pub revoke_href: Option<String>,
}

/// The question before a key is revoked.
#[derive(Debug, Clone, Default)]
pub struct RevokeQuestion {
    pub name: String,
    pub action: String,
}

/// `GET /services/{id}/api/keys` (and `.../revoke/{key_id}`, which asks first).
#[derive(Template)]
#[template(path = "service/api/keys.html")]
pub struct ApiKeysPage {
    pub layout: Layout,
    pub keys: Vec<KeyRow>,
    pub create_href: Option<String>,
    pub revoke: Option<RevokeQuestion>,
}

/// One key type on the create form (a choice may be unavailable, with why).
#[derive(Debug, Clone, Default)]
pub struct KeyTypeChoice {
    pub value: String,
    pub label: String,
    pub hint: String,
    pub checked: bool,
    pub disabled: bool,
}

/// `GET /services/{id}/api/keys/create`.
#[derive(Template)]
#[template(path = "service/api/create_key.html")]
pub struct CreateKeyPage {
    pub layout: Layout,
    pub action: String,
    pub key_name: String,
    pub key_types: Vec<KeyTypeChoice>,
    pub errors: FormErrors,
}

/// The answer to creating a key: the key, this once.
#[derive(Template)]
#[template(path = "service/api/show_key.html")]
pub struct NewKeyPage {
    pub layout: Layout,
    /// `{key_name}-{service_id}-{secret}`, as the clients take it.
    pub key: String,
    pub keys_href: String,
}

/// One kind of callback on the callbacks page.
#[derive(Debug, Clone, Default)]
pub struct CallbackRow {
    pub label: String,
    /// The URL set, or none ("Not set").
    pub url: Option<String>,
    pub href: String,
    /// What "Change" changes, for screen readers.
    pub hidden_text: String,
}

/// `GET /services/{id}/api/callbacks`.
#[derive(Template)]
#[template(path = "service/api/callbacks.html")]
pub struct CallbacksPage {
    pub layout: Layout,
    pub rows: Vec<CallbackRow>,
}

/// One callback's form: its URL and bearer token.
#[derive(Template)]
#[template(path = "service/api/callback_form.html")]
pub struct CallbackFormPage {
    pub layout: Layout,
    pub intro: String,
    pub action: String,
    pub url: String,
    /// What the token field holds: what was typed, or a stand-in when a token is set.
    pub bearer_token: String,
    pub errors: FormErrors,
}

/// One numbered box of the guest list.
#[derive(Debug, Clone, Default)]
pub struct ListEntry {
    pub id: String,
    pub number: usize,
    pub value: String,
    pub error: String,
}

/// `GET /services/{id}/api/guest-list`.
#[derive(Template)]
#[template(path = "service/api/guest_list.html")]
pub struct GuestListPage {
    pub layout: Layout,
    pub action: String,
    pub team_href: String,
    pub email_addresses: Vec<ListEntry>,
    pub phone_numbers: Vec<ListEntry>,
    pub errors: FormErrors,
}

/// One received text message.
#[derive(Debug, Clone, Default)]
pub struct InboxRow {
    pub from: String,
    pub content: String,
    pub when: String,
}

/// `GET /services/{id}/inbox`: received text messages, newest first; or, for a service that
/// cannot receive them, what receiving them means.
#[derive(Template)]
#[template(path = "service/api/inbox.html")]
pub struct InboxPage {
    pub layout: Layout,
    pub can_receive: bool,
    /// The service's number, as people read it.
    pub number: String,
    pub messages: Vec<InboxRow>,
    pub older_href: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_key_page_shows_the_key_escaped() {
        let html = NewKeyPage {
            layout: Layout::new("New API key"),
            key: "my_key-<s>-secret".into(),
            keys_href: "/services/s/api/keys".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains("my_key-&#60;s&#62;-secret") || html.contains("my_key-&lt;s&gt;"));
        assert!(html.contains("You will not be able to see it again"));
    }

    #[test]
    fn an_unavailable_key_type_cannot_be_chosen() {
        let html = CreateKeyPage {
            layout: Layout::new("Create an API key"),
            action: "/a".into(),
            key_name: String::new(),
            key_types: vec![KeyTypeChoice {
                value: "normal".into(),
                label: "Live – sends to anyone".into(),
                hint: "Not available because your service is in trial mode".into(),
                checked: false,
                disabled: true,
            }],
            errors: FormErrors::default(),
        }
        .render()
        .unwrap();
        assert!(html.contains(r#"value="normal" disabled"#), "{html}");
    }
}
