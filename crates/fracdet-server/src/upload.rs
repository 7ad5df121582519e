//! The image bytes of a `POST /v1/detect`: the raw body, or the file fields of a
//! `multipart/form-data` body (what a browser form sends; several files posted together
//! are a batch, see [`crate::batch`]). Held in memory only.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use crate::config::ServerConfig;
use crate::error::ApiError;

/// Declared types accepted as a raw image body. The bytes decide the format (PNG, JPEG and
/// DICOM are recognised by their signatures), so a mislabelled image still reads; these
/// exist to turn away bodies that are plainly not images (text, JSON, form fields).
const RAW_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/jpg",
    "application/dicom",
    "application/octet-stream",
];

/// Field names looked for first in a multipart body.
const FILE_FIELDS: [&str; 2] = ["file", "image"];

/// How the image travels in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Raw,
    Multipart,
}

/// Decides from `Content-Type` alone, before any of the body is read. No header means raw.
pub(crate) fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Encoding::Raw);
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "multipart/form-data" {
        Ok(Encoding::Multipart)
    } else if RAW_TYPES.contains(&mime.as_str()) {
        Ok(Encoding::Raw)
    } else {
        let shown: String = mime.chars().take(80).collect();
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type '{shown}' is not accepted: send the image itself as image/png, \
                 image/jpeg, application/dicom or application/octet-stream, or as the 'file' \
                 field of multipart/form-data"
            ),
        ))
    }
}

/// How often the upload's progress is checked against the minimum rate.
const RATE_CHECK: Duration = Duration::from_millis(100);

/// The files' bytes (one for a raw body), read within the router's body limit, the
/// minimum upload rate and what is left of the request time-out (counted from `started`).
/// A slow upload is 408.
pub(crate) async fn read_in_time(
    req: Request,
    encoding: Encoding,
    config: &ServerConfig,
    started: Instant,
) -> Result<Vec<Bytes>, ApiError> {
    let received = Arc::new(AtomicU64::new(0));
    let req = req.map(|body| {
        Body::new(Counted {
            inner: body,
            received: received.clone(),
        })
    });
    let too_slow = async {
        loop {
            tokio::time::sleep(RATE_CHECK).await;
            let t = started.elapsed();
            if t >= config.request_timeout {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the upload took longer than this server's limit of {}",
                        crate::error::human_duration(config.request_timeout)
                    ),
                );
            }
            let due =
                config.upload_min_rate as f64 * t.saturating_sub(config.upload_grace).as_secs_f64();
            if (received.load(Ordering::Relaxed) as f64) < due {
                return ApiError::too_slow(config.upload_min_rate, config.upload_grace);
            }
        }
    };
    tokio::select! {
        bytes = read(req, encoding, config.body_limit, config.max_files) => bytes,
        e = too_slow => Err(e),
    }
}

/// A request body that counts the data bytes that went through it.
struct Counted {
    inner: Body,
    received: Arc<AtomicU64>,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &frame
            && let Some(data) = f.data_ref()
        {
            self.received
                .fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The files' bytes, read within the router's body limit (`limit`, for the message).
async fn read(
    req: Request,
    encoding: Encoding,
    limit: usize,
    max_files: usize,
) -> Result<Vec<Bytes>, ApiError> {
    let files = match encoding {
        Encoding::Raw => Bytes::from_request(req, &())
            .await
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(limit)
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("cannot read the body: {}", r.body_text()),
                    )
                }
            })
            .map(|b| vec![b])?,
        Encoding::Multipart => file_fields(req, limit, max_files).await?,
    };
    if files.iter().any(Bytes::is_empty) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the image is empty: send a PNG, JPEG or DICOM file",
        ));
    }
    Ok(files)
}

/// The fields named `file` or `image` or carrying a file name, in order; at most
/// `max_files` (more is 413). The client's file names are never used: DICOM file names
/// often carry patient details.
async fn file_fields(req: Request, limit: usize, max_files: usize) -> Result<Vec<Bytes>, ApiError> {
    let multipart_error = |status: StatusCode, text: String| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("malformed multipart/form-data body: {text}"),
            )
        }
    };
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|r| multipart_error(r.status(), r.body_text()))?;
    let mut files = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e.status(), e.body_text()))?
    {
        let wanted =
            field.name().is_some_and(|n| FILE_FIELDS.contains(&n)) || field.file_name().is_some();
        if !wanted {
            continue;
        }
        if files.len() == max_files {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than {max_files} files in one request: send fewer at a time"),
            ));
        }
        files.push(
            field
                .bytes()
                .await
                .map_err(|e| multipart_error(e.status(), e.body_text()))?,
        );
    }
    if files.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the multipart/form-data body has no file: send the image as a field named 'file'",
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
        h
    }

    #[test]
    fn images_and_forms_are_accepted_text_is_not() {
        assert_eq!(encoding(&HeaderMap::new()), Ok(Encoding::Raw));
        assert_eq!(encoding(&with_type("image/JPEG")), Ok(Encoding::Raw));
        assert_eq!(encoding(&with_type("application/dicom")), Ok(Encoding::Raw));
        assert_eq!(
            encoding(&with_type("multipart/form-data; boundary=x")),
            Ok(Encoding::Multipart)
        );
        for bad in [
            "text/plain",
            "application/json",
            "application/x-www-form-urlencoded",
        ] {
            let e = encoding(&with_type(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(e.message.contains(bad), "{}", e.message);
        }
    }
}
