//! What every page shows around its content (`base.html`): the title, who is signed in, the
//! service's navigation, a back link, a one-off banner, and the CSRF token for the sign-out
//! form. Handlers fill one per page.

/// The signed-in person, for the header.
#[derive(Debug, Clone, Default)]
pub struct UserBar {
    pub name: String,
    pub platform_admin: bool,
}

/// One link of the service navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: String,
    pub href: String,
    /// The page being shown belongs here (`aria-current="page"`).
    pub current: bool,
}

/// The service a page belongs to, with its navigation.
#[derive(Debug, Clone, Default)]
pub struct ServiceNav {
    pub name: String,
    pub trial_mode: bool,
    pub items: Vec<NavItem>,
}

/// A message shown once at the top of a page ("API key revoked").
#[derive(Debug, Clone)]
pub struct Banner {
    pub message: String,
    pub success: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The page's title (also its `<h1>` in most pages).
    pub title: String,
    pub user: Option<UserBar>,
    pub service: Option<ServiceNav>,
    pub back_link: Option<String>,
    pub banner: Option<Banner>,
    /// The session's CSRF token, for every form on the page.
    pub csrf_token: String,
    /// The page shows form errors: the title starts with "Error:", as the design system asks.
    pub has_errors: bool,
    /// The appliance's version, in the footer.
    pub version: String,
}

impl Layout {
    /// A page outside any service (sign in, your services, platform admin).
    pub fn new(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Layout::default()
        }
    }
}

/// One problem with a form: the field it belongs to (its id, for the error summary's link) and
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// One choice of a radios or checkboxes group.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub hint: String,
    pub checked: bool,
}

/// The problems of a submitted form, by field, in the order the fields appear.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub errors: Vec<FieldError>,
}

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// The message for `field`, or an empty string (what the form macros take).
    pub fn on(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}
