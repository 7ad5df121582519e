//! One pass of a model over a dataset split: read, check applicability, letterbox and score
//! in batches, sorting each image into scored, unreadable or not assessed.

use std::path::Path;

use burn::tensor::Device;
use fracdet_eval::{NotAssessedImage, ScoredBox};
use fracdet_io::applicability::{self, NotAssessed, Thresholds};
use fracdet_io::dataset::Sample;
use fracdet_io::perturb::Perturbation;
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use fracdet_io::{ReadOptions, read_radiograph};
use rayon::prelude::*;

use crate::cam::Cam;
use crate::error::{DetectError, Result};
use crate::scorer::{ScoreKind, Scored, Scorer};

/// One scored image of the split.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredImage {
    pub sample: Sample,
    /// Path relative to the dataset root (the key `fracdet compare` pairs on).
    pub name: String,
    pub label: bool,
    pub probability: f32,
    /// What is ranked and thresholded: `probability`, or the logit for an MPR run.
    pub score: f32,
    /// CAM or MPR cell grid over the model canvas, for localisation and thumbnails.
    pub map: Option<Cam>,
    /// A box head's regressed boxes, canvas pixels (see [`Scored::boxes`]).
    pub boxes: Option<Vec<ScoredBox>>,
    /// The letterbox that made the model canvas from the original image.
    pub transform: LetterboxTransform,
}

impl ScoredImage {
    /// The scorer's own result for this image, which its box and localisation rules take.
    pub fn scored(&self) -> Scored {
        Scored {
            probability: self.probability,
            score: self.score,
            map: self.map.clone(),
            features: None,
            boxes: self.boxes.clone(),
        }
    }
}

/// An image that could not be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Relative to the dataset root.
    pub image: String,
    pub reason: String,
}

/// What [`score_split`] made of a split, in sample order within each list.
#[derive(Debug, Clone, Default)]
pub struct SplitScores {
    pub scored: Vec<ScoredImage>,
    /// Unreadable images and images whose model output was not finite.
    pub failed: Vec<Unreadable>,
    /// Labelled images the applicability check refused (empty with `assess_anyway`).
    pub not_assessed: Vec<NotAssessedImage>,
}

impl SplitScores {
    pub fn labels(&self) -> Vec<bool> {
        self.scored.iter().map(|s| s.label).collect()
    }

    /// What is ranked and thresholded, per image.
    pub fn scores(&self) -> Vec<f32> {
        self.scored.iter().map(|s| s.score).collect()
    }

    pub fn probabilities(&self) -> Vec<f32> {
        self.scored.iter().map(|s| s.probability).collect()
    }

    /// The logits a calibration is fitted on; `None` for a score that has none (residual).
    pub fn logits(&self, kind: ScoreKind) -> Option<Vec<f64>> {
        self.scored
            .iter()
            .map(|s| kind.logit(f64::from(s.score)))
            .collect()
    }
}

/// How to score a split.
#[derive(Debug, Clone, Copy)]
pub struct ScoreOptions {
    /// Images per forward pass, at least 1.
    pub batch: usize,
    /// Score images the applicability check refuses as well (research only).
    pub assess_anyway: bool,
    /// Perturb each image after the applicability check (made on the original, so the same
    /// images are scored with and without) and before the letterbox.
    pub perturb: Option<Perturbation>,
}

/// One sample after reading: its canvas, or why it is not scored.
enum Read {
    Canvas(Vec<f32>, LetterboxTransform),
    NotAssessed(NotAssessed),
    Failed(String),
}

/// Reads, checks, letterboxes and scores every labelled sample of `samples` (unlabelled ones
/// are skipped); names are relative to `root`.
pub fn score_split(
    scorer: &Scorer,
    device: &Device,
    root: &Path,
    samples: &[Sample],
    options: &ScoreOptions,
) -> Result<SplitScores> {
    if options.batch == 0 {
        return Err(DetectError::InvalidArgument(
            "a batch holds at least one image".into(),
        ));
    }
    let mut out = SplitScores {
        scored: Vec::with_capacity(samples.len()),
        ..SplitScores::default()
    };
    for chunk in samples.chunks(options.batch) {
        let reads: Vec<Read> = chunk
            .par_iter()
            .map(|s| read_one(s, scorer.input_size(), options))
            .collect();
        let mut ok = Vec::with_capacity(chunk.len());
        let mut canvases = Vec::with_capacity(chunk.len());
        for (s, read) in chunk.iter().zip(reads) {
            match read {
                Read::Canvas(c, t) => {
                    ok.push((s, t));
                    canvases.push(c);
                }
                // Unlabelled samples are skipped below when scored; likewise here.
                Read::NotAssessed(reason) => {
                    if let Some(label) = s.label {
                        out.not_assessed.push(NotAssessedImage {
                            image: relative_name(root, &s.image),
                            label,
                            message: reason.describe(),
                            reason,
                        });
                    }
                }
                Read::Failed(reason) => out.failed.push(Unreadable {
                    image: relative_name(root, &s.image),
                    reason,
                }),
            }
        }
        let transforms: Vec<LetterboxTransform> = ok.iter().map(|(_, t)| *t).collect();
        let results = scorer.score(&canvases, &transforms, device)?;
        for ((s, transform), r) in ok.into_iter().zip(results) {
            let Some(label) = s.label else { continue };
            let name = relative_name(root, &s.image);
            if !(r.probability.is_finite() && r.score.is_finite()) {
                out.failed.push(Unreadable {
                    image: name,
                    reason: "model output is not finite".into(),
                });
                continue;
            }
            out.scored.push(ScoredImage {
                sample: s.clone(),
                name,
                label,
                probability: r.probability,
                score: r.score,
                map: r.map,
                boxes: r.boxes,
                transform,
            });
        }
    }
    Ok(out)
}

fn read_one(s: &Sample, size: u32, options: &ScoreOptions) -> Read {
    let r = match read_radiograph(&s.image, &ReadOptions::default()) {
        Ok(r) => r,
        Err(e) => return Read::Failed(e.to_string()),
    };
    match applicability::check(&r, &Thresholds::default()) {
        Err(why) if !options.assess_anyway => Read::NotAssessed(why),
        _ => {
            let (c, t) = match options.perturb {
                Some(p) => letterbox(&p.apply(&r, seed_of(&s.image)), size),
                None => letterbox(&r, size),
            };
            Read::Canvas(c, t)
        }
    }
}

/// A per-image seed for the perturbations' noise: FNV-1a of the file name, so a rerun
/// repeats, also with the dataset in another folder or on another machine (the whole path
/// made the perturbed AUROCs depend on where the dataset was unpacked).
pub fn seed_of(path: &Path) -> u64 {
    path.file_name()
        .unwrap_or_default()
        .as_encoded_bytes()
        .iter()
        .fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        })
}

/// `image` relative to `root`, with `/` separators on every platform.
pub fn relative_name(root: &Path, image: &Path) -> String {
    image
        .strip_prefix(root)
        .unwrap_or(image)
        .to_string_lossy()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_dataset_root() {
        let root = Path::new("/data/atlas");
        assert_eq!(
            relative_name(root, Path::new("/data/atlas/images/a.png")),
            "images/a.png"
        );
        // Outside the root: the path as given.
        assert_eq!(
            relative_name(root, Path::new("/elsewhere/b.png")),
            "/elsewhere/b.png"
        );
    }

    #[test]
    fn perturbation_seeds_repeat_per_file_name_wherever_the_dataset_is() {
        let a = seed_of(Path::new("images/a.png"));
        assert_eq!(a, seed_of(Path::new("images/a.png")));
        assert_ne!(a, seed_of(Path::new("images/b.png")));
        assert_eq!(a, seed_of(Path::new("/data/elsewhere/a.png")));
        // FNV-1a of the empty input is its offset basis: the constant is the published one.
        assert_eq!(seed_of(Path::new("")), 0xCBF2_9CE4_8422_2325);
    }
}
