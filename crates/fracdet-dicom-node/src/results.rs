//! One image's result set: the Secondary Capture (overlay burned in), the Comprehensive SR
//! and the GSPS, all for the same source and study. Shared by `fracdet detect --dicom-out`
//! and the node, so both write the same objects.

use std::path::Path;

use fracdet_detect::{Detection, render_overlay};
use fracdet_io::Radiograph;
use fracdet_io::write::{
    DEFAULT_GSPS_SERIES_DESCRIPTION, DEFAULT_SR_SERIES_DESCRIPTION, FindingLevel, ImageFindings,
    ModelInfo, OperatingPointUsed, Region, ReportImage, ResultOptions, ScOptions,
    not_assessed_report_bytes, presentation_state_bytes, secondary_capture_bytes,
    structured_report_bytes,
};
use image::RgbImage;

use crate::error::{NodeError, Result};

/// Series numbers of the three result series: after the acquisition's own in most viewers.
const SC_SERIES: i32 = 999;
const SR_SERIES: i32 = 998;
const GSPS_SERIES: i32 = 997;

/// Part-10 bytes of the three results.
#[derive(Debug, Clone)]
pub struct ResultSet {
    pub secondary_capture: Vec<u8>,
    pub structured_report: Vec<u8>,
    pub presentation_state: Vec<u8>,
}

impl ResultSet {
    /// (file name, bytes), as the spool and `detect` name them.
    pub fn files(&self) -> [(&'static str, &[u8]); 3] {
        [
            ("sc.dcm", &self.secondary_capture),
            ("sr.dcm", &self.structured_report),
            ("pr.dcm", &self.presentation_state),
        ]
    }
}

/// The model as the results name it: its name, and the fracdet version that ran it (model
/// bundles carry no version of their own).
pub fn model_info(name: &str) -> ModelInfo {
    ModelInfo {
        name: name.to_string(),
        version: format!("fracdet {}", env!("CARGO_PKG_VERSION")),
    }
}

/// A detection as the writers take it: the level, the probability, the operating point
/// whose threshold decided (high specificity for "likely", high sensitivity otherwise),
/// and the boxes in source pixels.
pub fn findings_of(d: &Detection, out_of_scope: Option<String>) -> ImageFindings {
    let level = FindingLevel::from_word(d.decisions.level()).unwrap_or(FindingLevel::Unknown);
    let point = match level {
        FindingLevel::Likely => d
            .decisions
            .high_specificity
            .map(|p| ("high specificity", p)),
        _ => d
            .decisions
            .high_sensitivity
            .map(|p| ("high sensitivity", p))
            .or_else(|| {
                d.decisions
                    .high_specificity
                    .map(|p| ("high specificity", p))
            }),
    };
    ImageFindings {
        level,
        probability: d.probability.clamp(0.0, 1.0),
        operating_point: point.map(|(name, p)| OperatingPointUsed {
            name: name.to_string(),
            threshold: p.threshold,
        }),
        regions: d
            .boxes
            .iter()
            .map(|b| Region {
                bbox: b.bbox,
                score: b.score,
            })
            .collect(),
        out_of_scope,
    }
}

/// The overlay the Secondary Capture carries: heatmap and boxes over the image.
pub fn overlay(name: &Path, image: &Radiograph, detection: &Detection) -> Result<RgbImage> {
    render_overlay(image, detection).map_err(|e| NodeError::Analyse {
        uid: name.display().to_string(),
        reason: format!("cannot draw the overlay: {e}"),
    })
}

/// The three results for the DICOM `source` (its Part-10 bytes) read as `image`, with
/// `overlay` (see [`overlay`]) burned into the Secondary Capture.
pub fn result_set(
    source: &[u8],
    name: &Path,
    image: &Radiograph,
    overlay: &RgbImage,
    findings: &ImageFindings,
    model: &ModelInfo,
) -> Result<ResultSet> {
    let sc_options = ScOptions {
        series_number: SC_SERIES,
        ..ScOptions::default()
    };
    let secondary_capture = secondary_capture_bytes(source, name, overlay, &sc_options)?;
    let structured_report = structured_report_bytes(
        &[ReportImage {
            source,
            name,
            findings,
        }],
        model,
        &ResultOptions {
            series_description: DEFAULT_SR_SERIES_DESCRIPTION.to_string(),
            series_number: SR_SERIES,
        },
    )?;
    let presentation_state = presentation_state_bytes(
        source,
        name,
        findings,
        image.meta.window,
        model,
        &ResultOptions {
            series_description: DEFAULT_GSPS_SERIES_DESCRIPTION.to_string(),
            series_number: GSPS_SERIES,
        },
    )?;
    Ok(ResultSet {
        secondary_capture,
        structured_report,
        presentation_state,
    })
}

/// The one result of an image the scope check refused: an SR in its study saying "not
/// assessed" and why, with no finding, so the PACS shows why no result came rather than
/// nothing. No overlay or presentation state: there is nothing to draw.
pub fn not_assessed_report(
    source: &[u8],
    name: &Path,
    reason: &str,
    model: &ModelInfo,
) -> Result<Vec<u8>> {
    Ok(not_assessed_report_bytes(
        source,
        name,
        reason,
        model,
        &ResultOptions {
            series_description: DEFAULT_SR_SERIES_DESCRIPTION.to_string(),
            series_number: SR_SERIES,
        },
    )?)
}
