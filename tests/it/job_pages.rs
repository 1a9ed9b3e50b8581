//! Sending from a spreadsheet through the pages, against the real server, as a browser without
//! JavaScript: a good sheet becomes a job that runs to its end; a bad row is shown against its
//! row and column; a missing column is named; an Excel file is read like a CSV; a scheduled job
//! is cancelled after the question; another service's job is not there; a member who may not
//! send is refused.

use std::time::{Duration, Instant};

use notify::domain::accounts::Actor;
use notify::domain::{jobs, services};
use reqwest::header::CONTENT_TYPE;
use storage::records::{JobStatus, Permission};
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::member::{Member, Page};

/// A member of the test service named Casey Worker.
async fn person(s: &TestServer, email: &str, permissions: Vec<Permission>) -> Member {
    Member::new(s, "Casey Worker", email, permissions).await
}

/// The upload form (`multipart/form-data`) with one file.
trait Upload {
    async fn upload(&self, path: &str, file_name: &str, file: &[u8]) -> Page;
}

impl Upload for Member {
    async fn upload(&self, path: &str, file_name: &str, file: &[u8]) -> Page {
        let boundary = "----notify-test-boundary-7d1f";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n",
                self.csrf
            )
            .as_bytes(),
        );
        body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.page(
            self.client
                .post(format!("{}{path}", self.base))
                .header(
                    CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }
}

fn upload_path(s: &TestServer, template: Uuid) -> String {
    format!("/services/{}/send/{template}/csv", s.service_id)
}

/// The upload id of a check page's address.
fn upload_id_of(location: &str) -> Uuid {
    Uuid::parse_str(location.rsplit('/').next().unwrap()).unwrap()
}

/// A sheet for the test server's email template ("Dear ((name))"): `rows` people.
fn email_sheet(rows: usize) -> String {
    let mut sheet = String::from("email address,name\n");
    for i in 0..rows {
        sheet.push_str(&format!("person{i}@example.com,Person {i}\n"));
    }
    sheet
}

async fn wait_for_job(s: &TestServer, id: Uuid, done: impl Fn(&storage::records::Job) -> bool) {
    let start = Instant::now();
    loop {
        let job = jobs::get_job(&s.app, s.service_id, id).unwrap();
        if done(&job) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job {id} never got there: {:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_sheet_becomes_a_job_that_runs_to_its_end() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;

    // Offered from the template's page, with an example of the columns.
    let page = caseworker
        .get(&format!("/services/{sid}/templates/{}", s.email_template))
        .await;
    assert!(
        page.body.contains("Upload a list of email addresses"),
        "{}",
        page.body
    );
    let page = caseworker.get(&upload_path(&s, s.email_template)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));
    assert!(page.body.contains("email address") && page.body.contains("name"));
    let example = caseworker
        .get(&format!("/services/{sid}/send/{}.csv", s.email_template))
        .await;
    assert_eq!(example.status, 200);
    assert_eq!(
        example.body,
        "email address,name\ntest@example.com,example\n"
    );

    // An empty form is refused on the form.
    let page = caseworker
        .upload(&upload_path(&s, s.email_template), "", b"")
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("You need to choose a file to upload"));

    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "people.csv",
            email_sheet(3).as_bytes(),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let check = page.location.clone();
    assert!(check.starts_with(&format!("/services/{sid}/{}/check/", s.email_template)));
    let page = caseworker.get(&check).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Send 3 emails"), "{}", page.body);
    assert!(
        page.body.contains("Dear Person 0"),
        "the first row is previewed"
    );
    assert!(page.body.contains("person2@example.com"));
    assert!(
        page.body
            .contains("When should Notify send these messages?")
    );

    let upload_id = upload_id_of(&check);
    let start = format!("/services/{sid}/start-job/{upload_id}");
    // Without the session's token: refused, nothing started.
    let forged = caseworker
        .page(
            caseworker
                .client
                .post(format!("{}{start}", caseworker.base))
                .form(&[("csrf_token", "forged"), ("scheduled_for", "")]),
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(jobs::get_job(&s.app, sid, upload_id).is_err());

    let page = caseworker.post(&start, &[("scheduled_for", "")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, format!("/services/{sid}/jobs/{upload_id}"));
    wait_for_job(&s, upload_id, |j| {
        j.status == JobStatus::FinishedAllNotificationsCreated
    })
    .await;
    let job = jobs::get_job(&s.app, sid, upload_id).unwrap();
    assert_eq!(job.notification_count, 3);
    assert!(job.created_by.is_some());

    let page = caseworker.get(&page.location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("people.csv"));
    assert!(page.body.contains("Sent by Casey Worker"), "{}", page.body);
    for i in 0..3 {
        assert!(page.body.contains(&format!("person{i}@example.com")));
    }
    // Listed with its counts; the old address goes there too, as upstream.
    let uploads = caseworker.get(&format!("/services/{sid}/uploads")).await;
    assert_eq!(uploads.status, 200);
    assert!(uploads.body.contains("people.csv") && uploads.body.contains("Uploads"));
    let jobs_page = caseworker.get(&format!("/services/{sid}/jobs")).await;
    assert_eq!(jobs_page.status, 303);
    assert_eq!(jobs_page.location, format!("/services/{sid}/uploads"));
    // The check page of a sent upload is its job's page now.
    let again = caseworker.get(&check).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.location, format!("/services/{sid}/jobs/{upload_id}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_is_shown_against_its_row_and_column() {
    let s = TestServer::start().await;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;
    let mut sheet = email_sheet(4);
    sheet = sheet.replace("person2@example.com", "not-an-address");
    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "bad.csv",
            sheet.as_bytes(),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = caseworker.get(&page.location).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("There’s a problem with bad.csv"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("You need to fix 1 email address."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Upload your file again"));
    assert!(page.body.contains("Only showing rows with errors"));
    // Row 4 of the file (the header is row 1), its error in the email address cell.
    let row = page
        .body
        .split(r#"<tr id="row-4">"#)
        .nth(1)
        .expect("row 4 shown");
    let row = row.split("</tr>").next().unwrap();
    let cells: Vec<&str> = row.split("<td").skip(1).collect();
    assert!(cells[0].contains("spreadsheet__error-label"), "{row}");
    assert!(cells[0].contains("not-an-address"), "{row}");
    assert!(!cells[1].contains("spreadsheet__error-label"), "{row}");
    // Good rows are not listed, and nothing can be sent.
    assert!(!page.body.contains("person1@example.com"));
    assert!(!page.body.contains("start-job"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_is_named() {
    let s = TestServer::start().await;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;
    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "no-names.csv",
            b"email address\nann@example.com\n",
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body
            .contains("Your column names need to match the double brackets in your template")
    );
    assert!(
        page.body
            .contains("Your file is missing a column called ‘name’.")
    );
    assert!(page.body.contains("Upload your file again"));

    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "no-addresses.csv",
            b"mail,name\nann@example.com,Ann\n",
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body
            .contains("Your file needs a column called ‘email address’.")
    );
    assert!(
        page.body
            .contains("Right now it has columns called ‘mail’ and ‘name’.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excel_file_is_read_like_a_csv() {
    let s = TestServer::start().await;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;
    let book = crate::jobs::xlsx(&[
        &["phone number", "name"],
        &["07700900123", "Ann"],
        &["07700900456", "Bea"],
    ]);
    let page = caseworker
        .upload(&upload_path(&s, s.sms_template), "people.xlsx", &book)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = caseworker.get(&page.location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Send 2 text messages"), "{}", page.body);
    assert!(page.body.contains("Hello Ann"));
    assert!(page.body.contains("people.xlsx"));

    // A file that is no spreadsheet at all is said so on the form.
    let page = caseworker
        .upload(
            &upload_path(&s, s.sms_template),
            "broken.xlsx",
            b"not a zip file",
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("Could not read broken.xlsx"),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_job_is_cancelled_after_the_question() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;
    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "later.csv",
            email_sheet(2).as_bytes(),
        )
        .await;
    let upload_id = upload_id_of(&page.location);
    let page = caseworker.get(&page.location).await;
    // The first time offered after "Now".
    let at = page
        .body
        .split(r#"<option value=""#)
        .nth(2)
        .and_then(|o| o.split('"').next())
        .expect("a time to schedule")
        .to_string();
    let page = caseworker
        .post(
            &format!("/services/{sid}/start-job/{upload_id}"),
            &[("scheduled_for", &at)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let job = jobs::get_job(&s.app, sid, upload_id).unwrap();
    assert_eq!(job.status, JobStatus::Scheduled);

    let job_page = caseworker.get(&page.location).await;
    assert!(job_page.body.contains("Sending ‘"), "{}", job_page.body);
    let uploads = caseworker.get(&format!("/services/{sid}/uploads")).await;
    assert!(
        uploads.body.contains("2 emails waiting to send"),
        "{}",
        uploads.body
    );
    let cancel = format!("/services/{sid}/jobs/{upload_id}/cancel");
    assert!(uploads.body.contains(&cancel));
    let question = caseworker.get(&cancel).await;
    assert_eq!(question.status, 200);
    assert!(
        question
            .body
            .contains("Are you sure you want to cancel sending these messages?")
    );
    // Still scheduled until the answer.
    assert_eq!(
        jobs::get_job(&s.app, sid, upload_id).unwrap().status,
        JobStatus::Scheduled
    );
    let done = caseworker.post(&cancel, &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(
        jobs::get_job(&s.app, sid, upload_id).unwrap().status,
        JobStatus::Cancelled
    );
    // Gone from the list and its page, as upstream.
    let uploads = caseworker.get(&format!("/services/{sid}/uploads")).await;
    assert!(!uploads.body.contains("later.csv"));
    assert_eq!(
        caseworker
            .get(&format!("/services/{sid}/jobs/{upload_id}"))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_services_job_is_not_there_and_sending_needs_the_permission() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let caseworker = person(
        &s,
        "caseworker@example.gov.uk",
        vec![Permission::SendMessages],
    )
    .await;
    let viewer = person(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let page = caseworker
        .upload(
            &upload_path(&s, s.email_template),
            "ours.csv",
            email_sheet(1).as_bytes(),
        )
        .await;
    let check = page.location.clone();
    let upload_id = upload_id_of(&check);

    // Someone without the send permission: refused everywhere that sends, nothing started.
    for path in [
        upload_path(&s, s.email_template),
        check.clone(),
        format!("/services/{sid}/send/{}.csv", s.email_template),
    ] {
        assert_eq!(viewer.get(&path).await.status, 403, "{path}");
    }
    let refused = viewer
        .upload(
            &upload_path(&s, s.email_template),
            "x.csv",
            email_sheet(1).as_bytes(),
        )
        .await;
    assert_eq!(refused.status, 403);
    let refused = viewer
        .post(
            &format!("/services/{sid}/start-job/{upload_id}"),
            &[("scheduled_for", "")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(jobs::get_job(&s.app, sid, upload_id).is_err());
    // They may see the uploads.
    assert_eq!(
        viewer.get(&format!("/services/{sid}/uploads")).await.status,
        200
    );

    // Another service's job, under our service or theirs: not there.
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
    let theirs = jobs::upload_sheet(
        &s.app,
        other.id,
        jobs::NewUpload {
            template_id: notify::domain::templates::create_template(
                &s.app,
                &Actor::operator(),
                other.id,
                notify::domain::templates::NewTemplate {
                    name: "Theirs".into(),
                    template_type: "email".into(),
                    subject: Some("Hi".into()),
                    content: "Hello".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id,
            original_file_name: "theirs.csv".into(),
            ..Default::default()
        },
        "email address\nann@example.com\n".into(),
    )
    .await
    .unwrap();
    let their_job = jobs::create_job(
        &s.app,
        &notify::domain::accounts::actor::Actor::operator(),
        other.id,
        jobs::NewJob {
            id: theirs.meta.id,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for path in [
        format!("/services/{sid}/jobs/{}", their_job.id),
        format!("/services/{}/jobs/{}", other.id, their_job.id),
        format!("/services/{}/uploads", other.id),
    ] {
        assert_eq!(caseworker.get(&path).await.status, 404, "{path}");
    }
    let page = caseworker
        .post(
            &format!("/services/{sid}/jobs/{}/cancel", their_job.id),
            &[],
        )
        .await;
    assert_eq!(page.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_list_is_saved_sent_to_and_deleted() {
    use notify::domain::accounts::audit;
    let s = TestServer::start().await;
    let sid = s.service_id;
    let caseworker = person(&s, "lists@example.gov.uk", vec![Permission::SendMessages]).await;
    let upload = format!("/services/{sid}/upload-contact-list");

    // Offered from the uploads page.
    let page = caseworker.get(&format!("/services/{sid}/uploads")).await;
    assert!(
        page.body.contains(&upload) && page.body.contains("Upload an emergency contact list"),
        "{}",
        page.body
    );
    assert_eq!(caseworker.get(&upload).await.status, 200);

    // A sheet without a recipient column, and one with a bad row: said, nothing saved.
    let page = caseworker
        .upload(&upload, "names.csv", b"name\nAnn\n")
        .await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("Your file needs a column called") && page.body.contains("‘name’"),
        "{}",
        page.body
    );
    let page = caseworker
        .upload(
            &upload,
            "responders.csv",
            b"email address,name\nann@example.com,Ann\nnot an address,Bob\n",
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(
        page.body
            .contains("There’s a problem with responders.csv: you need to fix 1 email address")
            && page.body.contains("Row 3: "),
        "{}",
        page.body
    );
    assert!(
        notify::domain::contact_lists::list(&s.app, sid)
            .unwrap()
            .is_empty()
    );

    // Saved (the column written another way), shown, sent with a template of its kind.
    let page = caseworker
        .upload(
            &upload,
            "responders.csv",
            b"Email_Address,name\nann@example.com,Ann\nbob@example.com,Bob\n",
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let list_path = page.location.clone();
    let list_id = Uuid::parse_str(list_path.rsplit('/').next().unwrap()).unwrap();
    assert_eq!(list_path, format!("/services/{sid}/contact-list/{list_id}"));
    let page = caseworker.get(&list_path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("responders.csv") && page.body.contains("2 email addresses"));
    assert!(
        page.body.contains("Uploaded by Casey Worker"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&s.email_template.to_string()));
    assert!(
        !page.body.contains(&s.sms_template.to_string()),
        "only templates of the list's kind are offered"
    );
    let send = format!("{list_path}/send");
    let page = caseworker.post(&send, &[]).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Select a template"));
    let page = caseworker
        .post(&send, &[("template_id", &s.sms_template.to_string())])
        .await;
    assert_eq!(page.status, 400, "a text message template is refused");
    let page = caseworker
        .post(&send, &[("template_id", &s.email_template.to_string())])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let check = page.location.clone();
    assert!(check.starts_with(&format!("/services/{sid}/{}/check/", s.email_template)));
    let page = caseworker.get(&check).await;
    assert!(page.body.contains("Send 2 emails"), "{}", page.body);
    assert!(
        page.body.contains("Dear Ann"),
        "the list's other columns fill placeholders"
    );
    let upload_id = upload_id_of(&check);
    let page = caseworker
        .post(
            &format!("/services/{sid}/start-job/{upload_id}"),
            &[("scheduled_for", "")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    wait_for_job(&s, upload_id, |j| {
        j.status == JobStatus::FinishedAllNotificationsCreated
    })
    .await;
    let job = jobs::get_job(&s.app, sid, upload_id).unwrap();
    assert_eq!(job.contact_list_id, Some(list_id));
    assert_eq!(job.notification_count, 2);
    let uploads = caseworker.get(&format!("/services/{sid}/uploads")).await;
    assert!(uploads.body.contains(r#"id="contact-lists""#) && uploads.body.contains(&list_path));

    // Someone who may only look sees the list but is offered neither sending nor deleting.
    let viewer = person(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let page = viewer.get(&list_path).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/delete") && !page.body.contains(&send));
    assert_eq!(viewer.get(&upload).await.status, 403);
    assert_eq!(
        viewer
            .post(&format!("{list_path}/delete"), &[])
            .await
            .status,
        403
    );

    // Deleted after the question: gone from the uploads and its page.
    let page = caseworker.get(&format!("{list_path}/delete")).await;
    assert!(
        page.body
            .contains("Are you sure you want to delete ‘responders.csv’?")
    );
    let page = caseworker.post(&format!("{list_path}/delete"), &[]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, format!("/services/{sid}/uploads"));
    assert_eq!(caseworker.get(&list_path).await.status, 404);

    // Each action in the audit trail, by the person who did it.
    let events = audit::list(&s.app, Some(sid), None, 500).unwrap();
    for action in ["contact_list.saved", "job.sent", "contact_list.deleted"] {
        let e = events
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("no {action} in the trail"));
        assert_eq!(e.actor_name, "Casey Worker", "{action}");
    }
    let sent = events.iter().find(|e| e.action == "job.sent").unwrap();
    assert_eq!(
        sent.subject_id.as_deref(),
        Some(upload_id.to_string().as_str())
    );
}
