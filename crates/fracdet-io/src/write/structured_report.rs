//! A Comprehensive SR (PS3.3 A.35.3) of fracdet's findings, in the source's study.
//!
//! The content follows TID 1500 "Measurement Report" as closely as a qualitative finding
//! allows: observer context naming fracdet as a device, the procedure reported, an image
//! library of the images assessed, and under "Imaging Measurements" one measurement group
//! per image holding its finding, probability, the operating point that decided it, the
//! model (TID 4019 algorithm name and version) and each box as an SCOORD SELECTED FROM the
//! source image (by SOP Instance UID). A "Qualitative Evaluations" container states the
//! study finding: the most suspicious image decides, and is referenced. What DICOM and
//! SNOMED have no code for (the two-level finding, the operating point) uses codes of the
//! private scheme 99FRACDET, declared in the Coding Scheme Identification Sequence.
//!
//! The template is not claimed in a Content Template Sequence: its private codes would make
//! that claim untrue for a strict TID 1500 reader.

use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::derived::{
    IMPLEMENTATION_CLASS_UID, SourceImage, check_lo, encode, image_of, in_source_study, new_series,
    parse_source, sequence, text,
};
use super::findings::{FindingLevel, ImageFindings, ModelInfo, study_decider};
use super::sr_content::{
    Code, PRIVATE_SCHEME, code, container, image, num, num_with_children, region, text_item, uidref,
};
use super::uid::{new_uid, utc_now};
use crate::{IoError, Result};

/// Comprehensive SR Storage.
pub const COMPREHENSIVE_SR_STORAGE: &str = uids::COMPREHENSIVE_SR_STORAGE;

/// Series Description of an SR result unless [`ResultOptions`] says otherwise.
pub const DEFAULT_SR_SERIES_DESCRIPTION: &str = "fracdet findings — not for diagnostic use";

/// Where the result objects go in the study and how they are named.
#[derive(Debug, Clone)]
pub struct ResultOptions {
    /// Series Description (LO: at most 64 characters, no backslash or control characters).
    pub series_description: String,
    pub series_number: i32,
}

/// One image of a report: its source header (Part-10 bytes; only the header is read) and
/// what was found on it.
#[derive(Debug, Clone, Copy)]
pub struct ReportImage<'a> {
    pub source: &'a [u8],
    /// Used in errors only.
    pub name: &'a Path,
    pub findings: &'a ImageFindings,
}

const SCT: &str = "SCT";
const DCM: &str = "DCM";

const REPORT: Code = ("126000", DCM, "Imaging Measurement Report");
const LANGUAGE: Code = ("121049", DCM, "Language of Content Item and Descendants");
const ENGLISH: Code = ("en-US", "RFC5646", "English (United States)");
const OBSERVER_TYPE: Code = ("121005", DCM, "Observer Type");
const DEVICE: Code = ("121007", DCM, "Device");
const DEVICE_UID: Code = ("121012", DCM, "Device Observer UID");
const DEVICE_NAME: Code = ("121013", DCM, "Device Observer Name");
const DEVICE_MANUFACTURER: Code = ("121014", DCM, "Device Observer Manufacturer");
const DEVICE_MODEL: Code = ("121015", DCM, "Device Observer Model Name");
const PROCEDURE_REPORTED: Code = ("121058", DCM, "Procedure reported");
const RADIOGRAPHY: Code = ("363680008", SCT, "Radiographic imaging procedure");
const IMAGE_LIBRARY: Code = ("111028", DCM, "Image Library");
const IMAGE_LIBRARY_GROUP: Code = ("126200", DCM, "Image Library Group");
const IMAGING_MEASUREMENTS: Code = ("126010", DCM, "Imaging Measurements");
const MEASUREMENT_GROUP: Code = ("125007", DCM, "Measurement Group");
const TRACKING_ID: Code = ("112039", DCM, "Tracking Identifier");
const TRACKING_UID: Code = ("112040", DCM, "Tracking Unique Identifier");
const SOURCE: Code = ("260753009", SCT, "Source");
const FINDING: Code = ("121071", DCM, "Finding");
const FRACTURE: Code = ("72704001", SCT, "Fracture");
const ALGORITHM_NAME: Code = ("111001", DCM, "Algorithm Name");
const ALGORITHM_VERSION: Code = ("111003", DCM, "Algorithm Version");
const IMAGE_REGION: Code = ("111030", DCM, "Image Region");
const QUALITATIVE: Code = ("C0034375", "UMLS", "Qualitative Evaluations");
const COMMENT: Code = ("121106", DCM, "Comment");

const LEVEL: Code = ("SUSPICION", PRIVATE_SCHEME, "Fracture suspicion");
const STUDY_LEVEL: Code = (
    "STUDY_SUSPICION",
    PRIVATE_SCHEME,
    "Study fracture suspicion",
);
const PROBABILITY: Code = ("PROBABILITY", PRIVATE_SCHEME, "Fracture probability");
const OPERATING_POINT: Code = ("OPERATING_POINT", PRIVATE_SCHEME, "Operating point");
const THRESHOLD: Code = ("THRESHOLD", PRIVATE_SCHEME, "Decision threshold");
const REGION_SCORE: Code = ("REGION_SCORE", PRIVATE_SCHEME, "Region score");
const DECIDING_IMAGE: Code = ("DECIDING_IMAGE", PRIVATE_SCHEME, "Deciding image");
const OUT_OF_SCOPE: Code = ("OUT_OF_SCOPE", PRIVATE_SCHEME, "Outside the model's scope");
const NOT_ASSESSED: Code = (
    "NOT_ASSESSED",
    PRIVATE_SCHEME,
    "Not assessed: outside the model's scope",
);
const NOT_ASSESSED_REASON: Code = ("NOT_ASSESSED_WHY", PRIVATE_SCHEME, "Reason not assessed");

const DISCLAIMER: &str =
    "fracdet is a concurrent reading aid, not for standalone diagnosis; findings are unverified.";

/// An f32 as the f64 of its shortest decimal form: 0.83f32 is reported as 0.83, not as
/// 0.829999983 (the same f32 either way).
fn shortest(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

fn level_code(level: FindingLevel) -> Code {
    match level {
        FindingLevel::Likely => ("LIKELY", PRIVATE_SCHEME, "Likely fracture"),
        FindingLevel::Possible => ("POSSIBLE", PRIVATE_SCHEME, "Possible fracture"),
        FindingLevel::Negative => ("NEGATIVE", PRIVATE_SCHEME, "No fracture suspected"),
        FindingLevel::Unknown => ("UNKNOWN", PRIVATE_SCHEME, "Not decided"),
    }
}

/// The SR of `images` (one or more, all of one study: the first gives patient and study)
/// as Part-10 bytes.
pub fn structured_report_bytes(
    images: &[ReportImage<'_>],
    model: &ModelInfo,
    options: &ResultOptions,
) -> Result<Vec<u8>> {
    check_lo("series description", &options.series_description)?;
    let first = images
        .first()
        .ok_or_else(|| IoError::InvalidArgument("a report needs at least one image".into()))?;
    for f in images.iter().map(|i| i.findings) {
        if !(0.0..=1.0).contains(&f.probability) {
            return Err(IoError::InvalidArgument(format!(
                "probability {} is outside [0, 1]",
                f.probability
            )));
        }
    }
    let header = parse_source(first.source, first.name)?;
    let mut refs: Vec<SourceImage> = Vec::with_capacity(images.len());
    refs.push(image_of(&header.header, first.name)?);
    for i in &images[1..] {
        let r = image_of(&parse_source(i.source, i.name)?.header, i.name)?;
        if r.study_instance_uid != refs[0].study_instance_uid {
            return Err(IoError::InvalidArgument(format!(
                "{} belongs to another study than {}: one report covers one study",
                i.name.display(),
                first.name.display()
            )));
        }
        refs.push(r);
    }
    let mut obj = in_source_study(&header.header, &[]);
    drop(header);
    put_document(&mut obj, &refs, options);
    let findings: Vec<&ImageFindings> = images.iter().map(|i| i.findings).collect();
    for e in content_tree(&refs, &findings, model) {
        obj.put(e);
    }
    encode(obj, first.name)
}

/// SOP Common, SR Document Series, General Equipment and SR Document General.
fn put_document(obj: &mut InMemDicomObject, refs: &[SourceImage], options: &ResultOptions) {
    let (date, time) = utc_now();
    let elements = [
        text(tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_SR_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &new_uid()),
        text(tags::INSTANCE_CREATION_DATE, VR::DA, &date),
        text(tags::INSTANCE_CREATION_TIME, VR::TM, &time),
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0000"),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &refs[0].study_instance_uid,
        ),
        sequence(
            tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
            Vec::new(),
        ),
        text(tags::MANUFACTURER, VR::LO, "fracdet"),
        text(tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION")),
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(tags::CONTENT_DATE, VR::DA, &date),
        text(tags::CONTENT_TIME, VR::TM, &time),
        // An algorithm's output: complete as a document, never verified by a person.
        text(tags::COMPLETION_FLAG, VR::CS, "COMPLETE"),
        text(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED"),
        sequence(tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, Vec::new()),
        sequence(
            tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, PRIVATE_SCHEME),
                text(
                    tags::CODING_SCHEME_NAME,
                    VR::ST,
                    "fracdet fracture-detection terms",
                ),
                text(
                    tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
                    VR::ST,
                    "fracdet",
                ),
            ])],
        ),
    ];
    let series = new_series("SR", options.series_number, &options.series_description);
    for e in elements.into_iter().chain(series) {
        obj.put(e);
    }
    if let Some(evidence) = evidence(refs) {
        obj.put(evidence);
    }
}

/// Current Requested Procedure Evidence: the images the report is about, by series. Left
/// out when a source names no series (a hierarchy cannot be written without one).
fn evidence(refs: &[SourceImage]) -> Option<dicom_object::mem::InMemElement> {
    let mut series: Vec<(&str, Vec<&SourceImage>)> = Vec::new();
    for r in refs {
        let uid = r.series_instance_uid.as_deref()?;
        match series.iter_mut().find(|(s, _)| *s == uid) {
            Some((_, list)) => list.push(r),
            None => series.push((uid, vec![r])),
        }
    }
    let series_items = series
        .into_iter()
        .map(|(uid, list)| {
            let sops = list
                .into_iter()
                .map(|r| {
                    InMemDicomObject::from_element_iter([
                        text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &r.sop_class_uid),
                        text(
                            tags::REFERENCED_SOP_INSTANCE_UID,
                            VR::UI,
                            &r.sop_instance_uid,
                        ),
                    ])
                })
                .collect();
            InMemDicomObject::from_element_iter([
                text(tags::SERIES_INSTANCE_UID, VR::UI, uid),
                sequence(tags::REFERENCED_SOP_SEQUENCE, sops),
            ])
        })
        .collect();
    Some(sequence(
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            text(
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                &refs[0].study_instance_uid,
            ),
            sequence(tags::REFERENCED_SERIES_SEQUENCE, series_items),
        ])],
    ))
}

/// The SR Document Content module: the root container's attributes.
fn content_tree(
    refs: &[SourceImage],
    findings: &[&ImageFindings],
    model: &ModelInfo,
) -> Vec<dicom_object::mem::InMemElement> {
    let mut children = document_context(refs, model);
    children.push(container(
        "CONTAINS",
        IMAGING_MEASUREMENTS,
        refs.iter()
            .zip(findings)
            .enumerate()
            .map(|(i, (r, f))| measurement_group(i, r, f, model))
            .collect(),
    ));
    if let Some(d) = study_decider(findings) {
        let f = findings[d];
        let r = &refs[d];
        children.push(container(
            "CONTAINS",
            QUALITATIVE,
            vec![
                code("CONTAINS", STUDY_LEVEL, level_code(f.level)),
                num("CONTAINS", PROBABILITY, shortest(f.probability)),
                image(
                    "CONTAINS",
                    Some(DECIDING_IMAGE),
                    &r.sop_class_uid,
                    &r.sop_instance_uid,
                ),
            ],
        ));
    }
    children.push(text_item("CONTAINS", COMMENT, DISCLAIMER));
    let root = container("", REPORT, children);
    root.into_iter().collect()
}

/// The items every report opens with: language, fracdet as the observing device, the
/// procedure reported, and the image library of `refs`.
fn document_context(refs: &[SourceImage], model: &ModelInfo) -> Vec<InMemDicomObject> {
    vec![
        code("HAS CONCEPT MOD", LANGUAGE, ENGLISH),
        code("HAS OBS CONTEXT", OBSERVER_TYPE, DEVICE),
        uidref("HAS OBS CONTEXT", DEVICE_UID, IMPLEMENTATION_CLASS_UID),
        text_item("HAS OBS CONTEXT", DEVICE_NAME, "fracdet"),
        text_item("HAS OBS CONTEXT", DEVICE_MANUFACTURER, "fracdet"),
        text_item("HAS OBS CONTEXT", DEVICE_MODEL, &model.name),
        code("HAS CONCEPT MOD", PROCEDURE_REPORTED, RADIOGRAPHY),
        container(
            "CONTAINS",
            IMAGE_LIBRARY,
            vec![container(
                "CONTAINS",
                IMAGE_LIBRARY_GROUP,
                refs.iter()
                    .map(|r| image("CONTAINS", None, &r.sop_class_uid, &r.sop_instance_uid))
                    .collect(),
            )],
        ),
    ]
}

/// The SR of an image the scope check refused (Part-10 bytes), in the source's study: its
/// one measurement group says "not assessed" and why, with no finding, probability,
/// operating point or box, so that nothing in the PACS reads as a finding on it.
pub fn not_assessed_report_bytes(
    source: &[u8],
    name: &Path,
    reason: &str,
    model: &ModelInfo,
    options: &ResultOptions,
) -> Result<Vec<u8>> {
    check_lo("series description", &options.series_description)?;
    let header = parse_source(source, name)?;
    let refs = [image_of(&header.header, name)?];
    let mut obj = in_source_study(&header.header, &[]);
    drop(header);
    put_document(&mut obj, &refs, options);
    let r = &refs[0];
    let mut items = group_head(0, r);
    items.extend([
        code("CONTAINS", LEVEL, NOT_ASSESSED),
        text_item("CONTAINS", NOT_ASSESSED_REASON, reason),
        text_item("CONTAINS", ALGORITHM_NAME, &model.name),
        text_item("CONTAINS", ALGORITHM_VERSION, &model.version),
    ]);
    let group = container("CONTAINS", MEASUREMENT_GROUP, items);
    let mut children = document_context(&refs, model);
    children.push(container("CONTAINS", IMAGING_MEASUREMENTS, vec![group]));
    children.push(text_item("CONTAINS", COMMENT, DISCLAIMER));
    for e in container("", REPORT, children) {
        obj.put(e);
    }
    encode(obj, name)
}

/// A measurement group's first items: its tracking identifier and UID, and the image.
fn group_head(index: usize, r: &SourceImage) -> Vec<InMemDicomObject> {
    vec![
        text_item(
            "HAS OBS CONTEXT",
            TRACKING_ID,
            &format!("fracdet image {}", index + 1),
        ),
        uidref("HAS OBS CONTEXT", TRACKING_UID, &new_uid()),
        image(
            "CONTAINS",
            Some(SOURCE),
            &r.sop_class_uid,
            &r.sop_instance_uid,
        ),
    ]
}

/// TID 1501-like: one image's finding, probability, operating point, model and boxes.
fn measurement_group(
    index: usize,
    r: &SourceImage,
    f: &ImageFindings,
    model: &ModelInfo,
) -> InMemDicomObject {
    let mut items = group_head(index, r);
    if f.level.flagged() {
        items.push(code("CONTAINS", FINDING, FRACTURE));
    }
    items.push(code("CONTAINS", LEVEL, level_code(f.level)));
    items.push(num("CONTAINS", PROBABILITY, shortest(f.probability)));
    if let Some(p) = &f.operating_point {
        items.push(text_item("CONTAINS", OPERATING_POINT, &p.name));
        items.push(num("CONTAINS", THRESHOLD, p.threshold));
    }
    items.push(text_item("CONTAINS", ALGORITHM_NAME, &model.name));
    items.push(text_item("CONTAINS", ALGORITHM_VERSION, &model.version));
    if let Some(why) = &f.out_of_scope {
        items.push(text_item(
            "CONTAINS",
            OUT_OF_SCOPE,
            &format!("assessed anyway, for research only: {why}"),
        ));
    }
    for region_ in &f.regions {
        items.push(num_with_children(
            "CONTAINS",
            REGION_SCORE,
            shortest(region_.score),
            vec![region(
                "INFERRED FROM",
                IMAGE_REGION,
                region_,
                &r.sop_class_uid,
                &r.sop_instance_uid,
            )],
        ));
    }
    container("CONTAINS", MEASUREMENT_GROUP, items)
}
