//! A service's settings pages end to end against the real server, as a browser without
//! JavaScript: each change page stores a valid change (read back through the domain, as the
//! internal API reads it), shows a bad value back with its error, refuses a member without the
//! permission, and answers 404 for another service's settings and entries.

use notify::domain::accounts::Actor;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::{retention, services};
use storage::records::{NotificationType, Permission};
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::browser::{Browser, Page};

/// A signed-in person: their browser and their session's CSRF token.
struct Person {
    browser: Browser,
    csrf: String,
}

impl Person {
    /// A member of the test service with `permissions` (`None`: a platform admin who is not a
    /// member).
    async fn new(s: &TestServer, email: &str, permissions: Option<Vec<Permission>>) -> Person {
        let operator = Actor::operator();
        let user = users::create_user(
            &s.app,
            &operator,
            NewUser {
                name: "Sam Settings".into(),
                email_address: email.into(),
                mobile_number: None,
                platform_admin: permissions.is_none(),
                auth_type: None,
                password: None,
            },
        )
        .await
        .unwrap();
        if let Some(permissions) = permissions {
            users::add_user_to_service(&s.app, &operator, s.service_id, user.id, permissions)
                .await
                .unwrap();
        }
        let session =
            sessions::create_signed_in(&s.app, user.id, SecondFactor::EmailCode, None, None)
                .await
                .unwrap();
        let mut browser = Browser::new(s);
        browser
            .cookies
            .insert("notify_admin_session".into(), session.token);
        Person {
            browser,
            csrf: session.csrf_token,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.browser.get(path).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        self.browser.post(path, &form).await
    }
}

fn manager_permissions() -> Option<Vec<Permission>> {
    Some(vec![Permission::ManageService, Permission::ViewActivity])
}

async fn other_service(s: &TestServer) -> Uuid {
    services::create_service(
        &s.app,
        &Actor::operator(),
        services::NewService {
            name: "Someone else's settings".into(),
            restricted: true,
        },
    )
    .await
    .unwrap()
    .id
}

fn service(s: &TestServer) -> storage::records::Service {
    services::get_service(&s.app.store, s.service_id).unwrap()
}

/// The error summary and the inline error both say `message`.
fn shows_error(page: &Page, message: &str) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("There is a problem"), "{}", page.body);
    assert!(
        page.body.matches(message).count() >= 2,
        "{message} not in summary and field: {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_is_for_managers_and_never_shows_another_service() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let other = other_service(&s).await;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let mut keys = Person::new(
        &s,
        "keys@example.gov.uk",
        Some(vec![Permission::ManageApiKeys]),
    )
    .await;
    let mut viewer = Person::new(
        &s,
        "viewer@example.gov.uk",
        Some(vec![Permission::ViewActivity]),
    )
    .await;
    let mut admin = Person::new(&s, "admin@example.gov.uk", None).await;

    let page = manager
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "API tests",
        "Send emails",
        "Reply-to email addresses",
        "Text message sender IDs",
        "Sender addresses",
        "Data retention period",
        "Your service is live",
        "/service-settings/name",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    // Channels, live status and retention are the platform admins'.
    assert!(!page.body.contains("/service-settings/set-email"));
    assert!(!page.body.contains("Platform admin settings"));

    // API key managers see the settings but may not change the name.
    let page = keys.get(&format!("/services/{sid}/service-settings")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/service-settings/name"));
    let page = keys
        .get(&format!("/services/{sid}/service-settings/name"))
        .await;
    assert_eq!(page.status, 403);
    let page = keys
        .post(
            &format!("/services/{sid}/service-settings/name"),
            &[("name", "Taken over")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(service(&s).name, "API tests");

    // Others are refused, as upstream.
    let page = viewer
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("You do not have permission"));

    let page = admin
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Platform admin settings"));
    assert!(page.body.contains("/service-settings/set-letter"));
    assert!(
        page.body
            .contains(&format!("/services/{sid}/data-retention"))
    );

    for path in [
        "service-settings",
        "service-settings/name",
        "service-settings/email-reply-to",
        "service-settings/email-reply-to/add",
        "service-settings/sms-sender",
        "service-settings/letter-contacts",
        "service-settings/letter-contact/add",
    ] {
        let page = manager.get(&format!("/services/{other}/{path}")).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("Page not found"), "{path}");
    }
    let page = manager
        .post(
            &format!("/services/{other}/service-settings/name"),
            &[("name", "Mine now")],
        )
        .await;
    assert_eq!(page.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_name_is_checked_kept_and_stored() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    other_service(&s).await;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let path = format!("/services/{sid}/service-settings/name");

    let page = manager.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"value="API tests""#));

    let page = manager.post(&path, &[("name", "")]).await;
    shows_error(&page, "Enter a service name");
    let page = manager
        .post(&path, &[("name", "someone ELSE's settings")])
        .await;
    shows_error(
        &page,
        "This service name is already in use - enter a unique name",
    );
    assert!(
        page.body.contains(r#"value="someone ELSE&#39;s settings""#)
            || page.body.contains("value=\"someone ELSE&#x27;s settings\""),
        "{}",
        page.body
    );
    let long = "a".repeat(144);
    let page = manager.post(&path, &[("name", &long)]).await;
    shows_error(&page, "Service name cannot be longer than 143 characters");
    assert!(page.body.contains(&long));
    assert_eq!(service(&s).name, "API tests");

    // Without the session's CSRF token nothing changes.
    let page = manager
        .browser
        .post(&path, &[("name", "Forged"), ("csrf_token", "wrong")])
        .await;
    assert_eq!(page.status, 403);

    let page = manager.post(&path, &[("name", "Parking permits")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location,
        format!("/services/{sid}/service-settings?done=settings-saved")
    );
    assert_eq!(service(&s).name, "Parking permits");
    let page = manager.get(&page.location).await;
    assert!(page.body.contains("Parking permits"));
    assert!(page.body.contains("Your changes have been saved"));
    // The banner is for the page the change came back to, not for every visit.
    let again = manager
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert!(!again.body.contains("Your changes have been saved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_to_addresses_are_added_changed_made_default_and_deleted() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let other = other_service(&s).await;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let mut keys = Person::new(
        &s,
        "keys@example.gov.uk",
        Some(vec![Permission::ManageApiKeys]),
    )
    .await;
    let base = format!("/services/{sid}/service-settings/email-reply-to");

    let page = manager.get(&base).await;
    assert!(
        page.body
            .contains("You have not added any reply-to email addresses yet")
    );
    let page = manager
        .post(
            &format!("{base}/add"),
            &[("email_address", "not an address")],
        )
        .await;
    shows_error(
        &page,
        "Enter an email address in the correct format, like name@example.gov.uk",
    );
    assert!(page.body.contains(r#"value="not an address""#));
    let page = manager
        .post(&format!("{base}/add"), &[("email_address", "")])
        .await;
    shows_error(&page, "Enter an email address");

    // The first address is the default without asking.
    let page = manager
        .post(
            &format!("{base}/add"),
            &[("email_address", "team@example.gov.uk")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, base);
    let page = manager
        .post(
            &format!("{base}/add"),
            &[
                ("email_address", "help@example.gov.uk"),
                ("is_default", "y"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).email_reply_to);
    assert_eq!(live.len(), 2);
    assert_eq!(live[0].email_address, "help@example.gov.uk");
    assert!(live[0].is_default && !live[1].is_default);
    let (first, second) = (live[1].id, live[0].id);

    // Change the other back to the default, with a new address.
    let edit = format!("{base}/{first}/edit");
    let page = manager.get(&edit).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Make this email address the default"));
    let page = manager.post(&edit, &[("email_address", "team@")]).await;
    shows_error(
        &page,
        "Enter an email address in the correct format, like name@example.gov.uk",
    );
    assert!(page.body.contains(r#"value="team@""#));
    let page = manager
        .post(
            &edit,
            &[
                ("email_address", "replies@example.gov.uk"),
                ("is_default", "y"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).email_reply_to);
    assert_eq!(live[0].id, first);
    assert_eq!(live[0].email_address, "replies@example.gov.uk");
    assert!(live[0].is_default);

    // Delete: a confirmation first, then gone.
    let delete = format!("{base}/{second}/delete");
    let page = manager.get(&delete).await;
    assert!(
        page.body
            .contains("Are you sure you want to delete this reply-to email address?")
    );
    let page = manager.post(&delete, &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).email_reply_to);
    assert_eq!(live.len(), 1);

    // Without manage_service: the list, but no changes.
    let page = keys.get(&base).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("replies@example.gov.uk"));
    assert!(!page.body.contains("/edit"));
    let page = keys
        .post(
            &format!("{base}/add"),
            &[("email_address", "x@example.gov.uk")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = keys
        .post(
            &format!("{base}/{first}/edit"),
            &[("email_address", "x@example.gov.uk")],
        )
        .await;
    assert_eq!(page.status, 403);

    // Another service's entries are not found, through either service.
    let theirs = services::add_reply_to(
        &s.app,
        &Actor::operator(),
        other,
        services::ReplyToBody {
            email_address: Some("them@example.gov.uk".into()),
            is_default: None,
        },
    )
    .await
    .unwrap();
    let page = manager.get(&format!("{base}/{}/edit", theirs.id)).await;
    assert_eq!(page.status, 404);
    let page = manager
        .post(&format!("{base}/{}/delete", theirs.id), &[])
        .await;
    assert_eq!(page.status, 404);
    let page = manager
        .get(&format!(
            "/services/{other}/service-settings/email-reply-to/{}/edit",
            theirs.id
        ))
        .await;
    assert_eq!(page.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_message_senders_are_checked_added_and_made_default() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let mut viewer = Person::new(
        &s,
        "viewer@example.gov.uk",
        Some(vec![Permission::ViewActivity]),
    )
    .await;
    let base = format!("/services/{sid}/service-settings/sms-sender");

    let page = manager
        .post(&format!("{base}/add"), &[("sms_sender", "ab")])
        .await;
    shows_error(&page, "Text message sender ID must be 3 characters or more");
    assert!(page.body.contains(r#"value="ab""#));
    let page = manager
        .post(&format!("{base}/add"), &[("sms_sender", "Parking")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = manager
        .post(&format!("{base}/add"), &[("sms_sender", "Permits")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).sms_senders);
    assert_eq!(live[0].sms_sender, "Parking");
    let permits = live[1].id;

    let edit = format!("{base}/{permits}/edit");
    let page = manager
        .post(&edit, &[("sms_sender", "Way too long a sender")])
        .await;
    shows_error(
        &page,
        "Text message sender ID must be 11 characters or fewer",
    );
    assert!(page.body.contains("Way too long a sender"));
    let page = manager
        .post(&edit, &[("sms_sender", "Permits"), ("is_default", "y")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).sms_senders);
    assert_eq!(live[0].id, permits);
    assert!(live[0].is_default);

    let page = viewer.get(&base).await;
    assert_eq!(page.status, 403);
    let page = viewer
        .post(&format!("{base}/add"), &[("sms_sender", "Mine")])
        .await;
    assert_eq!(page.status, 403);
    let page = manager
        .get(&format!("{base}/{}/edit", Uuid::new_v4()))
        .await;
    assert_eq!(page.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letter_contact_blocks_keep_their_lines_up_to_ten() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let mut keys = Person::new(
        &s,
        "keys@example.gov.uk",
        Some(vec![Permission::ManageApiKeys]),
    )
    .await;
    let list = format!("/services/{sid}/service-settings/letter-contacts");
    let add = format!("/services/{sid}/service-settings/letter-contact/add");

    let eleven = (1..=11)
        .map(|n| format!("Line {n}"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let page = manager
        .post(&add, &[("letter_contact_block", &eleven)])
        .await;
    shows_error(
        &page,
        "This address is 11 lines long - the most you can have is 10 lines",
    );
    assert!(page.body.contains("Line 1\nLine 2"), "{}", page.body);
    assert!(page.body.contains("Line 11"));
    let page = manager.post(&add, &[("letter_contact_block", "  ")]).await;
    shows_error(&page, "Enter a sender address");

    let page = manager
        .post(
            &add,
            &[(
                "letter_contact_block",
                "Parking Services\r\n1 High Street\r\nTown AB1 2CD",
            )],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, list);
    let live = services::live_entries(&service(&s).letter_contacts);
    assert_eq!(
        live[0].contact_block,
        "Parking Services\n1 High Street\nTown AB1 2CD"
    );
    assert!(live[0].is_default);
    let block = live[0].id;

    let page = manager.get(&list).await;
    assert!(page.body.contains("Parking Services<br>1 High Street"));
    assert!(page.body.contains("Blank"));
    let page = manager
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert!(page.body.contains("Parking Services<br>1 High Street"));

    // Change it, then make the blank block the default.
    let edit = format!("/services/{sid}/service-settings/letter-contact/{block}/edit");
    let page = manager
        .post(&edit, &[("letter_contact_block", "Permits Office\nTown")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        services::live_entries(&service(&s).letter_contacts)[0].contact_block,
        "Permits Office\nTown"
    );
    let blank = format!("/services/{sid}/service-settings/letter-contact/make-blank-default");
    let page = keys.post(&blank, &[]).await;
    assert_eq!(page.status, 403);
    let page = manager.post(&blank, &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let live = services::live_entries(&service(&s).letter_contacts);
    assert!(!live[0].is_default);
    let page = manager.get(&list).await;
    assert!(page.body.contains("Blank (default)"), "{}", page.body);

    let page = keys.post(&edit, &[("letter_contact_block", "Mine")]).await;
    assert_eq!(page.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_retention_is_set_per_channel_by_platform_admins() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let other = other_service(&s).await;
    let mut admin = Person::new(&s, "admin@example.gov.uk", None).await;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let base = format!("/services/{sid}/data-retention");

    let page = manager.get(&base).await;
    assert_eq!(page.status, 403);
    let page = manager
        .post(
            &format!("{base}/add"),
            &[("notification_type", "email"), ("days_of_retention", "30")],
        )
        .await;
    assert_eq!(page.status, 403);

    let page = admin.get(&base).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You have not added any data retention"));
    let page = admin
        .post(
            &format!("{base}/add"),
            &[("notification_type", "email"), ("days_of_retention", "2")],
        )
        .await;
    shows_error(&page, "The number of days must be between 3 and 90");
    assert!(page.body.contains(r#"value="2""#));
    assert!(page.body.contains(r#"value="email" checked"#));
    let page = admin
        .post(&format!("{base}/add"), &[("days_of_retention", "30")])
        .await;
    shows_error(&page, "Select a type of notification");
    assert!(page.body.contains(r#"value="30""#));

    let page = admin
        .post(
            &format!("{base}/add"),
            &[("notification_type", "email"), ("days_of_retention", "30")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let (_, found) =
        retention::setting_for_type(&s.app.store, sid, NotificationType::Email).unwrap();
    let setting = found.unwrap();
    assert_eq!(setting.days_of_retention, 30);
    // One per channel.
    let page = admin
        .post(
            &format!("{base}/add"),
            &[("notification_type", "email"), ("days_of_retention", "40")],
        )
        .await;
    shows_error(
        &page,
        "Service already has data retention for email notification type",
    );

    let edit = format!("{base}/{}/edit", setting.id);
    let page = admin.get(&edit).await;
    assert!(page.body.contains("Set email data retention"));
    let page = admin.post(&edit, &[("days_of_retention", "ninety")]).await;
    shows_error(&page, "The number of days must be a whole number");
    assert!(page.body.contains(r#"value="ninety""#));
    let page = admin.post(&edit, &[("days_of_retention", "45")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let (_, found) =
        retention::setting_for_type(&s.app.store, sid, NotificationType::Email).unwrap();
    assert_eq!(found.unwrap().days_of_retention, 45);
    let page = admin
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert!(page.body.contains("Email – 45 days"), "{}", page.body);

    // Another service's setting is not found through this one.
    let page = admin
        .get(&format!(
            "/services/{other}/data-retention/{}/edit",
            setting.id
        ))
        .await;
    assert_eq!(page.status, 404);
    let page = manager.post(&edit, &[("days_of_retention", "60")]).await;
    assert_eq!(page.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_live_status_are_switched_by_platform_admins() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let mut admin = Person::new(&s, "admin@example.gov.uk", None).await;
    let mut manager = Person::new(&s, "manager@example.gov.uk", manager_permissions()).await;
    let letters = format!("/services/{sid}/service-settings/set-letter");
    let live = format!("/services/{sid}/service-settings/switch-live");

    let page = manager.post(&letters, &[("enabled", "False")]).await;
    assert_eq!(page.status, 403);
    assert!(service(&s).permissions.iter().any(|p| p == "letter"));
    let page = manager.post(&live, &[("enabled", "False")]).await;
    assert_eq!(page.status, 403);

    let page = admin.get(&letters).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Send letters"));
    let page = admin.post(&letters, &[]).await;
    shows_error(&page, "Select on or off");
    let page = admin.post(&letters, &[("enabled", "False")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let permissions = service(&s).permissions;
    assert!(!permissions.iter().any(|p| p == "letter"));
    assert!(permissions.iter().any(|p| p == "email"));

    let page = admin.post(&live, &[("enabled", "False")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(service(&s).restricted);
    let page = admin
        .get(&format!("/services/{sid}/service-settings"))
        .await;
    assert!(page.body.contains("Your service is in trial mode"));
    let page = admin.post(&live, &[("enabled", "True")]).await;
    assert_eq!(page.status, 303);
    assert!(!service(&s).restricted);
}
