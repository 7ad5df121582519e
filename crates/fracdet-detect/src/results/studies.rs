//! A study's finding from its images, for any caller that has images in hand (`fracdet
//! serve` for files posted together): grouped by Study Instance UID, the most suspicious
//! assessed image deciding by [`fracdet_io::write::study_decider`], the rule `detect`'s
//! studies.csv uses. Images without a study (PNG, JPEG) are in no group, as in `detect`.
//! Images the scope checks refused are counted but never decide; a study of refused
//! images only is itself "not_assessed".

use std::collections::BTreeMap;

use fracdet_io::write::{FindingLevel, ImageFindings, study_decider};
use serde::Serialize;

/// One image as the grouping takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudyImage<'a> {
    pub study_instance_uid: Option<&'a str>,
    /// Its finding and probability; `None` when the scope checks refused it.
    pub assessed: Option<(FindingLevel, f32)>,
}

/// One study's finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyFinding {
    pub study_instance_uid: String,
    /// Its images, as indices into the grouping's input.
    pub images: Vec<usize>,
    /// "likely", "possible", "negative", "unknown", or "not_assessed".
    pub finding: &'static str,
    /// The deciding image's probability; `null` when not assessed.
    pub probability: Option<f32>,
    /// The deciding image (an index into the input); `null` when not assessed.
    pub decided_by: Option<usize>,
}

/// The studies among `images`, by Study Instance UID.
pub fn study_findings(images: &[StudyImage]) -> Vec<StudyFinding> {
    let mut by_study: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, image) in images.iter().enumerate() {
        if let Some(uid) = image.study_instance_uid {
            by_study.entry(uid).or_default().push(i);
        }
    }
    by_study
        .into_iter()
        .map(|(uid, members)| {
            let assessed: Vec<(usize, ImageFindings)> = members
                .iter()
                .filter_map(|&i| {
                    let (level, probability) = images[i].assessed?;
                    Some((i, ImageFindings::bare(level, probability)))
                })
                .collect();
            let refs: Vec<&ImageFindings> = assessed.iter().map(|(_, f)| f).collect();
            let decider = study_decider(&refs).map(|d| &assessed[d]);
            StudyFinding {
                study_instance_uid: uid.to_string(),
                images: members,
                finding: decider.map_or("not_assessed", |(_, f)| f.level.word()),
                probability: decider.map(|(_, f)| f.probability),
                decided_by: decider.map(|(i, _)| *i),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_images_never_decide_and_images_without_a_study_are_in_none() {
        let image = |study, assessed| StudyImage {
            study_instance_uid: study,
            assessed,
        };
        let images = [
            image(Some("1.1"), Some((FindingLevel::Negative, 0.1))),
            image(None, Some((FindingLevel::Likely, 0.99))),
            image(Some("1.1"), None),
            image(Some("1.2"), None),
            image(Some("1.1"), Some((FindingLevel::Possible, 0.3))),
        ];
        let s = study_findings(&images);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].study_instance_uid, "1.1");
        assert_eq!(s[0].images, [0, 2, 4]);
        assert_eq!((s[0].finding, s[0].decided_by), ("possible", Some(4)));
        assert_eq!(s[0].probability, Some(0.3));
        assert_eq!((s[1].finding, s[1].decided_by), ("not_assessed", None));
        assert_eq!(s[1].probability, None);
        assert!(study_findings(&[]).is_empty());
    }
}
