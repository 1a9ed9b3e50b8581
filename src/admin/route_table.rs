//! Every internal-API route and what it needs of its caller, in one table.
//!
//! The access filter ([`super::access`]) finds the row of each request (method and path) and
//! checks the caller against the row's [`Need`] before any handler runs: a request that matches
//! no row is refused, so a route added without a row here cannot be reached. The authorisation
//! matrix test (`tests/it/authorization.rs`) is generated from this table: every row × every
//! kind of caller, with the status each must get.
//!
//! Paths use `{name}` for a segment; `{service_id}` names the service a route belongs to (its
//! members are who may use it), `{user_id}` the account a route is about; every `{…_id}` must
//! be a uuid. When two rows match a path, the one with more literal segments wins
//! (`/service/{service_id}/job/scheduled-job-stats` before `/service/{service_id}/job/{job_id}`).

use storage::records::Permission::{
    ManageApiKeys, ManageService, ManageTemplates, SendMessages, ViewActivity,
};

use crate::domain::accounts::Need::{
    self, Member, MemberWith, PlatformAdmin, SelfOrPlatformAdmin, SignedIn,
};

/// The HTTP methods the internal API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(m: &warp::http::Method) -> Option<Method> {
        Some(match *m {
            warp::http::Method::GET => Method::Get,
            warp::http::Method::POST => Method::Post,
            warp::http::Method::PUT => Method::Put,
            warp::http::Method::DELETE => Method::Delete,
            _ => return None,
        })
    }

    /// Changes state: a cookie-authenticated request must carry the session's CSRF token.
    pub fn is_unsafe(self) -> bool {
        self != Method::Get
    }
}

/// One route: method, path pattern, and what its caller needs.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub need: Need,
}

const fn get(path: &'static str, need: Need) -> Route {
    Route {
        method: Method::Get,
        path,
        need,
    }
}
const fn post(path: &'static str, need: Need) -> Route {
    Route {
        method: Method::Post,
        path,
        need,
    }
}
const fn put(path: &'static str, need: Need) -> Route {
    Route {
        method: Method::Put,
        path,
        need,
    }
}
const fn delete(path: &'static str, need: Need) -> Route {
    Route {
        method: Method::Delete,
        path,
        need,
    }
}
const fn may(p: storage::records::Permission) -> Need {
    Need::Permission(p)
}

/// The rows of one kind of sender entry (`email-reply-to`, `sms-sender`, `letter-contact`).
macro_rules! sender_rows {
    ($seg:literal) => {
        [
            get(concat!("/service/{service_id}/", $seg), Member),
            post(concat!("/service/{service_id}/", $seg), may(ManageService)),
            get(
                concat!("/service/{service_id}/", $seg, "/{entry_id}"),
                Member,
            ),
            post(
                concat!("/service/{service_id}/", $seg, "/{entry_id}"),
                may(ManageService),
            ),
            post(
                concat!("/service/{service_id}/", $seg, "/{entry_id}/archive"),
                may(ManageService),
            ),
        ]
    };
}

/// The rows of one kind of service callback (upstream's `delivery-receipt-api`, ...).
macro_rules! callback_rows {
    ($seg:literal) => {
        [
            post(concat!("/service/{service_id}/", $seg), may(ManageApiKeys)),
            post(
                concat!("/service/{service_id}/", $seg, "/{callback_id}"),
                may(ManageApiKeys),
            ),
            get(concat!("/service/{service_id}/", $seg), may(ManageApiKeys)),
            get(
                concat!("/service/{service_id}/", $seg, "/{callback_id}"),
                may(ManageApiKeys),
            ),
            delete(concat!("/service/{service_id}/", $seg), may(ManageApiKeys)),
            delete(
                concat!("/service/{service_id}/", $seg, "/{callback_id}"),
                may(ManageApiKeys),
            ),
        ]
    };
}

const SERVICES: [Route; 7] = [
    get("/service", SignedIn),
    post("/service", SignedIn),
    get("/service/{service_id}", Member),
    post("/service/{service_id}", may(ManageService)),
    post("/service/{service_id}/archive", may(ManageService)),
    get("/service/{service_id}/guest-list", may(ManageApiKeys)),
    put("/service/{service_id}/guest-list", may(ManageApiKeys)),
];

const KEYS: [Route; 4] = [
    post("/service/{service_id}/api-key", MemberWith(ManageApiKeys)),
    get("/service/{service_id}/api-keys", may(ManageApiKeys)),
    get(
        "/service/{service_id}/api-keys/{key_id}",
        may(ManageApiKeys),
    ),
    post(
        "/service/{service_id}/api-key/revoke/{key_id}",
        may(ManageApiKeys),
    ),
];

const TEMPLATES: [Route; 7] = [
    post("/service/{service_id}/template", may(ManageTemplates)),
    get("/service/{service_id}/template", Member),
    get("/service/{service_id}/template/{template_id}", Member),
    post(
        "/service/{service_id}/template/{template_id}",
        may(ManageTemplates),
    ),
    post(
        "/service/{service_id}/template/{template_id}/archive",
        may(ManageTemplates),
    ),
    get(
        "/service/{service_id}/template/{template_id}/versions",
        Member,
    ),
    get(
        "/service/{service_id}/template/{template_id}/version/{version}",
        Member,
    ),
];

const PEOPLE: [Route; 23] = [
    get("/user", PlatformAdmin),
    post("/user", PlatformAdmin),
    get("/user/{user_id}", SelfOrPlatformAdmin),
    post("/user/{user_id}", SelfOrPlatformAdmin),
    post("/user/{user_id}/lock", PlatformAdmin),
    post("/user/{user_id}/unlock", PlatformAdmin),
    post("/user/{user_id}/reset-second-factor", PlatformAdmin),
    post("/user/{user_id}/archive", PlatformAdmin),
    post("/user/{user_id}/first-sign-in-link", PlatformAdmin),
    delete("/user/{user_id}/sessions", SelfOrPlatformAdmin),
    get("/session", SignedIn),
    delete("/session", SignedIn),
    get("/service/{service_id}/users", Member),
    post("/service/{service_id}/users/{user_id}", may(ManageService)),
    delete("/service/{service_id}/users/{user_id}", may(ManageService)),
    post(
        "/user/{user_id}/service/{service_id}/permission",
        may(ManageService),
    ),
    post("/service/{service_id}/invite", may(ManageService)),
    get("/service/{service_id}/invite", may(ManageService)),
    post(
        "/service/{service_id}/invite/{invitation_id}",
        may(ManageService),
    ),
    get("/service/{service_id}/audit-events", may(ManageService)),
    get("/audit-events", PlatformAdmin),
    post(
        "/service/{service_id}/send-notification",
        MemberWith(SendMessages),
    ),
    post("/index/rebuild", PlatformAdmin),
];

const JOBS: [Route; 12] = [
    post("/service/{service_id}/job/upload", MemberWith(SendMessages)),
    post("/service/{service_id}/job", MemberWith(SendMessages)),
    get("/service/{service_id}/job", may(ViewActivity)),
    get("/service/{service_id}/job/{job_id}", may(ViewActivity)),
    get(
        "/service/{service_id}/job/{job_id}/notifications",
        may(ViewActivity),
    ),
    post(
        "/service/{service_id}/job/{job_id}/cancel",
        may(SendMessages),
    ),
    post(
        "/service/{service_id}/job/{job_id}/cancel-letter-job",
        may(SendMessages),
    ),
    post("/service/{service_id}/contact-list", may(SendMessages)),
    get("/service/{service_id}/contact-list", may(SendMessages)),
    get(
        "/service/{service_id}/contact-list/{contact_list_id}",
        may(SendMessages),
    ),
    delete(
        "/service/{service_id}/contact-list/{contact_list_id}",
        may(SendMessages),
    ),
    get("/service/{service_id}/upload", may(ViewActivity)),
];

const STATISTICS: [Route; 8] = [
    get("/service/{service_id}/statistics", may(ViewActivity)),
    get(
        "/service/{service_id}/notifications/monthly",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/billing/monthly-usage",
        may(ManageService),
    ),
    get(
        "/service/{service_id}/billing/yearly-usage-summary",
        may(ManageService),
    ),
    get(
        "/service/{service_id}/template-statistics",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/template-statistics/last-used/{template_id}",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/job/scheduled-job-stats",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/job/{job_id}/statistics",
        may(ViewActivity),
    ),
];

const RETENTION: [Route; 5] = [
    get("/service/{service_id}/data-retention", may(ManageService)),
    post("/service/{service_id}/data-retention", PlatformAdmin),
    get(
        "/service/{service_id}/data-retention/notification-type/{notification_type}",
        may(ManageService),
    ),
    get(
        "/service/{service_id}/data-retention/{retention_id}",
        may(ManageService),
    ),
    post(
        "/service/{service_id}/data-retention/{retention_id}",
        PlatformAdmin,
    ),
];

const LETTERS: [Route; 8] = [
    post(
        "/service/{service_id}/notifications/{notification_id}/cancel",
        may(SendMessages),
    ),
    post("/letters/replay-scan-errors", PlatformAdmin),
    post("/letters/print-responses", PlatformAdmin),
    get("/letters/print-responses", PlatformAdmin),
    post("/letters/returned", PlatformAdmin),
    get(
        "/service/{service_id}/returned-letter-summary",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/returned-letter-statistics",
        may(ViewActivity),
    ),
    get("/service/{service_id}/returned-letters", may(ViewActivity)),
];

/// Complaints (from SES) about a service's emails: recipients' addresses, so activity.
const COMPLAINTS: [Route; 3] = [
    get("/complaint", PlatformAdmin),
    get("/complaint/count-by-date-range", PlatformAdmin),
    get("/service/{service_id}/complaints", may(ViewActivity)),
];

/// The pool of inbound numbers is the platform's; a service's members may see its number.
const INBOUND_NUMBERS: [Route; 7] = [
    get("/inbound-number", PlatformAdmin),
    post("/inbound-number", PlatformAdmin),
    get("/inbound-number/available", PlatformAdmin),
    get("/inbound-number/service/{service_id}", Member),
    post("/inbound-number/service/{service_id}", PlatformAdmin),
    post("/inbound-number/service/{service_id}/off", PlatformAdmin),
    post("/service/{service_id}/inbound-sms/remove", PlatformAdmin),
];

/// SMS providers' shares of traffic: the platform's settings.
const PROVIDERS: [Route; 4] = [
    get("/provider-details", PlatformAdmin),
    get("/provider-details/{provider_id}", PlatformAdmin),
    get("/provider-details/{provider_id}/versions", PlatformAdmin),
    post("/provider-details/{provider_id}", PlatformAdmin),
];

/// Recipients' one-click unsubscribe requests, reported to the service (the recipient's own
/// request is a public route, outside this table).
const UNSUBSCRIBE: [Route; 5] = [
    get(
        "/service/{service_id}/unsubscribe-request-reports-summary",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/unsubscribe-request-statistics",
        may(ViewActivity),
    ),
    post(
        "/service/{service_id}/create-unsubscribe-request-report",
        may(ViewActivity),
    ),
    get(
        "/service/{service_id}/unsubscribe-request-report/{report_id}",
        may(ViewActivity),
    ),
    post(
        "/service/{service_id}/process-unsubscribe-request-report/{report_id}",
        may(ManageService),
    ),
];

/// Online backups and store checks, for the CLI while the server runs.
const BACKUP: [Route; 3] = [
    post("/backup/snapshot", PlatformAdmin),
    get("/backup/snapshot/{snapshot_id}/{part}", PlatformAdmin),
    post("/check", PlatformAdmin),
];

const APPLIANCE: [Route; 4] = [
    get("/outbox/messages", PlatformAdmin),
    get("/scheduler/jobs", PlatformAdmin),
    post("/scheduler/jobs/{job_name}/run", PlatformAdmin),
    get("/scheduler/alerts", PlatformAdmin),
];

const REPLY_TO: [Route; 5] = sender_rows!("email-reply-to");
const SMS_SENDER: [Route; 5] = sender_rows!("sms-sender");
const LETTER_CONTACT: [Route; 5] = sender_rows!("letter-contact");
const DELIVERY_CALLBACK: [Route; 6] = callback_rows!("delivery-receipt-api");
const INBOUND_CALLBACK: [Route; 6] = callback_rows!("inbound-api");
const COMPLAINT_CALLBACK: [Route; 6] = callback_rows!("complaint-api");
const RETURNED_CALLBACK: [Route; 6] = callback_rows!("returned-letter-api");

/// Every internal-API route, by area.
pub const GROUPS: &[&[Route]] = &[
    &SERVICES,
    &REPLY_TO,
    &SMS_SENDER,
    &LETTER_CONTACT,
    &KEYS,
    &TEMPLATES,
    &PEOPLE,
    &JOBS,
    &STATISTICS,
    &RETENTION,
    &LETTERS,
    &COMPLAINTS,
    &INBOUND_NUMBERS,
    &PROVIDERS,
    &UNSUBSCRIBE,
    &BACKUP,
    &APPLIANCE,
    &DELIVERY_CALLBACK,
    &INBOUND_CALLBACK,
    &COMPLAINT_CALLBACK,
    &RETURNED_CALLBACK,
];

/// Every row, in table order.
pub fn routes() -> impl Iterator<Item = &'static Route> {
    GROUPS.iter().flat_map(|g| g.iter())
}

/// The values a path's `{name}` segments took.
#[derive(Debug, Clone, Default)]
pub struct PathParams {
    pairs: Vec<(&'static str, String)>,
}

impl PathParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn uuid(&self, name: &str) -> Option<uuid::Uuid> {
        self.get(name).and_then(|v| uuid::Uuid::parse_str(v).ok())
    }
}

/// The row a request is for, and its path's values: the matching row with the most literal
/// segments. `None`: no row matches (the request is refused).
pub fn find(method: Method, path: &str) -> Option<(&'static Route, PathParams)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<(usize, &'static Route, PathParams)> = None;
    for route in routes().filter(|r| r.method == method) {
        let pattern: Vec<&'static str> = route.path.trim_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut literals = 0;
        let mut params = PathParams::default();
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    let ok = !s.is_empty()
                        && (!name.ends_with("_id") || uuid::Uuid::parse_str(s).is_ok());
                    params.pairs.push((name, (*s).to_string()));
                    ok
                }
                None => {
                    literals += 1;
                    p == s
                }
            }
        });
        if matched && best.as_ref().is_none_or(|(n, ..)| literals > *n) {
            best = Some((literals, route, params));
        }
    }
    best.map(|(_, r, p)| (r, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_unique_and_well_formed() {
        let all: Vec<&Route> = routes().collect();
        for (i, a) in all.iter().enumerate() {
            assert!(a.path.starts_with('/'), "{}", a.path);
            for b in &all[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method.as_str(),
                    a.path
                );
            }
            if a.need.is_service_scoped() {
                assert!(
                    a.path.contains("{service_id}"),
                    "{} needs a service",
                    a.path
                );
            }
            if a.need == Need::SelfOrPlatformAdmin {
                assert!(a.path.contains("{user_id}"), "{} needs a user", a.path);
            }
        }
    }

    #[test]
    fn the_most_literal_row_wins_and_ids_must_be_uuids() {
        let s = "8d8a1c6e-9e4c-4f86-9a4b-2f5a0d1e2c3b";
        let (r, p) = find(
            Method::Get,
            &format!("/service/{s}/job/scheduled-job-stats"),
        )
        .unwrap();
        assert_eq!(r.path, "/service/{service_id}/job/scheduled-job-stats");
        assert_eq!(p.get("service_id"), Some(s));
        let (r, p) = find(Method::Get, &format!("/service/{s}/job/{s}")).unwrap();
        assert_eq!(r.path, "/service/{service_id}/job/{job_id}");
        assert_eq!(p.uuid("job_id").unwrap().to_string(), s);
        assert!(find(Method::Get, "/service/not-a-uuid").is_none());
        assert!(find(Method::Get, &format!("/service/{s}/nothing-here")).is_none());
        assert!(find(Method::Put, "/service").is_none());
        let (r, _) = find(Method::Post, &format!("/user/{s}/service/{s}/permission")).unwrap();
        assert_eq!(r.need, Need::Permission(ManageService));
    }
}
