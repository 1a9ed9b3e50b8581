//! Statistics built on the facts (filled in by the facts work).

use super::{Auth, Routes};
use uuid::Uuid;
use warp::Filter;

pub fn routes(auth: Auth) -> Routes {
    warp::path!("service" / Uuid / "statistics-placeholder")
        .and(auth)
        .map(|_, _| super::no_content())
        .boxed()
}
