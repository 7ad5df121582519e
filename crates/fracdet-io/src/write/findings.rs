//! What the result writers are told about one image: plain numbers in the source's own
//! pixel coordinates, so the writers need nothing from the detector crates above this one.

use crate::geometry::BBox;

/// The two-level finding fracdet reports (see `fracdet_detect::Decisions::level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingLevel {
    /// No stored operating point: a probability but no decision.
    Unknown,
    /// Below the high-sensitivity point.
    Negative,
    /// At or above the high-sensitivity point.
    Possible,
    /// At or above the high-specificity point.
    Likely,
}

impl FindingLevel {
    /// The word `detect` uses ("likely", "possible", "negative", "unknown").
    pub fn word(self) -> &'static str {
        match self {
            Self::Likely => "likely",
            Self::Possible => "possible",
            Self::Negative => "negative",
            Self::Unknown => "unknown",
        }
    }

    /// From [`Self::word`]; `None` for any other word.
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "likely" => Self::Likely,
            "possible" => Self::Possible,
            "negative" => Self::Negative,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }

    /// A fracture is suspected at some operating point.
    pub fn flagged(self) -> bool {
        matches!(self, Self::Likely | Self::Possible)
    }
}

/// The operating point whose threshold decided the finding.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatingPointUsed {
    /// "high specificity" or "high sensitivity".
    pub name: String,
    /// Its threshold, on the probability's scale.
    pub threshold: f64,
}

/// One suspected fracture region: a box in source pixels (the top-left corner of the
/// top-left pixel is 0,0; the bottom-right corner of the last pixel is columns,rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub bbox: BBox,
    pub score: f32,
}

/// What the model found on one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFindings {
    pub level: FindingLevel,
    /// Fracture probability, [0, 1].
    pub probability: f32,
    pub operating_point: Option<OperatingPointUsed>,
    pub regions: Vec<Region>,
    /// Set when the image was outside the model's scope and assessed anyway: the reason,
    /// written into the results so that no reader takes the finding as valid.
    pub out_of_scope: Option<String>,
}

impl ImageFindings {
    /// A level and a probability alone (no operating point, box or scope note): what the
    /// study decision reads of each image.
    pub fn bare(level: FindingLevel, probability: f32) -> Self {
        Self {
            level,
            probability,
            operating_point: None,
            regions: Vec::new(),
            out_of_scope: None,
        }
    }
}

/// Which model made the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
}

/// The study's finding from its images' findings: the most suspicious image decides (the
/// highest level, then the highest probability), and is named by its index.
pub fn study_decider(images: &[&ImageFindings]) -> Option<usize> {
    images
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| {
            a.level
                .cmp(&b.level)
                .then(a.probability.total_cmp(&b.probability))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(level: FindingLevel, probability: f32) -> ImageFindings {
        ImageFindings::bare(level, probability)
    }

    #[test]
    fn the_most_suspicious_image_decides() {
        let a = f(FindingLevel::Negative, 0.19);
        let b = f(FindingLevel::Possible, 0.30);
        let c = f(FindingLevel::Possible, 0.41);
        assert_eq!(study_decider(&[&a, &b, &c]), Some(2));
        assert_eq!(study_decider(&[&c, &a]), Some(0));
        // The level outranks a probability (different models' scales cannot meet here,
        // but a level is what the reader sees).
        let d = f(FindingLevel::Likely, 0.2);
        assert_eq!(study_decider(&[&c, &d]), Some(1));
        assert_eq!(study_decider(&[]), None);
    }

    #[test]
    fn words_round_trip() {
        for l in [
            FindingLevel::Likely,
            FindingLevel::Possible,
            FindingLevel::Negative,
            FindingLevel::Unknown,
        ] {
            assert_eq!(FindingLevel::from_word(l.word()), Some(l));
        }
        assert_eq!(FindingLevel::from_word("maybe"), None);
        assert!(FindingLevel::Possible.flagged() && !FindingLevel::Negative.flagged());
    }
}
