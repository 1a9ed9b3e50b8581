//! Data retention settings (filled in by the retention work).

use super::{Auth, Routes};
use uuid::Uuid;
use warp::Filter;

pub fn routes(auth: Auth) -> Routes {
    warp::path!("service" / Uuid / "data-retention" / "placeholder")
        .and(auth)
        .map(|_, _| super::no_content())
        .boxed()
}
