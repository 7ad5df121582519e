//! How typical a feature vector is of the training data: a Gaussian density in the
//! principal subspace of the training features, plus the residual outside it
//! (probabilistic PCA). The score is the squared Mahalanobis distance divided by the
//! dimension, so about 1 for a typical training image and larger for what the training
//! data never showed.
//!
//! Why this form: a full covariance of 1,280-dimensional features takes 6.5 MB and is
//! singular with a few thousand images; k principal directions with their variances plus
//! one residual variance are a few hundred KB, invertible by construction, and rank images
//! the same way where the data has support (Lee et al., "A Simple Unified Framework for
//! Detecting Out-of-Distribution Samples", NeurIPS 2018, used class-conditional
//! Mahalanobis distances on a network's features; this is its single-class, low-rank form).

use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// The fitted density. Plain numbers in JSON, stored beside a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDensity {
    /// Feature mean and standard deviation per dimension (standardised before the PCA).
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// `k` orthonormal principal directions of the standardised features, each `dim` long.
    pub components: Vec<Vec<f32>>,
    /// Variance along each component.
    pub variances: Vec<f32>,
    /// Mean variance of what the components leave out (per remaining dimension).
    pub residual_variance: f32,
    /// Images the density was fitted on.
    pub n_fit: usize,
}

impl FeatureDensity {
    /// Fits on `features` (one row per image, all the same length) with `k` components.
    pub fn fit(features: &[Vec<f32>], k: usize) -> Result<Self> {
        let n = features.len();
        let dim = features.first().map_or(0, Vec::len);
        if n < 2 || dim == 0 || features.iter().any(|f| f.len() != dim) {
            return Err(EvalError::InvalidFeatures(format!(
                "a feature density needs at least 2 rows of equal, non-zero length (got {n})"
            )));
        }
        if features.iter().flatten().any(|v| !v.is_finite()) {
            return Err(EvalError::InvalidFeatures(
                "non-finite feature value".into(),
            ));
        }
        let k = k.min(dim).min(n - 1).max(1);
        let mut mean = vec![0f64; dim];
        for f in features {
            for (m, &v) in mean.iter_mut().zip(f) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut std = vec![0f64; dim];
        for f in features {
            for ((s, &m), &v) in std.iter_mut().zip(&mean).zip(f) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        // A dimension constant over the training set (a dead unit) gets unit scale, so a
        // new image that lights it up still counts as far.
        std.iter_mut().for_each(|s| {
            *s = (*s / (n - 1) as f64).sqrt();
            if *s < 1e-6 {
                *s = 1.0;
            }
        });
        let z: Vec<Vec<f64>> = features
            .iter()
            .map(|f| {
                f.iter()
                    .zip(&mean)
                    .zip(&std)
                    .map(|((&v, m), s)| (f64::from(v) - m) / s)
                    .collect()
            })
            .collect();
        let cov = covariance(&z, dim);
        let total: f64 = (0..dim).map(|i| cov[i * dim + i]).sum();
        let (components, variances) = top_eigen(&cov, dim, k);
        let explained: f64 = variances.iter().sum();
        let rest = (dim - k).max(1) as f64;
        let residual_variance = ((total - explained) / rest).max(1e-6);
        Ok(Self {
            mean: mean.iter().map(|&v| v as f32).collect(),
            std: std.iter().map(|&v| v as f32).collect(),
            components: components
                .iter()
                .map(|c| c.iter().map(|&v| v as f32).collect())
                .collect(),
            variances: variances.iter().map(|&v| v.max(1e-6) as f32).collect(),
            residual_variance: residual_variance as f32,
            n_fit: n,
        })
    }

    /// `feature` standardised as the fit standardised the training features.
    fn standardise(&self, feature: &[f32]) -> Result<Vec<f64>> {
        if feature.len() != self.mean.len() {
            return Err(EvalError::InvalidFeatures(format!(
                "feature of length {} for a density of dimension {}",
                feature.len(),
                self.mean.len()
            )));
        }
        Ok(feature
            .iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((&v, &m), &s)| (f64::from(v) - f64::from(m)) / f64::from(s))
            .collect())
    }

    /// The coordinates of `feature` along the `k` principal directions, each divided by its
    /// standard deviation (unit variance over the training features): the compact, whitened
    /// form other checks on the same features (the region probe) read.
    pub fn whitened(&self, feature: &[f32]) -> Result<Vec<f64>> {
        let z = self.standardise(feature)?;
        let out: Vec<f64> = self
            .components
            .iter()
            .zip(&self.variances)
            .map(|(c, &var)| {
                let p: f64 = c.iter().zip(&z).map(|(&a, b)| f64::from(a) * b).sum();
                p / f64::from(var).sqrt()
            })
            .collect();
        if out.iter().all(|v| v.is_finite()) {
            Ok(out)
        } else {
            Err(EvalError::InvalidFeatures(
                "non-finite feature value".into(),
            ))
        }
    }

    /// Squared Mahalanobis distance of `feature` over the dimension (~1 when typical).
    pub fn score(&self, feature: &[f32]) -> Result<f32> {
        let z = self.standardise(feature)?;
        let norm2: f64 = z.iter().map(|v| v * v).sum();
        let mut inside = 0f64;
        let mut along = 0f64;
        for (c, &var) in self.components.iter().zip(&self.variances) {
            let p: f64 = c.iter().zip(&z).map(|(&a, b)| f64::from(a) * b).sum();
            along += p * p;
            inside += p * p / f64::from(var);
        }
        let outside = (norm2 - along).max(0.0) / f64::from(self.residual_variance);
        let d2 = (inside + outside) / self.mean.len() as f64;
        if d2.is_finite() {
            Ok(d2 as f32)
        } else {
            Err(EvalError::InvalidFeatures(
                "non-finite feature value".into(),
            ))
        }
    }
}

/// The threshold that keeps `share` of `scores` at or below it (an upper quantile, taken at
/// the order statistic so at least `share` of these scores pass).
pub fn threshold_keeping(scores: &[f32], share: f64) -> Result<f32> {
    if scores.is_empty() || scores.iter().any(|s| !s.is_finite()) || !(0.0..=1.0).contains(&share) {
        return Err(EvalError::InvalidParameter(
            "a threshold needs finite scores and a share in [0, 1]".into(),
        ));
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f32::total_cmp);
    let index = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Ok(sorted[index])
}

/// Covariance (dim x dim, row-major) of centred rows.
fn covariance(z: &[Vec<f64>], dim: usize) -> Vec<f64> {
    let mut cov = vec![0f64; dim * dim];
    for row in z {
        for i in 0..dim {
            let a = row[i];
            if a == 0.0 {
                continue;
            }
            let line = &mut cov[i * dim..(i + 1) * dim];
            for (c, &b) in line[i..].iter_mut().zip(&row[i..]) {
                *c += a * b;
            }
        }
    }
    let n = (z.len() - 1).max(1) as f64;
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / n;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    cov
}

/// The `k` leading eigenvectors and eigenvalues of the symmetric `cov`, by subspace
/// iteration from a fixed start (deterministic), Gram–Schmidt each round.
fn top_eigen(cov: &[f64], dim: usize, k: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            (0..dim)
                .map(|i| (((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0) - 0.5)
                .collect()
        })
        .collect();
    orthonormalise(&mut q);
    let times = |v: &[f64]| -> Vec<f64> {
        (0..dim)
            .map(|i| {
                cov[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(v)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    };
    for _ in 0..60 {
        let mut next: Vec<Vec<f64>> = q.iter().map(|v| times(v)).collect();
        orthonormalise(&mut next);
        q = next;
    }
    let mut pairs: Vec<(f64, Vec<f64>)> = q
        .into_iter()
        .map(|v| {
            let cv = times(&v);
            (v.iter().zip(&cv).map(|(a, b)| a * b).sum::<f64>(), v)
        })
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let values = pairs.iter().map(|p| p.0).collect();
    (pairs.into_iter().map(|p| p.1).collect(), values)
}

fn orthonormalise(vs: &mut [Vec<f64>]) {
    for j in 0..vs.len() {
        for i in 0..j {
            let d: f64 = vs[i].iter().zip(&vs[j]).map(|(a, b)| a * b).sum();
            let (head, tail) = vs.split_at_mut(j);
            for (x, y) in tail[0].iter_mut().zip(&head[i]) {
                *x -= d * y;
            }
        }
        let norm = vs[j].iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
        vs[j].iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows from a correlated 2-factor model in 20 dimensions, deterministic.
    fn rows(n: usize, shift: f32) -> Vec<Vec<f32>> {
        let mut x = 0x9E37_79B9u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) - 0.5
        };
        (0..n)
            .map(|_| {
                let (a, b) = (next() * 4.0, next() * 2.0);
                (0..20)
                    .map(|d| a * (d as f32 / 20.0) + b * ((d % 3) as f32) + 0.1 * next() + shift)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn typical_rows_score_near_one_and_shifted_ones_far() {
        let train = rows(400, 0.0);
        let density = FeatureDensity::fit(&train, 4).unwrap();
        assert_eq!(density.components.len(), 4);
        let typical: Vec<f32> = rows(100, 0.0)
            .iter()
            .map(|r| density.score(r).unwrap())
            .collect();
        let mean = typical.iter().sum::<f32>() / typical.len() as f32;
        assert!((0.3..3.0).contains(&mean), "{mean}");
        // Shifted off the training manifold: much larger.
        let far: Vec<f32> = rows(100, 3.0)
            .iter()
            .map(|r| density.score(r).unwrap())
            .collect();
        let threshold = threshold_keeping(&typical, 0.98).unwrap();
        let out = far.iter().filter(|&&s| s > threshold).count();
        assert!(
            out >= 98,
            "{out} of 100 shifted rows beyond the 98 % threshold"
        );
        // The components are orthonormal and sorted by variance.
        for (i, a) in density.components.iter().enumerate() {
            for (j, b) in density.components.iter().enumerate() {
                let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!(
                    (d - f32::from(u8::from(i == j))).abs() < 1e-4,
                    "{i},{j}: {d}"
                );
            }
        }
        assert!(density.variances.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn threshold_keeps_the_share_asked_for() {
        let scores: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(threshold_keeping(&scores, 0.98).unwrap(), 98.0);
        assert_eq!(threshold_keeping(&scores, 1.0).unwrap(), 100.0);
        assert!(threshold_keeping(&[], 0.5).is_err());
        assert!(threshold_keeping(&[f32::NAN], 0.5).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(FeatureDensity::fit(&[vec![1.0]], 2).is_err());
        assert!(FeatureDensity::fit(&[vec![1.0], vec![1.0, 2.0]], 2).is_err());
        let d = FeatureDensity::fit(&rows(10, 0.0), 2).unwrap();
        assert!(d.score(&[1.0]).is_err());
    }
}
