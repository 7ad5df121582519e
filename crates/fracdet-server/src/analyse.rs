//! One upload → the API's answer: decode, detect, and draw the preview and overlay PNGs.
//! Blocking and CPU-bound; the router runs it on tokio's blocking pool.

use std::path::Path;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use burn::tensor::Device;
use fracdet_detect::{Decisions, Detection, Detector, Heatmap, encode_png, render_overlay};
use fracdet_io::applicability::{self, NotAssessed, Thresholds};
use fracdet_io::{IoError, Radiograph, ReadOptions, read_radiograph_bytes};
use image::imageops::FilterType;
use image::{ImageBuffer, Luma};
use serde::Serialize;

use crate::error::ApiError;

/// Longest side of the preview and overlay PNGs, pixels: enough for a screen, and a
/// 3000-pixel radiograph does not become a 20 MB response.
pub const PREVIEW_MAX_SIDE: u32 = 1024;

/// What the upload is called in error messages; the client's file name is never used.
const UPLOAD_NAME: &str = "upload";

/// The JSON answer of `POST /v1/detect`.
#[derive(Debug, Clone, Serialize)]
pub struct DetectResponse {
    /// Name of the model that answered.
    pub model: String,
    /// Fracture probability, [0, 1]; `null` when not assessed.
    pub probability: Option<f32>,
    /// "likely", "possible", "negative", "unknown" for a model without stored thresholds,
    /// or "not_assessed" for an image that is not a radiograph fracdet reads.
    pub finding: &'static str,
    /// Why the image was not assessed (`fracdet_io::applicability`): `reason`, the measured
    /// number, and a one-line `message`. Absent for assessed images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_assessed: Option<NotAssessedOut>,
    /// A server started with `--assess-anyway` (research only) answers every image; this
    /// is what the applicability or typicality check said of one it would have refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessed_anyway: Option<NotAssessedOut>,
    /// Whether any stored operating point calls the image positive (0.5 without any); the
    /// overlay shows the heatmap and boxes only then.
    pub flagged: bool,
    /// The decision at each stored operating point, as `fracdet detect` reports it; `null`
    /// when not assessed.
    pub decisions: Option<Decisions>,
    /// Suspected fracture regions in original pixels (empty unless flagged).
    pub boxes: Vec<BoxOut>,
    /// Original image size, pixels.
    pub width: u32,
    pub height: u32,
    /// "PNG", "JPEG" or "DICOM", from the bytes.
    pub format: String,
    /// The coarse map over the model canvas, with the letterbox transform that maps it to
    /// original pixels; `null` when the map is flat.
    pub heatmap: Option<Heatmap>,
    /// Size of the two PNGs below.
    pub preview: Preview,
    /// The radiograph as the model read it (grey, windowed), base64 PNG at preview size.
    pub image_png: String,
    /// [`fracdet_detect::render_overlay`] at preview size, base64 PNG: the heatmap and
    /// boxes burned in when flagged, the plain radiograph otherwise.
    pub overlay_png: String,
    /// Server time from admission to answer, milliseconds (0 inside a batch, which gives
    /// its own).
    pub elapsed_ms: f64,
    pub notice: &'static str,
    /// DICOM uploads: the study the image belongs to (several files posted together are
    /// grouped by it) and the image's own UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
}

/// [`DetectResponse::not_assessed`].
#[derive(Debug, Clone, Serialize)]
pub struct NotAssessedOut {
    #[serde(flatten)]
    pub reason: NotAssessed,
    pub message: String,
}

/// A suspected fracture region, original pixels: the same record `fracdet detect` writes.
pub use fracdet_detect::results::BoxRecord as BoxOut;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub width: u32,
    pub height: u32,
}

/// Decodes `bytes`, runs the detector and builds the answer (`elapsed_ms` left at 0).
pub(crate) fn analyse(
    detector: &Detector,
    device: &Device,
    bytes: &[u8],
    read: &ReadOptions,
    assess_anyway: bool,
) -> Result<DetectResponse, ApiError> {
    let mut answer = analyse_image(detector, device, bytes, read, assess_anyway)?;
    // A DICOM header the reader took is parsed again for its UIDs only; a file without a
    // Study Instance UID belongs to no study.
    if answer.format == "DICOM"
        && let Ok(image) = fracdet_io::write::source_image(bytes, Path::new(UPLOAD_NAME))
    {
        answer.study_instance_uid = Some(image.study_instance_uid);
        answer.sop_instance_uid = Some(image.sop_instance_uid);
    }
    Ok(answer)
}

fn analyse_image(
    detector: &Detector,
    device: &Device,
    bytes: &[u8],
    read: &ReadOptions,
    assess_anyway: bool,
) -> Result<DetectResponse, ApiError> {
    let image = read_radiograph_bytes(bytes, Path::new(UPLOAD_NAME), read).map_err(|e| {
        let status = match e {
            // Over the pixel limit or the decoded-memory budget: too large, not malformed.
            IoError::TooLarge { .. } | IoError::OverBudget { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.to_string())
    })?;
    let mut refused = applicability::check(&image, &Thresholds::default()).err();
    if let Some(reason) = refused.clone().filter(|_| !assess_anyway) {
        return not_assessed(detector, &image, reason);
    }
    let detection = detector
        .detect(&image, device)
        .map_err(|e| internal(format!("inference failed: {e}")))?;
    if let Some(reason) = detection.typicality.and_then(|t| t.not_assessed()) {
        if !assess_anyway {
            return not_assessed(detector, &image, reason);
        }
        refused.get_or_insert(reason);
    }
    let small = preview(&image);
    let draw_error =
        |e: fracdet_detect::DetectError| internal(format!("cannot draw the overlay: {e}"));
    let rgb = render_overlay(&small, &at_preview_size(&detection, &small)).map_err(draw_error)?;
    let overlay = encode_png(&rgb).map_err(draw_error)?;
    let image_png = grey_png(&small)?;
    Ok(DetectResponse {
        model: detector.name().to_string(),
        probability: Some(detection.probability),
        finding: detection.decisions.level(),
        not_assessed: None,
        assessed_anyway: refused.map(|reason| NotAssessedOut {
            message: reason.describe(),
            reason,
        }),
        flagged: detection.decisions.flagged(detection.probability),
        decisions: Some(detection.decisions),
        boxes: detection.boxes.iter().map(BoxOut::from).collect(),
        width: detection.width,
        height: detection.height,
        format: image.meta.format.to_string(),
        heatmap: detection.heatmap,
        preview: Preview {
            width: small.width,
            height: small.height,
        },
        image_png: STANDARD.encode(image_png),
        overlay_png: STANDARD.encode(overlay),
        elapsed_ms: 0.0,
        notice: "concurrent reading aid, not for standalone diagnosis",
        study_instance_uid: None,
        sop_instance_uid: None,
    })
}

/// The answer for an image the applicability check refused: the image back, no finding.
fn not_assessed(
    detector: &Detector,
    image: &Radiograph,
    reason: NotAssessed,
) -> Result<DetectResponse, ApiError> {
    let small = preview(image);
    let png = STANDARD.encode(grey_png(&small)?);
    Ok(DetectResponse {
        model: detector.name().to_string(),
        probability: None,
        finding: "not_assessed",
        not_assessed: Some(NotAssessedOut {
            message: reason.describe(),
            reason,
        }),
        assessed_anyway: None,
        flagged: false,
        decisions: None,
        boxes: Vec::new(),
        width: image.width,
        height: image.height,
        format: image.meta.format.to_string(),
        heatmap: None,
        preview: Preview {
            width: small.width,
            height: small.height,
        },
        image_png: png.clone(),
        overlay_png: png,
        elapsed_ms: 0.0,
        notice: "concurrent reading aid, not for standalone diagnosis",
        study_instance_uid: None,
        sop_instance_uid: None,
    })
}

/// `image` as an 8-bit grey PNG.
fn grey_png(image: &Radiograph) -> Result<Vec<u8>, ApiError> {
    let grey: Vec<u8> = image
        .pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let g = image::GrayImage::from_raw(image.width, image.height, grey)
        .ok_or_else(|| internal("preview buffer has the wrong size".into()))?;
    let mut png = Vec::new();
    g.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| internal(format!("cannot encode the preview: {e}")))?;
    Ok(png)
}

fn internal(message: String) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// Preview size for a `w` x `h` image: the long side at most [`PREVIEW_MAX_SIDE`].
fn preview_size(w: u32, h: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= PREVIEW_MAX_SIDE {
        return (w, h);
    }
    let scale = f64::from(PREVIEW_MAX_SIDE) / f64::from(long);
    let fit = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    (fit(w), fit(h))
}

/// The radiograph downscaled to preview size (itself when already small enough).
fn preview(image: &Radiograph) -> Radiograph {
    let (w, h) = preview_size(image.width, image.height);
    if (w, h) == (image.width, image.height) {
        return image.clone();
    }
    let pixels = ImageBuffer::<Luma<f32>, &[f32]>::from_raw(
        image.width,
        image.height,
        image.pixels.as_slice(),
    )
    .map(|src| image::imageops::resize(&src, w, h, FilterType::Triangle).into_raw())
    // A radiograph's buffer always matches its size; a blank preview beats a panic.
    .unwrap_or_else(|| vec![0.0; w as usize * h as usize]);
    Radiograph {
        width: w,
        height: h,
        pixels,
        meta: image.meta.clone(),
    }
}

/// `d` moved onto `small`'s pixel grid: boxes scaled, and the heatmap's transform keeps
/// the content rectangle it was computed on but maps it onto the smaller source.
fn at_preview_size(d: &Detection, small: &Radiograph) -> Detection {
    let sx = small.width as f32 / d.width.max(1) as f32;
    let sy = small.height as f32 / d.height.max(1) as f32;
    let mut scaled = d.clone();
    for b in &mut scaled.boxes {
        b.bbox.x_min *= sx;
        b.bbox.x_max *= sx;
        b.bbox.y_min *= sy;
        b.bbox.y_max *= sy;
    }
    if let Some(h) = &mut scaled.heatmap {
        h.transform.src_width = small.width;
        h.transform.src_height = small.height;
    }
    scaled.width = small.width;
    scaled.height = small.height;
    scaled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_keeps_small_images_and_aspect() {
        assert_eq!(preview_size(819, 1024), (819, 1024));
        assert_eq!(preview_size(3000, 2400), (1024, 819));
        assert_eq!(preview_size(1, 5000), (1, 1024));
    }
}
