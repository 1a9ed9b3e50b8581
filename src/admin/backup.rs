//! The internal API behind `notify backup` and `notify check` while the server holds the data
//! directory (redb allows one process, so the CLI asks the server for what only it can read):
//!
//! - `POST /backup/snapshot`: begin a snapshot (one read transaction); answers its id, the
//!   dump's header and the encryption key's fingerprint;
//! - `GET /backup/snapshot/{id}/{n}`: part `n` of its dump, in order, as bytes; the header
//!   `notify-snapshot-last: true` marks the last part (see [`crate::backup::Sessions`]);
//! - `POST /check`: `notify check` of the running store, its index, sealed values and blobs.

use serde_json::json;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data};
use crate::domain::DomainError;
use crate::error::admin_reject;

/// The response header that marks a snapshot's last part.
pub const LAST_PART_HEADER: &str = "notify-snapshot-last";

fn reject(e: crate::backup::BackupError) -> warp::Rejection {
    admin_reject(DomainError::from(e))
}

pub fn routes(auth: Auth) -> Routes {
    let start = warp::path!("backup" / "snapshot")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|app: Caller| async move {
            let (id, header) = app.backups.start(&app.store).map_err(reject)?;
            Ok::<_, warp::Rejection>(data(
                StatusCode::CREATED,
                json!({
                    "id": id,
                    "header": header,
                    "encryption_key_fingerprint": app.sealer.fingerprint(),
                }),
            ))
        });
    let part = warp::path!("backup" / "snapshot" / Uuid / u64)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, n: u64, app: Caller| async move {
            let part = app.backups.part(id, n).await.map_err(reject)?;
            let mut response = Response::new(part.bytes.into());
            let headers = response.headers_mut();
            headers.insert(
                "content-type",
                warp::http::HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(
                LAST_PART_HEADER,
                warp::http::HeaderValue::from_static(if part.last { "true" } else { "false" }),
            );
            Ok::<_, warp::Rejection>(response)
        });
    let check =
        warp::path!("check")
            .and(warp::post())
            .and(auth)
            .and_then(|app: Caller| async move {
                let report =
                    crate::backup::check(&app.store, &app.index, &app.blobs, Some(&app.sealer))
                        .await
                        .map_err(reject)?;
                Ok::<_, warp::Rejection>(data(StatusCode::OK, json!(report)))
            });
    start.or(part).unify().or(check).unify().boxed()
}
