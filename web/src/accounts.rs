//! The pages of signing in and out: the email address and password, the second factor,
//! choosing a password from a first sign-in link, setting up an authenticator app, and the
//! list of the person's services they land on.

use askama::Template;

use crate::{FormErrors, Layout};

/// `GET /sign-in`: email address and password.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub layout: Layout,
    pub email_address: String,
    pub errors: FormErrors,
    /// `Some(provider name)` when single sign-on is on: a "Sign in with …" button.
    pub sso: Option<String>,
    /// Passwords are refused (`oidc.only_sso`): the button alone.
    pub only_sso: bool,
}

/// `GET /two-factor`: the 6-digit code from a text message, an email or an authenticator app.
#[derive(Template)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage {
    pub layout: Layout,
    /// What to do, by second factor ("We've sent you a text message with a security code.").
    pub lede: String,
    /// The field's label ("Text message code", ...).
    pub label: String,
    /// (href, text) of the "not received" link for codes that are sent ("Not received a text
    /// message?"); none for an authenticator app.
    pub not_received: Option<(String, String)>,
    pub errors: FormErrors,
}

/// `GET /first-sign-in/{token}`: a new account's person chooses a password.
#[derive(Template)]
#[template(path = "choose_password.html")]
pub struct ChoosePasswordPage {
    pub layout: Layout,
    /// Where the form posts.
    pub action: String,
    pub name: String,
    pub errors: FormErrors,
}

/// `GET /user-profile/authenticator`: set up an authenticator app.
#[derive(Template)]
#[template(path = "authenticator.html")]
pub struct AuthenticatorPage {
    pub layout: Layout,
    /// The secret to type into the app (base32, in groups of four).
    pub secret: String,
    /// The QR code of the `otpauth://` URL, as SVG markup made by the server.
    pub qr_svg: String,
    /// The sealed enrolment the form posts back.
    pub enrolment: String,
    pub errors: FormErrors,
}

/// One service on the "Your services" page.
#[derive(Debug, Clone)]
pub struct ServiceLink {
    pub id: String,
    pub name: String,
    pub trial_mode: bool,
}

/// `GET /your-services`: where a person lands after signing in.
#[derive(Template)]
#[template(path = "your_services.html")]
pub struct YourServicesPage {
    pub layout: Layout,
    pub services: Vec<ServiceLink>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserBar;

    #[test]
    fn sign_in_pages_render_errors_and_escape() {
        let mut errors = FormErrors::default();
        errors.add("password", "Enter your password");
        let mut layout = Layout::new("Sign in");
        layout.csrf_token = "tok\"en".into();
        layout.has_errors = true;
        let html = SignInPage {
            layout,
            email_address: "<a>@example.com".into(),
            errors,
            sso: None,
            only_sso: false,
        }
        .render()
        .unwrap();
        assert!(html.contains("Error: Sign in"));
        assert!(html.contains(r##"<a href="#password">Enter your password</a>"##));
        assert!(!html.contains("<a>@example.com"));
        assert!(!html.contains("tok\"en"));
        assert!(html.contains(r#"name="csrf_token""#));

        let mut layout = Layout::new("Your services");
        layout.user = Some(UserBar {
            name: "Ann".into(),
            platform_admin: false,
        });
        let html = YourServicesPage {
            layout,
            services: vec![ServiceLink {
                id: "x".into(),
                name: "Parking <fines>".into(),
                trial_mode: true,
            }],
        }
        .render()
        .unwrap();
        assert!(html.contains("Parking &#60;fines&#62;") || html.contains("Parking &lt;fines&gt;"));
        assert!(html.contains("Sign out"));
    }
}
