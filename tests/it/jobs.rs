//! Bulk sends end to end in-process (workers.md §8): sheets uploaded through the internal API,
//! checked row by row, turned into jobs, processed into exactly one notification per row and
//! delivered through the outbox; scheduled and cancelled jobs, letter jobs, contact lists and
//! the uploads view.

use crate::common;
use notify::domain::queues::Queue;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use common::TestServer;
use object_store::ObjectStoreExt as _;
use serde_json::{Value, json};
use storage::ManualClock;
use uuid::Uuid;

/// POST a sheet as the raw body; answers (status, body).
async fn upload(
    s: &TestServer,
    template: Uuid,
    file_name: &str,
    sheet: impl Into<reqwest::Body>,
    extra: &str,
) -> (u16, Value) {
    let url = format!(
        "{}/service/{}/job/upload?template_id={template}&original_file_name={file_name}{extra}",
        s.base, s.service_id
    );
    let resp = reqwest::Client::new()
        .post(url)
        .header("authorization", s.admin_auth())
        .body(sheet)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn admin(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.request(
        method,
        path,
        Some(s.admin_auth()),
        body.map(|b| b.to_string()).as_deref(),
    )
    .await
}

/// Upload a sheet that must be valid, and create its job.
async fn send_sheet(s: &TestServer, template: Uuid, sheet: String, job: Value) -> Value {
    let (status, body) = upload(s, template, "people.csv", sheet, "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["valid"], true, "{body}");
    let mut job = job;
    job["id"] = body["data"]["id"].clone();
    let (status, body) = admin(
        s,
        "POST",
        &format!("/service/{}/job", s.service_id),
        Some(job),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn get_job(s: &TestServer, id: &str) -> Value {
    let (status, body) = admin(
        s,
        "GET",
        &format!("/service/{}/job/{id}", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn wait_for_job(s: &TestServer, id: &str, status: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let job = get_job(s, id).await;
        if job["job_status"] == status {
            return job;
        }
        assert!(
            start.elapsed() < within,
            "job {id} never became {status}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait (up to 30 s) for a job to have every row made.
async fn finished(s: &TestServer, id: &str) -> Value {
    wait_for_job(
        s,
        id,
        "finished all notifications created",
        Duration::from_secs(30),
    )
    .await
}

/// POST to one of a job's actions (`cancel`, `cancel-letter-job`).
async fn job_action(s: &TestServer, id: &str, action: &str) -> (u16, Value) {
    admin(
        s,
        "POST",
        &format!("/service/{}/job/{id}/{action}", s.service_id),
        None,
    )
    .await
}

fn job_notifications(s: &TestServer, job_id: &str) -> Vec<storage::records::Notification> {
    let reader = s.app.store.read().unwrap();
    reader
        .job_rows(Uuid::parse_str(job_id).unwrap(), 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(row, id)| {
            let n = reader.get_notification(id).unwrap().unwrap();
            assert_eq!(n.job_row_number, Some(row));
            n
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ten_thousand_row_email_job_sends_every_row_exactly_once() {
    let s = TestServer::start().await;
    let mut sheet = String::from("Email Address,name,reference,favourite colour\n");
    for i in 0..10_000 {
        sheet.push_str(&format!("person{i}@example.com,Name {i},ref-{i},blue\n"));
    }
    let job = send_sheet(&s, s.email_template, sheet, json!({})).await;
    assert_eq!(job["notification_count"], 10_000);
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_for_job(
        &s,
        &id,
        "finished all notifications created",
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["rows_processed"], 10_000);

    let notifications = job_notifications(&s, &id);
    assert_eq!(notifications.len(), 10_000);
    for (i, n) in notifications.iter().enumerate() {
        assert_eq!(n.job_row_number, Some(i as u32));
        assert_eq!(n.to, format!("person{i}@example.com"));
        assert_eq!(
            n.client_reference.as_deref(),
            Some(format!("ref-{i}").as_str())
        );
        assert_eq!(n.subject.as_deref(), Some(format!("Hi Name {i}").as_str()));
        assert!(n.api_key_id.is_none() && n.key_type == storage::records::KeyType::Normal);
    }

    // Every row reaches the outbox once, with its own personalisation.
    let start = Instant::now();
    let messages = loop {
        let messages = s
            .app
            .store
            .read()
            .unwrap()
            .outbox_messages(None, 20_000)
            .unwrap();
        if messages.len() >= 10_000 {
            break messages;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "only {} of 10000 emails delivered",
            messages.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(messages.len(), 10_000);
    let mut seen = HashSet::new();
    for (_, m) in &messages {
        let i: usize = m.to["person".len()..m.to.find('@').unwrap()]
            .parse()
            .unwrap();
        assert!(seen.insert(i), "row {i} was sent twice");
        assert!(m.body.contains(&format!("Dear Name {i}")), "{}", m.body);
    }
    let job = get_job(&s, &id).await;
    assert_eq!(
        job["statistics"],
        json!([{"status": "delivered", "count": 10_000}])
    );

    // Its notifications, a page at a time, in row order.
    let (status, page) = admin(
        &s,
        "GET",
        &format!(
            "/service/{}/job/{id}/notifications?page=3&page_size=100",
            s.service_id
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 10_000);
    assert_eq!(page["notifications"].as_array().unwrap().len(), 100);
    assert_eq!(
        page["notifications"][0]["email_address"],
        "person200@example.com"
    );
    assert!(page["links"]["next"].as_str().unwrap().ends_with("page=4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_row_letter_job_makes_every_letter() {
    let s = TestServer::start().await;
    let mut sheet = String::from("Address Line 1,address_line_2,Postcode,name\n");
    for i in 0..1_000 {
        sheet.push_str(&format!("Person {i},{i} High Street,SW1A 1AA,Reader {i}\n"));
    }
    let job = send_sheet(&s, s.letter_template, sheet, json!({})).await;
    let id = job["id"].as_str().unwrap().to_string();
    wait_for_job(
        &s,
        &id,
        "finished all notifications created",
        Duration::from_secs(120),
    )
    .await;
    let letters = job_notifications(&s, &id);
    assert_eq!(letters.len(), 1_000);
    for (i, n) in letters.iter().enumerate() {
        assert_eq!(n.to, format!("Person {i}"));
        assert_eq!(n.postage.as_deref(), Some("second"));
        assert_eq!(
            n.subject.as_deref(),
            Some(format!("About Reader {i}").as_str())
        );
    }
    // Every letter gets its PDF (the create-pdf worker marks it when the file is written).
    let start = Instant::now();
    loop {
        let without_pdf = job_notifications(&s, &id)
            .iter()
            .filter(|n| n.updated_at.is_none())
            .count();
        if without_pdf == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{without_pdf} letters still have no PDF"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let files = notify::letters::files::LetterFiles::new(s.app.blobs.clone());
    let n = &letters[123];
    let (area, name) = notify::letters::files::pdf_location(&s.stored_notification(n.id));
    assert!(files.exists(area, &name).await.unwrap(), "{name}");
}

#[tokio::test]
async fn a_sheet_with_problems_is_reported_row_by_row_and_cannot_be_sent() {
    let s = TestServer::start().await;
    // A placeholder's column missing: the whole sheet is refused, naming it.
    let (status, body) = upload(
        &s,
        s.sms_template,
        "a.csv",
        "phone number\n07700900123\n",
        "",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("‘name’"),
        "{body}"
    );

    // A BOM, a quoted newline, unicode, an extra column, a blank row and two bad rows.
    let sheet = "\u{feff}Phone Number,Name,Extra\n\
        07700900123,\"Zoë\nSmith\",x\n\
        not a number,Bob,y\n\
        ,,\n\
        07700900456,,z\n\
        +447700900789,Çelik,\n";
    let (status, body) = upload(&s, s.sms_template, "b.csv", sheet, "").await;
    assert_eq!(status, 201, "{body}");
    let data = &body["data"];
    assert_eq!(data["valid"], false);
    let rows: Vec<u64> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    // Rows are spreadsheet rows: row 2 holds a quoted newline and is still one row.
    assert_eq!(rows, vec![3, 5], "{body}");
    assert_eq!(data["errors"][0]["column"], "Phone Number");
    assert_eq!(data["errors"][1]["message"], "Missing name");
    let (status, body) = admin(
        &s,
        "POST",
        &format!("/service/{}/job", s.service_id),
        Some(json!({"id": data["id"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "File is not valid, can't create job");

    // Fixed, it is sent: unicode and the quoted newline reach the message intact.
    let fixed = "\u{feff}Phone Number,Name,Extra\n07700900123,\"Zoë\nSmith\",x\n";
    let job = send_sheet(&s, s.sms_template, fixed.into(), json!({})).await;
    let id = job["id"].as_str().unwrap().to_string();
    finished(&s, &id).await;
    let sent = job_notifications(&s, &id);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, "Hello Zoë\nSmith");

    // An unknown upload id, a deleted template.
    let (status, body) = admin(
        &s,
        "POST",
        &format!("/service/{}/job", s.service_id),
        Some(json!({"id": Uuid::new_v4()})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("No uploaded file"),
        "{body}"
    );
    let (status, body) = upload(&s, Uuid::new_v4(), "c.csv", fixed, "").await;
    assert_eq!(status, 404, "{body}");
}

/// A minimal `.xlsx` (one sheet of inline strings), as a spreadsheet program would save it.
pub(crate) fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    use std::io::Write as _;
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(
                r#"<c r="{col}{}" t="inlineStr"><is><t>{cell}</t></is></c>"#,
                r + 1
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_spreadsheet_is_read_like_a_csv() {
    let s = TestServer::start().await;
    let book = xlsx(&[
        &["phone number", "name"],
        &["07700900123", "Ann"],
        &["07700900456", "Bea"],
    ]);
    let (status, body) = upload(&s, s.sms_template, "people.xlsx", book, "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["valid"], true, "{body}");
    assert_eq!(body["data"]["notification_count"], 2);
    let (status, body) = upload(&s, s.sms_template, "broken.xlsx", b"not a zip".to_vec(), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("broken.xlsx"),
        "{body}"
    );
}

fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<chrono::Utc> {
    chrono_tz::Europe::London
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_job_runs_at_its_time_and_a_cancelled_one_never_sends() {
    let clock = ManualClock::new(london(2026, 12, 1, 9, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let sheet = || "phone number,name\n07700900123,Ann\n07700900456,Bea\n".to_string();
    let at = london(2026, 12, 1, 11, 0).to_rfc3339();
    let later = send_sheet(&s, s.sms_template, sheet(), json!({"scheduled_for": at})).await;
    assert_eq!(later["job_status"], "scheduled");
    let cancelled = send_sheet(&s, s.sms_template, sheet(), json!({"scheduled_for": at})).await;
    let (later_id, cancelled_id) = (
        later["id"].as_str().unwrap().to_string(),
        cancelled["id"].as_str().unwrap().to_string(),
    );
    let (status, body) = job_action(&s, &cancelled_id, "cancel").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["job_status"], "cancelled");
    // Only a scheduled job can be cancelled.
    let (status, _) = job_action(&s, &cancelled_id, "cancel").await;
    assert_eq!(status, 404);

    // Times in the past or more than 7 days ahead are refused.
    for (when, message) in [
        (london(2026, 12, 1, 8, 0), "Date cannot be in the past"),
        (
            london(2026, 12, 8, 9, 1),
            "Date cannot be more than 7 days in the future",
        ),
    ] {
        let (_, up) = upload(&s, s.sms_template, "p.csv", sheet(), "").await;
        let (status, body) = admin(
            &s,
            "POST",
            &format!("/service/{}/job", s.service_id),
            Some(json!({"id": up["data"]["id"], "scheduled_for": when.to_rfc3339()})),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some(message)),
            "{body}"
        );
    }

    // Before its time nothing is sent: both jobs wait in their queue (a worker only takes rows
    // that are due; storage's queue tests prove that part). The cancelled job's row stays until
    // it is due and is then dropped without sending.
    assert_eq!(s.queue_rows(Queue::ProcessJob), 2);
    assert_eq!(get_job(&s, &later_id).await["job_status"], "scheduled");
    assert!(job_notifications(&s, &later_id).is_empty());
    let (status, stats) = admin(
        &s,
        "GET",
        &format!("/service/{}/job/scheduled-job-stats", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"]["count"], 1, "{stats}");

    // At its time it runs; the cancelled one never does.
    clock.set(london(2026, 12, 1, 11, 0));
    let done = finished(&s, &later_id).await;
    assert_eq!(done["rows_processed"], 2);
    assert_eq!(job_notifications(&s, &later_id).len(), 2);
    clock.set(london(2026, 12, 1, 12, 0));
    s.wait_queue_empty(Queue::ProcessJob).await;
    s.wait_queue_empty(Queue::DeliverSmsJobs).await;
    assert_eq!(get_job(&s, &cancelled_id).await["job_status"], "cancelled");
    assert!(job_notifications(&s, &cancelled_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_job_can_be_cancelled_until_printing_starts() {
    let clock = ManualClock::new(london(2026, 12, 1, 10, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let sheet = || {
        "address_line_1,address_line_2,postcode,name\nA Person,1 Street,SW1A 1AA,Ann\nB Person,2 Street,SW1A 1AA,Bea\n".to_string()
    };
    let job = send_sheet(&s, s.letter_template, sheet(), json!({})).await;
    let id = job["id"].as_str().unwrap().to_string();
    finished(&s, &id).await;

    // Not a letter job.
    let sms = send_sheet(
        &s,
        s.sms_template,
        "phone number,name\n07700900123,Ann\n".into(),
        json!({}),
    )
    .await;
    let sms_id = sms["id"].as_str().unwrap().to_string();
    finished(&s, &sms_id).await;
    let (status, body) = job_action(&s, &sms_id, "cancel-letter-job").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Only letter jobs can be cancelled through this endpoint. This is not a letter job."
    );

    let (status, body) = job_action(&s, &id, "cancel-letter-job").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!(2));
    assert_eq!(get_job(&s, &id).await["job_status"], "cancelled");
    for n in job_notifications(&s, &id) {
        assert_eq!(n.status, storage::records::NotificationStatus::Cancelled);
        assert_eq!(n.billable_units, 0);
    }

    // A job created before today's 17:30 cannot be cancelled after it.
    let late = send_sheet(&s, s.letter_template, sheet(), json!({})).await;
    let late_id = late["id"].as_str().unwrap().to_string();
    finished(&s, &late_id).await;
    clock.set(london(2026, 12, 1, 17, 31));
    let (status, body) = job_action(&s, &late_id, "cancel-letter-job").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "It\u{2019}s too late to cancel sending, these letters have already been sent."
    );
}

#[tokio::test]
async fn trial_mode_and_daily_limits_apply_to_jobs() {
    let s = TestServer::start().await;
    // A letter sheet uploaded while live cannot become a job once the service is in trial mode.
    let (_, letters) = upload(
        &s,
        s.letter_template,
        "l.csv",
        "address_line_1,address_line_2,postcode,name\nA Person,1 Street,SW1A 1AA,Ann\n",
        "",
    )
    .await;
    s.update_service(|svc| {
        svc.restricted = true;
        svc.guest_list = vec!["447700900123".into()];
    })
    .await;
    let (status, body) = admin(
        &s,
        "POST",
        &format!("/service/{}/job", s.service_id),
        Some(json!({"id": letters["data"]["id"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["message"],
        "Create letter job is not allowed for service in trial mode"
    );
    // In trial mode only the team and the guest list can be sent to: the others are row errors.
    let (status, body) = upload(
        &s,
        s.sms_template,
        "t.csv",
        "phone number,name\n07700900123,Ann\n07700900456,Bea\n",
        "",
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["valid"], false);
    assert_eq!(body["data"]["errors"][0]["row"], 3, "{body}");
    assert!(
        body["data"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("trial mode")
    );

    // A job bigger than what is left of today's limit is refused whole.
    s.update_service(|svc| {
        svc.restricted = false;
        svc.sms_message_limit = 2;
    })
    .await;
    let job = send_sheet(
        &s,
        s.sms_template,
        "phone number,name\n07700900123,A\n07700900124,B\n07700900125,C\n".into(),
        json!({}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    wait_for_job(&s, &id, "sending limits exceeded", Duration::from_secs(30)).await;
    assert!(job_notifications(&s, &id).is_empty());
}

#[tokio::test]
async fn contact_lists_are_kept_sent_from_and_grouped_in_the_uploads_view() {
    let s = TestServer::start().await;
    let list_url = format!(
        "{}/service/{}/contact-list?template_type=sms&original_file_name=emergency.csv",
        s.base, s.service_id
    );
    let post = |body: &'static str| {
        reqwest::Client::new()
            .post(&list_url)
            .header("authorization", s.admin_auth())
            .body(body)
            .send()
    };
    // A bad row refuses the list, naming the row.
    let bad = post("phone number\n07700900123\nnonsense\n").await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["errors"][0]["row"], 3, "{bad}");
    let saved = post("phone number,name\n07700900123,Ann\n07700900456,Bea\n")
        .await
        .unwrap();
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    let list_id = saved["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(saved["data"]["row_count"], 2);
    assert_eq!(saved["data"]["has_jobs"], false);

    // Sent from the list: checked against the template, then a job like any other.
    let (status, up) = upload(
        &s,
        s.sms_template,
        "emergency.csv",
        "",
        &format!("&contact_list_id={list_id}"),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["data"]["valid"], true, "{up}");
    let (status, job) = admin(
        &s,
        "POST",
        &format!("/service/{}/job", s.service_id),
        Some(json!({"id": up["data"]["id"]})),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let job_id = job["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(job["data"]["contact_list_id"], list_id.as_str());
    finished(&s, &job_id).await;
    assert_eq!(job_notifications(&s, &job_id).len(), 2);

    // An ordinary job beside it.
    let plain = send_sheet(
        &s,
        s.sms_template,
        "phone number,name\n07700900789,Cy\n".into(),
        json!({}),
    )
    .await;

    // The job list shows the list's job only under the list; the uploads view groups it.
    let (_, jobs) = admin(&s, "GET", &format!("/service/{}/job", s.service_id), None).await;
    let ids: Vec<&str> = jobs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![plain["id"].as_str().unwrap()]);
    let (_, jobs) = admin(
        &s,
        "GET",
        &format!("/service/{}/job?contact_list_id={list_id}", s.service_id),
        None,
    )
    .await;
    assert_eq!(jobs["data"][0]["id"], job_id.as_str());
    let (status, uploads) = admin(
        &s,
        "GET",
        &format!("/service/{}/upload", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{uploads}");
    let entries = uploads["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{uploads}");
    let list_entry = entries
        .iter()
        .find(|e| e["upload_type"] == "contact_list")
        .unwrap();
    assert_eq!(list_entry["jobs"][0]["id"], job_id.as_str());
    assert_eq!(list_entry["has_jobs"], true);

    // Deleted: gone from the lists, its jobs keep their own sheet.
    let (status, _) = admin(
        &s,
        "DELETE",
        &format!("/service/{}/contact-list/{list_id}", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(
        &s,
        "GET",
        &format!("/service/{}/contact-list/{list_id}", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, lists) = admin(
        &s,
        "GET",
        &format!("/service/{}/contact-list", s.service_id),
        None,
    )
    .await;
    assert_eq!(lists["data"], json!([]));
    assert_eq!(get_job(&s, &job_id).await["notification_count"], 2);
}

#[tokio::test]
async fn uploaded_letters_appear_in_the_uploads_view_with_their_recipient() {
    let s = TestServer::start().await;
    let pdf = std::fs::read("fixtures/letters/valid-1-page.pdf").unwrap();
    use base64::Engine as _;
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/letter",
            Some(json!({
                "reference": "scan-1",
                "content": base64::engine::general_purpose::STANDARD.encode(&pdf),
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();
    let letter = s
        .wait_for(id, "validated", |n| {
            n.status != storage::records::NotificationStatus::PendingVirusCheck
        })
        .await;
    let (status, uploads) = admin(
        &s,
        "GET",
        &format!("/service/{}/upload", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{uploads}");
    let entry = &uploads["data"][0];
    assert_eq!(entry["upload_type"], "letter", "{uploads}");
    assert_eq!(entry["id"], id.to_string());
    assert_eq!(entry["recipient"], letter.to.as_str());
    assert_eq!(entry["original_file_name"], "scan-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_counts_survive_retention_and_its_file_goes() {
    let clock = ManualClock::new(london(2026, 12, 1, 9, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let job = send_sheet(
        &s,
        s.email_template,
        "email address,name\na@example.com,Ann\nb@example.com,Bea\n".into(),
        json!({}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    finished(&s, &id).await;
    for n in job_notifications(&s, &id) {
        s.wait_for(n.id, "delivered", |n| {
            n.status == storage::records::NotificationStatus::Delivered
        })
        .await;
    }
    let file = object_store::path::Path::from(format!("service-{}-notify/{id}.csv", s.service_id));
    assert!(s.app.blobs.head(&file).await.is_ok(), "the sheet is kept");

    // Eight days on, the nightly purge archives the rows and the job's file is deleted.
    clock.set(london(2026, 12, 9, 4, 0));
    for job in [
        "delete-notifications-older-than-retention",
        "remove-sms-email-jobs",
    ] {
        let report = notify::scheduler::run_now(&s.app, job).await.unwrap();
        assert!(report.ok, "{job}: {}", report.message);
    }
    let reader = s.app.store.read().unwrap();
    let links = reader
        .job_rows(Uuid::parse_str(&id).unwrap(), 0, 10)
        .unwrap();
    assert_eq!(links.len(), 2);
    for (_, nid) in &links {
        assert!(reader.get_notification(*nid).unwrap().is_none(), "archived");
    }
    drop(reader);
    let job = get_job(&s, &id).await;
    assert_eq!(
        job["statistics"],
        json!([{"status": "delivered", "count": 2}])
    );
    assert_eq!(job["archived"], true);
    assert!(s.app.blobs.head(&file).await.is_err(), "the sheet is gone");
    let meta = object_store::path::Path::from(format!("service-{}-notify/{id}.json", s.service_id));
    assert!(s.app.blobs.head(&meta).await.is_err(), "its metadata too");
    let (status, page) = admin(
        &s,
        "GET",
        &format!("/service/{}/job/{id}/notifications", s.service_id),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["notifications"][1]["archived"], true, "{page}");
    assert_eq!(page["notifications"][1]["job_row_number"], 1, "{page}");
}
