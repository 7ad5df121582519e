//! Is this image typical of what the model was trained on? A density on the model's own
//! pooled trunk features ([`fracdet_eval::density`]), fitted on the training split, with a
//! threshold chosen on validation so that a stated share of val (98 % by default) is in
//! scope. Stored beside the model as `typicality.json`; an image beyond the threshold is
//! "not assessed" like any other out-of-scope image.
//!
//! Why per model: the features are the model's, so the same radiograph can be typical for
//! one model and not another; the model-free check (`fracdet_io::applicability`) comes
//! first and covers what is no radiograph at all.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fracdet_eval::density::{FeatureDensity, threshold_keeping};
use fracdet_eval::region_probe::{RegionGuess, RegionProbe};
use fracdet_io::applicability::{self, NotAssessed, Thresholds};
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use fracdet_io::{ReadOptions, read_radiograph};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};
use crate::scorer::Scorer;

/// File name beside `model.json` (or in a run directory).
pub const TYPICALITY_FILE: &str = "typicality.json";

/// Share of validation images kept in scope by default.
pub const DEFAULT_IN_SCOPE_SHARE: f64 = 0.98;

/// The fitted check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typicality {
    pub density: FeatureDensity,
    /// Scores above this are atypical.
    pub threshold: f32,
    /// The share of validation images at or below the threshold, and how many there were.
    pub val_in_scope: f64,
    pub n_val: usize,
    /// What it was fitted on, for the record (dataset folder, split names, regions left
    /// out when fitted for the held-out-region experiment).
    pub fitted_on: String,
    /// Which body region the image shows; an image it cannot place is out of scope too.
    /// Absent from files written before it (the density alone then decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionCheck>,
}

/// The region half of the check: the probe, and the entropy beyond which it cannot place
/// an image among the regions it knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionCheck {
    pub probe: RegionProbe,
    pub max_entropy: f32,
}

/// One image's typicality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TypicalityScore {
    pub score: f32,
    pub threshold: f32,
    /// The region probe's reading and its limit, when the check has one.
    pub region: Option<RegionGuess>,
    pub max_entropy: Option<f32>,
    /// `score <= threshold`, and the region placed (entropy within its limit).
    pub typical: bool,
}

impl TypicalityScore {
    /// Why the image is out of the model's scope, if it is: beyond the density first, then
    /// of no known region.
    pub fn not_assessed(&self) -> Option<NotAssessed> {
        if self.score > self.threshold {
            return Some(NotAssessed::Atypical {
                score: self.score,
                threshold: self.threshold,
            });
        }
        match (self.region, self.max_entropy) {
            (Some(g), Some(limit)) if g.entropy > limit => Some(NotAssessed::UnknownRegion {
                entropy: g.entropy,
                limit,
            }),
            _ => None,
        }
    }
}

impl Typicality {
    /// Fits the density on `train` features (k principal components) and sets the
    /// threshold to keep `share` of `val` features in scope.
    pub fn fit(
        train: &[Vec<f32>],
        val: &[Vec<f32>],
        k: usize,
        share: f64,
        fitted_on: String,
    ) -> Result<Self> {
        let density = FeatureDensity::fit(train, k)?;
        let scores = val
            .iter()
            .map(|f| density.score(f))
            .collect::<fracdet_eval::Result<Vec<f32>>>()?;
        let threshold = threshold_keeping(&scores, share)?;
        let kept = scores.iter().filter(|&&s| s <= threshold).count();
        Ok(Self {
            density,
            threshold,
            val_in_scope: kept as f64 / scores.len() as f64,
            n_val: scores.len(),
            fitted_on,
            region: None,
        })
    }

    /// Adds the region probe, fitted on `train` features labelled by index into
    /// `regions`. Both halves then share the refusals: the density and the probe each get
    /// the threshold keeping `(1 + share) / 2` of `val`, and `val_in_scope` is what the
    /// two together keep.
    pub fn with_region_probe(
        mut self,
        train: &[Vec<f32>],
        labels: &[usize],
        regions: Vec<String>,
        val: &[Vec<f32>],
        share: f64,
    ) -> Result<Self> {
        let probe = RegionProbe::fit(&self.density, train, labels, regions)?;
        let each = (1.0 + share) / 2.0;
        let (mut density, mut entropy) = (Vec::new(), Vec::new());
        for f in val {
            density.push(self.density.score(f)?);
            entropy.push(probe.guess(&self.density, f)?.entropy);
        }
        self.threshold = threshold_keeping(&density, each)?;
        let max_entropy = threshold_keeping(&entropy, each)?;
        self.region = Some(RegionCheck { probe, max_entropy });
        let kept = val
            .iter()
            .map(|f| self.score(f).map(|t| t.typical))
            .collect::<Result<Vec<bool>>>()?;
        self.val_in_scope = kept.iter().filter(|&&k| k).count() as f64 / kept.len() as f64;
        Ok(self)
    }

    /// [`with_region_probe`](Self::with_region_probe) with the body regions the samples'
    /// metadata names (FracAtlas: hand, leg, hip, shoulder, mixed), `train[i]` the sample of
    /// `train_features[i]`; samples without a region are left out of the probe. Unchanged
    /// when fewer than two regions are named (a layout that records none).
    pub fn with_regions_of(
        self,
        train: &[&fracdet_io::dataset::Sample],
        train_features: &[Vec<f32>],
        val_features: &[Vec<f32>],
        share: f64,
    ) -> Result<Self> {
        let names: std::collections::BTreeSet<&str> = train
            .iter()
            .filter_map(|s| s.meta.body_part.as_deref())
            .collect();
        if names.len() < 2 {
            return Ok(self);
        }
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let (mut features, mut labels) = (Vec::new(), Vec::new());
        for (s, f) in train.iter().zip(train_features) {
            if let Some(i) = s
                .meta
                .body_part
                .as_ref()
                .and_then(|p| names.iter().position(|n| n == p))
            {
                features.push(f.clone());
                labels.push(i);
            }
        }
        self.with_region_probe(&features, &labels, names, val_features, share)
    }

    pub fn score(&self, features: &[f32]) -> Result<TypicalityScore> {
        let score = self.density.score(features)?;
        let region = self
            .region
            .as_ref()
            .map(|r| r.probe.guess(&self.density, features))
            .transpose()?;
        let max_entropy = self.region.as_ref().map(|r| r.max_entropy);
        let placed = match (region, max_entropy) {
            (Some(g), Some(limit)) => g.entropy <= limit,
            _ => true,
        };
        Ok(TypicalityScore {
            score,
            threshold: self.threshold,
            region,
            max_entropy,
            typical: score <= self.threshold && placed,
        })
    }

    /// The name of the region a guess names.
    pub fn region_name(&self, guess: &RegionGuess) -> Option<&str> {
        let probe = &self.region.as_ref()?.probe;
        probe.regions.get(guess.region).map(String::as_str)
    }

    /// `dir/typicality.json`, when there is one.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(TYPICALITY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_json(&bytes, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DetectError::bundle(
                path.display(),
                format!("cannot read: {e}"),
            )),
        }
    }

    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| DetectError::bundle(origin, format!("not a typicality file: {e}")))
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| DetectError::bundle(TYPICALITY_FILE, e.to_string()))
    }
}

/// Pooled trunk features of each readable radiograph in `images`, `batch` at a time, from
/// `scorer` (a classifier; the other kinds have no pooled features and are refused).
/// Unreadable images and ones the model-free applicability check refuses are left out;
/// the returned indexes say which images the rows belong to. `done(n)` is called after
/// each batch with the number of images handled so far (for a progress bar).
pub fn features_of(
    scorer: &Scorer,
    images: &[PathBuf],
    batch: usize,
    device: &Device,
    done: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<Vec<f32>>, Vec<usize>)> {
    if !matches!(scorer, Scorer::Classifier { .. }) {
        return Err(DetectError::InvalidArgument(
            "the typicality check needs a classifier model (pooled trunk features)".into(),
        ));
    }
    let size = scorer.input_size();
    let read = ReadOptions::default();
    let (mut rows, mut kept) = (Vec::new(), Vec::new());
    for (b, chunk) in images.chunks(batch.max(1)).enumerate() {
        let canvases: Vec<Option<(Vec<f32>, LetterboxTransform)>> = chunk
            .par_iter()
            .map(|path| {
                let image = read_radiograph(path, &read).ok()?;
                applicability::check(&image, &Thresholds::default()).ok()?;
                Some(letterbox(&image, size))
            })
            .collect();
        let mut good = Vec::new();
        let mut transforms = Vec::new();
        for (i, c) in canvases.into_iter().enumerate() {
            if let Some((canvas, t)) = c {
                good.push(canvas);
                transforms.push(t);
                kept.push(b * batch.max(1) + i);
            }
        }
        for scored in scorer.score(&good, &transforms, device)? {
            rows.push(scored.features.ok_or_else(|| {
                DetectError::InvalidArgument("the model gave no pooled features".into())
            })?);
        }
        done((b * batch.max(1) + chunk.len()).min(images.len()));
    }
    Ok((rows, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, shift: f32, seed: u32) -> Vec<Vec<f32>> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) - 0.5
        };
        (0..n)
            .map(|_| {
                let a = next() * 4.0;
                (0..16)
                    .map(|d| a * d as f32 / 16.0 + 0.2 * next() + shift)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn keeps_the_val_share_and_refuses_what_is_far() {
        let t = Typicality::fit(
            &rows(300, 0.0, 1),
            &rows(100, 0.0, 2),
            3,
            0.98,
            "test".into(),
        )
        .unwrap();
        assert!(t.val_in_scope >= 0.98, "{}", t.val_in_scope);
        assert_eq!(t.n_val, 100);
        let far = rows(50, 2.0, 3);
        assert!(far.iter().all(|f| !t.score(f).unwrap().typical));
        let back = Typicality::from_json(t.to_json().unwrap().as_bytes(), "t").unwrap();
        assert_eq!(back, t);
    }

    /// Two regions: one raises the first half of the features, the other the second.
    fn region_rows(n: usize, seed: u32) -> (Vec<Vec<f32>>, Vec<usize>) {
        let noise = rows(n, 0.0, seed);
        let mut labels = Vec::new();
        let features = noise
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                let r = i % 2;
                for (d, v) in f.iter_mut().enumerate() {
                    if (d < 8) == (r == 0) {
                        *v += 3.0;
                    }
                }
                labels.push(r);
                f
            })
            .collect();
        (features, labels)
    }

    #[test]
    fn an_image_of_no_known_region_is_refused_with_that_reason() {
        let (train, labels) = region_rows(300, 4);
        let (val, _) = region_rows(100, 5);
        let names = vec!["hand".to_string(), "leg".into()];
        let t = Typicality::fit(&train, &val, 3, 0.98, "test".into())
            .unwrap()
            .with_region_probe(&train, &labels, names, &val, 0.98)
            .unwrap();
        assert!(t.val_in_scope >= 0.96, "{}", t.val_in_scope);
        let known = t.score(&train[0]).unwrap();
        assert!(known.typical && known.not_assessed().is_none(), "{known:?}");
        assert_eq!(t.region_name(&known.region.unwrap()), Some("hand"));
        // Both halves raised half-way: inside the density's spread, but neither region.
        let between: Vec<f32> = train[0]
            .iter()
            .zip(&train[1])
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        let odd = t.score(&between).unwrap();
        assert!(!odd.typical, "{odd:?}");
        assert!(
            matches!(odd.not_assessed(), Some(NotAssessed::UnknownRegion { .. })),
            "{odd:?}"
        );
        // Files written before the probe still read, and the density alone decides.
        let mut json: serde_json::Value = serde_json::from_str(&t.to_json().unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("region");
        let old = Typicality::from_json(json.to_string().as_bytes(), "old").unwrap();
        assert!(old.region.is_none());
        assert!(old.score(&train[0]).unwrap().region.is_none());
    }
}
