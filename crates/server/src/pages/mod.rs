//! Server-rendered pages for users with a browser and no credential of their own (today: the
//! one-time page of a secret request). Each page is a thin adapter of [`crate::service`], with
//! headers that keep it out of frames, caches, referrers and scripts.

mod html;
mod request;

use axum::Router;

use crate::state::AppState;

/// The pages' routes.
pub fn router() -> Router<AppState> {
    request::router()
}
