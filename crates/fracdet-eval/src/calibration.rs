//! Calibration: Brier score, expected calibration error and reliability-diagram bins.
//!
//! Both need scores that are probabilities in [0, 1]; otherwise they are undefined.
//!
//! # ECE definition
//! [`N_BINS`] = 10 equal-width bins on [0, 1]: bin `b` holds scores in `[b/10, (b+1)/10)`,
//! the last bin also holds 1.0. `ECE = sum_b (n_b / n) * |mean score_b - fraction positive_b|`
//! over non-empty bins (the L1, count-weighted form of Naeini et al. 2015 / Guo et al. 2017).

use serde::{Deserialize, Serialize};

use crate::error::{Result, validate};
use crate::estimate::Estimate;

pub const N_BINS: usize = 10;

/// One bin of the reliability diagram. `mean_score`/`fraction_positive` are `None` when
/// the bin is empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    pub mean_score: Option<f64>,
    pub fraction_positive: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub brier: Estimate,
    pub ece: Estimate,
    pub bins: Vec<ReliabilityBin>,
}

fn not_probabilities(scores: &[f32]) -> bool {
    scores.iter().any(|&s| !(0.0..=1.0).contains(&s))
}

/// Brier score `mean((score - label)^2)`; 0 is perfect, 0.25 is a constant 0.5.
pub fn brier_score(labels: &[bool], scores: &[f32]) -> Result<Estimate> {
    validate(labels, scores)?;
    if labels.is_empty() {
        return Ok(Estimate::undefined("no samples"));
    }
    if not_probabilities(scores) {
        return Ok(Estimate::undefined(
            "scores are not probabilities in [0, 1]",
        ));
    }
    let sum: f64 = labels
        .iter()
        .zip(scores)
        .map(|(&y, &s)| (f64::from(s) - if y { 1.0 } else { 0.0 }).powi(2))
        .sum();
    Ok(Estimate::point(sum / labels.len() as f64))
}

/// Reliability bins and ECE (module docs), plus the Brier score.
pub fn calibration(labels: &[bool], scores: &[f32]) -> Result<Calibration> {
    let brier = brier_score(labels, scores)?;
    let mut count = [0u64; N_BINS];
    let mut sum_s = [0.0f64; N_BINS];
    let mut sum_y = [0.0f64; N_BINS];
    let valid = !labels.is_empty() && !not_probabilities(scores);
    if valid {
        for (&y, &s) in labels.iter().zip(scores) {
            let b = ((f64::from(s) * N_BINS as f64) as usize).min(N_BINS - 1);
            count[b] += 1;
            sum_s[b] += f64::from(s);
            sum_y[b] += if y { 1.0 } else { 0.0 };
        }
    }
    let bins: Vec<ReliabilityBin> = (0..N_BINS)
        .map(|b| {
            let n = count[b] as f64;
            ReliabilityBin {
                lower: b as f64 / N_BINS as f64,
                upper: (b + 1) as f64 / N_BINS as f64,
                count: count[b],
                mean_score: (n > 0.0).then(|| sum_s[b] / n),
                fraction_positive: (n > 0.0).then(|| sum_y[b] / n),
            }
        })
        .collect();
    let ece = if valid {
        let n = labels.len() as f64;
        let e: f64 = bins
            .iter()
            .filter_map(|b| Some(b.count as f64 / n * (b.mean_score? - b.fraction_positive?).abs()))
            .sum();
        Estimate::point(e)
    } else {
        // Same reason as the Brier score: no samples, or scores outside [0, 1].
        Estimate::undefined(brier.note.clone().unwrap_or_default())
    };
    Ok(Calibration { brier, ece, bins })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brier_by_hand() {
        // (0.9-1)^2 + (0.2-0)^2 + (0.6-0)^2 + (0.5-1)^2 = .01+.04+.36+.25 = .66 -> /4 = .165
        let b = brier_score(&[true, false, false, true], &[0.9, 0.2, 0.6, 0.5]).unwrap();
        assert!((b.value.unwrap() - 0.165).abs() < 1e-7);
    }

    #[test]
    fn ece_by_hand() {
        // bin 1: scores .1,.1 labels 0,1 -> |0.1-0.5| * 2/5
        // bin 8: .85,.85 labels 1,1     -> |0.85-1| * 2/5
        // bin 9: 1.0 label 1            -> |1.0 - 1| * 1/5
        let labels = [false, true, true, true, true];
        let scores = [0.1, 0.1, 0.85, 0.85, 1.0];
        let c = calibration(&labels, &scores).unwrap();
        let expected = 0.4 * 0.4 + 0.4 * 0.15;
        assert!(
            (c.ece.value.unwrap() - expected).abs() < 1e-6,
            "{:?}",
            c.ece
        );
        assert_eq!(c.bins[9].count, 1);
        assert_eq!(c.bins[0].mean_score, None);
        assert_eq!(c.bins.len(), 10);
    }

    #[test]
    fn undefined_for_empty_or_non_probabilities() {
        let c = calibration(&[], &[]).unwrap();
        assert_eq!(c.ece.value, None);
        assert_eq!(c.brier.value, None);
        let c = calibration(&[true], &[1.5]).unwrap();
        assert_eq!(c.ece.value, None);
        assert!(c.ece.note.unwrap().contains("probabilities"));
    }
}
