//! What kind of route a request is for, decided from its path before any handler runs (body
//! limits, CORS, the Host check and page headers depend on it), and the route template the
//! access log shows instead of the raw path.

use std::borrow::Cow;

use warp::http::Method;

/// The kinds of route, each with its own body limit and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// The public REST API (`/v2/...`): CORS headers, the v2 error envelope.
    V2,
    /// Web pages for people (`/`, `/outbox`, `/scheduler`, `/alerts`, `/d/...`, `/static/...`,
    /// and signing in: `/sign-in`, `/two-factor`, `/sign-out`, `/your-services`,
    /// `/first-sign-in/...`, `/user-profile/...`): the Host check, Content-Security-Policy and
    /// Referrer-Policy.
    Page,
    /// A signed-in person's pages (`/services/...`, `/users/...`, `/platform-admin/...`,
    /// `/find-services-by-name`, `/find-users-by-email`, `/providers`, `/add-service`): the Host
    /// check and page headers of [`RouteClass::Page`], with the internal API's body limit (a
    /// template or a letter contact block is more than a sign-in form), and inline styles
    /// allowed (a message preview shows an email's own inline styles).
    ServicePage,
    /// Provider callbacks (`/notifications/...`): receipts and inbound messages.
    Receipts,
    /// A sheet upload on the internal API (large bodies).
    SheetUpload,
    /// Everything else: the internal API and `/_status`.
    Internal,
}

impl RouteClass {
    pub fn of(method: &Method, path: &str) -> RouteClass {
        let mut segments = path.trim_start_matches('/').split('/');
        let first = segments.next().unwrap_or("");
        match first {
            "v2" => RouteClass::V2,
            "" | "outbox" | "scheduler" | "alerts" | "sign-in" | "two-factor" | "sign-out"
            | "your-services"
                if path_has_at_most_one_segment(path) =>
            {
                RouteClass::Page
            }
            "d" | "static" | "first-sign-in" | "user-profile" | "forgot-password"
            | "new-password" | "invitation" | "email-not-received" | "text-not-received"
            | "send-new-code" => RouteClass::Page,
            "sign-in" => RouteClass::Page,
            "notifications" => RouteClass::Receipts,
            "service" | "services" if method == Method::POST && is_sheet_upload(path) => {
                RouteClass::SheetUpload
            }
            "services"
            | "users"
            | "platform-admin"
            | "find-services-by-name"
            | "find-users-by-email"
            | "providers"
            | "add-service" => RouteClass::ServicePage,
            _ => RouteClass::Internal,
        }
    }
}

fn path_has_at_most_one_segment(path: &str) -> bool {
    !path.trim_matches('/').contains('/')
}

/// `/service/{id}/job/upload`, `/service/{id}/contact-list` and the upload pages' forms
/// (`/services/{id}/send/{template_id}/csv`, `/services/{id}/upload-contact-list`) take sheets.
fn is_sheet_upload(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["service", _, "job", "upload"]
            | ["service", _, "contact-list"]
            | ["services", _, "send", _, "csv"]
            | ["services", _, "upload-contact-list"]
    )
}

/// The path with its variable parts replaced (`/v2/notifications/{id}`), so the access log
/// shows which route ran without ids, names or anything a client put in the path. (Paths no
/// route matched are logged as `(unmatched)` by the caller, not through this.)
pub fn template(path: &str) -> Cow<'static, str> {
    if path == "/" {
        return Cow::Borrowed("/");
    }
    let mut out = String::with_capacity(path.len());
    let mut after_d = 0usize;
    for (i, segment) in path.trim_start_matches('/').split('/').enumerate() {
        out.push('/');
        if i == 0 && segment == "d" {
            after_d = 2;
            out.push('d');
            continue;
        }
        if after_d > 0 {
            after_d -= 1;
            out.push_str("{id}");
        } else if uuid::Uuid::try_parse(segment).is_ok() {
            out.push_str("{id}");
        } else if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{n}");
        } else if is_word(segment) {
            out.push_str(segment);
        } else {
            out.push_str("{param}");
        }
    }
    Cow::Owned(out)
}

/// A fixed path word (`notifications`, `contact-list`, `style.css`), not a value.
fn is_word(segment: &str) -> bool {
    segment.len() <= 40
        && segment.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && segment.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_path() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            RouteClass::of(&post, "/v2/notifications/sms"),
            RouteClass::V2
        );
        assert_eq!(RouteClass::of(&get, "/"), RouteClass::Page);
        assert_eq!(RouteClass::of(&get, "/outbox"), RouteClass::Page);
        assert_eq!(
            RouteClass::of(&get, "/outbox/messages"),
            RouteClass::Internal
        );
        assert_eq!(RouteClass::of(&get, "/static/style.css"), RouteClass::Page);
        assert_eq!(
            RouteClass::of(&get, "/sign-in/sso/callback"),
            RouteClass::Page
        );
        assert_eq!(RouteClass::of(&post, "/invitation/abc"), RouteClass::Page);
        let id = "d5e4b158-d52c-43fe-8557-456b748751a5";
        for page in [
            format!("/services/{id}"),
            format!("/services/{id}/templates/{id}/edit"),
            format!("/users/{id}/lock"),
            "/platform-admin/audit".to_string(),
            "/find-users-by-email".to_string(),
            "/add-service".to_string(),
        ] {
            assert_eq!(
                RouteClass::of(&post, &page),
                RouteClass::ServicePage,
                "{page}"
            );
        }
        // The internal API's paths are singular.
        assert_eq!(
            RouteClass::of(&post, &format!("/service/{id}/template")),
            RouteClass::Internal
        );
        assert_eq!(
            RouteClass::of(&post, &format!("/user/{id}/lock")),
            RouteClass::Internal
        );
        assert_eq!(
            RouteClass::of(&post, "/d/abc/def/confirm"),
            RouteClass::Page
        );
        assert_eq!(
            RouteClass::of(&post, "/notifications/sms/mmg"),
            RouteClass::Receipts
        );
        let sid = "d5e4b158-d52c-43fe-8557-456b748751a5";
        assert_eq!(
            RouteClass::of(&post, &format!("/service/{sid}/job/upload")),
            RouteClass::SheetUpload
        );
        assert_eq!(
            RouteClass::of(&post, &format!("/services/{sid}/send/{sid}/csv")),
            RouteClass::SheetUpload
        );
        assert_eq!(
            RouteClass::of(&post, &format!("/service/{sid}/contact-list")),
            RouteClass::SheetUpload
        );
        assert_eq!(
            RouteClass::of(&post, &format!("/service/{sid}/job")),
            RouteClass::Internal
        );
        assert_eq!(RouteClass::of(&get, "/_status"), RouteClass::Internal);
        assert_eq!(RouteClass::of(&post, "/sign-in"), RouteClass::Page);
        assert_eq!(RouteClass::of(&post, "/two-factor"), RouteClass::Page);
        assert_eq!(RouteClass::of(&get, "/your-services"), RouteClass::Page);
        assert_eq!(
            RouteClass::of(&get, "/user-profile/authenticator"),
            RouteClass::Page
        );
        assert_eq!(RouteClass::of(&get, "/session"), RouteClass::Internal);
    }

    #[test]
    fn templates_hide_values() {
        let id = "d5e4b158-d52c-43fe-8557-456b748751a5";
        assert_eq!(
            template(&format!("/v2/notifications/{id}")),
            "/v2/notifications/{id}"
        );
        assert_eq!(
            template("/v2/notifications/someone@example.com"),
            "/v2/notifications/{param}"
        );
        assert_eq!(
            template(&format!("/v2/template/{id}/version/3")),
            "/v2/template/{id}/version/{n}"
        );
        assert_eq!(template("/d/AbC/xYz/confirm"), "/d/{id}/{id}/confirm");
        assert_eq!(template("/static/style.css"), "/static/style.css");
        assert_eq!(template("/outbox/Someone's-Name"), "/outbox/{param}");
        assert_eq!(template("/"), "/");
        assert_eq!(template("/_status"), "/_status");
    }
}
