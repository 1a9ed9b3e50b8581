//! The authorisation matrix, generated from the route table itself: every internal-API route ×
//! every kind of caller, with the status each must get from the one access check
//! (`notify::admin::access::authorize`, which runs before any handler). A route added to the
//! table is in the matrix at once; a route served without a row is refused (500) and fails
//! `every_served_route_has_a_row`.
//!
//! Expected answers follow upstream's admin app: anonymous callers 401; another service's
//! things 404 (never data); a signed-in person without the permission 403; a platform admin
//! everything but sending and creating keys in services they are not a member of; the
//! operator's admin secret everything.

use notify::admin::access::{Credentials, authorize};
use notify::admin::route_table::{self, Method, Route};
use notify::domain::accounts::Actor;
use notify::domain::accounts::Need;
use notify::domain::accounts::sessions::{self, NewSession, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::services;
use notify::server::routes::RouteClass;
use storage::records::Permission;
use uuid::Uuid;

use crate::common::TestServer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// A member of the route's service with no permissions.
    WithoutPermission,
    /// A member (with every permission) of another service only.
    OtherServicesMember,
    /// A member of the route's service with every permission.
    MemberWithPermission,
    /// A platform admin who belongs to no service.
    PlatformAdmin,
    /// The operator, with the admin secret.
    AdminSecret,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::WithoutPermission,
    Caller::OtherServicesMember,
    Caller::MemberWithPermission,
    Caller::PlatformAdmin,
    Caller::AdminSecret,
];

const OK: u16 = 200;

/// The status `caller` must get for a route needing `need` (for `{user_id}`: someone else).
fn expected(caller: Caller, need: Need) -> u16 {
    use Caller::*;
    match (caller, need) {
        (Anonymous, _) => 401,
        (AdminSecret, _) => OK,
        (_, Need::SignedIn) => OK,
        (PlatformAdmin, Need::MemberWith(_)) => 403,
        (PlatformAdmin, _) => OK,
        (_, Need::PlatformAdmin) => 403,
        (_, Need::SelfOrPlatformAdmin) => 404,
        (OtherServicesMember, _) => 404,
        (WithoutPermission, Need::Member) => OK,
        (WithoutPermission, _) => 403,
        (MemberWithPermission, _) => OK,
    }
}

/// A path of `route` with its `{…}` segments filled in.
fn path_of(route: &Route, service_id: Uuid, user_id: Uuid) -> String {
    route
        .path
        .split('/')
        .map(|seg| match seg {
            "{service_id}" => service_id.to_string(),
            "{user_id}" => user_id.to_string(),
            "{version}" => "1".into(),
            "{notification_type}" => "email".into(),
            "{job_name}" => "delete-verify-codes".into(),
            s if s.starts_with('{') => Uuid::new_v4().to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn method_of(m: Method) -> warp::http::Method {
    match m {
        Method::Get => warp::http::Method::GET,
        Method::Post => warp::http::Method::POST,
        Method::Put => warp::http::Method::PUT,
        Method::Delete => warp::http::Method::DELETE,
    }
}

async fn person(
    s: &TestServer,
    email: &str,
    platform_admin: bool,
    member_of: Option<(Uuid, Vec<Permission>)>,
) -> (Uuid, NewSession) {
    let operator = Actor::operator();
    let user = users::create_user(
        &s.app,
        &operator,
        NewUser {
            name: email.into(),
            email_address: email.into(),
            mobile_number: None,
            platform_admin,
            auth_type: None,
            password: None,
        },
    )
    .await
    .unwrap();
    if let Some((service_id, permissions)) = member_of {
        users::add_user_to_service(&s.app, &operator, service_id, user.id, permissions)
            .await
            .unwrap();
    }
    let session = sessions::create_signed_in(&s.app, user.id, SecondFactor::Totp, None, None)
        .await
        .unwrap();
    (user.id, session)
}

fn status_of(result: &Result<impl Sized, notify::error::AppError>) -> u16 {
    match result {
        Ok(_) => OK,
        Err(e) => e.into_admin_response().status().as_u16(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_kind_of_caller_as_the_table_says() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let other = services::create_service(
        &s.app,
        &Actor::operator(),
        services::NewService {
            name: "Another service".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let (someone_else, _) = person(&s, "someone@example.gov.uk", false, None).await;
    let (_, without) = person(&s, "without@example.gov.uk", false, Some((sid, vec![]))).await;
    let all = Permission::ALL.to_vec();
    let (_, outsider) = person(
        &s,
        "outsider@example.gov.uk",
        false,
        Some((other.id, all.clone())),
    )
    .await;
    let (_, member) = person(&s, "member@example.gov.uk", false, Some((sid, all))).await;
    let (_, admin) = person(&s, "admin@example.gov.uk", true, None).await;

    let mut cells = 0;
    let mut wrong = Vec::new();
    for route in route_table::routes() {
        let path = path_of(route, sid, someone_else);
        let method = method_of(route.method);
        for caller in CALLERS {
            let session = match caller {
                Caller::WithoutPermission => Some(&without),
                Caller::OtherServicesMember => Some(&outsider),
                Caller::MemberWithPermission => Some(&member),
                Caller::PlatformAdmin => Some(&admin),
                Caller::Anonymous | Caller::AdminSecret => None,
            };
            let credentials = Credentials {
                authorization: (caller == Caller::AdminSecret).then(|| s.admin_auth()),
                cookie: session.map(|x| format!("notify_admin_session={}", x.token)),
                csrf_token: session.map(|x| x.csrf_token.clone()),
                address: None,
            };
            let got = status_of(&authorize(&s.app, &method, &path, &credentials));
            let want = expected(caller, route.need);
            cells += 1;
            if got != want {
                wrong.push(format!(
                    "{} {} as {caller:?}: {got}, expected {want}",
                    route.method.as_str(),
                    route.path
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, route_table::routes().count() * CALLERS.len());
    assert!(cells > 500, "the table lost its rows: {cells} cells");

    // A cookie without the session's CSRF token changes nothing, even where the person may.
    let change = route_table::routes()
        .find(|r| r.method == Method::Post && r.path == "/service/{service_id}/template")
        .unwrap();
    let credentials = Credentials {
        cookie: Some(format!("notify_admin_session={}", member.token)),
        csrf_token: Some("not-the-token".into()),
        ..Credentials::default()
    };
    let path = path_of(change, sid, someone_else);
    let got = status_of(&authorize(
        &s.app,
        &warp::http::Method::POST,
        &path,
        &credentials,
    ));
    assert_eq!(got, 403);
    // Their own account is theirs.
    let (me, mine) = person(&s, "me@example.gov.uk", false, None).await;
    let credentials = Credentials {
        cookie: Some(format!("notify_admin_session={}", mine.token)),
        ..Credentials::default()
    };
    let got = status_of(&authorize(
        &s.app,
        &warp::http::Method::GET,
        &format!("/user/{me}"),
        &credentials,
    ));
    assert_eq!(got, OK);
}

/// Every internal route the server serves has a row: a request for one, with the admin
/// secret, never meets the "no row in the route table" refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_route_has_a_row() {
    let s = TestServer::start().await;
    for route in route_table::routes() {
        let path = path_of(route, s.service_id, Uuid::new_v4());
        let method = route.method.as_str();
        let (status, body) = match method {
            "GET" | "POST" | "DELETE" => {
                s.request(method, &path, Some(s.admin_auth()), Some("{}"))
                    .await
            }
            _ => {
                let resp = reqwest::Client::new()
                    .put(format!("{}{path}", s.base))
                    .header("authorization", s.admin_auth())
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap().into())
            }
        };
        assert!(
            !body.to_string().contains("route table"),
            "{method} {path}: {status} {body}"
        );
        assert_ne!(status, 401, "{method} {path}: {body}");
        assert_ne!(status, 405, "{method} {path}: no such route is served");
    }
}

/// The other way round: every internal route the admin modules declare
/// (`warp::path!(…).and(warp::get())` and the like in `src/admin/`) has a row, so a route added
/// without one fails here rather than answering 500 in use. Read from the source, as
/// `architecture.rs` reads it; routes built by macros (`$seg`) are covered by their rows'
/// macros, `/unsubscribe/…` is a recipient's public route, and pages are not the internal API.
#[test]
fn every_declared_admin_route_has_a_row() {
    let route =
        regex::Regex::new(r"warp::path!\(([^)]*)\)\s*\.and\(warp::(get|post|put|delete)\(\)\)")
            .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/admin");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for found in route.captures_iter(&source) {
            let segments: Vec<&str> = found[1].split('/').map(str::trim).collect();
            if found[1].contains('$') || segments[0] == "\"unsubscribe\"" {
                continue;
            }
            let method = match &found[2] {
                "get" => Method::Get,
                "post" => Method::Post,
                "put" => Method::Put,
                _ => Method::Delete,
            };
            // Pages for people (`/outbox`, `/scheduler`) are not the internal API.
            let first = segments[0].trim_matches('"');
            if RouteClass::of(&method_of(method), &format!("/{first}")) == RouteClass::Page {
                continue;
            }
            // A literal segment must be the row's; `Uuid` fits a `{…}` one; `String` (a
            // handler that picks among words) fits any.
            let fits = |row: &Route| {
                let pattern: Vec<&str> = row.path.trim_matches('/').split('/').collect();
                row.method == method
                    && pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(p, seg)| match seg.strip_prefix('"') {
                            Some(literal) => *p == literal.trim_end_matches('"'),
                            None if *seg == "String" => true,
                            None => p.starts_with('{'),
                        })
            };
            assert!(
                route_table::routes().any(fits),
                "{}: {} {} has no row in src/admin/route_table.rs",
                path.display(),
                method.as_str(),
                &found[1]
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} routes found in src/admin");
}
