//! Sending from a spreadsheet: the upload form (`/services/{id}/send/{template_id}/csv`), the
//! check of every row (`/services/{id}/{template_id}/check/{upload_id}`), and the jobs it makes
//! (`/services/{id}/uploads`, `/services/{id}/jobs/{job_id}`), with upstream's wording.

use askama::Template;

use crate::template_pages::MessagePreview;
use crate::{Choice, Layout};

/// `GET /services/{id}/send/{template_id}/csv`: choose a file, with an example of its columns.
#[derive(Template)]
#[template(path = "service/jobs/upload.html")]
pub struct UploadPage {
    pub layout: Layout,
    pub action: String,
    /// The example sheet's column letters ("A", "B"...), header row and one row of values.
    pub example_columns: Vec<String>,
    pub example_headers: Vec<String>,
    pub example_row: Vec<String>,
    /// `/services/{id}/send/{template_id}.csv`.
    pub example_href: String,
    pub template_name: String,
    pub preview: MessagePreview,
    /// Why the file chosen could not be used (no file, not a spreadsheet we can read).
    pub file_error: Option<String>,
}

/// One cell of a sheet as the check page shows it, with its problem (empty for none).
#[derive(Debug, Clone, Default)]
pub struct SheetCell {
    pub value: String,
    pub error: String,
}

/// One row of a sheet as the check page shows it.
#[derive(Debug, Clone, Default)]
pub struct SheetLine {
    /// The row's number in the spreadsheet (the header is row 1).
    pub number: usize,
    pub cells: Vec<SheetCell>,
    /// A problem of the whole row rather than one cell (the message is too long...).
    pub row_error: String,
    /// The row is shown in the preview (its number is not a link).
    pub previewed: bool,
    /// Preview this row instead (the check page of this row).
    pub href: String,
}

impl SheetLine {
    pub fn has_error(&self) -> bool {
        !self.row_error.is_empty() || self.cells.iter().any(|c| !c.error.is_empty())
    }
}

/// What stops a sheet being sent, in a red banner: a title, paragraphs, and a list of what to
/// fix ("You need to: fix 2 email addresses; enter missing data in 1 row").
#[derive(Debug, Clone, Default)]
pub struct SheetProblem {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub to_fix: Vec<String>,
}

/// The check of an uploaded sheet: its problems and the file again, or the first message's
/// preview and the button that sends them all.
#[derive(Template)]
#[template(path = "service/jobs/check.html")]
pub struct CheckPage {
    pub layout: Layout,
    pub file_name: String,
    pub problem: Option<SheetProblem>,
    /// The upload form (`/services/{id}/send/{template_id}/csv`), for "Upload your file again".
    pub upload_action: String,
    /// Always `None` here (the upload form's own error, which this page never has).
    pub file_error: Option<String>,
    /// The sheet's header and rows (only rows with errors when there are errors).
    pub headers: Vec<String>,
    pub lines: Vec<SheetLine>,
    /// "Only showing rows with errors", "Only showing the first 50 rows".
    pub table_note: String,
    pub preview: Option<MessagePreview>,
    pub template_name: String,
    /// The form that starts the job (`/services/{id}/start-job/{upload_id}`), when there are
    /// no problems.
    pub start_action: String,
    /// "Now", then the hours it can be scheduled for.
    pub times: Vec<Choice>,
    /// "Send 20 emails".
    pub button: String,
    /// Why the job could not be started (a time in the past...), above the form.
    pub error: Option<String>,
}

/// One job in the uploads list.
#[derive(Debug, Clone, Default)]
pub struct JobRow {
    pub href: String,
    pub file_name: String,
    pub template_name: String,
    /// "Sent today at 3:04pm", "Sending tomorrow at 9:00am".
    pub hint: String,
    pub scheduled: bool,
    /// Scheduled: "20 emails waiting to send".
    pub waiting: String,
    pub sending: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Scheduled and the person may send: where to cancel it.
    pub cancel_href: Option<String>,
}

/// A saved contact list in the uploads list.
#[derive(Debug, Clone, Default)]
pub struct ContactListRow {
    pub href: String,
    pub file_name: String,
    /// "Uploaded today at 3:04pm".
    pub hint: String,
    /// "20 email addresses".
    pub count: String,
}

/// A letter uploaded as a PDF, in the uploads list.
#[derive(Debug, Clone, Default)]
pub struct UploadedLetterRow {
    pub href: String,
    /// Its reference (the file name it was uploaded as), or "Letter".
    pub name: String,
    /// The first line of its address.
    pub recipient: String,
    pub hint: String,
    pub status: String,
}

/// `GET /services/{id}/uploads`: the service's contact lists, jobs (scheduled first) and
/// uploaded letters.
#[derive(Template)]
#[template(path = "service/jobs/uploads.html")]
pub struct UploadsPage {
    pub layout: Layout,
    /// Where to upload a contact list (for people who may send).
    pub contact_list_upload_href: Option<String>,
    pub contact_lists: Vec<ContactListRow>,
    pub jobs: Vec<JobRow>,
    /// Letters uploaded as PDFs (the first page of the list only).
    pub letters: Vec<UploadedLetterRow>,
    pub next_href: Option<String>,
    pub previous_href: Option<String>,
}

/// One message of a job.
#[derive(Debug, Clone, Default)]
pub struct JobMessage {
    pub href: String,
    pub to: String,
    pub row: usize,
    pub status: String,
    pub error: bool,
}

/// `GET /services/{id}/jobs/{job_id}`: how far the job has got, each message and its status.
#[derive(Template)]
#[template(path = "service/jobs/job.html")]
pub struct JobPage {
    pub layout: Layout,
    /// "Sent by Ann on 7 December 2026 at 3:04pm".
    pub status_line: String,
    /// Upstream's error when the daily limit stopped the job.
    pub limit_error: Option<String>,
    /// Scheduled: "Sending ‘Reminder’ tomorrow at 9:00am".
    pub scheduled: Option<String>,
    /// Scheduled and the person may send: the cancel question's page.
    pub cancel_href: Option<String>,
    pub template_name: String,
    pub total: u64,
    pub sending: u64,
    pub delivered: u64,
    pub failed: u64,
    /// The job is still being turned into messages or they are still being delivered.
    pub in_progress: bool,
    /// "Report is 45% complete…" while rows are still being made into messages.
    pub progress: String,
    pub messages: Vec<JobMessage>,
    pub refresh_href: String,
    pub next_href: Option<String>,
    pub previous_href: Option<String>,
}

/// `GET /services/{id}/jobs/{job_id}/cancel`: are you sure?
#[derive(Template)]
#[template(path = "service/jobs/cancel.html")]
pub struct CancelJobPage {
    pub layout: Layout,
    pub action: String,
    pub question: String,
    pub job_href: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_page_shows_an_error_in_its_cell_and_escapes() {
        let html = CheckPage {
            layout: Layout::new("Error"),
            file_name: "<b>people</b>.csv".into(),
            problem: Some(SheetProblem {
                title: "There’s a problem with people.csv".into(),
                paragraphs: vec!["You need to fix 1 email address.".into()],
                to_fix: vec![],
            }),
            upload_action: "/services/s/send/t/csv".into(),
            file_error: None,
            headers: vec!["email address".into(), "name".into()],
            lines: vec![SheetLine {
                number: 3,
                cells: vec![
                    SheetCell {
                        value: "not-an-address".into(),
                        error: "Not a valid email address".into(),
                    },
                    SheetCell {
                        value: "<script>".into(),
                        error: String::new(),
                    },
                ],
                ..Default::default()
            }],
            table_note: "Only showing rows with errors".into(),
            preview: None,
            template_name: "Reminder".into(),
            start_action: String::new(),
            times: vec![],
            button: String::new(),
            error: None,
        }
        .render()
        .unwrap();
        assert!(html.contains("Not a valid email address"));
        assert!(html.contains("Upload your file again"));
        assert!(!html.contains("<script>") && !html.contains("<b>people"));
        assert!(html.contains(r#"enctype="multipart/form-data""#));
    }
}
