//! Sending a file by email (§5.2) with the appliance's own document download, in place of
//! GOV.UK's separate document-download service.
//!
//! A personalisation value `{"file": "<base64>", ...}` is checked (size, type, retention),
//! encrypted under a fresh random 32-byte key, stored in the blob store, and replaced by a link
//! `<root>d/<service_id>/<document_id>?key=<base64url key>`. Only the link holds the key, so
//! neither the blob store nor the database can open a stored document without it.
//!
//! Blob-store layout, per document:
//! - `documents/<service_id>/<document_id>`: the file, sealed with the document key;
//! - `documents/<service_id>/<document_id>.json`: `{"format", "created_at", "expires_at",
//!   "sealed"}`. Only the times are in the clear (so expired documents can be found without
//!   keys); `sealed` holds the filename, type, size, the confirm-email flag and the recipient's
//!   lower-cased email address, sealed with the same key.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use storage::records::Service;
use uuid::Uuid;

use crate::crypto::Sealer;
use crate::domain::Context;

/// Largest file, before base64 (what the official clients also enforce).
pub const MAX_FILE_SIZE: usize = 2 * 1024 * 1024;
/// `retention_period` when none is given: 26 weeks.
pub const DEFAULT_RETENTION_WEEKS: u32 = 26;
const MAX_RETENTION_WEEKS: u32 = 78;
const MICROS_PER_WEEK: i64 = 7 * 24 * 3600 * 1_000_000;
const META_FORMAT: u8 = 1;

/// The file types a recipient may be sent, by extension, in the order upstream lists them.
const SUPPORTED: &[(&str, &str)] = &[
    ("csv", "text/csv"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("png", "image/png"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("rtf", "application/rtf"),
    ("txt", "text/plain"),
];

/// Types of other common extensions, only to name them in the "unsupported" error.
const OTHER_TYPES: &[(&str, &str)] = &[
    ("bmp", "image/bmp"),
    ("css", "text/css"),
    ("exe", "application/x-msdownload"),
    ("gif", "image/gif"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("js", "text/javascript"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("odp", "application/vnd.oasis.opendocument.presentation"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("svg", "image/svg+xml"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("xls", "application/vnd.ms-excel"),
    ("xml", "application/xml"),
    ("zip", "application/zip"),
];

/// Why a file upload failed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The upload is refused. The message is the exact text for the API client
    /// (400 `BadRequestError`).
    #[error("{0}")]
    Rejected(String),
    /// The blob store failed (an internal error, not the client's fault).
    #[error("document storage: {0}")]
    Storage(String),
    /// clamd could not scan a file (down, timed out, refused): nothing was stored.
    #[error("antivirus: {0}")]
    Antivirus(String),
}

/// Upstream's document-download answer to an infected file (400).
pub const VIRUS_FOUND: &str = "File did not pass the virus scan";

fn rejected(message: impl Into<String>) -> DocumentError {
    DocumentError::Rejected(message.into())
}

fn storage(e: impl std::fmt::Display) -> DocumentError {
    DocumentError::Storage(e.to_string())
}

/// A supported file type: the extension a download gets when it has no filename, and the
/// `Content-Type` it is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub extension: &'static str,
    pub mime_type: &'static str,
}

fn supported_types_text() -> String {
    SUPPORTED
        .iter()
        .map(|(ext, _)| format!("'.{ext}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unsupported(mime_type: &str) -> DocumentError {
    rejected(format!(
        "Unsupported file type '{mime_type}'. Supported types are: {}",
        supported_types_text()
    ))
}

fn by_extension(extension: &str) -> Option<FileType> {
    SUPPORTED
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map(|&(extension, mime_type)| FileType {
            extension,
            mime_type,
        })
}

/// What the bytes look like when no filename says: PDF, PNG and JPEG by their magic numbers,
/// RTF and the zip-based office formats by their signatures, otherwise text (CSV when `is_csv`).
/// Bytes that are not text are `application/octet-stream`.
fn sniff(content: &[u8], is_csv: bool) -> Result<FileType, String> {
    let ext = |e: &str| Ok(by_extension(e).expect("a supported extension"));
    if content.starts_with(b"%PDF") {
        return ext("pdf");
    }
    if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        return ext("png");
    }
    if content.starts_with(b"\xff\xd8\xff") {
        return ext("jpg");
    }
    if content.starts_with(b"{\\rtf") {
        return ext("rtf");
    }
    if content.starts_with(b"PK\x03\x04") {
        let contains = |needle: &[u8]| content.windows(needle.len()).any(|w| w == needle);
        return if contains(b"mimetypeapplication/vnd.oasis.opendocument.text") {
            ext("odt")
        } else if contains(b"word/") {
            ext("docx")
        } else if contains(b"xl/") {
            ext("xlsx")
        } else {
            Err("application/zip".into())
        };
    }
    let text = std::str::from_utf8(content).is_ok_and(|s| !s.contains('\0'));
    if !text {
        return Err("application/octet-stream".into());
    }
    ext(if is_csv { "csv" } else { "txt" })
}

/// The type of an upload: from `filename`'s extension when there is one, else by sniffing.
pub fn detect_type(
    filename: Option<&str>,
    content: &[u8],
    is_csv: bool,
) -> Result<FileType, DocumentError> {
    match filename {
        Some(name) => {
            let extension = name
                .rsplit_once('.')
                .map(|(_, e)| e.trim().to_ascii_lowercase())
                .unwrap_or_default();
            by_extension(&extension).ok_or_else(|| {
                let mime = OTHER_TYPES
                    .iter()
                    .find(|(ext, _)| *ext == extension)
                    .map_or("application/octet-stream", |(_, m)| m);
                unsupported(mime)
            })
        }
        None => sniff(content, is_csv).map_err(|mime| unsupported(&mime)),
    }
}

/// `retention_period` in weeks: `"<n> week"` / `"<n> weeks"`, 1 ≤ n ≤ 78, case-insensitive
/// and trimmed; absent or null means the default.
pub fn parse_retention_weeks(value: Option<&Value>) -> Result<u32, DocumentError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_RETENTION_WEEKS),
        Some(Value::String(s)) => s.trim().to_lowercase(),
        Some(other) => other.to_string(),
    };
    let weeks = text.split_once(' ').and_then(|(n, unit)| {
        matches!(unit, "week" | "weeks")
            .then(|| n.parse::<u32>().ok())
            .flatten()
            .filter(|n| (1..=MAX_RETENTION_WEEKS).contains(n))
    });
    weeks.ok_or_else(|| {
        rejected(format!(
            "Unsupported value for retention_period: {text}. Supported periods are from 1 to 78 weeks."
        ))
    })
}

/// True once a document's retention has run out.
pub fn is_expired(expires_at_micros: i64, now_micros: i64) -> bool {
    now_micros >= expires_at_micros
}

fn file_path(service_id: Uuid, document_id: Uuid) -> Path {
    Path::from(format!("documents/{service_id}/{document_id}"))
}

fn meta_path(service_id: Uuid, document_id: Uuid) -> Path {
    Path::from(format!("documents/{service_id}/{document_id}.json"))
}

/// The metadata object, as stored.
#[derive(Serialize, Deserialize)]
struct StoredMeta {
    format: u8,
    created_at: i64,
    expires_at: i64,
    /// Base64 of the sealed [`SealedMeta`] JSON.
    sealed: String,
}

/// What only the key holder may read.
#[derive(Serialize, Deserialize)]
struct SealedMeta {
    filename: Option<String>,
    extension: String,
    mime_type: String,
    size: u64,
    confirm_email: bool,
    email: String,
}

/// A checked upload, ready to store.
struct Upload {
    content: Vec<u8>,
    meta: SealedMeta,
    retention_weeks: u32,
}

fn check_upload(
    upload: &Map<String, Value>,
    recipient_email: &str,
) -> Result<Upload, DocumentError> {
    let encoded = upload.get("file").and_then(Value::as_str).unwrap_or("");
    let content = super::content::decode_lenient_base64(encoded)
        .ok_or_else(|| rejected("Document is not base64 encoded"))?;
    if content.len() > MAX_FILE_SIZE {
        return Err(rejected("File is larger than 2MB"));
    }
    let filename = upload
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_string);
    let is_csv = upload
        .get("is_csv")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let file_type = detect_type(filename.as_deref(), &content, is_csv)?;
    let retention_weeks = parse_retention_weeks(upload.get("retention_period"))?;
    let confirm_email = upload
        .get("confirm_email_before_download")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(Upload {
        meta: SealedMeta {
            filename,
            extension: file_type.extension.to_string(),
            mime_type: file_type.mime_type.to_string(),
            size: content.len() as u64,
            confirm_email,
            email: recipient_email.trim().to_lowercase(),
        },
        content,
        retention_weeks,
    })
}

async fn store_upload(
    cx: &Context,
    service_id: Uuid,
    upload: Upload,
) -> Result<(Uuid, [u8; 32]), DocumentError> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let sealer = Sealer::from_key(&key).map_err(storage)?;
    let document_id = Uuid::new_v4();
    let now = cx.store.clock().now_micros();
    let meta = StoredMeta {
        format: META_FORMAT,
        created_at: now,
        expires_at: now + i64::from(upload.retention_weeks) * MICROS_PER_WEEK,
        sealed: BASE64.encode(sealer.seal(&serde_json::to_vec(&upload.meta).map_err(storage)?)),
    };
    // The file first: a metadata object always has its file; a crash between the two leaves
    // only an unreadable orphan.
    cx.blobs
        .put(
            &file_path(service_id, document_id),
            sealer.seal(&upload.content).into(),
        )
        .await
        .map_err(storage)?;
    cx.blobs
        .put(
            &meta_path(service_id, document_id),
            serde_json::to_vec(&meta).map_err(storage)?.into(),
        )
        .await
        .map_err(storage)?;
    Ok((document_id, key))
}

/// The download link of a stored document.
pub fn document_link(root_url: &str, service_id: Uuid, document_id: Uuid, key: &[u8]) -> String {
    format!(
        "{root_url}d/{service_id}/{document_id}?key={}",
        URL_SAFE_NO_PAD.encode(key)
    )
}

/// The link simulated recipients get instead (§3); nothing is stored.
pub fn test_document_link(root_url: &str, service_id: Uuid) -> String {
    format!("{root_url}services/{service_id}/documents/test-document")
}

/// Replace every file upload in `personalisation` with its download link, storing each file.
/// Uploads are checked before anything is stored, so a refused request stores nothing.
/// `root_url` ends with `/`. For `simulated` recipients nothing is checked or stored and every
/// upload becomes the test-document link, as upstream does.
pub async fn attach_documents(
    cx: &Context,
    service: &Service,
    root_url: &str,
    personalisation: &mut Map<String, Value>,
    recipient_email: &str,
    simulated: bool,
) -> Result<(), DocumentError> {
    let keys: Vec<String> = personalisation
        .iter()
        .filter(|(_, v)| v.as_object().is_some_and(|o| o.contains_key("file")))
        .map(|(k, _)| k.clone())
        .collect();
    if simulated {
        for key in keys {
            personalisation.insert(key, Value::String(test_document_link(root_url, service.id)));
        }
        return Ok(());
    }
    let mut uploads = Vec::with_capacity(keys.len());
    for key in keys {
        let upload = personalisation
            .get(&key)
            .and_then(Value::as_object)
            .expect("a file upload object");
        uploads.push((key, check_upload(upload, recipient_email)?));
    }
    // Every file is scanned before any is stored, as document-download scans each upload
    // before keeping it: one infected file refuses the whole send.
    if cx.config.antivirus.enabled {
        for (_, upload) in &uploads {
            scan(cx, &upload.content).await?;
        }
    }
    for (key, upload) in uploads {
        let (document_id, secret) = store_upload(cx, service.id, upload).await?;
        personalisation.insert(
            key,
            Value::String(document_link(root_url, service.id, document_id, &secret)),
        );
    }
    Ok(())
}

/// Scan one file with clamd (`[antivirus]`).
async fn scan(cx: &Context, content: &[u8]) -> Result<(), DocumentError> {
    use crate::letters::antivirus::{Clamd, ScanVerdict};
    let config = &cx.config.antivirus;
    let clamd = Clamd::new(
        &config.clamd,
        std::time::Duration::from_secs(config.timeout_seconds),
    );
    match clamd.scan(content).await {
        Ok(ScanVerdict::Clean) => Ok(()),
        Ok(ScanVerdict::Infected(signature)) => {
            tracing::warn!(%signature, "a file sent by email did not pass the virus scan");
            Err(rejected(VIRUS_FOUND))
        }
        Err(e) => {
            tracing::error!(error = %e, "a file sent by email could not be scanned");
            Err(DocumentError::Antivirus(e.to_string()))
        }
    }
}

/// What the expired-documents sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Documents past their retention, deleted.
    pub expired: u64,
    /// Files without metadata (a crash between the two writes) older than a day, deleted.
    pub orphans: u64,
    /// Metadata that could not be read, left in place.
    pub unreadable: u64,
}

/// A file whose metadata never arrived is left this long before the sweep deletes it (an
/// upload writes its metadata right after the file).
const ORPHAN_GRACE_MICROS: i64 = 24 * 3600 * 1_000_000;

/// `remove-expired-documents`: delete every stored document past its retention (and files a
/// crash left without metadata). The times are in the clear in the metadata, so no key is
/// needed; documents not yet expired are untouched.
pub async fn sweep_expired(cx: &Context) -> Result<Swept, DocumentError> {
    use futures_util::TryStreamExt;
    let now = cx.store.clock().now_micros();
    let prefix = Path::from("documents");
    let objects: Vec<object_store::ObjectMeta> = cx
        .blobs
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(storage)?;
    let names: std::collections::HashSet<String> =
        objects.iter().map(|o| o.location.to_string()).collect();
    let mut swept = Swept::default();
    for object in &objects {
        let name = object.location.to_string();
        let Some((service_id, document_id, is_meta)) = parse_document_path(&name) else {
            continue;
        };
        if is_meta {
            let Some(raw) = get_blob(cx, &object.location).await? else {
                continue;
            };
            match serde_json::from_slice::<StoredMeta>(&raw) {
                Ok(meta) if is_expired(meta.expires_at, now) => {
                    delete_document(cx, service_id, document_id).await;
                    swept.expired += 1;
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(%document_id, "unreadable document metadata left in place");
                    swept.unreadable += 1;
                }
            }
        } else if !names.contains(&format!("{name}.json"))
            && now - object.last_modified.timestamp_micros() > ORPHAN_GRACE_MICROS
        {
            delete_document(cx, service_id, document_id).await;
            swept.orphans += 1;
        }
    }
    Ok(swept)
}

/// The scheduled job's wrapper of [`sweep_expired`].
pub async fn remove_expired_documents(cx: &Context) -> super::JobOutcome {
    let swept = sweep_expired(cx)
        .await
        .map_err(|e| super::DomainError::Blobs(e.to_string()))?;
    if swept.unreadable > 0 {
        tracing::warn!(
            unreadable = swept.unreadable,
            "document metadata the sweep could not read"
        );
    }
    Ok(format!(
        "expired documents deleted: {}, orphaned files deleted: {}",
        swept.expired, swept.orphans
    ))
}

/// `documents/<service>/<document>[.json]` → (service, document, is the metadata).
fn parse_document_path(name: &str) -> Option<(Uuid, Uuid, bool)> {
    let mut parts = name.strip_prefix("documents/")?.split('/');
    let service = Uuid::parse_str(parts.next()?).ok()?;
    let file = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let (id, is_meta) = match file.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (file, false),
    };
    Some((service, Uuid::parse_str(id).ok()?, is_meta))
}

/// Decode the `key` of a link: base64url of 32 bytes (padding tolerated).
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()?
        .try_into()
        .ok()
}

/// A stored document whose link was right and which has not expired.
pub struct OpenDocument {
    service_id: Uuid,
    document_id: Uuid,
    sealer: Sealer,
    meta: SealedMeta,
    pub expires_at: i64,
}

impl std::fmt::Debug for OpenDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenDocument")
            .field("service_id", &self.service_id)
            .field("document_id", &self.document_id)
            .finish_non_exhaustive()
    }
}

impl OpenDocument {
    /// Whether the recipient must type their email address before downloading.
    pub fn needs_email_confirmation(&self) -> bool {
        self.meta.confirm_email
    }

    /// Whether `typed` is the address the document was sent to (trimmed, case-insensitive).
    pub fn email_matches(&self, typed: &str) -> bool {
        let typed = typed.trim().to_lowercase();
        !typed.is_empty() && typed == self.meta.email
    }

    /// The name the download is saved as: the upload's filename, or `document.<ext>`.
    pub fn download_name(&self) -> String {
        self.meta
            .filename
            .clone()
            .unwrap_or_else(|| format!("document.{}", self.meta.extension))
    }

    pub fn mime_type(&self) -> &str {
        &self.meta.mime_type
    }

    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// The file's bytes. `None` if it has gone from the blob store or cannot be opened.
    pub async fn content(&self, cx: &Context) -> Result<Option<Vec<u8>>, DocumentError> {
        let Some(sealed) = get_blob(cx, &file_path(self.service_id, self.document_id)).await?
        else {
            return Ok(None);
        };
        Ok(self.sealer.open(&sealed).ok())
    }
}

async fn get_blob(cx: &Context, path: &Path) -> Result<Option<bytes::Bytes>, DocumentError> {
    match cx.blobs.get(path).await {
        Ok(result) => result.bytes().await.map(Some).map_err(storage),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(storage(e)),
    }
}

/// Open a document with the key from its link. `None` when the key is wrong, the document
/// does not exist, or it has expired (an expired document is deleted on the way).
pub async fn open_document(
    cx: &Context,
    service_id: Uuid,
    document_id: Uuid,
    key: &str,
) -> Result<Option<OpenDocument>, DocumentError> {
    let Some(key) = decode_key(key) else {
        return Ok(None);
    };
    let Some(raw) = get_blob(cx, &meta_path(service_id, document_id)).await? else {
        return Ok(None);
    };
    let Ok(stored) = serde_json::from_slice::<StoredMeta>(&raw) else {
        tracing::warn!(%document_id, "unreadable document metadata");
        return Ok(None);
    };
    let sealer = Sealer::from_key(&key).map_err(storage)?;
    let Some(meta) = BASE64
        .decode(&stored.sealed)
        .ok()
        .and_then(|sealed| sealer.open(&sealed).ok())
        .and_then(|plain| serde_json::from_slice::<SealedMeta>(&plain).ok())
    else {
        return Ok(None);
    };
    if is_expired(stored.expires_at, cx.store.clock().now_micros()) {
        delete_document(cx, service_id, document_id).await;
        return Ok(None);
    }
    Ok(Some(OpenDocument {
        service_id,
        document_id,
        sealer,
        meta,
        expires_at: stored.expires_at,
    }))
}

/// Remove a document's objects (best effort: a failure is logged, the document stays
/// unavailable either way).
async fn delete_document(cx: &Context, service_id: Uuid, document_id: Uuid) {
    for path in [
        meta_path(service_id, document_id),
        file_path(service_id, document_id),
    ] {
        match cx.blobs.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(%document_id, error = %e, "could not delete an expired document")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use serde_json::json;
    use storage::ManualClock;

    use super::*;
    use crate::config::Config;

    const ROOT: &str = "https://notify.example/";

    fn message(e: DocumentError) -> String {
        match e {
            DocumentError::Rejected(m) => m,
            other => panic!("not a rejection: {other:?}"),
        }
    }

    #[test]
    fn document_paths_name_their_service_and_document() {
        let (s, d) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            parse_document_path(&format!("documents/{s}/{d}")),
            Some((s, d, false))
        );
        assert_eq!(
            parse_document_path(&format!("documents/{s}/{d}.json")),
            Some((s, d, true))
        );
        assert_eq!(parse_document_path(&format!("documents/{s}/x/{d}")), None);
        assert_eq!(parse_document_path(&format!("letters-pdf/{s}/{d}")), None);
        assert_eq!(parse_document_path("documents/not-a-uuid/x"), None);
    }

    #[test]
    fn type_comes_from_the_filename_extension() {
        let t = detect_type(Some("Report.final.PDF"), b"whatever", false).unwrap();
        assert_eq!((t.extension, t.mime_type), ("pdf", "application/pdf"));
        assert_eq!(
            detect_type(Some("a.jpeg"), b"", false).unwrap().mime_type,
            "image/jpeg"
        );
        assert_eq!(
            detect_type(Some("data.csv"), b"%PDF-1.4", false)
                .unwrap()
                .extension,
            "csv"
        );
        assert_eq!(
            message(detect_type(Some("page.html"), b"<p>", false).unwrap_err()),
            "Unsupported file type 'text/html'. Supported types are: '.csv', '.jpeg', '.jpg', '.png', '.xlsx', '.doc', '.docx', '.pdf', '.json', '.odt', '.rtf', '.txt'"
        );
        assert!(
            message(detect_type(Some("x.weird"), b"", false).unwrap_err())
                .starts_with("Unsupported file type 'application/octet-stream'.")
        );
    }

    #[test]
    fn type_is_sniffed_without_a_filename() {
        let ext = |bytes: &[u8], is_csv| detect_type(None, bytes, is_csv).map(|t| t.extension);
        assert_eq!(ext(b"%PDF-1.7\n...", false).unwrap(), "pdf");
        assert_eq!(ext(b"\x89PNG\r\n\x1a\n\0\0", false).unwrap(), "png");
        assert_eq!(ext(b"\xff\xd8\xff\xe0JFIF", false).unwrap(), "jpg");
        assert_eq!(ext(b"{\\rtf1\\ansi", false).unwrap(), "rtf");
        assert_eq!(
            ext(b"PK\x03\x04....word/document.xml", false).unwrap(),
            "docx"
        );
        assert_eq!(ext(b"a,b\n1,2\n", true).unwrap(), "csv");
        assert_eq!(ext(b"a,b\n1,2\n", false).unwrap(), "txt");
        assert_eq!(ext("caf\u{e9}".as_bytes(), false).unwrap(), "txt");
        assert!(
            message(detect_type(None, b"\x00\x01\x02\xfe", false).unwrap_err())
                .starts_with("Unsupported file type 'application/octet-stream'.")
        );
        assert!(
            message(detect_type(None, b"PK\x03\x04 other", false).unwrap_err())
                .starts_with("Unsupported file type 'application/zip'.")
        );
    }

    #[test]
    fn files_over_2mb_are_refused() {
        let encode = |n: usize| json!({"file": BASE64.encode(vec![b'a'; n])});
        let at_limit = encode(MAX_FILE_SIZE);
        assert!(check_upload(at_limit.as_object().unwrap(), "a@b.com").is_ok());
        let over = encode(MAX_FILE_SIZE + 1);
        assert_eq!(
            message(
                check_upload(over.as_object().unwrap(), "a@b.com")
                    .err()
                    .unwrap()
            ),
            "File is larger than 2MB"
        );
        let bad = json!({"file": "not base64!"});
        assert_eq!(
            message(
                check_upload(bad.as_object().unwrap(), "a@b.com")
                    .err()
                    .unwrap()
            ),
            "Document is not base64 encoded"
        );
    }

    #[test]
    fn retention_periods() {
        assert_eq!(parse_retention_weeks(None).unwrap(), 26);
        assert_eq!(parse_retention_weeks(Some(&Value::Null)).unwrap(), 26);
        assert_eq!(parse_retention_weeks(Some(&json!("1 week"))).unwrap(), 1);
        assert_eq!(
            parse_retention_weeks(Some(&json!(" 78 Weeks "))).unwrap(),
            78
        );
        for bad in [
            json!("0 weeks"),
            json!("79 weeks"),
            json!("2 days"),
            json!("weeks"),
            json!(4),
        ] {
            assert!(
                message(parse_retention_weeks(Some(&bad)).unwrap_err())
                    .ends_with("Supported periods are from 1 to 78 weeks."),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults_and_recipient_are_kept() {
        let upload = json!({"file": BASE64.encode(b"hello"), "is_csv": true});
        let u = check_upload(upload.as_object().unwrap(), " Someone@Example.COM ").unwrap();
        assert_eq!(u.retention_weeks, 26);
        assert!(u.meta.confirm_email);
        assert_eq!(u.meta.email, "someone@example.com");
        assert_eq!(u.meta.extension, "csv");
        assert_eq!(u.meta.size, 5);
        assert_eq!(u.content, b"hello");
    }

    #[test]
    fn keys_round_trip_through_links() {
        let key = [0xfbu8; 32];
        let (s, d) = (Uuid::new_v4(), Uuid::new_v4());
        let link = document_link(ROOT, s, d, &key);
        let encoded = link.split_once("?key=").unwrap().1;
        assert!(!encoded.contains(['=', '+', '/']));
        assert_eq!(decode_key(encoded), Some(key));
        assert_eq!(decode_key("short"), None);
        assert_eq!(decode_key(""), None);
    }

    #[test]
    fn expiry_is_inclusive() {
        assert!(!is_expired(100, 99));
        assert!(is_expired(100, 100));
        assert!(is_expired(100, 101));
    }

    fn app_at(dir: &std::path::Path, clock: Arc<ManualClock>) -> Arc<Context> {
        Arc::new(Context::open(Config::for_tests(dir), clock).unwrap())
    }

    async fn service(cx: &Context) -> Service {
        crate::domain::services::create_service(
            cx,
            &crate::domain::accounts::Actor::operator(),
            crate::domain::services::NewService {
                name: "Documents".into(),
                restricted: false,
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn documents_are_stored_sealed_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let cx = app_at(dir.path(), clock.clone());
        let service = service(&cx).await;
        let mut p = json!({
            "name": "Ann",
            "doc": {"file": BASE64.encode(b"secret,data\n1,2\n"), "filename": "report.csv", "retention_period": "1 week"},
        })
        .as_object()
        .unwrap()
        .clone();
        attach_documents(&cx, &service, ROOT, &mut p, "Ann@Example.com", false)
            .await
            .unwrap();
        assert_eq!(p["name"], "Ann");
        let link = p["doc"].as_str().unwrap();
        let prefix = format!("{ROOT}d/{}/", service.id);
        let rest = link.strip_prefix(&prefix).expect("a document link");
        let (document_id, key) = rest.split_once("?key=").unwrap();
        let document_id: Uuid = document_id.parse().unwrap();

        // Stored sealed: neither the file nor the address is readable in the blob store.
        let raw = get_blob(&cx, &file_path(service.id, document_id))
            .await
            .unwrap()
            .unwrap();
        assert!(!raw.windows(6).any(|w| w == b"secret"));
        let meta = get_blob(&cx, &meta_path(service.id, document_id))
            .await
            .unwrap()
            .unwrap();
        let meta_text = String::from_utf8_lossy(&meta).to_lowercase();
        assert!(!meta_text.contains("ann@example.com"));
        assert!(!meta_text.contains("report.csv"));

        let doc = open_document(&cx, service.id, document_id, key)
            .await
            .unwrap()
            .expect("opens with the right key");
        assert!(doc.needs_email_confirmation());
        assert!(doc.email_matches("  ANN@example.com "));
        assert!(!doc.email_matches("bob@example.com"));
        assert!(!doc.email_matches(""));
        assert_eq!(doc.download_name(), "report.csv");
        assert_eq!(doc.mime_type(), "text/csv");
        assert_eq!(
            doc.content(&cx).await.unwrap().unwrap(),
            b"secret,data\n1,2\n"
        );

        // The wrong key, another service, or an unknown document: unavailable.
        let wrong = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert!(
            open_document(&cx, service.id, document_id, &wrong)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            open_document(&cx, Uuid::new_v4(), document_id, key)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            open_document(&cx, service.id, Uuid::new_v4(), key)
                .await
                .unwrap()
                .is_none()
        );

        // Still there just before a week has passed; gone (and deleted) after.
        clock.advance(std::time::Duration::from_secs(7 * 24 * 3600 - 1));
        assert!(
            open_document(&cx, service.id, document_id, key)
                .await
                .unwrap()
                .is_some()
        );
        clock.advance(std::time::Duration::from_secs(1));
        assert!(
            open_document(&cx, service.id, document_id, key)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            get_blob(&cx, &file_path(service.id, document_id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            get_blob(&cx, &meta_path(service.id, document_id))
                .await
                .unwrap()
                .is_none()
        );
        cx.close();
    }

    #[tokio::test]
    async fn simulated_recipients_get_the_test_link_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cx = app_at(dir.path(), ManualClock::new(chrono::Utc::now()));
        let service = service(&cx).await;
        let mut p = json!({"doc": {"file": "not even base64"}})
            .as_object()
            .unwrap()
            .clone();
        attach_documents(
            &cx,
            &service,
            ROOT,
            &mut p,
            "simulate-delivered@notifications.service.gov.uk",
            true,
        )
        .await
        .unwrap();
        assert_eq!(
            p["doc"],
            format!("{ROOT}services/{}/documents/test-document", service.id)
        );
        assert!(no_documents_stored(&cx));
        cx.close();
    }

    #[tokio::test]
    async fn a_refused_upload_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cx = app_at(dir.path(), ManualClock::new(chrono::Utc::now()));
        let service = service(&cx).await;
        let mut p = json!({
            "a": {"file": BASE64.encode(b"fine"), "filename": "a.txt"},
            "b": {"file": BASE64.encode(b"MZ"), "filename": "b.exe"},
        })
        .as_object()
        .unwrap()
        .clone();
        let err = attach_documents(&cx, &service, ROOT, &mut p, "a@b.com", false)
            .await
            .unwrap_err();
        assert!(message(err).starts_with("Unsupported file type 'application/x-msdownload'."));
        assert!(no_documents_stored(&cx));
        cx.close();
    }

    fn no_documents_stored(cx: &Context) -> bool {
        match std::fs::read_dir(cx.config.blobs_dir().join("documents")) {
            Ok(mut entries) => entries.next().is_none(),
            Err(_) => true,
        }
    }
}
