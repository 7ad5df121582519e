//! `fracdet serve`: fracdet's HTTP API and web viewer.
//!
//! - `POST /v1/detect`: one radiograph (PNG, JPEG or DICOM; the raw body or a
//!   `multipart/form-data` file field) → JSON with the probability, the two-level finding,
//!   boxes, the coarse heatmap and two PNGs (the preview and the overlay), see
//!   [`DetectResponse`]. Several files in one multipart request: an answer per file and a
//!   study finding per DICOM Study Instance UID, see [`BatchResponse`].
//! - `GET /healthz`: `{"status": "ok", …}` while the server accepts work.
//! - `GET /`: a self-contained web page (no external fetches) that sends a dropped file to
//!   the API and draws the heatmap and boxes over it.
//!
//! The model is loaded once and shared by every request. Inference is CPU-bound and runs on
//! tokio's blocking pool, at most [`ServerConfig::workers`] at a time. Uploads and
//! inference are admitted separately: at most [`ServerConfig::max_uploads`] bodies are
//! received at once, each at a minimum rate, and only a request whose body is in takes one
//! of [`ServerConfig::max_concurrent`] places, so slow clients cannot hold the model. The
//! next one over either limit is answered 503 at once, so memory stays bounded by roughly
//! `(max_uploads + max_concurrent) × body_limit` plus `workers` decoded images. Connections
//! are capped ([`ServerConfig::max_connections`]) and time out while sending headers or
//! idling. Uploads are held in memory only: nothing is written to disk, and errors never
//! quote DICOM header values. docs/security.md has the threat model.
//!
//! A concurrent reading aid, not for standalone diagnosis.

mod analyse;
mod app;
mod batch;
mod config;
mod conn_io;
mod error;
mod listen;
mod upload;

use std::future::Future;

pub use analyse::{BoxOut, DetectResponse, PREVIEW_MAX_SIDE, Preview};
pub use app::router;
pub use batch::{BatchResponse, ImageAnswer, StudyOut};
pub use config::ServerConfig;
pub use error::ApiError;

/// Serves `app` on `listener` within the connection limits of `limits` (the same config
/// the router was made with: `max_connections`, `header_timeout`, `max_header_bytes`,
/// `send_timeout`) until `shutdown` completes, then stops accepting, lets requests in
/// flight finish and returns once every connection has closed (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, app, limits, shutdown).await
}
