//! Several files posted together (one multipart request): each image answered as a single
//! upload would be, and the DICOM ones grouped by Study Instance UID into a study finding
//! each, by `fracdet detect`'s rule ([`fracdet_detect::results::study_findings`]: the most
//! suspicious assessed image decides and is named; refused images never decide; PNG and
//! JPEG belong to no study). Images are analysed one after another on one worker, so a
//! batch holds one decoded image at a time and never more than one inference slot.

use burn::tensor::Device;
use fracdet_detect::Detector;
use fracdet_detect::results::{StudyFinding, StudyImage, study_findings};
use fracdet_io::ReadOptions;
use fracdet_io::write::FindingLevel;
use serde::Serialize;

use crate::analyse::{DetectResponse, analyse};

/// The JSON answer of `POST /v1/detect` with two or more files.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResponse {
    pub model: String,
    /// One answer per file, in the order posted.
    pub images: Vec<ImageAnswer>,
    /// One per Study Instance UID among the DICOM files.
    pub studies: Vec<StudyOut>,
    /// Server time from admission to answer, milliseconds.
    pub elapsed_ms: f64,
    pub notice: &'static str,
}

/// One file of a batch: the single-upload answer, or why it has none.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ImageAnswer {
    Answered(Box<DetectResponse>),
    /// The status a single upload of it would have had (422 unreadable, 413 too large…).
    Failed {
        error: String,
        status: u16,
    },
}

/// A study's finding; `images` and `decided_by` are indices into `images`.
#[derive(Debug, Clone, Serialize)]
pub struct StudyOut {
    #[serde(flatten)]
    pub finding: StudyFinding,
    /// The deciding image's SOP Instance UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by_sop_instance_uid: Option<String>,
}

/// Analyses `files` in order and groups them into studies (`elapsed_ms` left at 0).
pub(crate) fn analyse_batch(
    detector: &Detector,
    device: &Device,
    files: &[axum::body::Bytes],
    read: &ReadOptions,
    assess_anyway: bool,
) -> BatchResponse {
    let images: Vec<ImageAnswer> = files
        .iter()
        .map(
            |bytes| match analyse(detector, device, bytes, read, assess_anyway) {
                Ok(r) => ImageAnswer::Answered(Box::new(r)),
                Err(e) => ImageAnswer::Failed {
                    error: e.message,
                    status: e.status.as_u16(),
                },
            },
        )
        .collect();
    let grouped: Vec<StudyImage> = images.iter().map(study_image).collect();
    let studies = study_findings(&grouped)
        .into_iter()
        .map(|finding| StudyOut {
            decided_by_sop_instance_uid: finding.decided_by.and_then(|i| match &images[i] {
                ImageAnswer::Answered(r) => r.sop_instance_uid.clone(),
                ImageAnswer::Failed { .. } => None,
            }),
            finding,
        })
        .collect();
    BatchResponse {
        model: detector.name().to_string(),
        images,
        studies,
        elapsed_ms: 0.0,
        notice: "concurrent reading aid, not for standalone diagnosis",
    }
}

/// What the grouping needs of one answer: an image that failed is in no study.
fn study_image(answer: &ImageAnswer) -> StudyImage<'_> {
    match answer {
        ImageAnswer::Answered(r) => StudyImage {
            study_instance_uid: r.study_instance_uid.as_deref(),
            // "not_assessed" is no level: refused images never decide.
            assessed: FindingLevel::from_word(r.finding).zip(r.probability),
        },
        ImageAnswer::Failed { .. } => StudyImage {
            study_instance_uid: None,
            assessed: None,
        },
    }
}
