//! A service's pages end to end against the real server, as a browser without JavaScript: who
//! may see which page (403 for a member without the permission, 404 for another service's ids),
//! a template added through its form (the form kept on bad input), one message sent through the
//! one-off steps and "check and send", its page, and finding it by recipient in the search.

use std::time::{Duration, Instant};

use notify::domain::accounts::Actor;
use notify::domain::services;
use reqwest::header::COOKIE;
use storage::records::Permission;
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::member::Member;

/// A member of the test service named Casey Worker.
async fn person(s: &TestServer, email: &str, permissions: Vec<Permission>) -> Member {
    Member::new(s, "Casey Worker", email, permissions).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_by_permission_and_never_show_another_service() {
    let s = TestServer::start().await;
    let other = services::create_service(
        &s.app,
        &Actor::operator(),
        services::NewService {
            name: "Someone else's".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let viewer = person(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let nobody = person(&s, "nobody@example.gov.uk", vec![]).await;
    let sid = s.service_id;
    let email = s.email_template;

    for path in [
        format!("/services/{sid}"),
        format!("/services/{sid}/templates"),
        format!("/services/{sid}/templates/email"),
        format!("/services/{sid}/templates/{email}"),
        format!("/services/{sid}/notifications/email"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("Sent messages"), "{path}");
    }
    for path in [
        format!("/services/{sid}/templates/add-email"),
        format!("/services/{sid}/templates/{email}/edit"),
        format!("/services/{sid}/templates/{email}/delete"),
        format!("/services/{sid}/send/{email}/one-off"),
        format!("/services/{sid}/send/{email}/one-off/step-0"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("You do not have permission"), "{path}");
    }
    let page = nobody
        .get(&format!("/services/{sid}/notifications/email"))
        .await;
    assert_eq!(page.status, 403);
    // Not offered what they may not do.
    let page = viewer
        .get(&format!("/services/{sid}/templates/{email}"))
        .await;
    assert!(!page.body.contains("/edit") && !page.body.contains("one-off"));

    let oid = other.id;
    for path in [
        format!("/services/{oid}"),
        format!("/services/{oid}/templates"),
        format!("/services/{oid}/notifications/email"),
        format!("/services/{oid}/notification/{}", Uuid::now_v7()),
        format!("/services/{sid}/templates/{}", Uuid::new_v4()),
        format!("/services/{sid}/notification/{}", Uuid::now_v7()),
        "/services/not-a-uuid".to_string(),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("Page not found"), "{path}");
    }
    // Signed out: to the sign-in page.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anonymous
        .get(format!("{}/services/{sid}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_adds_a_template_sends_a_message_and_finds_it() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let me = person(
        &s,
        "casey@example.gov.uk",
        vec![
            Permission::ViewActivity,
            Permission::SendMessages,
            Permission::ManageTemplates,
        ],
    )
    .await;

    // A bad form keeps what was typed and says what is wrong.
    let add = format!("/services/{sid}/templates/add-email");
    let page = me
        .post(
            &add,
            &[
                ("name", "Permit ready"),
                ("subject", ""),
                ("template_content", ""),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains(r#"value="Permit ready""#));
    // Without the form's CSRF token nothing happens.
    let forged = me
        .page(me.client.post(format!("{}{add}", me.base)).form(&[
            ("name", "x"),
            ("subject", "y"),
            ("template_content", "z"),
        ]))
        .await;
    assert_eq!(forged.status, 403);

    let page = me
        .post(
            &add,
            &[
                ("name", "Permit ready"),
                ("subject", "Your permit, ((name))"),
                ("template_content", "Dear ((name)), your permit is ready."),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let template_id = page.location.rsplit('/').next().unwrap().to_string();
    let page = me.get(&page.location).await;
    assert!(page.body.contains("Dear ((name))") || page.body.contains("Dear <span"));

    // The recipient, refused then accepted; the placeholder; check; send.
    let step = |n: usize| format!("/services/{sid}/send/{template_id}/one-off/step-{n}");
    let page = me
        .post(&step(0), &[("placeholder_value", "not an address")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains(r#"value="not an address""#));
    let page = me.post(&step(0), &[("placeholder_value", &me.email)]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Personalise this message"));
    assert!(page.body.contains(&step(1)));
    let page = me
        .post(
            &step(1),
            &[("recipient", &me.email), ("placeholder_value", "")],
        )
        .await;
    assert_eq!(page.status, 400);
    let page = me
        .post(
            &step(1),
            &[("recipient", &me.email), ("placeholder_value", "Casey")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Your permit, Casey"));
    assert!(page.body.contains("Send 1 email"));
    let check = format!("/services/{sid}/template/{template_id}/notification/check");
    let page = me
        .post(&check, &[("recipient", &me.email), ("pv0", "Casey")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        page.location
            .starts_with(&format!("/services/{sid}/notification/"))
    );
    let notification_id = page.location.rsplit('/').next().unwrap().to_string();
    let n = s
        .app
        .store
        .read()
        .unwrap()
        .get_notification(Uuid::parse_str(&notification_id).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(n.created_by_name.as_deref(), Some("Casey Worker"));
    assert!(n.body.contains("Dear Casey"));
    let page = me.get(&page.location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Delivering") || page.body.contains("Delivered"));
    assert!(page.body.contains("Created"));

    // Found by recipient (any case), by notification id; not by a stranger's address.
    let deadline = Instant::now() + Duration::from_secs(30);
    let search = format!(
        "/services/{sid}/notifications/email?to={}",
        me.email.to_uppercase()
    );
    loop {
        let page = me.get(&search).await;
        assert_eq!(page.status, 200);
        if page.body.contains(&notification_id) {
            break;
        }
        assert!(Instant::now() < deadline, "never found: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = me
        .get(&format!(
            "/services/{sid}/notifications/email?to={notification_id}"
        ))
        .await;
    assert!(page.body.contains(&notification_id));
    let page = me
        .get(&format!(
            "/services/{sid}/notifications/email?to=someone.else%40example.com"
        ))
        .await;
    assert!(!page.body.contains(&notification_id));
    assert!(page.body.contains("No messages found"));

    // The dashboard counts it; archiving the template takes it off the list.
    let page = me.get(&format!("/services/{sid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Messages sent today"));
    let page = me
        .post(
            &format!("/services/{sid}/templates/{template_id}/delete"),
            &[],
        )
        .await;
    assert_eq!(page.status, 303);
    let page = me.get(&format!("/services/{sid}/templates")).await;
    assert!(!page.body.contains("Permit ready"));
}

/// The rows of a sent-messages page: the ids its message links point at.
fn listed_ids(body: &str, sid: Uuid) -> Vec<String> {
    let link = format!("/services/{sid}/notification/");
    body.match_indices(&link)
        .map(|(at, _)| body[at + link.len()..at + link.len() + 36].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_with_many_hits_pages_and_downloads_as_csv() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let me = person(&s, "casey@example.gov.uk", vec![Permission::ViewActivity]).await;
    let body = serde_json::json!({
        "phone_number": "07700900123",
        "template_id": s.sms_template,
        "personalisation": {"name": "Ann"},
        "reference": "mailing-7",
    });
    let mut sent = std::collections::HashSet::new();
    for _ in 0..120 {
        let (status, reply) = s
            .call(
                "normal",
                "POST",
                "/v2/notifications/sms",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 201, "{reply}");
        sent.insert(reply["id"].as_str().unwrap().to_string());
    }

    // Three pages of hits, newest first, none twice, a way back from each later page.
    let search = format!("/services/{sid}/notifications/sms?to=mailing-7");
    let deadline = Instant::now() + Duration::from_secs(30);
    // (the index takes the sends in within a moment: wait until the last page has the rest)
    loop {
        let last = me.get(&format!("{search}&page=3")).await;
        assert_eq!(last.status, 200);
        if listed_ids(&last.body, sid).len() == 20 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = me.get(&search).await;
    let mut seen = listed_ids(&first.body, sid);
    assert_eq!(seen.len(), 50, "{}", first.body);
    assert!(!first.body.contains("Previous page"));
    let second = me.get(&format!("{search}&page=2")).await;
    assert!(second.body.contains("Previous page"));
    assert!(second.body.contains("page=3"));
    seen.extend(listed_ids(&second.body, sid));
    let third = me.get(&format!("{search}&page=3")).await;
    assert!(!third.body.contains("Next page"));
    seen.extend(listed_ids(&third.body, sid));
    let distinct: std::collections::HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 120);
    assert_eq!(distinct, sent);

    // The report: upstream's columns, one row per hit, the search kept in its link.
    // (askama writes `&` in an attribute as `&#38;`)
    let link = format!("/services/{sid}/download-notifications.csv?to=mailing-7&message_type=sms");
    let unescaped = first.body.replace("&#38;", "&").replace("&amp;", "&");
    assert!(unescaped.contains(&link), "no {link} in {}", first.body);
    let resp = me
        .client
        .get(format!(
            "{}/services/{sid}/download-notifications.csv?to=mailing-7&message_type=sms",
            me.base
        ))
        .header(COOKIE, &me.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(" - sms - ")
    );
    let text = resp.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Recipient,Reference,Template,Type,Sent by,Sent by email,Job,Status,Time,API key name"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 120);
    for row in &rows {
        assert!(
            row.starts_with("07700900123,mailing-7,sms template,sms,,,,"),
            "{row}"
        );
    }
    // Without a channel there is no report; without view_activity, no access.
    let page = me
        .get(&format!("/services/{sid}/download-notifications.csv"))
        .await;
    assert_eq!(page.status, 404);
    let stranger = person(&s, "sam@example.gov.uk", vec![Permission::SendMessages]).await;
    let page = stranger
        .get(&format!(
            "/services/{sid}/download-notifications.csv?message_type=sms"
        ))
        .await;
    assert_eq!(page.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_template_is_written_sent_to_a_typed_address_and_its_pdf_shown() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let me = person(
        &s,
        "casey@example.gov.uk",
        vec![
            Permission::ViewActivity,
            Permission::SendMessages,
            Permission::ManageTemplates,
        ],
    )
    .await;
    let page = me
        .get(&format!("/services/{sid}/templates/add-letter"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Main heading"));
    let page = me
        .post(
            &format!("/services/{sid}/templates/add-letter"),
            &[
                ("name", "Permit letter"),
                ("subject", "Your parking permit"),
                (
                    "template_content",
                    "Dear ((name)),\n\nYour permit is enclosed.",
                ),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let template_id = page.location.rsplit('/').next().unwrap().to_string();

    // The template's page shows the letter as it will print: its first page as an image, the
    // whole letter as a PDF, with the placeholders showing.
    let base = format!("/services/{sid}/templates/{template_id}");
    let page = me.get(&base).await;
    assert!(
        page.body.contains(&format!(r#"<img src="{base}.png""#)),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(r#"href="{base}.pdf""#)));
    let file = |path: String| {
        let me = &me;
        async move {
            let resp = me
                .client
                .get(format!("{}{path}", me.base))
                .header(reqwest::header::COOKIE, &me.cookie)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let mime = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, mime, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (status, mime, pdf) = file(format!("{base}.pdf")).await;
    assert_eq!((status, mime.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_extract_text(&pdf);
    assert!(text.contains("Your parking permit"), "{text}");
    assert!(
        text.contains("((name))") && text.contains("((address line 1))"),
        "{text}"
    );
    let (status, mime, png) = file(format!("{base}.png")).await;
    assert_eq!((status, mime.as_str()), (200, "image/png"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Only letters, only this service's.
    let email_template = s.email_template;
    assert_eq!(
        file(format!("/services/{sid}/templates/{email_template}.pdf"))
            .await
            .0,
        404
    );
    assert_eq!(
        file(format!("/services/{sid}/templates/{}.pdf", Uuid::new_v4()))
            .await
            .0,
        404
    );

    // Edited twice: three versions, each with who made it.
    let edit = format!("/services/{sid}/templates/{template_id}/edit");
    for heading in ["Your parking permit is ready", "Your new parking permit"] {
        let page = me
            .post(
                &edit,
                &[
                    ("name", "Permit letter"),
                    ("subject", heading),
                    (
                        "template_content",
                        "Dear ((name)),\n\nYour permit is enclosed.",
                    ),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
    let page = me
        .get(&format!("/services/{sid}/templates/{template_id}"))
        .await;
    assert!(page.body.contains("See previous versions"));
    let page = me
        .get(&format!("/services/{sid}/templates/{template_id}/versions"))
        .await;
    assert_eq!(page.status, 200);
    for (n, heading) in [
        (3, "Your new parking permit"),
        (2, "Your parking permit is ready"),
        (1, "Your parking permit"),
    ] {
        assert!(page.body.contains(&format!("Version {n}: Permit letter")));
        assert!(page.body.contains(&format!("<strong>{heading}</strong>")));
    }
    assert!(page.body.contains("Created "));
    assert_eq!(
        page.body.matches("by Casey Worker").count(),
        3,
        "{}",
        page.body
    );
    let page = me
        .get(&format!(
            "/services/{sid}/templates/{template_id}/version/1"
        ))
        .await;
    assert!(page.body.contains("<strong>Your parking permit</strong>"));
    assert!(!page.body.contains("Your new parking permit"));
    let page = me
        .get(&format!(
            "/services/{sid}/templates/{template_id}/version/9"
        ))
        .await;
    assert_eq!(page.status, 404);

    // The address: too short is refused and kept; a real one is asked, then the placeholder.
    let step = |n: usize| format!("/services/{sid}/send/{template_id}/one-off/step-{n}");
    let page = me.get(&step(0)).await;
    assert!(page.body.contains("<textarea"));
    let page = me
        .post(&step(0), &[("placeholder_value", "A Person\nSW1A 1AA")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Address must be at least 3 lines"));
    assert!(page.body.contains("A Person\nSW1A 1AA"));
    let address = "A Person\n1 The Street\nLondon\nSW1A 1AA";
    let page = me.post(&step(0), &[("placeholder_value", address)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = me
        .post(
            &step(1),
            &[("recipient", address), ("placeholder_value", "Ann")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Send 1 letter"));
    let page = me
        .post(
            &format!("/services/{sid}/template/{template_id}/notification/check"),
            &[("recipient", address), ("pv0", "Ann")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let notification = page.location.clone();
    let n =
        s.stored_notification(Uuid::parse_str(notification.rsplit('/').next().unwrap()).unwrap());
    assert!(n.body.contains("Dear Ann"));
    assert!(n.to.starts_with("A Person"));
    let page = me.get(&notification).await;
    assert!(
        page.body.contains(&format!("{notification}.pdf")),
        "{}",
        page.body
    );

    // The PDF once the letter has been made.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pdf = loop {
        let resp = me
            .client
            .get(format!("{}{notification}.pdf", me.base))
            .header(COOKIE, &me.cookie)
            .send()
            .await
            .unwrap();
        if resp.status() == 200 {
            assert_eq!(resp.headers()["content-type"], "application/pdf");
            break resp.bytes().await.unwrap();
        }
        assert_eq!(resp.status(), 404);
        assert!(Instant::now() < deadline, "the letter's PDF was never made");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(pdf.starts_with(b"%PDF"));
    // Not another service's, not without signing in.
    let page = me
        .get(&format!(
            "/services/{}/notification/{}.pdf",
            Uuid::new_v4(),
            n.id
        ))
        .await;
    assert_ne!(page.status, 200);
}

/// The template form previews what is being written: its "Preview" button (no JavaScript)
/// shows the form again with the message as it will look and saves nothing; the live preview's
/// address answers the same preview as a fragment, for template managers with the form's token
/// only. A text message's preview counts its fragments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_form_previews_what_is_written_before_it_is_saved() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let writer = person(&s, "wren@example.gov.uk", vec![Permission::ManageTemplates]).await;
    let reader = person(&s, "reed@example.gov.uk", vec![Permission::ViewActivity]).await;
    let templates_before = s
        .app
        .store
        .read()
        .unwrap()
        .service_templates(sid)
        .unwrap()
        .len();

    let form = writer
        .get(&format!("/services/{sid}/templates/add-sms"))
        .await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(&format!(
        r#"data-preview="/services/{sid}/templates/preview/sms""#
    )));
    assert!(
        form.body
            .contains(r#"<script src="/static/preview.js" defer></script>"#)
    );

    let long = "Your appointment is confirmed, ((name)). ".repeat(5);
    let page = writer
        .post(
            &format!("/services/{sid}/templates/add-sms"),
            &[
                ("name", ""),
                ("template_content", long.as_str()),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "a preview is not an error: {}", page.body);
    assert!(!page.body.contains("There is a problem"));
    assert!(page.body.contains(r#"id="preview-live""#), "{}", page.body);
    assert!(
        page.body
            .contains("Your appointment is confirmed, ((name))")
    );
    assert!(
        page.body.contains("Will be charged as 2 text messages"),
        "{}",
        page.body
    );
    assert_eq!(
        s.app
            .store
            .read()
            .unwrap()
            .service_templates(sid)
            .unwrap()
            .len(),
        templates_before,
        "previewing saves nothing"
    );

    // The live preview: a fragment, not a page.
    let live = format!("/services/{sid}/templates/preview/email");
    let fragment = writer
        .post(
            &live,
            &[
                ("subject", "Your permit, ((name))"),
                ("template_content", "Dear ((name)),\n\n* first\n* second"),
            ],
        )
        .await;
    assert_eq!(fragment.status, 200);
    assert!(!fragment.body.contains("<html"), "{}", fragment.body);
    assert!(
        fragment
            .body
            .contains("Subject: <strong>Your permit, ((name))</strong>")
    );
    assert!(
        fragment.body.contains("<li"),
        "markdown is rendered: {}",
        fragment.body
    );
    let forged = writer
        .page(
            writer
                .client
                .post(format!("{}{live}", writer.base))
                .form(&[("subject", "x"), ("template_content", "y")]),
        )
        .await;
    assert_eq!(forged.status, 403);
    let refused = reader
        .post(&live, &[("subject", "x"), ("template_content", "y")])
        .await;
    assert_eq!(refused.status, 403);
    let unknown = writer
        .post(&format!("/services/{sid}/templates/preview/fax"), &[])
        .await;
    assert_eq!(unknown.status, 404);
}

/// A PDF's text, read by poppler's `pdftotext` (an extractor that is not ours).
fn pdf_extract_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("letter.pdf");
    std::fs::write(&input, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&input)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils, installed by the test command)");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).to_string()
}
