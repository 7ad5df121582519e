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
use fracdet_io::applicability::{self, Thresholds};
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
}

/// One image's typicality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TypicalityScore {
    pub score: f32,
    pub threshold: f32,
    /// `score <= threshold`.
    pub typical: bool,
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
        })
    }

    pub fn score(&self, features: &[f32]) -> Result<TypicalityScore> {
        let score = self.density.score(features)?;
        Ok(TypicalityScore {
            score,
            threshold: self.threshold,
            typical: score <= self.threshold,
        })
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
}
