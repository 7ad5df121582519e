//! Stratified bootstrap resampling.
//!
//! Positives and negatives are resampled *separately* (each with replacement, keeping its
//! own count), so every replicate has the same prevalence as the data. This keeps
//! sensitivity, specificity and AUROC defined in every replicate whenever they are defined
//! on the data, and is the usual choice for diagnostic accuracy studies.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// Bootstrap settings; recorded in reports so an interval can be reproduced exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (default 2000; at least 1000 is recommended for 95% intervals).
    pub n_resamples: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Confidence level of the two-sided interval, in (0, 1).
    pub level: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            n_resamples: 2000,
            seed: 0x00F2_ACDE,
            level: 0.95,
        }
    }
}

impl BootstrapConfig {
    pub fn validate(&self) -> Result<()> {
        if self.n_resamples == 0 {
            return Err(EvalError::InvalidParameter(
                "n_resamples must be > 0".into(),
            ));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(EvalError::InvalidParameter(format!(
                "confidence level must be in (0, 1), got {}",
                self.level
            )));
        }
        Ok(())
    }

    pub(crate) fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }
}

/// Draws stratified resamples as per-sample multiplicities (`weights[i]` = how many times
/// sample `i` was drawn), which lets O(n) sweeps over a pre-sorted order replace re-sorting.
pub(crate) struct StratifiedResampler {
    positives: Vec<usize>,
    negatives: Vec<usize>,
    n: usize,
}

impl StratifiedResampler {
    pub fn new(labels: &[bool]) -> Self {
        let positives = (0..labels.len()).filter(|&i| labels[i]).collect();
        let negatives = (0..labels.len()).filter(|&i| !labels[i]).collect();
        Self {
            positives,
            negatives,
            n: labels.len(),
        }
    }

    /// Fills `weights` (resized to n) with the multiplicities of one stratified resample.
    pub fn draw(&self, rng: &mut impl Rng, weights: &mut Vec<u32>) {
        weights.clear();
        weights.resize(self.n, 0);
        for stratum in [&self.positives, &self.negatives] {
            let m = stratum.len();
            for _ in 0..m {
                weights[stratum[rng.random_range(0..m)]] += 1;
            }
        }
    }
}
