//! `fracdet serve`: fracdet's HTTP API and web viewer.
//!
//! - `POST /v1/detect`: one radiograph (PNG, JPEG or DICOM; the raw body or a
//!   `multipart/form-data` file field) → JSON with the probability, the two-level finding,
//!   boxes, the coarse heatmap and two PNGs (the preview and the overlay), see
//!   [`DetectResponse`].
//! - `GET /healthz`: `{"status": "ok", …}` while the server accepts work.
//! - `GET /`: a self-contained web page (no external fetches) that sends a dropped file to
//!   the API and draws the heatmap and boxes over it.
//!
//! The model is loaded once and shared by every request. Inference is CPU-bound and runs on
//! tokio's blocking pool, at most [`ServerConfig::workers`] at a time; at most
//! [`ServerConfig::max_concurrent`] requests are admitted (uploading, waiting or running)
//! and the next one is answered 503 at once, so memory stays bounded by roughly
//! `max_concurrent × body_limit` plus `workers` decoded images. Uploads are held in memory
//! only: nothing is written to disk, and errors never quote DICOM header values.
//!
//! A concurrent reading aid, not for standalone diagnosis.

mod analyse;
mod app;
mod config;
mod error;
mod upload;

use std::future::Future;

pub use analyse::{BoxOut, DetectResponse, PREVIEW_MAX_SIDE, Preview};
pub use app::router;
pub use config::ServerConfig;
pub use error::ApiError;

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
