//! A loaded model and what it finds on one radiograph.

use std::path::Path;

use burn::tensor::Device;
use fracdet_eval::{OperatingPoints, ScoredBox, StoredOperatingPoints};
use fracdet_io::Radiograph;
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use serde::Serialize;

use crate::bundle::{Manifest, ModelSource, classifier_from_bundle, read_bundle};
use crate::cam::CamModel;
use crate::error::{DetectError, Result};
use crate::scorer::{Scored, Scorer};

/// A model ready to examine radiographs: network, input recipe and stored thresholds.
/// Classifier runs and bundles, and MPR grid-detector runs (bundles hold classifiers only).
pub struct Detector {
    scorer: Scorer,
    name: String,
    points: Option<OperatingPoints>,
}

/// A decision at one stored operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// `true`: fracture suspected at this point.
    pub positive: bool,
    /// The point's threshold as a probability. For an MPR model the stored threshold is
    /// on the image logit and `positive` compares logits (f32 probabilities saturate at
    /// 1.0); this is its probability, computed in f64.
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
    /// Fracture probability, [0, 1].
    pub probability: f32,
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
                Self::from_bundle(manifest, weights, &dir.display().to_string(), device)
            }
            ModelSource::Run(dir) => Self::from_run(&dir, device),
        }
    }

    /// A bundle already in memory (the one compiled into the binary, for one).
    pub fn from_bundle(
        manifest: Manifest,
        weights: Vec<u8>,
        origin: &str,
        device: &Device,
    ) -> Result<Self> {
        let model = classifier_from_bundle(&manifest, weights, origin, device)?;
        Ok(Self {
            scorer: Scorer::Classifier {
                cam: Box::new(CamModel::new(model, manifest.classifier.input.clone())),
                backbone: manifest.classifier.backbone.clone(),
            },
            name: manifest.name.clone(),
            points: manifest.operating_points.map(|s| s.points),
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
        let points = StoredOperatingPoints::load(dir)?.map(|s| s.points);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            scorer,
            name,
            points,
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

    pub fn operating_points(&self) -> Option<&OperatingPoints> {
        self.points.as_ref()
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
        let probability = scored.probability;
        let kind = self.scorer.score_kind();
        // Stored thresholds are on the model's score (the logit for MPR), so decide there.
        let decide = |p: Option<fracdet_eval::OperatingPoint>| {
            p.map(|p| Decision {
                positive: f64::from(scored.score) >= p.threshold,
                threshold: kind.to_probability(p.threshold),
                sensitivity: p.sensitivity,
                specificity: p.specificity,
            })
        };
        let decisions = Decisions {
            high_sensitivity: decide(self.points.as_ref().and_then(|p| p.at_target_sensitivity)),
            high_specificity: decide(self.points.as_ref().and_then(|p| p.at_target_specificity)),
        };
        let boxes = if decisions.flagged(probability) {
            self.scorer.boxes(scored, &t)
        } else {
            Vec::new()
        };
        let heatmap = self.scorer.heatmap(scored, t);
        Detection {
            probability,
            decisions,
            boxes,
            heatmap,
            width: t.src_width,
            height: t.src_height,
        }
    }
}
