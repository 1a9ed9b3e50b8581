//! Who may call the internal API, decided once per request before any handler: the operator
//! with the admin secret (a bearer token, as upstream's admin app signs them) or a person with
//! a signed-in session (the cookie the web pages set). Both go through [`authorize`], which
//! finds the request's row in the [route table](super::route_table) and checks the caller
//! against it; handlers get a [`Caller`] (the app and the [`Actor`]) and pass the actor on to
//! the domain, which checks again and writes the audit event.
//!
//! A cookie-authenticated request that changes something must carry the session's CSRF token
//! in `X-CSRF-Token` (from `GET /session`): a cookie alone never changes anything.

use std::net::IpAddr;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::route_table::{self, Method};
use crate::app::App;
use crate::auth::{AdminAuthError, verify_admin_header};
use crate::domain::DomainError;
use crate::domain::accounts::sessions::{self, Checked};
use crate::domain::accounts::{Actor, Denied, permissions};
use crate::error::{AppError, NOT_FOUND_MESSAGE, admin_reject};

/// An authorised request's app and actor. Dereferences to the app, so handlers read
/// `caller.store` and pass `&caller` where a `&Context` is wanted.
#[derive(Clone)]
pub struct Caller {
    pub app: Arc<App>,
    pub actor: Actor,
    /// The session, when a person is signed in (not for the admin secret).
    pub session: Option<Checked>,
    /// The appliance's root URL as this request reached it (links in emails point here).
    pub root: String,
}

impl std::ops::Deref for Caller {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

/// What a request brings to be authorised.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub authorization: Option<String>,
    pub cookie: Option<String>,
    pub csrf_token: Option<String>,
    pub address: Option<IpAddr>,
}

/// The session id in a `Cookie` header, if any.
pub fn session_cookie(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| *name == sessions::COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

fn denied(d: Denied) -> AppError {
    match d {
        // Indistinguishable from a URL that does not exist: another service's things are
        // not even acknowledged.
        Denied::NotFound => AppError::NotFound(NOT_FOUND_MESSAGE.into()),
        other => AppError::Domain(other.into_error()),
    }
}

/// Decide whether `credentials` may make this request; answers the actor. The one
/// authorisation function of the internal API.
pub fn authorize(
    app: &Arc<App>,
    method: &warp::http::Method,
    path: &str,
    credentials: &Credentials,
) -> Result<(Actor, Option<Checked>), AppError> {
    let method =
        Method::parse(method).ok_or_else(|| AppError::NotFound(NOT_FOUND_MESSAGE.into()))?;
    let Some((route, params)) = route_table::find(method, path) else {
        // Warp matched a route the table does not list: refused until it has a row.
        return Err(AppError::Internal(format!(
            "{} {path} has no row in the route table (src/admin/route_table.rs)",
            method.as_str()
        )));
    };
    let (actor, session) = if credentials.authorization.is_some() {
        let now = app.store.clock().now().timestamp();
        verify_admin_header(
            credentials.authorization.as_deref(),
            &app.config.admin.client_id,
            app.admin_secret.expose(),
            now,
        )?;
        (Actor::operator().from(credentials.address), None)
    } else if let Some(token) = session_cookie(credentials.cookie.as_deref()) {
        let checked = sessions::check(app, token).map_err(denied)?;
        if checked.is_pending() {
            return Err(denied(Denied::NotSignedIn));
        }
        if method.is_unsafe() {
            let sent = credentials.csrf_token.as_deref().unwrap_or("");
            let expected = checked.session.csrf_token.as_bytes();
            if !bool::from(sent.as_bytes().ct_eq(expected)) {
                return Err(AppError::Domain(DomainError::forbidden(
                    "The CSRF token is missing or incorrect (send X-CSRF-Token from GET /session)"
                        .into(),
                )));
            }
        }
        if checked.needs_touch {
            sessions::touch_later(&app.cx, &checked);
        }
        (checked.actor(credentials.address), Some(checked))
    } else {
        return Err(AppError::AdminAuth(AdminAuthError::Missing));
    };
    permissions::check(
        &actor,
        route.need,
        params.uuid("service_id"),
        params.uuid("user_id"),
    )
    .map_err(denied)?;
    Ok((actor, session))
}

/// The filter every internal-API route runs after its path and method matched.
pub fn authorised(app: Arc<App>) -> BoxedFilter<(Caller,)> {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("cookie"))
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(warp::header::optional::<String>("host"))
        .and(crate::server::request_info())
        .and_then(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  authorization: Option<String>,
                  cookie: Option<String>,
                  csrf_token: Option<String>,
                  host: Option<String>,
                  info: Arc<crate::server::RequestInfo>| {
                let app = app.clone();
                async move {
                    let credentials = Credentials {
                        authorization,
                        cookie,
                        csrf_token,
                        address: info.client.address,
                    };
                    let (actor, session) = authorize(&app, &method, path.as_str(), &credentials)
                        .map_err(admin_reject)?;
                    let host = host.filter(|_| info.host_allowed);
                    let root = crate::api::root_url(&app, host.as_deref(), info.client.scheme);
                    Ok::<_, warp::Rejection>(Caller {
                        app,
                        actor,
                        session,
                        root,
                    })
                }
            },
        )
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_cookie(None), None);
        assert_eq!(
            session_cookie(Some("a=1; notify_admin_session=abc ; b=2")),
            Some("abc")
        );
        assert_eq!(session_cookie(Some("notify_admin_session=")), None);
        assert_eq!(session_cookie(Some("other=abc")), None);
    }
}
