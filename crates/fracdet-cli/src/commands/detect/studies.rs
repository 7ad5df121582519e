//! Study-level findings of `detect`: DICOM inputs grouped by Study Instance UID, the most
//! suspicious image deciding (highest level, then highest probability) and named, in
//! `studies.csv` and `studies.jsonl` beside the per-image results, and with `--dicom-out`
//! a Comprehensive SR of each study of two or more images (every image's measurement
//! group and the study finding). PNG/JPEG inputs belong to no study and are left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fracdet_detect::results::{ResultRecord, StudyRecord, studies_csv};
use fracdet_io::write::{
    DEFAULT_SR_SERIES_DESCRIPTION, FindingLevel, ImageFindings, ReportImage, ResultOptions,
    structured_report_bytes, study_decider,
};

/// What the grouping needs of one assessed image.
pub struct StudyImage {
    pub study_instance_uid: String,
    pub file: String,
    pub level: FindingLevel,
    pub probability: f32,
    /// With --dicom-out: its source and the findings its own SR states.
    pub dicom: Option<(PathBuf, ImageFindings)>,
}

/// The assessed DICOM images, as the grouping takes them.
pub fn images_of(records: &[ResultRecord]) -> Vec<StudyImage> {
    records
        .iter()
        .filter_map(|r| {
            Some(StudyImage {
                study_instance_uid: r.study_instance_uid.clone()?,
                file: r.file.clone(),
                level: FindingLevel::from_word(r.finding?)?,
                probability: r.probability?,
                dicom: r.dicom_findings.clone(),
            })
        })
        .collect()
}

/// Writes studies.csv and studies.jsonl into `dir` (atomically), and with `dicom` (the
/// DICOM folder and the model's name) each multi-image study's SR; returns the study count.
pub fn write(
    dir: &Path,
    images: &[StudyImage],
    dicom: Option<(&Path, &str)>,
) -> anyhow::Result<usize> {
    let mut by_study: BTreeMap<&str, Vec<&StudyImage>> = BTreeMap::new();
    for i in images {
        by_study.entry(&i.study_instance_uid).or_default().push(i);
    }
    let mut rows = Vec::with_capacity(by_study.len());
    let mut jsonl = String::new();
    for (uid, list) in &by_study {
        let findings: Vec<ImageFindings> = list
            .iter()
            .map(|i| ImageFindings {
                level: i.level,
                probability: i.probability,
                operating_point: None,
                regions: Vec::new(),
                out_of_scope: None,
            })
            .collect();
        let Some(d) = study_decider(&findings.iter().collect::<Vec<_>>()) else {
            continue;
        };
        let dicom_sr = match dicom {
            Some((folder, model)) if list.len() > 1 => {
                let path = study_sr(folder, uid, list, model)?;
                path.map(|p| p.strip_prefix(dir).unwrap_or(&p).display().to_string())
            }
            _ => None,
        };
        let r = StudyRecord {
            study_instance_uid: uid,
            images: list.len(),
            finding: list[d].level.word(),
            probability: list[d].probability,
            decided_by: &list[d].file,
            dicom_sr,
        };
        jsonl.push_str(&serde_json::to_string(&r)?);
        jsonl.push('\n');
        rows.push(r);
    }
    let csv = studies_csv(&rows)?;
    fracdet_io::write::write_file_atomic(&dir.join("studies.csv"), &csv, true)?;
    fracdet_io::write::write_file_atomic(&dir.join("studies.jsonl"), jsonl.as_bytes(), true)?;
    Ok(by_study.len())
}

/// The SR of a whole study: one measurement group per image with DICOM results, and the
/// study finding. `None` when fewer than two of its images have them.
fn study_sr(
    folder: &Path,
    study: &str,
    list: &[&StudyImage],
    model: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let with: Vec<&(PathBuf, ImageFindings)> =
        list.iter().filter_map(|i| i.dicom.as_ref()).collect();
    if with.len() < 2 {
        return Ok(None);
    }
    let sources = with
        .iter()
        .map(|(p, _)| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let images: Vec<ReportImage> = with
        .iter()
        .zip(&sources)
        .map(|((path, findings), source)| ReportImage {
            source,
            name: path,
            findings,
        })
        .collect();
    let bytes = structured_report_bytes(
        &images,
        &fracdet_dicom_node::model_info(model),
        &ResultOptions {
            series_description: DEFAULT_SR_SERIES_DESCRIPTION.to_string(),
            series_number: 996,
        },
    )?;
    // A Study Instance UID is digits and dots: safe as a file name.
    let safe: String = study
        .chars()
        .map(|c| {
            if c.is_ascii_digit() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = folder.join(format!("study-{safe}.sr.dcm"));
    fracdet_io::write::write_file_atomic(&path, &bytes, false)?;
    Ok(Some(path))
}
