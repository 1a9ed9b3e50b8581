//! Single sign-on's own page: why a sign-in through the identity provider was refused. The
//! "Sign in with …" button is on [`crate::SignInPage`].

use askama::Template;

use crate::Layout;

/// `GET /sign-in/sso/callback` when the sign-in is refused (unknown address, address not
/// verified, expired or reused sign-in, provider unavailable).
#[derive(Template)]
#[template(path = "sso/refused.html")]
pub struct SsoRefusedPage {
    pub layout: Layout,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_page_says_why_and_links_back_to_sign_in() {
        let html = SsoRefusedPage {
            layout: Layout::new("You cannot sign in"),
            message: "There is no Notify account for <b>@example.gov.uk.".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains("<h1>You cannot sign in</h1>"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&#60;b&#62;") || html.contains("&lt;b&gt;"));
        assert!(html.contains(r#"href="/sign-in""#));
    }
}
