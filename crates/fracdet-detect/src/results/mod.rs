//! What `fracdet detect` reports per image and per study: the records of `results.jsonl`
//! and `studies.jsonl`, their CSV twins and the table on stdout. Kept here, not in the
//! command, so the formats are one tested type each and the command only writes them.

mod csv_rows;
mod studies;
mod table;

use std::path::PathBuf;

use fracdet_eval::ScoredBox;
use fracdet_io::applicability::NotAssessed;
use fracdet_io::write::ImageFindings;
use serde::Serialize;

use crate::{Decisions, Detection};

pub use csv_rows::{ResultsCsv, studies_csv};
pub use studies::{StudyFinding, StudyImage, study_findings};
pub use table::results_table;

/// Why the applicability check (or the model's typicality check) refused an image.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    #[serde(flatten)]
    pub reason: NotAssessed,
    pub message: String,
    /// `true`: `--assess-anyway` gave it a finding regardless.
    pub assessed_anyway: bool,
}

impl Scope {
    pub fn new(reason: NotAssessed, assessed_anyway: bool) -> Self {
        Self {
            message: reason.describe(),
            reason,
            assessed_anyway,
        }
    }

    /// The model's own scope check: a radiograph unlike its training images.
    pub fn atypical(d: &Detection, assessed_anyway: bool) -> Option<Self> {
        let reason = d.typicality?.not_assessed()?;
        Some(Self::new(reason, assessed_anyway))
    }

    /// The note in results.csv's `not_assessed` column.
    fn csv_note(&self) -> String {
        if self.assessed_anyway {
            format!("assessed anyway: {}", self.message)
        } else {
            self.message.clone()
        }
    }
}

/// One line of results.jsonl.
#[derive(Debug, Serialize)]
pub struct ResultRecord {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f32>,
    /// The network's own probability before the model's temperature; only for a
    /// calibrated model (otherwise it is `probability`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncalibrated_probability: Option<f32>,
    /// "likely", "possible", "negative" ("unknown" without stored thresholds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<Decisions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub boxes: Vec<BoxRecord>,
    /// Present when the applicability check refused the image: then `finding` is
    /// "not_assessed", unless `--assess-anyway` (`assessed_anyway: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_assessed: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
    /// The Secondary Capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom: Option<String>,
    /// The Comprehensive SR and the Grayscale Softcopy Presentation State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_sr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_gsps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// DICOM inputs: the study the image belongs to (grouped in studies.csv).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    /// With --dicom-out: the source and what its SR says, for the study's SR.
    #[serde(skip)]
    pub dicom_findings: Option<(PathBuf, ImageFindings)>,
}

/// One box of a record, in original pixels: the shape `detect`'s results.jsonl and the
/// server's answer (`fracdet_server::BoxOut`) both give a suspected fracture region.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoxRecord {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
    pub score: f32,
}

impl From<&ScoredBox> for BoxRecord {
    fn from(b: &ScoredBox) -> Self {
        Self {
            x_min: b.bbox.x_min,
            y_min: b.bbox.y_min,
            x_max: b.bbox.x_max,
            y_max: b.bbox.y_max,
            score: b.score,
        }
    }
}

impl ResultRecord {
    /// An assessed image: its probability, finding and boxes; no output files yet.
    pub fn found(
        file: String,
        d: &Detection,
        scope: Option<Scope>,
        study_instance_uid: Option<String>,
    ) -> Self {
        Self {
            probability: Some(d.probability),
            uncalibrated_probability: d.decisions.temperature.map(|_| d.model_probability),
            finding: Some(d.decisions.level()),
            decisions: Some(d.decisions),
            boxes: d.boxes.iter().map(BoxRecord::from).collect(),
            not_assessed: scope,
            study_instance_uid,
            error: None,
            ..Self::failed(file, String::new())
        }
    }

    /// An image that could not be read or written: only its name and why.
    pub fn failed(file: String, error: String) -> Self {
        Self {
            file,
            probability: None,
            uncalibrated_probability: None,
            finding: None,
            decisions: None,
            boxes: Vec::new(),
            not_assessed: None,
            overlay: None,
            dicom: None,
            dicom_sr: None,
            dicom_gsps: None,
            error: Some(error),
            study_instance_uid: None,
            dicom_findings: None,
        }
    }

    /// An image the applicability check refused: no probability, no finding but
    /// "not_assessed", no overlay.
    pub fn not_assessed(file: String, scope: Scope) -> Self {
        Self {
            finding: Some("not_assessed"),
            not_assessed: Some(scope),
            error: None,
            ..Self::failed(file, String::new())
        }
    }
}

/// One line of studies.jsonl (and row of studies.csv): a study's finding, decided by its
/// most suspicious image.
#[derive(Debug, Serialize)]
pub struct StudyRecord<'a> {
    pub study_instance_uid: &'a str,
    pub images: usize,
    pub finding: &'static str,
    pub probability: f32,
    /// The image that decided the study's finding.
    pub decided_by: &'a str,
    /// The study's SR (two or more images, --dicom-out), relative to the output folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_sr: Option<String>,
}
