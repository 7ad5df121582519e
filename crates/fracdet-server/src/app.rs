//! Routes, shared state and the admission rules around inference.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use burn::tensor::Device;
use fracdet_detect::Detector;
use fracdet_io::ReadOptions;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::analyse::{DetectResponse, analyse};
use crate::batch::{BatchResponse, analyse_batch};
use crate::config::ServerConfig;
use crate::error::{ApiError, human_duration};
use crate::upload;

const INDEX_HTML: &str = include_str!("../assets/index.html");

/// The page may talk to this server and nothing else; it has no external resources.
const INDEX_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'";

struct AppState {
    detector: Arc<Detector>,
    device: Device,
    config: ServerConfig,
    read: ReadOptions,
    /// Bodies being received: `max_uploads` permits.
    uploads: Arc<Semaphore>,
    /// Requests with their body in, waiting for a worker or running: `max_concurrent`
    /// permits.
    admitted: Arc<Semaphore>,
    /// Inferences running: `workers` permits.
    workers: Arc<Semaphore>,
}

/// The API and the web page over one shared `detector`.
pub fn router(detector: Arc<Detector>, device: Device, config: ServerConfig) -> Router {
    let config = config.sanitised();
    let state = Arc::new(AppState {
        detector,
        device,
        read: ReadOptions {
            max_pixels: config.max_pixels,
            ..ReadOptions::default()
        },
        uploads: Arc::new(Semaphore::new(config.max_uploads)),
        admitted: Arc::new(Semaphore::new(config.max_concurrent)),
        workers: Arc::new(Semaphore::new(config.workers)),
        config,
    });
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/v1/detect", post(detect))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .with_state(state)
}

async fn index() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, INDEX_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, INDEX_HTML).into_response()
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.config;
    Json(json!({
        "status": "ok",
        "model": state.detector.name(),
        "in_flight": c.max_concurrent - state.admitted.available_permits(),
        "max_concurrent": c.max_concurrent,
        "uploading": c.max_uploads - state.uploads.available_permits(),
        "max_uploads": c.max_uploads,
        "workers": c.workers,
        "body_limit": c.body_limit,
        "request_timeout_s": c.request_timeout.as_secs_f64(),
    }))
    .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: the API is POST /v1/detect, GET /healthz, and the web page GET /",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: send the image with POST /v1/detect",
    )
}

/// `POST /v1/detect`. Order matters for bounded memory and for fairness: the content type
/// is checked before anything else; an upload slot is taken before the body is read (a
/// client that sent `Expect: 100-continue` never uploads when turned away) and given back
/// once it is in; only then is a place among `max_concurrent` taken, so a slow upload never
/// holds one, and a worker waited for.
async fn detect(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let outcome = admit_and_run(&state, req, started).await;
    let status = outcome
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::OK);
    tracing::info!(
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "POST /v1/detect"
    );
    match outcome {
        Ok(answer) => {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            let mut response = match answer {
                Answer::One(mut a) => {
                    a.elapsed_ms = elapsed_ms;
                    Json(a).into_response()
                }
                Answer::Many(mut a) => {
                    a.elapsed_ms = elapsed_ms;
                    Json(a).into_response()
                }
            };
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// One file's answer (what a single upload always got), or a batch's.
enum Answer {
    One(Box<DetectResponse>),
    Many(BatchResponse),
}

async fn admit_and_run(
    state: &Arc<AppState>,
    req: Request,
    started: Instant,
) -> Result<Answer, ApiError> {
    let encoding = upload::encoding(req.headers())?;
    let busy = || ApiError::busy(state.config.max_concurrent);
    // Full already: say so before the body is sent rather than after.
    if state.admitted.available_permits() == 0 {
        return Err(busy());
    }
    let uploading = state
        .uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::uploads_busy(state.config.max_uploads))?;
    let files = upload::read_in_time(req, encoding, &state.config, started).await?;
    drop(uploading);
    let admitted = state
        .admitted
        .clone()
        .try_acquire_owned()
        .map_err(|_| busy())?;
    let limit = state.config.request_timeout;
    let work =
        async {
            let worker = state.workers.clone().acquire_owned().await.map_err(|_| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server shutting down")
            })?;
            let shared = Arc::clone(state);
            // The permits move into the blocking task: work that outlives a time-out still
            // counts against the limits until it ends.
            tokio::task::spawn_blocking(move || {
                let _permits = (admitted, worker);
                let (detector, device, read) = (&shared.detector, &shared.device, &shared.read);
                let anyway = shared.config.assess_anyway;
                match files.as_slice() {
                    [one] => analyse(detector, device, one, read, anyway)
                        .map(|a| Answer::One(Box::new(a))),
                    many => Ok(Answer::Many(analyse_batch(
                        detector, device, many, read, anyway,
                    ))),
                }
            })
            .await
            .map_err(|e| {
                tracing::error!("inference task failed: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "inference failed unexpectedly; the server keeps running",
                )
            })?
        };
    match tokio::time::timeout(limit.saturating_sub(started.elapsed()), work).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the request took longer than this server's limit of {}",
                human_duration(limit)
            ),
        )),
    }
}
