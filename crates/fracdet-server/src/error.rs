//! Every error the API returns is JSON: `{"error": "<what went wrong and what to do>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An HTTP status with a message a person can act on. Messages never quote DICOM header
/// values: fracdet-io's errors name the upload ("upload: …"), the format and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn busy(max_concurrent: usize) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "server busy: {max_concurrent} request(s) already in progress; retry in a moment"
            ),
        )
    }

    pub(crate) fn uploads_busy(max_uploads: usize) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("server busy: {max_uploads} upload(s) already in progress; retry in a moment"),
        )
    }

    /// The body came too slowly: 408, and the connection is closed.
    pub(crate) fn too_slow(min_rate: u64, grace: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the upload was too slow: this server needs at least {}/s after the first {}",
                human_bytes(min_rate as usize),
                human_duration(grace)
            ),
        )
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body is larger than this server's limit of {}",
                human_bytes(limit)
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(Body {
                error: &self.message,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if closes_connection(self.status) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Answers sent before the body was read (or while it was still coming): hyper then closes
/// the connection rather than read the rest, and the header says so.
fn closes_connection(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::SERVICE_UNAVAILABLE
    )
}

/// "64 MiB", "16 KiB", "1.5 MiB", "300 bytes".
pub(crate) fn human_bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    const KIB: usize = 1 << 10;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// "60 s", "1.5 s", "250 ms".
pub(crate) fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{} s", (s * 10.0).round() / 10.0)
    } else {
        format!("{} ms", d.as_millis().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_bytes(32 << 10), "32 KiB");
        assert_eq!(human_duration(std::time::Duration::from_secs(60)), "60 s");
        assert_eq!(
            human_duration(std::time::Duration::from_millis(1500)),
            "1.5 s"
        );
        assert_eq!(human_duration(std::time::Duration::from_millis(1)), "1 ms");
    }
}
