//! Study-level findings of `detect`: DICOM inputs grouped by Study Instance UID, the most
//! suspicious image deciding (highest level, then highest probability) and named, in
//! `studies.csv` and `studies.jsonl` beside the per-image results. PNG/JPEG inputs belong
//! to no study and are left out.

use std::collections::BTreeMap;
use std::path::Path;

use fracdet_io::write::{FindingLevel, ImageFindings, study_decider};
use serde::Serialize;

use super::files::csv_field;

/// What the grouping needs of one assessed image.
pub struct StudyImage {
    pub study_instance_uid: String,
    pub file: String,
    pub level: FindingLevel,
    pub probability: f32,
}

#[derive(Debug, Serialize)]
struct StudyRecord<'a> {
    study_instance_uid: &'a str,
    images: usize,
    finding: &'static str,
    probability: f32,
    /// The image that decided the study's finding.
    decided_by: &'a str,
}

/// Writes studies.csv and studies.jsonl into `dir` (atomically); returns the study count.
pub fn write(dir: &Path, images: &[StudyImage]) -> anyhow::Result<usize> {
    let mut by_study: BTreeMap<&str, Vec<&StudyImage>> = BTreeMap::new();
    for i in images {
        by_study.entry(&i.study_instance_uid).or_default().push(i);
    }
    let mut csv = String::from("study_instance_uid,images,finding,probability,decided_by\n");
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
        let r = StudyRecord {
            study_instance_uid: uid,
            images: list.len(),
            finding: list[d].level.word(),
            probability: list[d].probability,
            decided_by: &list[d].file,
        };
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_field(r.study_instance_uid),
            r.images,
            r.finding,
            r.probability,
            csv_field(r.decided_by)
        ));
        jsonl.push_str(&serde_json::to_string(&r)?);
        jsonl.push('\n');
    }
    fracdet_io::write::write_file_atomic(&dir.join("studies.csv"), csv.as_bytes(), true)?;
    fracdet_io::write::write_file_atomic(&dir.join("studies.jsonl"), jsonl.as_bytes(), true)?;
    Ok(by_study.len())
}
