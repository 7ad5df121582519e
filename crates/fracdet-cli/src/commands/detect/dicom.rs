//! DICOM results of `detect`, in new series of the input's study (the input file is only
//! read): a Secondary Capture with the overlay burned in, a Comprehensive SR of the
//! finding with each box as an SCOORD on the input, and a GSPS that draws the boxes over
//! the untouched input. The same objects `fracdet dicom serve` sends to a PACS.

use std::path::{Path, PathBuf};

use anyhow::Context;
use fracdet_detect::Detection;
use fracdet_dicom_node::{findings_of, model_info, not_assessed_report, result_set};
use fracdet_io::Radiograph;

/// Where the three results were written.
pub struct Written {
    pub secondary_capture: PathBuf,
    pub structured_report: PathBuf,
    pub presentation_state: PathBuf,
    /// What the SR says of the image, for the study's own SR.
    pub findings: fracdet_io::write::ImageFindings,
}

/// Writes the three results for `source` to `paths` (SC, SR, GSPS), each atomically and
/// never over an existing file. `out_of_scope`: why the image was assessed anyway, if it was.
pub fn write(
    source: &Path,
    image: &Radiograph,
    detection: &Detection,
    overlay: &image::RgbImage,
    out_of_scope: Option<String>,
    model: &str,
    paths: [PathBuf; 3],
) -> anyhow::Result<Written> {
    let bytes =
        std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
    let findings = findings_of(detection, out_of_scope);
    let set = result_set(
        &bytes,
        source,
        image,
        overlay,
        &findings,
        &model_info(model),
    )?;
    let [sc, sr, pr] = paths;
    for (path, data) in [
        (&sc, &set.secondary_capture),
        (&sr, &set.structured_report),
        (&pr, &set.presentation_state),
    ] {
        fracdet_io::write::write_file_atomic(path, data, false)?;
    }
    Ok(Written {
        secondary_capture: sc,
        structured_report: sr,
        presentation_state: pr,
        findings,
    })
}

/// Writes the SR of a DICOM input the scope check refused to `path` (atomically, never
/// over an existing file): "not assessed" and `reason`, with no finding.
pub fn write_not_assessed(
    source: &Path,
    reason: &str,
    model: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
    let sr = not_assessed_report(&bytes, source, reason, &model_info(model))?;
    fracdet_io::write::write_file_atomic(path, &sr, false)?;
    Ok(())
}
