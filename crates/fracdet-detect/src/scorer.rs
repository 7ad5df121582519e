//! One interface over the kinds of trained model, for `evaluate`, `detect` and the server:
//! a transfer-learning classifier (probability + class activation map), an MPR grid
//! detector (probability + a grid of cell probabilities), or an MPR inpainter on its own
//! (a residual anomaly score + a grid of mean residuals: the residual-only ablation arm).
//!
//! Each image gets a probability (what is shown) and a *score* (what is ranked and
//! thresholded). For a classifier they are the same number. For an MPR run the score is the
//! image logit: its probability is a noisy-OR over up to 256 cells and rounds to exactly
//! 1.0 in f32 once the logit passes ~17, so ranking by probability would tie many confident
//! images (AUROC, ROC and threshold choice would all suffer). The logit is strictly
//! monotone in the probability, so every threshold on it is a threshold on the probability
//! too; operating points chosen by `evaluate` and stored in `operating_points.json` are on
//! the score, and `detect` decides on the same score.

use std::path::Path;

use burn::tensor::Device;
use fracdet_eval::cell_regions::boxes_to_original;
use fracdet_eval::{LocalisationCase, ScoredBox, Temperature};
use fracdet_io::BBox;
use fracdet_io::preprocess::LetterboxTransform;
use fracdet_run::inpainter::AnomalyScorer;
use fracdet_run::mpr::MprPredictor;
use fracdet_run::{ClassifierConfig, RunKind};

use crate::cam::{Cam, CamModel};
use crate::detector::Heatmap;
use crate::error::Result;
use crate::regions;

/// What thresholds and rankings of a model apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// The fracture probability itself (classifiers).
    Probability,
    /// The logit of the fracture probability (MPR detectors).
    Logit,
    /// A mean inpainting residual in [0, 1] (the inpainter alone): ranks images, but is
    /// not a probability; thresholds are on it directly.
    Residual,
}

impl ScoreKind {
    /// The score of probability `p` (e.g. a fixed threshold given as a probability).
    pub fn from_probability(self, p: f64) -> f64 {
        match self {
            Self::Probability | Self::Residual => p,
            Self::Logit => (p / (1.0 - p)).ln(),
        }
    }

    /// The probability of score `s`, computed in f64 (finer than the f32 probabilities).
    pub fn to_probability(self, s: f64) -> f64 {
        match self {
            Self::Probability | Self::Residual => s,
            Self::Logit => 1.0 / (1.0 + (-s).exp()),
        }
    }

    /// The probability shown for score `s`: [`ScoreKind::to_probability`] after the model's
    /// temperature, if it has one (the residual is no probability and is never scaled).
    /// Strictly increasing in `s` for a positive temperature, so thresholds on the score
    /// decide exactly as before; only the numbers they are stated as change.
    pub fn calibrated_probability(self, s: f64, temperature: Option<&Temperature>) -> f64 {
        match (self, temperature) {
            (Self::Residual, _) | (_, None) => self.to_probability(s),
            (Self::Probability, Some(t)) => t.calibrate(s),
            (Self::Logit, Some(t)) => t.probability_of_logit(s),
        }
    }

    /// The model's logit for score `s` (the probability's logit, clamped, for a
    /// classifier): what a temperature is fitted on. `None` for the residual.
    pub fn logit(self, s: f64) -> Option<f64> {
        match self {
            Self::Probability => Some(fracdet_eval::temperature::logit(s)),
            Self::Logit => Some(s),
            Self::Residual => None,
        }
    }

    /// "probability" or "logit", for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Probability => "probability",
            Self::Logit => "logit",
            Self::Residual => "mean residual",
        }
    }
}

/// A trained model of either kind, in inference mode.
/// Both boxed: the networks are large structs, and a scorer is moved around whole.
pub enum Scorer {
    Classifier {
        cam: Box<CamModel>,
        backbone: String,
    },
    Mpr(Box<MprPredictor>),
    /// An inpainter run on its own: the residual-only anomaly score.
    Anomaly(Box<AnomalyScorer>),
}

/// What the model says about one canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Fracture probability, [0, 1] (for the inpainter alone, its residual score).
    pub probability: f32,
    /// What is ranked and thresholded (see [`ScoreKind`]).
    pub score: f32,
    /// Classifier: the min-max normalised CAM (`None` when flat). MPR: the grid of cell
    /// probabilities over the whole canvas (not normalised). Inpainter alone: the cells'
    /// mean residuals, min-max normalised over image content like a CAM.
    pub map: Option<Cam>,
    /// A classifier's pooled trunk features (what its head and the typicality check
    /// read); `None` for the other kinds.
    pub features: Option<Vec<f32>>,
    /// An MPR detector with a box head: the boxes its cells regress, canvas pixels, every
    /// candidate after suppression, best first (`None` for the other kinds).
    pub boxes: Option<Vec<ScoredBox>>,
}

impl Scorer {
    /// A training run directory, of the kind its config.json names.
    pub fn open_run(dir: &Path, device: &Device) -> Result<Self> {
        match RunKind::of(dir) {
            Some(RunKind::Mpr) => {
                return Ok(Self::Mpr(Box::new(MprPredictor::open_run(dir, device)?)));
            }
            Some(RunKind::Inpainter) => {
                return Ok(Self::Anomaly(Box::new(AnomalyScorer::open_run(
                    dir, device,
                )?)));
            }
            // No readable config: the classifier's loader names what is wrong with it.
            Some(RunKind::Classifier) | None => {}
        }
        let config = ClassifierConfig::load(dir)?;
        Ok(Self::Classifier {
            cam: Box::new(CamModel::open(
                dir,
                &config.backbone,
                &config.input,
                device,
            )?),
            backbone: config.backbone,
        })
    }

    /// A bundle directory (`model.json` + `model.safetensors`) and its manifest, which
    /// holds the operating points and temperature it ships with.
    pub fn open_bundle(dir: &Path, device: &Device) -> Result<(Self, crate::bundle::Manifest)> {
        let (manifest, weights) = crate::bundle::read_bundle(dir)?;
        let scorer = Self::from_manifest(&manifest, weights, &dir.display().to_string(), device)?;
        Ok((scorer, manifest))
    }

    /// The network `manifest` describes, with `weights` loaded; `origin` names the bundle
    /// in errors.
    pub fn from_manifest(
        manifest: &crate::bundle::Manifest,
        weights: Vec<u8>,
        origin: &str,
        device: &Device,
    ) -> Result<Self> {
        use crate::bundle::{ModelKind, classifier_from_bundle, mpr_from_bundle};
        let missing = || crate::DetectError::bundle(origin, "has no configuration for its kind");
        match manifest.kind {
            ModelKind::Classifier => {
                let config = manifest.classifier.as_ref().ok_or_else(missing)?;
                let model = classifier_from_bundle(config, weights, origin, device)?;
                Ok(Self::Classifier {
                    cam: Box::new(CamModel::new(model, config.input.clone())),
                    backbone: config.backbone.clone(),
                })
            }
            ModelKind::Mpr => {
                let mpr = manifest.mpr.as_ref().ok_or_else(missing)?;
                Ok(Self::Mpr(Box::new(mpr_from_bundle(
                    mpr, weights, origin, device,
                )?)))
            }
        }
    }

    /// Length of the pooled features [`Scorer::score`] returns (classifiers only; `None`
    /// for the other kinds).
    pub fn feature_dim(&self) -> Option<usize> {
        match self {
            Self::Classifier { cam, .. } => Some(cam.model().feature_dim()),
            _ => None,
        }
    }

    pub fn score_kind(&self) -> ScoreKind {
        match self {
            Self::Classifier { .. } => ScoreKind::Probability,
            Self::Mpr(_) => ScoreKind::Logit,
            Self::Anomaly(_) => ScoreKind::Residual,
        }
    }

    /// Side of the square model canvas, pixels.
    pub fn input_size(&self) -> u32 {
        match self {
            Self::Classifier { cam, .. } => cam.input().size,
            Self::Mpr(p) => p.size(),
            Self::Anomaly(a) => a.size(),
        }
    }

    /// One line for reports: what network, input and map.
    pub fn describe(&self) -> String {
        let size = self.input_size();
        match self {
            Self::Classifier { backbone, .. } => format!("{backbone}, {size}×{size} input"),
            Self::Mpr(p) => {
                let residuals = match &p.config.inpainter {
                    Some(dir) => format!(
                        "residual maps at {:?} px from inpainter {}",
                        p.config.residual_scales,
                        dir.display()
                    ),
                    None => "no residual maps".into(),
                };
                format!(
                    "MPR grid detector, {}, {size}×{size} input, {g}×{g} cells, {residuals}",
                    p.config.backbone,
                    g = p.grid()
                )
            }
            Self::Anomaly(a) => format!(
                "MPR inpainter alone (residual-only anomaly score), {size}×{size} input, \
                 residuals at {:?} px averaged over {g}×{g} cells; the score is the hottest \
                 content cell's mean |x − G(x)|, not a probability",
                a.scales(),
                g = a.grid()
            ),
        }
    }

    /// Cell probability at or above which cells form boxes (MPR runs: the run's own
    /// `region_threshold`, the one its validation boxes used); `None` for classifiers,
    /// whose regions are relative to the map's maximum.
    pub fn region_threshold(&self) -> Option<f32> {
        match self {
            Self::Classifier { .. } | Self::Anomaly(_) => None,
            Self::Mpr(p) => Some(p.config.region_threshold),
        }
    }

    /// An MPR detector whose boxes gather cells at or above `threshold` (a cell probability)
    /// instead of its run's `region_threshold`; other models are returned unchanged.
    pub fn with_region_threshold(mut self, threshold: f32) -> Self {
        if let Self::Mpr(p) = &mut self {
            p.config.region_threshold = threshold;
        }
        self
    }

    /// MPR detectors: [`MprPredictor::calibrated_half`], the region threshold that undoes
    /// the cell W-BCE weight; `None` for other models.
    pub fn calibrated_region_threshold(&self) -> Option<f32> {
        match self {
            Self::Mpr(p) => Some(p.calibrated_half()),
            _ => None,
        }
    }

    /// Cells per side of an MPR run's grid (detector or inpainter); `None` for classifiers.
    pub fn grid_side(&self) -> Option<usize> {
        match self {
            Self::Classifier { .. } => None,
            Self::Mpr(p) => Some(p.grid()),
            Self::Anomaly(a) => Some(a.grid()),
        }
    }

    /// Every grey canvas (`size * size` values in [0, 1], fracdet-io's letterbox, made by
    /// the transform at the same index) scored in one batched forward pass, in order.
    pub fn score(
        &self,
        canvases: &[Vec<f32>],
        transforms: &[LetterboxTransform],
        device: &Device,
    ) -> Result<Vec<Scored>> {
        if canvases.len() != transforms.len() {
            return Err(crate::DetectError::InvalidArgument(format!(
                "{} canvases but {} letterbox transforms",
                canvases.len(),
                transforms.len()
            )));
        }
        match self {
            Self::Classifier { cam, .. } => Ok(cam
                .score(canvases, device)?
                .into_iter()
                .map(|s| Scored {
                    probability: s.probability,
                    score: s.probability,
                    map: s.cam,
                    features: Some(s.features),
                    boxes: None,
                })
                .collect()),
            Self::Mpr(p) => Ok(p
                .predict(canvases, device)?
                .into_iter()
                .map(|m| Scored {
                    probability: m.probability,
                    score: m.logit,
                    map: Some(Cam {
                        values: m.cells,
                        h: m.grid,
                        w: m.grid,
                    }),
                    features: None,
                    boxes: m.boxes.map(|b| {
                        b.into_iter()
                            .map(|c| ScoredBox {
                                bbox: c.bbox,
                                score: c.score,
                            })
                            .collect()
                    }),
                })
                .collect()),
            Self::Anomaly(a) => Ok(a
                .cells(canvases)?
                .into_iter()
                .zip(transforms)
                .map(|(cells, t)| anomaly_scored(cells, a.grid(), t, a.size()))
                .collect()),
        }
    }

    /// What `evaluate` scores localisation on: the map's peak on image content and the
    /// predicted boxes, in original pixels of the image letterboxed by `t`.
    ///
    /// Classifier: regions at >= [`regions::REGION_FRACTION`] of the CAM's maximum, scored
    /// probability x region peak. MPR: regions of content cells at or above the run's
    /// `region_threshold`, scored by their hottest cell's probability, or the hottest
    /// cell's region when no cell reaches it (the boxes `detect` draws).
    pub fn localisation_case(
        &self,
        truth: Vec<BBox>,
        scored: &Scored,
        t: &LetterboxTransform,
    ) -> LocalisationCase {
        let size = self.input_size();
        if let Some(boxes) = &scored.boxes {
            // Every candidate counts: AP and FROC sweep the score themselves.
            let mut case = match (self.region_threshold(), scored.map.as_ref()) {
                (Some(threshold), Some(cells)) => {
                    regions::cell_localisation_case(truth, cells, t, size, threshold)
                }
                (_, map) => regions::localisation_case(truth, map, t, size, scored.probability),
            };
            case.predicted = boxes_to_original(boxes, t);
            return case;
        }
        match (self.region_threshold(), scored.map.as_ref()) {
            (Some(threshold), Some(cells)) => {
                regions::cell_localisation_case(truth, cells, t, size, threshold)
            }
            (_, map) => regions::localisation_case(truth, map, t, size, scored.probability),
        }
    }

    /// The box score a box head's boxes are drawn at: `chosen` (the validation-chosen
    /// [`fracdet_eval::BoxThreshold`]), else the run's region threshold, else 0.5.
    pub fn drawing_threshold(&self, chosen: Option<f32>) -> f32 {
        chosen.or(self.region_threshold()).unwrap_or(0.5)
    }

    /// Boxes `detect` draws on a flagged image, original pixels. MPR: as in
    /// [`Scorer::localisation_case`], but when no content cell reaches the region
    /// threshold the hottest cell is boxed, so a flagged image always shows where.
    ///
    /// With a box head: the regressed boxes scored at or above `drawn_at` (the drawing
    /// threshold chosen on validation, [`fracdet_eval::BoxThreshold`]; without one, the
    /// region threshold), or the best one when none reaches it.
    pub fn boxes(
        &self,
        scored: &Scored,
        t: &LetterboxTransform,
        drawn_at: Option<f32>,
    ) -> Vec<ScoredBox> {
        let size = self.input_size();
        if let Some(boxes) = &scored.boxes {
            let threshold = self.drawing_threshold(drawn_at);
            let mut kept: Vec<ScoredBox> = boxes
                .iter()
                .filter(|b| b.score >= threshold)
                .copied()
                .collect();
            if kept.is_empty() {
                kept.extend(boxes.first().copied());
            }
            return boxes_to_original(&kept, t);
        }
        match (self.region_threshold(), scored.map.as_ref()) {
            (_, None) => Vec::new(),
            (Some(threshold), Some(cells)) => regions::cell_boxes(cells, t, size, threshold, true),
            (None, Some(cam)) => regions::boxes(cam, t, size, scored.probability),
        }
    }

    /// The map for display over the canvas letterboxed by `t`, padding cells 0.
    pub fn heatmap(&self, scored: &Scored, t: LetterboxTransform) -> Option<Heatmap> {
        let map = scored.map.as_ref()?;
        let shown = regions::zero_padding(map, &t, self.input_size());
        Some(Heatmap {
            width: shown.w as u32,
            height: shown.h as u32,
            values: shown.values,
            transform: t,
            meaning: match self {
                Self::Classifier { .. } => "class_activation",
                Self::Mpr(_) => "cell_probability",
                Self::Anomaly(_) => "residual_anomaly",
            },
        })
    }
}

/// The inpainter's verdict on one canvas: the hottest content cell's mean residual as the
/// score (padding cells never count: the sharp edge of the image against the padding is
/// hard to re-draw and says nothing about bone), the map min-max normalised over content
/// so regions are relative to its peak, as for a CAM; `None` when flat.
fn anomaly_scored(cells: Vec<f32>, grid: usize, t: &LetterboxTransform, size: u32) -> Scored {
    let raw = Cam {
        values: cells,
        h: grid,
        w: grid,
    };
    let content: Vec<f32> = raw
        .values
        .iter()
        .zip(regions::content_cells(&raw, t, size))
        .filter_map(|(v, on)| on.then_some(*v))
        .collect();
    let score = content.iter().copied().fold(0.0f32, f32::max);
    let low = content.iter().copied().fold(f32::INFINITY, f32::min);
    let map = (score > low).then(|| Cam {
        values: raw
            .values
            .iter()
            .map(|v| ((v - low) / (score - low)).clamp(0.0, 1.0))
            .collect(),
        h: grid,
        w: grid,
    });
    Scored {
        probability: score,
        score,
        map,
        features: None,
        boxes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_scores_round_trip_probabilities() {
        let k = ScoreKind::Logit;
        assert_eq!(k.from_probability(0.5), 0.0);
        for p in [0.01, 0.3, 0.9, 0.999_999] {
            assert!(
                (k.to_probability(k.from_probability(p)) - p).abs() < 1e-12,
                "{p}"
            );
        }
        let c = ScoreKind::Probability;
        assert_eq!(c.from_probability(0.3), 0.3);
        assert_eq!(c.to_probability(0.3), 0.3);
    }

    #[test]
    fn calibration_changes_probabilities_not_their_order() {
        let t = fracdet_eval::fit_temperature(
            &[true, false, true, false, true, false],
            &[4.0, -4.0, 6.0, 3.0, -2.0, -6.0],
            "val",
        )
        .unwrap();
        assert!(t.temperature > 1.5, "{t:?}");
        for kind in [ScoreKind::Probability, ScoreKind::Logit] {
            let scores: Vec<f64> = match kind {
                ScoreKind::Logit => vec![-8.0, -1.0, 0.2, 3.0, 9.0],
                _ => vec![0.001, 0.2, 0.55, 0.9, 0.999],
            };
            let raw: Vec<f64> = scores.iter().map(|&s| kind.to_probability(s)).collect();
            let cal: Vec<f64> = scores
                .iter()
                .map(|&s| kind.calibrated_probability(s, Some(&t)))
                .collect();
            assert!(cal.windows(2).all(|w| w[0] < w[1]), "{kind:?} {cal:?}");
            // Softened towards 0.5 at both ends.
            assert!(
                cal[0] > raw[0] && cal[4] < raw[4],
                "{kind:?} {raw:?} {cal:?}"
            );
            assert_eq!(kind.calibrated_probability(scores[1], None), raw[1]);
        }
        let r = ScoreKind::Residual;
        assert_eq!(r.calibrated_probability(0.3, Some(&t)), 0.3);
        assert_eq!(r.logit(0.3), None);
    }
}
