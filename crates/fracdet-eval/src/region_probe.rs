//! Which body region an image shows, read from the same features as the typicality density
//! (its whitened principal coordinates): a multinomial logistic regression over the regions
//! the training data has. An image the probe cannot place — high entropy over the known
//! regions — shows something the model was not trained on, the "other" outcome.
//!
//! Why beside the density: a radiograph of a region the network never saw still has the
//! overall statistics of a radiograph, and on a fracture classifier's pooled features it
//! falls inside the density (FracAtlas with the shoulder left out of training: 1 of 13 held
//! out shoulder val images beyond the density's 98 % threshold). What does separate it is
//! that it looks like none of the known regions in particular.

use serde::{Deserialize, Serialize};

use crate::density::FeatureDensity;
use crate::{EvalError, Result};

/// Full-batch gradient steps of the fit: deterministic, and converged on a few thousand
/// images with a few tens of coordinates (the loss changes by < 1e-4 over the last 100).
const STEPS: usize = 500;
const STEP_SIZE: f64 = 0.5;
/// L2 penalty on the weights, so separable regions do not drive them to infinity.
const L2: f64 = 1e-3;

/// The fitted probe. Plain numbers in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionProbe {
    /// The regions it tells apart, in output order.
    pub regions: Vec<String>,
    /// Per region, one weight per whitened coordinate of the density.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

/// The probe's reading of one image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegionGuess {
    /// Index into [`RegionProbe::regions`] of the most probable region.
    pub region: usize,
    pub probability: f32,
    /// Entropy of the region probabilities, nats (0: certain; ln(regions): no idea).
    pub entropy: f32,
}

impl RegionProbe {
    /// Fits on `features` (rows the density reads) labelled by index into `regions`.
    pub fn fit(
        density: &FeatureDensity,
        features: &[Vec<f32>],
        labels: &[usize],
        regions: Vec<String>,
    ) -> Result<Self> {
        let c = regions.len();
        if c < 2 || features.len() != labels.len() || labels.iter().any(|&l| l >= c) {
            return Err(EvalError::InvalidParameter(format!(
                "a region probe needs at least 2 regions and one label in range per feature \
                 ({} regions, {} features, {} labels)",
                c,
                features.len(),
                labels.len()
            )));
        }
        if let Some((_, name)) = regions
            .iter()
            .enumerate()
            .find(|(r, _)| !labels.contains(r))
        {
            return Err(EvalError::InvalidParameter(format!(
                "region {name} has no training image"
            )));
        }
        let x = features
            .iter()
            .map(|f| density.whitened(f))
            .collect::<Result<Vec<_>>>()?;
        let k = x[0].len();
        let n = x.len() as f64;
        let mut w = vec![vec![0f64; k]; c];
        let mut b = vec![0f64; c];
        for _ in 0..STEPS {
            let mut gw = vec![vec![0f64; k]; c];
            let mut gb = vec![0f64; c];
            for (row, &label) in x.iter().zip(labels) {
                let p = softmax(&logits(&w, &b, row));
                for r in 0..c {
                    let g = p[r] - f64::from(u8::from(r == label));
                    gb[r] += g;
                    for (gw, &v) in gw[r].iter_mut().zip(row) {
                        *gw += g * v;
                    }
                }
            }
            for r in 0..c {
                b[r] -= STEP_SIZE * gb[r] / n;
                for (w, &g) in w[r].iter_mut().zip(&gw[r]) {
                    *w -= STEP_SIZE * (g / n + L2 * *w);
                }
            }
        }
        Ok(Self {
            regions,
            weights: w
                .iter()
                .map(|r| r.iter().map(|&v| v as f32).collect())
                .collect(),
            bias: b.iter().map(|&v| v as f32).collect(),
        })
    }

    /// The most probable region of `feature` and how unsure the probe is.
    pub fn guess(&self, density: &FeatureDensity, feature: &[f32]) -> Result<RegionGuess> {
        let x = density.whitened(feature)?;
        if self.weights.iter().any(|w| w.len() != x.len()) {
            return Err(EvalError::InvalidFeatures(format!(
                "a region probe over {} coordinates read with a density of {}",
                self.weights.first().map_or(0, Vec::len),
                x.len()
            )));
        }
        let w: Vec<Vec<f64>> = self
            .weights
            .iter()
            .map(|r| r.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let b: Vec<f64> = self.bias.iter().map(|&v| f64::from(v)).collect();
        let p = softmax(&logits(&w, &b, &x));
        let (region, &best) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least two regions");
        let entropy: f64 = p.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
        Ok(RegionGuess {
            region,
            probability: best as f32,
            entropy: entropy as f32,
        })
    }
}

fn logits(w: &[Vec<f64>], b: &[f64], x: &[f64]) -> Vec<f64> {
    w.iter()
        .zip(b)
        .map(|(w, b)| b + w.iter().zip(x).map(|(a, v)| a * v).sum::<f64>())
        .collect()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three clusters in 6 dimensions, and a point between them.
    fn clusters() -> (Vec<Vec<f32>>, Vec<usize>) {
        let centres = [
            [3.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0, 0.0, 0.0],
        ];
        let (mut f, mut l) = (Vec::new(), Vec::new());
        for i in 0..90usize {
            let c = i % 3;
            // Deterministic spread: a few hundredths, different per dimension and sample.
            let row: Vec<f32> = (0..6)
                .map(|d| centres[c][d] + (((i * 7 + d * 13) % 11) as f32 - 5.0) * 0.08)
                .collect();
            f.push(row);
            l.push(c);
        }
        (f, l)
    }

    #[test]
    fn places_known_regions_surely_and_a_point_between_them_unsurely() {
        let (features, labels) = clusters();
        let density = FeatureDensity::fit(&features, 4).unwrap();
        let names = vec!["hand".to_string(), "leg".into(), "hip".into()];
        let probe = RegionProbe::fit(&density, &features, &labels, names).unwrap();
        for (f, &l) in features.iter().zip(&labels).step_by(7) {
            let g = probe.guess(&density, f).unwrap();
            assert_eq!(g.region, l);
            assert!(g.probability > 0.9, "{g:?}");
        }
        let between = [1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0];
        let unsure = probe.guess(&density, &between).unwrap();
        let sure = probe.guess(&density, &features[0]).unwrap();
        assert!(
            unsure.entropy > 0.8 && sure.entropy < 0.3,
            "{unsure:?} {sure:?}"
        );
        assert!(unsure.entropy <= (3f32).ln() + 1e-5);
    }

    #[test]
    fn refuses_regions_without_images_and_labels_out_of_range() {
        let (features, labels) = clusters();
        let density = FeatureDensity::fit(&features, 4).unwrap();
        let four = vec!["a".to_string(), "b".into(), "c".into(), "d".into()];
        let err = RegionProbe::fit(&density, &features, &labels, four).unwrap_err();
        assert!(
            err.to_string().contains("region d has no training image"),
            "{err}"
        );
        let two = vec!["a".to_string(), "b".into()];
        assert!(RegionProbe::fit(&density, &features, &labels, two).is_err());
    }
}
