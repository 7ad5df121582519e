//! Threshold metrics with 95% confidence intervals.
//!
//! # Interval rule
//! Each ratio metric gets a percentile interval from a stratified bootstrap
//! ([`BootstrapConfig`]). The bootstrap is replaced by a **Wilson score interval** on the
//! metric's own numerator/denominator when it is degenerate, i.e. when any of:
//! 1. the point estimate is exactly 0 or 1 (every replicate is then 0 or 1 too for
//!    sensitivity/specificity, and the percentile interval collapses to a point);
//! 2. the metric is undefined (empty denominator) in more than
//!    [`MAX_UNDEFINED_FRACTION`] of the replicates (PPV/NPV when few samples are called
//!    positive/negative);
//! 3. the percentile interval has zero width.
//!
//! The interval's `method` field says which was used and `note` says why. For F1 the
//! Wilson fallback treats 2TP out of 2TP + FP + FN as binomial; this is an approximation
//! (the counts are not independent trials) and is flagged in the note.

use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, StratifiedResampler};
use crate::ci::{percentile_interval, wilson};
use crate::confusion::{ConfusionMatrix, RatioMetric};
use crate::error::{EvalError, Result, validate};
use crate::estimate::Estimate;

/// Above this fraction of undefined replicates the bootstrap is called degenerate.
pub const MAX_UNDEFINED_FRACTION: f64 = 0.10;

/// All threshold metrics at one threshold (predicted positive when `score >= threshold`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    pub threshold: f64,
    pub confusion: ConfusionMatrix,
    pub accuracy: Estimate,
    pub sensitivity: Estimate,
    pub specificity: Estimate,
    pub precision: Estimate,
    pub npv: Estimate,
    pub f1: Estimate,
}

impl BinaryMetrics {
    pub fn get(&self, metric: RatioMetric) -> &Estimate {
        match metric {
            RatioMetric::Accuracy => &self.accuracy,
            RatioMetric::Sensitivity => &self.sensitivity,
            RatioMetric::Specificity => &self.specificity,
            RatioMetric::Precision => &self.precision,
            RatioMetric::Npv => &self.npv,
            RatioMetric::F1 => &self.f1,
        }
    }
}

fn undefined_reason(metric: RatioMetric) -> &'static str {
    match metric {
        RatioMetric::Accuracy => "no samples",
        RatioMetric::Sensitivity => "no positive samples",
        RatioMetric::Specificity => "no negative samples",
        RatioMetric::Precision => "no sample predicted positive at this threshold",
        RatioMetric::Npv => "no sample predicted negative at this threshold",
        RatioMetric::F1 => "no positive samples and none predicted positive",
    }
}

/// Confusion matrix and ratio metrics at `threshold`, each with a CI (see module docs).
///
/// `labels[i]` is true for a fracture; `scores[i]` is the model's probability (any finite
/// real works for threshold metrics). Errors only on mismatched lengths, non-finite scores
/// or an invalid `cfg`.
pub fn binary_metrics(
    labels: &[bool],
    scores: &[f32],
    threshold: f64,
    cfg: &BootstrapConfig,
) -> Result<BinaryMetrics> {
    validate(labels, scores)?;
    cfg.validate()?;
    if !threshold.is_finite() {
        return Err(EvalError::InvalidParameter(format!(
            "threshold must be finite, got {threshold}"
        )));
    }
    let confusion = ConfusionMatrix::from_scores(labels, scores, threshold);
    let pred: Vec<bool> = scores.iter().map(|&s| f64::from(s) >= threshold).collect();

    // replicates[m][b]: metric m in resample b (None when undefined there).
    let mut replicates: Vec<Vec<Option<f64>>> =
        vec![Vec::with_capacity(cfg.n_resamples); RatioMetric::ALL.len()];
    if confusion.total() > 0 {
        let resampler = StratifiedResampler::new(labels);
        let mut rng = cfg.rng();
        let mut w = Vec::new();
        for _ in 0..cfg.n_resamples {
            resampler.draw(&mut rng, &mut w);
            let cm = ConfusionMatrix::from_predictions_weighted(labels, &pred, &w);
            for (m, metric) in RatioMetric::ALL.iter().enumerate() {
                replicates[m].push(cm.value(*metric));
            }
        }
    }
    let est = |m: usize| estimate_ratio(&confusion, RatioMetric::ALL[m], &replicates[m], cfg.level);
    Ok(BinaryMetrics {
        threshold,
        confusion,
        accuracy: est(0),
        sensitivity: est(1),
        specificity: est(2),
        precision: est(3),
        npv: est(4),
        f1: est(5),
    })
}

/// Applies the interval rule of the module docs to one metric.
pub(crate) fn estimate_ratio(
    cm: &ConfusionMatrix,
    metric: RatioMetric,
    replicates: &[Option<f64>],
    level: f64,
) -> Estimate {
    let Some(value) = cm.value(metric) else {
        return Estimate::undefined(undefined_reason(metric));
    };
    let (num, den) = cm.fraction(metric);
    let wilson_with = |why: &str| {
        let mut note = format!("Wilson interval: {why}");
        if metric == RatioMetric::F1 {
            note.push_str(" (F1 treated as 2TP of 2TP+FP+FN, approximate)");
        }
        Estimate::point(value)
            .with_ci(wilson(num as f64, den as f64, level))
            .with_note(note)
    };
    if value == 0.0 || value == 1.0 {
        return wilson_with("point estimate is 0 or 1, bootstrap would collapse");
    }
    let mut defined: Vec<f64> = replicates.iter().flatten().copied().collect();
    let undefined = replicates.len() - defined.len();
    if replicates.is_empty() || undefined as f64 > MAX_UNDEFINED_FRACTION * replicates.len() as f64
    {
        return wilson_with("metric undefined in more than 10% of bootstrap resamples");
    }
    match percentile_interval(&mut defined, level) {
        Some(ci) if ci.width() > 0.0 => Estimate::point(value).with_ci(Some(ci)),
        _ => wilson_with("bootstrap interval has zero width"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::CiMethod;

    fn cfg() -> BootstrapConfig {
        BootstrapConfig {
            n_resamples: 1000,
            seed: 7,
            level: 0.95,
        }
    }

    #[test]
    fn point_values_and_bootstrap_intervals() {
        // 20 positives (15 caught), 30 negatives (24 correctly negative).
        let mut labels = vec![true; 20];
        labels.extend(vec![false; 30]);
        let mut scores = vec![0.9f32; 15];
        scores.extend(vec![0.1f32; 5]);
        scores.extend(vec![0.8f32; 6]);
        scores.extend(vec![0.2f32; 24]);
        let m = binary_metrics(&labels, &scores, 0.5, &cfg()).unwrap();
        assert_eq!(
            m.confusion,
            ConfusionMatrix {
                tp: 15,
                fn_: 5,
                fp: 6,
                tn: 24
            }
        );
        assert_eq!(m.sensitivity.value, Some(0.75));
        assert_eq!(m.specificity.value, Some(0.8));
        assert_eq!(m.precision.value, Some(15.0 / 21.0));
        assert_eq!(m.npv.value, Some(24.0 / 29.0));
        assert_eq!(m.accuracy.value, Some(39.0 / 50.0));
        assert_eq!(m.f1.value, Some(30.0 / 41.0));
        for metric in RatioMetric::ALL {
            let e = m.get(metric);
            let ci = e.ci.unwrap();
            assert_eq!(ci.method, CiMethod::Bootstrap, "{metric:?}");
            assert!(ci.contains(e.value.unwrap()), "{metric:?} {ci:?}");
            assert!(ci.width() > 0.05 && ci.width() < 0.6, "{metric:?} {ci:?}");
        }
        // Binomial SE of sensitivity: sqrt(.75*.25/20) = 0.0968 -> width about 0.38.
        let w = m.sensitivity.ci.unwrap().width();
        assert!((w - 0.38).abs() < 0.06, "{w}");
    }

    #[test]
    fn perfect_sensitivity_falls_back_to_wilson() {
        let labels = [true, true, true, false, false, false];
        let scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1];
        let m = binary_metrics(&labels, &scores, 0.5, &cfg()).unwrap();
        assert_eq!(m.sensitivity.value, Some(1.0));
        let ci = m.sensitivity.ci.unwrap();
        assert_eq!(ci.method, CiMethod::Wilson);
        // Wilson 3/3: lower = 3/(3 + 3.8415) = 0.4385.
        assert!((ci.lower - 0.4385).abs() < 1e-3, "{ci:?}");
        assert!(m.sensitivity.note.as_deref().unwrap().contains("Wilson"));
    }

    #[test]
    fn one_class_and_empty_inputs_are_defined() {
        let m = binary_metrics(&[false, false, false], &[0.1, 0.2, 0.3], 0.5, &cfg()).unwrap();
        assert_eq!(m.sensitivity.value, None);
        assert_eq!(m.sensitivity.note.as_deref(), Some("no positive samples"));
        assert_eq!(m.precision.value, None);
        assert_eq!(m.specificity.value, Some(1.0));
        assert_eq!(m.f1.value, None);
        let e = binary_metrics(&[], &[], 0.5, &cfg()).unwrap();
        assert_eq!(e.accuracy.value, None);
        assert!(e.accuracy.ci.is_none());
    }

    #[test]
    fn rare_predicted_positives_use_wilson_for_ppv() {
        // One predicted positive out of 40: PPV undefined in ~1/e of resamples.
        let mut labels = vec![true; 10];
        labels.extend(vec![false; 30]);
        let mut scores = vec![0.1f32; 40];
        scores[0] = 0.9;
        let m = binary_metrics(&labels, &scores, 0.5, &cfg()).unwrap();
        assert_eq!(m.precision.value, Some(1.0));
        assert_eq!(m.precision.ci.unwrap().method, CiMethod::Wilson);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(binary_metrics(&[true], &[0.1, 0.2], 0.5, &cfg()).is_err());
        assert!(binary_metrics(&[true], &[f32::NAN], 0.5, &cfg()).is_err());
        let bad = BootstrapConfig {
            n_resamples: 0,
            ..cfg()
        };
        assert!(binary_metrics(&[true], &[0.2], 0.5, &bad).is_err());
    }

    #[test]
    fn same_seed_same_interval() {
        let labels = [true, false, true, false, true, false, true, true];
        let scores = [0.9, 0.6, 0.4, 0.2, 0.7, 0.55, 0.8, 0.3];
        let a = binary_metrics(&labels, &scores, 0.5, &cfg()).unwrap();
        let b = binary_metrics(&labels, &scores, 0.5, &cfg()).unwrap();
        assert_eq!(a, b);
    }
}
