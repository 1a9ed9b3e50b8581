//! The platform admin pages end to end against the real server, as a browser without
//! JavaScript: every page answers a signed-in platform admin with its content and the platform
//! admin navigation, refuses a signed-in member of a service (403) and sends a visitor who has
//! not signed in to sign in; the searches find a service by part of its name and a person by part
//! of their email address; a person's page lists their services; the audit trail filters by
//! person; "run now" runs a scheduled job; the operator pages share the signed-in layout.

use notify::config::Environment;
use notify::domain::accounts::Actor;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::services;
use serde_json::json;
use storage::records::Permission;
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::browser::{Browser, Page};

/// A browser signed in as a new person (a platform admin or not), a member of the test
/// service with `permissions`.
async fn signed_in(
    s: &TestServer,
    name: &str,
    email: &str,
    platform_admin: bool,
) -> (Browser, Uuid, String) {
    let operator = Actor::operator();
    let user = users::create_user(
        &s.app,
        &operator,
        NewUser {
            name: name.into(),
            email_address: email.into(),
            mobile_number: None,
            platform_admin,
            auth_type: None,
            password: None,
        },
    )
    .await
    .unwrap();
    users::add_user_to_service(
        &s.app,
        &operator,
        s.service_id,
        user.id,
        vec![Permission::ViewActivity],
    )
    .await
    .unwrap();
    let session = sessions::create_signed_in(&s.app, user.id, SecondFactor::EmailCode, None, None)
        .await
        .unwrap();
    let mut b = Browser::new(s);
    b.cookies
        .insert("notify_admin_session".into(), session.token.clone());
    (b, user.id, session.csrf_token)
}

fn ok_page(page: &Page, path: &str) {
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    assert!(
        page.body.contains(r#"aria-label="Platform admin""#),
        "{path} has no platform admin navigation"
    );
    assert!(page.body.contains("Sign out"), "{path} is not signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_pages_answer_platform_admins_only() {
    let s = TestServer::start_with(|c| c.environment = Environment::Production).await;
    let operator = Actor::operator();
    let trial = services::create_service(
        &s.app,
        &operator,
        services::NewService {
            name: "Parking permits (pilot)".into(),
            restricted: true,
        },
    )
    .await
    .unwrap();
    // One email today for the live test service.
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/email",
            Some(json!({
                "email_address": "someone@example.com",
                "template_id": s.email_template,
                "personalisation": {"name": "Sam"},
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (mut admin, admin_id, csrf) =
        signed_in(&s, "Ada Admin", "ada.admin@example.gov.uk", true).await;
    let (mut member, member_id, _) =
        signed_in(&s, "Casey Member", "casey@example.gov.uk", false).await;
    let mut nobody = Browser::new(&s);
    let sid = s.service_id;
    let pages = [
        "/platform-admin".to_string(),
        "/platform-admin/live-services".into(),
        "/platform-admin/trial-services".into(),
        "/find-services-by-name".into(),
        "/find-services-by-name?search=permits".into(),
        "/find-users-by-email".into(),
        "/find-users-by-email?search=casey".into(),
        format!("/users/{member_id}"),
        "/providers".into(),
        "/platform-admin/print-runs".into(),
        "/platform-admin/audit".into(),
        format!("/platform-admin/audit?service={sid}"),
        "/".into(),
        "/outbox".into(),
        "/scheduler".into(),
        "/alerts".into(),
    ];
    for path in &pages {
        ok_page(&admin.get(path).await, path);
        let page = member.get(path).await;
        if path == "/" {
            // The status page sends anyone else to their services.
            assert_eq!(page.location, "/your-services");
        } else {
            assert_eq!(page.status, 403, "{path}");
            assert!(page.body.contains("You do not have permission"), "{path}");
            assert!(!page.body.contains("Platform admin</p>"), "{path}");
        }
        let page = nobody.get(path).await;
        let expected = if path == "/" {
            "/your-services"
        } else {
            "/sign-in"
        };
        assert_eq!(
            (page.status, page.location.as_str()),
            (303, expected),
            "{path}"
        );
    }

    // The summary: one live service and one in trial mode (and the platform's own service,
    // live, that sends sign-in codes when one exists), today's email.
    let summary = admin.get("/platform-admin").await.body;
    assert!(
        summary.contains("service in trial mode") || summary.contains("services in trial mode")
    );
    assert!(summary.contains("Emails"), "{summary}");
    assert!(
        summary.contains(r#"aria-current="page">Summary"#),
        "{summary}"
    );

    // The lists link each service to its dashboard, in the right list.
    let live = admin.get("/platform-admin/live-services").await.body;
    assert!(
        live.contains(&format!(r#"href="/services/{sid}">API tests</a>"#)),
        "{live}"
    );
    assert!(!live.contains("Parking permits"));
    let trial_list = admin.get("/platform-admin/trial-services").await.body;
    assert!(trial_list.contains(&format!(
        r#"href="/services/{}">Parking permits (pilot)</a>"#,
        trial.id
    )));
    assert!(!trial_list.contains("API tests"));

    // Search by part of the name, ignoring case; and by email address.
    let found = admin.get("/find-services-by-name?search=PERMIT").await.body;
    assert!(found.contains("1 service found"), "{found}");
    assert!(found.contains(&format!("/services/{}", trial.id)));
    assert!(found.contains(r#"value="PERMIT""#), "the search is kept");
    let none = admin.get("/find-services-by-name?search=zebra").await.body;
    assert!(none.contains("No services found"));
    let users_found = admin.get("/find-users-by-email?search=CASEY@").await.body;
    assert!(users_found.contains(&format!(r#"href="/users/{member_id}">Casey Member</a>"#)));
    // (The header names the signed-in admin; the results do not list them.)
    assert!(!users_found.contains(&format!("/users/{admin_id}")));

    // A person's page: their services, not a platform admin, never signed in through the form.
    let user = admin.get(&format!("/users/{member_id}")).await.body;
    assert!(user.contains("casey@example.gov.uk"));
    assert!(user.contains(&format!(r#"href="/services/{sid}">API tests</a>"#)));
    assert!(user.contains("Platform admin</dt><dd class=\"summary-list__value\">No"));
    assert_eq!(
        admin
            .get(&format!("/users/{}", Uuid::now_v7()))
            .await
            .status,
        404
    );
    assert_eq!(admin.get("/users/not-an-id").await.status, 404);

    // The audit trail: the member was added to the service; filtered by person it shows only
    // what concerns them; a filter that is not an id is an error on its field.
    let all = admin.get("/platform-admin/audit").await.body;
    assert!(all.contains("team.member_added"), "{all}");
    assert!(all.contains("service.created"));
    let theirs = admin
        .get(&format!("/platform-admin/audit?user={member_id}"))
        .await
        .body;
    assert!(theirs.contains("team.member_added"));
    assert!(!theirs.contains("service.created"), "{theirs}");
    let bad = admin.get("/platform-admin/audit?user=nobody").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Enter a user ID"));
    assert!(bad.body.contains(r#"value="nobody""#));

    // Providers: the outbox, in tests.
    let providers = admin.get("/providers").await.body;
    assert!(providers.contains("Outbox"));
    assert_eq!(
        admin.get("/platform-admin/providers").await.location,
        "/providers"
    );

    // Print runs: the letters jobs.
    let print = admin.get("/platform-admin/print-runs").await.body;
    assert!(print.contains("collate-letter-pdfs-to-be-sent"));
    assert!(print.contains("No response files from the printer yet"));

    // Run a scheduled job now: a member may not, a form without the session's token is
    // refused, the platform admin's runs it and the audit trail says who did.
    let job = "delete-inbound-sms";
    let run = format!("/scheduler/{job}/run");
    assert_eq!(member.post(&run, &[("csrf_token", "x")]).await.status, 403);
    assert_eq!(
        admin.post(&run, &[("csrf_token", "wrong")]).await.status,
        403
    );
    let ran = admin.post(&run, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(
        (ran.status, ran.location.as_str()),
        (303, "/scheduler?ran=delete-inbound-sms")
    );
    let scheduler = admin.get(&ran.location).await.body;
    assert!(
        scheduler.contains("delete-inbound-sms has run"),
        "{scheduler}"
    );
    assert!(scheduler.contains("Run now"));
    let mine = admin
        .get(&format!("/platform-admin/audit?user={admin_id}"))
        .await
        .body;
    assert!(
        mine.contains("scheduler.job_run") || mine.contains(job),
        "{mine}"
    );
    assert_eq!(
        admin
            .post(
                "/scheduler/no-such-job/run",
                &[("csrf_token", csrf.as_str())]
            )
            .await
            .status,
        404
    );
}

/// A platform admin locks, unlocks, resets the second factor of and archives an account from
/// its page: each button posts (with the form token), the page comes back with a success
/// banner and the new standing, the person's sessions end when locked, archiving asks first,
/// and each change is in the audit trail. Nobody else may press the buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_locks_unlocks_and_archives_an_account_from_its_page() {
    let s = TestServer::start_with(|c| c.environment = Environment::Production).await;
    let (mut admin, admin_id, csrf) = signed_in(&s, "Pat Admin", "pat@example.gov.uk", true).await;
    // Not on your own account: no buttons, and a forged post is refused.
    let own = admin.get(&format!("/users/{admin_id}")).await;
    assert!(!own.body.contains("Lock account"), "{}", own.body);
    let refused = admin
        .post(
            &format!("/users/{admin_id}/lock"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(refused.location, format!("/users/{admin_id}"));
    assert!(
        admin.get("/your-services").await.status == 200,
        "still signed in"
    );
    let (mut member, member_id, member_csrf) =
        signed_in(&s, "Sam Caseworker", "sam@example.gov.uk", false).await;
    let page = format!("/users/{member_id}");

    let shown = admin.get(&page).await;
    ok_page(&shown, &page);
    assert!(shown.body.contains("Lock account"), "{}", shown.body);
    assert!(shown.body.contains("Archive user"));
    assert!(!shown.body.contains("Unlock account"));
    assert!(!shown.body.contains("Success"), "no banner before a change");

    // Only a platform admin, only with the page's token.
    let lock = format!("{page}/lock");
    assert_eq!(
        member
            .post(&lock, &[("csrf_token", member_csrf.as_str())])
            .await
            .status,
        403
    );
    assert_eq!(
        admin.post(&lock, &[("csrf_token", "forged")]).await.status,
        403
    );
    assert_eq!(
        admin
            .post(&format!("{page}/promote"), &[("csrf_token", csrf.as_str())])
            .await
            .status,
        404
    );
    assert!(
        member.get("/your-services").await.status == 200,
        "still signed in"
    );

    let locked = admin.post(&lock, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(locked.status, 303, "{}", locked.body);
    assert_eq!(locked.location, format!("{page}?done=account-locked"));
    let shown = admin.get(&locked.location).await;
    assert!(
        shown.body.contains("notification-banner--success"),
        "{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains("Account locked: this person cannot sign in")
    );
    assert!(shown.body.contains("Unlock account"));
    assert!(!shown.body.contains("Lock account"));
    let after = member.get("/your-services").await;
    assert_eq!(after.status, 303, "a locked person's session ended");
    assert_eq!(after.location, "/sign-in");

    let unlocked = admin
        .post(&format!("{page}/unlock"), &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(unlocked.location, format!("{page}?done=account-unlocked"));
    assert!(
        admin
            .get(&unlocked.location)
            .await
            .body
            .contains("Account unlocked")
    );

    // Archiving asks first; the question's form archives.
    let ask = admin.get(&format!("{page}/archive")).await;
    ok_page(&ask, "archive");
    assert!(
        ask.body
            .contains("Are you sure you want to archive this user?")
    );
    assert!(ask.body.contains(&format!(r#"action="{page}/archive""#)));
    let archived = admin
        .post(&format!("{page}/archive"), &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(archived.location, format!("{page}?done=account-archived"));
    let shown = admin.get(&archived.location).await;
    assert!(shown.body.contains("Account archived"));
    assert!(shown.body.contains("Archived"));
    assert!(!shown.body.contains("Lock account") && !shown.body.contains("Archive user"));
    // Pressing an old button again changes nothing and does not fail.
    let again = admin.post(&lock, &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(again.location, page);

    let trail = admin
        .get(&format!("/platform-admin/audit?user={member_id}"))
        .await
        .body;
    for action in ["user.locked", "user.unlocked", "user.archived"] {
        assert!(trail.contains(action), "{action} missing from {trail}");
    }
}
