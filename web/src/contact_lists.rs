//! Saved contact lists: upload one, look at it and send to it, delete it
//! (`/services/{id}/upload-contact-list`, `/services/{id}/contact-list/{list_id}`).

use askama::Template;

use crate::{Choice, FormErrors, Layout};

/// `GET /services/{id}/upload-contact-list`: choose a sheet of email addresses or phone
/// numbers; after a refused upload, why.
#[derive(Template)]
#[template(path = "service/contact_lists/upload.html")]
pub struct ContactListUploadPage {
    pub layout: Layout,
    pub action: String,
    /// Why the file could not be saved as a whole (no file, no recipient column...).
    pub file_error: Option<String>,
    /// The rows that stopped it being saved: "Row 3: Not a valid email address".
    pub row_problems: Vec<String>,
}

/// `GET /services/{id}/contact-list/{list_id}`: the list, and sending a template to it.
#[derive(Template)]
#[template(path = "service/contact_lists/list.html")]
pub struct ContactListPage {
    pub layout: Layout,
    /// "Uploaded by Casey Worker today at 3:04pm".
    pub uploaded: String,
    /// "20 email addresses".
    pub count: String,
    /// Where the chosen template is posted (for people who may send).
    pub send_action: Option<String>,
    /// The service's templates of the list's kind.
    pub templates: Vec<Choice>,
    /// Says there is no template of the list's kind yet, when there is none.
    pub no_templates: Option<String>,
    pub errors: FormErrors,
    pub delete_href: Option<String>,
}

/// `GET /services/{id}/contact-list/{list_id}/delete`: are you sure?
#[derive(Template)]
#[template(path = "service/contact_lists/delete.html")]
pub struct ContactListDeletePage {
    pub layout: Layout,
    pub question: String,
    pub action: String,
    pub back_href: String,
}
