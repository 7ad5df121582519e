//! Paired bootstrap comparison of two models' AUROCs on the same samples.

use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, StratifiedResampler};
use crate::ci::percentile_interval;
use crate::error::{EvalError, Result, validate};
use crate::estimate::Estimate;
use crate::ranking::{Ranking, auc_from_counts};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AurocComparison {
    pub auroc_a: Estimate,
    pub auroc_b: Estimate,
    /// AUROC(a) - AUROC(b) with a paired percentile-bootstrap CI.
    pub difference: Estimate,
    /// Two-sided bootstrap p-value for "no difference": twice the smaller fraction of
    /// replicate differences on either side of 0 (capped at 1; resolution 1/n_resamples).
    pub p_value: Option<f64>,
}

/// Paired stratified bootstrap: each replicate draws one set of sample indices and scores
/// both models on it, so the correlation between the models is preserved (narrower and
/// correct intervals compared with two independent bootstraps).
pub fn compare_auroc(
    labels: &[bool],
    scores_a: &[f32],
    scores_b: &[f32],
    cfg: &BootstrapConfig,
) -> Result<AurocComparison> {
    validate(labels, scores_a)?;
    validate(labels, scores_b).map_err(|e| match e {
        EvalError::LengthMismatch { expected, got, .. } => EvalError::LengthMismatch {
            what: "scores_b",
            expected,
            got,
        },
        other => other,
    })?;
    cfg.validate()?;
    let (ra, rb) = (Ranking::new(scores_a), Ranking::new(scores_b));
    let mut counts = Vec::new();
    ra.counts(labels, None, &mut counts);
    let a = auc_from_counts(&counts);
    rb.counts(labels, None, &mut counts);
    let b = auc_from_counts(&counts);
    let (Some(a), Some(b)) = (a, b) else {
        let why = "AUROC needs at least one positive and one negative sample";
        return Ok(AurocComparison {
            auroc_a: Estimate::undefined(why),
            auroc_b: Estimate::undefined(why),
            difference: Estimate::undefined(why),
            p_value: None,
        });
    };
    let resampler = StratifiedResampler::new(labels);
    let mut rng = cfg.rng();
    let mut w = Vec::new();
    let mut reps_a = Vec::with_capacity(cfg.n_resamples);
    let mut reps_b = Vec::with_capacity(cfg.n_resamples);
    let mut diffs = Vec::with_capacity(cfg.n_resamples);
    for _ in 0..cfg.n_resamples {
        resampler.draw(&mut rng, &mut w);
        ra.counts(labels, Some(&w), &mut counts);
        let va = auc_from_counts(&counts);
        rb.counts(labels, Some(&w), &mut counts);
        let vb = auc_from_counts(&counts);
        if let (Some(va), Some(vb)) = (va, vb) {
            reps_a.push(va);
            reps_b.push(vb);
            diffs.push(va - vb);
        }
    }
    let n = diffs.len() as f64;
    let below = diffs.iter().filter(|&&d| d <= 0.0).count() as f64;
    let above = diffs.iter().filter(|&&d| d >= 0.0).count() as f64;
    let p_value = (n > 0.0).then(|| (2.0 * below.min(above) / n).min(1.0));
    Ok(AurocComparison {
        auroc_a: Estimate::point(a).with_ci(percentile_interval(&mut reps_a, cfg.level)),
        auroc_b: Estimate::point(b).with_ci(percentile_interval(&mut reps_b, cfg.level)),
        difference: Estimate::point(a - b).with_ci(percentile_interval(&mut diffs, cfg.level)),
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_models_have_zero_difference() {
        let labels: Vec<bool> = (0..60).map(|i| i % 2 == 0).collect();
        let scores: Vec<f32> = (0..60).map(|i| ((i * 17) % 23) as f32 / 23.0).collect();
        let cfg = BootstrapConfig {
            n_resamples: 300,
            ..Default::default()
        };
        let c = compare_auroc(&labels, &scores, &scores, &cfg).unwrap();
        assert_eq!(c.difference.value, Some(0.0));
        let ci = c.difference.ci.unwrap();
        assert_eq!((ci.lower, ci.upper), (0.0, 0.0));
        assert_eq!(c.p_value, Some(1.0));
    }

    #[test]
    fn better_model_wins_by_hand_values() {
        // a separates perfectly (AUROC 1); b: pos {0.6,0.4,0.8,0.3}, neg {0.5,0.7,0.2,0.1}
        // wins: .6>{.5,.2,.1}=3, .4>{.2,.1}=2, .8>all=4, .3>{.2,.1}=2 -> 11/16.
        let labels = [true, true, true, true, false, false, false, false];
        let a = [0.9, 0.8, 0.85, 0.95, 0.1, 0.2, 0.3, 0.15];
        let b = [0.6, 0.4, 0.8, 0.3, 0.5, 0.7, 0.2, 0.1];
        let cfg = BootstrapConfig {
            n_resamples: 1000,
            ..Default::default()
        };
        let c = compare_auroc(&labels, &a, &b, &cfg).unwrap();
        assert_eq!(c.auroc_a.value, Some(1.0));
        assert_eq!(c.auroc_b.value, Some(11.0 / 16.0));
        assert!((c.difference.value.unwrap() - 5.0 / 16.0).abs() < 1e-12);
        let ci = c.difference.ci.unwrap();
        assert!(
            ci.lower >= 0.0 && ci.upper <= 1.0 && ci.contains(5.0 / 16.0),
            "{ci:?}"
        );
    }

    #[test]
    fn degenerate_and_invalid() {
        let cfg = BootstrapConfig::default();
        let c = compare_auroc(&[true, true], &[0.1, 0.2], &[0.3, 0.4], &cfg).unwrap();
        assert_eq!(c.difference.value, None);
        assert!(compare_auroc(&[true], &[0.1], &[0.3, 0.4], &cfg).is_err());
    }
}
