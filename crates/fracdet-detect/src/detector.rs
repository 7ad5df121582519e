//! A loaded model and what it finds on one radiograph.

use std::path::Path;

use burn::tensor::Device;
use fracdet_eval::{OperatingPoints, ScoredBox, StoredOperatingPoints, Temperature};
use fracdet_io::Radiograph;
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use serde::Serialize;

use crate::bundle::{Manifest, ModelSource, read_bundle};
use crate::error::{DetectError, Result};
use crate::scorer::{ScoreKind, Scored, Scorer};
use crate::typicality::{TYPICALITY_FILE, Typicality, TypicalityScore};

/// A model ready to examine radiographs: network, input recipe and stored thresholds.
/// Classifier runs and bundles, and MPR grid-detector runs (bundles hold classifiers only).
pub struct Detector {
    scorer: Scorer,
    name: String,
    points: Option<OperatingPoints>,
    /// Fitted on validation with the points; `None`: probabilities shown uncalibrated.
    calibration: Option<Temperature>,
    /// How typical an image is of the training data (`typicality.json`); `None`: not
    /// checked.
    typicality: Option<Typicality>,
}

/// A decision at one stored operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// `true`: fracture suspected at this point.
    pub positive: bool,
    /// The point's threshold as a probability, on the same (calibrated, when the model
    /// stores a temperature) scale as the probability shown. `positive` compares the
    /// model's uncalibrated score with the stored threshold (for an MPR model the image
    /// logit: f32 probabilities saturate at 1.0); calibration is strictly monotone, so
    /// this is the same decision as `probability >= threshold`, up to f32 rounding.
    pub threshold: f64,
    /// Validation sensitivity and specificity of the point.
    pub sensitivity: Option<f64>,
    pub specificity: Option<f64>,
}

/// The two-level finding: "possible fracture" at the high-sensitivity point, "likely
/// fracture" at the high-specificity point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decisions {
    pub high_sensitivity: Option<Decision>,
    pub high_specificity: Option<Decision>,
    /// The temperature the probability and thresholds were calibrated with; `None` when
    /// the model stores none (then `probability_scale` says "uncalibrated").
    pub temperature: Option<f64>,
    /// "calibrated" or "uncalibrated".
    pub probability_scale: &'static str,
}

impl Decisions {
    /// "likely", "possible" or "negative" (or "unknown" without stored thresholds).
    pub fn level(&self) -> &'static str {
        match (self.high_specificity, self.high_sensitivity) {
            (Some(d), _) if d.positive => "likely",
            (_, Some(d)) if d.positive => "possible",
            (None, None) => "unknown",
            _ => "negative",
        }
    }

    /// Whether any stored point calls the image positive; with no stored points, 0.5 decides.
    pub fn flagged(&self, probability: f32) -> bool {
        match (self.high_sensitivity, self.high_specificity) {
            (None, None) => probability >= 0.5,
            (a, b) => a.is_some_and(|d| d.positive) || b.is_some_and(|d| d.positive),
        }
    }
}

/// Where the model looked: a coarse map over the letterboxed model canvas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heatmap {
    /// Map columns and rows.
    pub width: u32,
    pub height: u32,
    /// `width * height` values in [0, 1], row-major; padding cells are 0.
    pub values: Vec<f32>,
    /// Canvas <-> original pixel mapping of the image the map belongs to.
    pub transform: LetterboxTransform,
    /// What the values mean: "class_activation" (relative evidence, max 1 per image) or
    /// "cell_probability" (an MPR detector's fracture probability of each cell).
    pub meaning: &'static str,
}

impl Heatmap {
    /// The map at original image resolution (`src_width * src_height` values, bilinear).
    pub fn to_original(&self) -> Result<Vec<f32>> {
        Ok(self
            .transform
            .heatmap_to_original(&self.values, self.width, self.height)?)
    }
}

/// What the model says about one radiograph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Fracture probability, [0, 1]: after the model's validation-fitted temperature when
    /// it stores one (see [`Decisions::probability_scale`]).
    pub probability: f32,
    /// The network's own probability, before any temperature (what `fracdet predict`
    /// prints); equal to `probability` for an uncalibrated model.
    pub model_probability: f32,
    /// How typical the image is of the model's training data, when the model stores a
    /// typicality check; an atypical image is for the caller to report as not assessed.
    pub typicality: Option<TypicalityScore>,
    pub decisions: Decisions,
    /// Suspected fracture regions in original pixels, only when the image is flagged at a
    /// stored operating point (boxes on an image the model calls negative would mislead).
    pub boxes: Vec<ScoredBox>,
    /// `None` when the map is flat (no location raised the score above another).
    pub heatmap: Option<Heatmap>,
    pub width: u32,
    pub height: u32,
}

impl Detector {
    /// A bundle directory or a training run directory (see [`ModelSource::detect`]).
    pub fn open(path: &Path, device: &Device) -> Result<Self> {
        match ModelSource::detect(path)? {
            ModelSource::Bundle(dir) => {
                let (manifest, weights) = read_bundle(&dir)?;
                let detector =
                    Self::from_bundle(manifest, weights, &dir.display().to_string(), device)?;
                detector.with_typicality(Typicality::load(&dir)?)
            }
            ModelSource::Run(dir) => {
                let detector = Self::from_run(&dir, device)?;
                detector.with_typicality(Typicality::load(&dir)?)
            }
        }
    }

    /// The typicality check to apply. Refused, rather than silently never applied, when
    /// the model has no pooled features (only classifiers have them) or when the check was
    /// fitted on features of another length (another backbone's `typicality.json`).
    pub fn with_typicality(mut self, typicality: Option<Typicality>) -> Result<Self> {
        if let Some(check) = &typicality {
            let want = check.density.mean.len();
            match self.scorer.feature_dim() {
                Some(dim) if dim == want => {}
                Some(dim) => {
                    return Err(DetectError::bundle(
                        &self.name,
                        format!(
                            "its {TYPICALITY_FILE} was fitted on {want}-dimensional features, \
                             the model gives {dim}: refit it with `fracdet typicality`"
                        ),
                    ));
                }
                None => {
                    return Err(DetectError::bundle(
                        &self.name,
                        format!(
                            "has a {TYPICALITY_FILE}, but only classifiers have the pooled \
                             features it scores"
                        ),
                    ));
                }
            }
        }
        self.typicality = typicality;
        Ok(self)
    }

    pub fn typicality(&self) -> Option<&Typicality> {
        self.typicality.as_ref()
    }

    /// A bundle already in memory (the one compiled into the binary, for one).
    pub fn from_bundle(
        manifest: Manifest,
        weights: Vec<u8>,
        origin: &str,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            scorer: Scorer::from_manifest(&manifest, weights, origin, device)?,
            name: manifest.name.clone(),
            calibration: manifest
                .operating_points
                .as_ref()
                .and_then(|s| s.calibration.clone()),
            points: manifest.operating_points.map(|s| s.points),
            typicality: None,
        })
    }

    /// A training run (classifier or MPR): its best weights, and `operating_points.json`
    /// when `fracdet evaluate --split val` has stored one.
    /// An inpainter run is refused: alone it is an ablation scorer for `evaluate` (its
    /// score is a residual, not a fracture probability, and ranks at chance on FracAtlas).
    pub fn from_run(dir: &Path, device: &Device) -> Result<Self> {
        let scorer = Scorer::open_run(dir, device)?;
        if matches!(scorer, Scorer::Anomaly(_)) {
            return Err(DetectError::bundle(
                dir.display(),
                "is an MPR inpainter run: give `fracdet train mpr --inpainter` this run and \
                 detect with the detector it trains (the inpainter alone is scored only by \
                 `fracdet evaluate`, as an ablation)",
            ));
        }
        let stored = StoredOperatingPoints::load(dir)?;
        let calibration = stored.as_ref().and_then(|s| s.calibration.clone());
        let points = stored.map(|s| s.points);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            scorer,
            name,
            points,
            calibration,
            typicality: None,
        })
    }

    /// The model behind the detector.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Side of the square model canvas, pixels.
    pub fn input_size(&self) -> u32 {
        self.scorer.input_size()
    }

    /// Thresholds on the model's uncalibrated score (see [`Decision::threshold`] for them
    /// as shown).
    pub fn operating_points(&self) -> Option<&OperatingPoints> {
        self.points.as_ref()
    }

    /// The temperature applied to every probability shown; `None`: uncalibrated.
    pub fn calibration(&self) -> Option<&Temperature> {
        self.calibration.as_ref()
    }

    /// Findings for each radiograph, in order, from one batched forward pass.
    pub fn detect_batch(&self, images: &[&Radiograph], device: &Device) -> Result<Vec<Detection>> {
        let size = self.input_size();
        let (canvases, transforms): (Vec<Vec<f32>>, Vec<LetterboxTransform>) =
            images.iter().map(|r| letterbox(r, size)).unzip();
        let scored = self.scorer.score(&canvases, &transforms, device)?;
        Ok(scored
            .iter()
            .zip(transforms)
            .map(|(s, t)| self.finding(s, t))
            .collect())
    }

    pub fn detect(&self, image: &Radiograph, device: &Device) -> Result<Detection> {
        self.detect_batch(&[image], device)?
            .pop()
            .ok_or_else(|| DetectError::InvalidArgument("no detection for the image".into()))
    }

    fn finding(&self, scored: &Scored, t: LetterboxTransform) -> Detection {
        let (probability, decisions) = decide(
            self.scorer.score_kind(),
            scored,
            self.points.as_ref(),
            self.calibration.as_ref(),
        );
        let boxes = if decisions.flagged(probability) {
            let drawn_at = self.points.as_ref().and_then(|p| p.box_threshold);
            self.scorer.boxes(scored, &t, drawn_at.map(|b| b.score))
        } else {
            Vec::new()
        };
        let heatmap = self.scorer.heatmap(scored, t);
        let typicality = match (&self.typicality, &scored.features) {
            (Some(check), Some(features)) => check.score(features).ok(),
            _ => None,
        };
        Detection {
            probability,
            model_probability: scored.probability,
            typicality,
            decisions,
            boxes,
            heatmap,
            width: t.src_width,
            height: t.src_height,
        }
    }
}

/// The probability shown and the decisions for one scored image. Stored thresholds are on
/// the model's uncalibrated score (the logit for MPR), so the decision is made there; the
/// probability and the thresholds are then both stated after the temperature.
fn decide(
    kind: ScoreKind,
    scored: &Scored,
    points: Option<&OperatingPoints>,
    temperature: Option<&Temperature>,
) -> (f32, Decisions) {
    let probability = match (kind, temperature) {
        // The residual is never scaled; without a temperature the model's own f32 stands.
        (ScoreKind::Residual, _) | (_, None) => scored.probability,
        (kind, Some(_)) => kind.calibrated_probability(f64::from(scored.score), temperature) as f32,
    };
    let decide = |p: Option<fracdet_eval::OperatingPoint>| {
        p.map(|p| Decision {
            positive: f64::from(scored.score) >= p.threshold,
            threshold: kind.calibrated_probability(p.threshold, temperature),
            sensitivity: p.sensitivity,
            specificity: p.specificity,
        })
    };
    let decisions = Decisions {
        high_sensitivity: decide(points.and_then(|p| p.at_target_sensitivity)),
        high_specificity: decide(points.and_then(|p| p.at_target_specificity)),
        temperature: temperature.map(|t| t.temperature),
        probability_scale: if temperature.is_some() {
            "calibrated"
        } else {
            "uncalibrated"
        },
    };
    (probability, decisions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(labels: &[bool], scores: &[f32]) -> OperatingPoints {
        fracdet_eval::choose_operating_points(labels, scores, 0.5, 0.9).unwrap()
    }

    #[test]
    fn calibration_changes_the_numbers_not_the_decisions() {
        // An over-confident classifier: validation probabilities pushed towards 0 and 1.
        let labels: Vec<bool> = (0..200).map(|i| i % 3 == 0 || i % 7 == 0).collect();
        let scores: Vec<f32> = (0..200)
            .map(|i| {
                let z = if labels[i] { 2.0 } else { -2.0 } + ((i * 37 % 100) as f64 - 50.0) / 12.0;
                (1.0 / (1.0 + (-3.0 * z).exp())) as f32
            })
            .collect();
        let points = points(&labels, &scores);
        let logits: Vec<f64> = scores
            .iter()
            .map(|&p| fracdet_eval::temperature::logit(f64::from(p)))
            .collect();
        let t = fracdet_eval::fit_temperature(&labels, &logits, "val").unwrap();
        assert!(t.temperature > 1.5, "{t:?}");
        let mut changed = 0;
        for &p in &scores {
            let scored = Scored {
                probability: p,
                score: p,
                map: None,
                features: None,
                boxes: None,
            };
            let (raw_p, raw) = decide(ScoreKind::Probability, &scored, Some(&points), None);
            let (cal_p, cal) = decide(ScoreKind::Probability, &scored, Some(&points), Some(&t));
            assert_eq!(raw_p, p);
            assert_eq!(raw.level(), cal.level(), "{p}");
            assert_eq!(raw.flagged(raw_p), cal.flagged(cal_p), "{p}");
            for (a, b) in [
                (raw.high_sensitivity, cal.high_sensitivity),
                (raw.high_specificity, cal.high_specificity),
            ] {
                let (a, b) = (a.unwrap(), b.unwrap());
                assert_eq!(a.positive, b.positive);
                assert_ne!(a.threshold, b.threshold);
                // The calibrated threshold is on the calibrated probability's scale.
                assert_eq!(b.positive, f64::from(cal_p) >= b.threshold - 1e-6);
            }
            changed += usize::from((cal_p - raw_p).abs() > 1e-3);
            assert_eq!(
                (raw.probability_scale, raw.temperature),
                ("uncalibrated", None)
            );
            assert_eq!(cal.probability_scale, "calibrated");
            assert_eq!(cal.temperature, Some(t.temperature));
        }
        assert!(changed > 150, "{changed}");
    }

    #[test]
    fn mpr_logits_are_calibrated_and_decided_on_the_logit() {
        let labels = [true, false, true, false, true, false];
        let logits = [30.0f32, -30.0, 40.0, 20.0, -10.0, -40.0];
        let points = points(&labels, &logits);
        let z: Vec<f64> = logits.iter().map(|&z| f64::from(z)).collect();
        let t = fracdet_eval::fit_temperature(&labels, &z, "val").unwrap();
        for &z in &logits {
            let scored = Scored {
                probability: 1.0 / (1.0 + (-z).exp()),
                score: z,
                map: None,
                features: None,
                boxes: None,
            };
            let (_, raw) = decide(ScoreKind::Logit, &scored, Some(&points), None);
            let (p, cal) = decide(ScoreKind::Logit, &scored, Some(&points), Some(&t));
            assert_eq!(raw.level(), cal.level());
            assert!(
                (f64::from(p) - 1.0 / (1.0 + (-f64::from(z) / t.temperature).exp())).abs() < 1e-6
            );
        }
    }
}
