//! Confusion matrix at a decision threshold and the ratios derived from it.

use serde::{Deserialize, Serialize};

use crate::estimate::ratio;

/// Counts at a threshold: a sample is predicted positive when `score >= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

impl ConfusionMatrix {
    /// Counts with unit weights.
    pub fn from_scores(labels: &[bool], scores: &[f32], threshold: f64) -> Self {
        let mut cm = Self::default();
        for (&y, &s) in labels.iter().zip(scores) {
            cm.add(y, f64::from(s) >= threshold, 1);
        }
        cm
    }

    /// Counts with bootstrap multiplicities.
    pub(crate) fn from_predictions_weighted(labels: &[bool], pred: &[bool], w: &[u32]) -> Self {
        let mut cm = Self::default();
        for ((&y, &p), &k) in labels.iter().zip(pred).zip(w) {
            cm.add(y, p, u64::from(k));
        }
        cm
    }

    fn add(&mut self, y: bool, p: bool, k: u64) {
        match (y, p) {
            (true, true) => self.tp += k,
            (true, false) => self.fn_ += k,
            (false, true) => self.fp += k,
            (false, false) => self.tn += k,
        }
    }

    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }
    pub fn negatives(&self) -> u64 {
        self.tn + self.fp
    }

    /// Numerator and denominator of `metric`, e.g. sensitivity = TP / (TP + FN).
    /// F1 is expressed as 2TP / (2TP + FP + FN).
    pub fn fraction(&self, metric: RatioMetric) -> (u64, u64) {
        let (tp, fp, tn, fn_) = (self.tp, self.fp, self.tn, self.fn_);
        match metric {
            RatioMetric::Accuracy => (tp + tn, self.total()),
            RatioMetric::Sensitivity => (tp, tp + fn_),
            RatioMetric::Specificity => (tn, tn + fp),
            RatioMetric::Precision => (tp, tp + fp),
            RatioMetric::Npv => (tn, tn + fn_),
            RatioMetric::F1 => (2 * tp, 2 * tp + fp + fn_),
        }
    }

    /// The metric value, `None` when its denominator is zero.
    pub fn value(&self, metric: RatioMetric) -> Option<f64> {
        let (num, den) = self.fraction(metric);
        ratio(num as f64, den as f64)
    }
}

/// The threshold metrics, each a ratio of confusion-matrix counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioMetric {
    Accuracy,
    /// Recall, true-positive rate.
    Sensitivity,
    /// True-negative rate.
    Specificity,
    /// Positive predictive value.
    Precision,
    /// Negative predictive value.
    Npv,
    F1,
}

impl RatioMetric {
    pub const ALL: [RatioMetric; 6] = [
        RatioMetric::Accuracy,
        RatioMetric::Sensitivity,
        RatioMetric::Specificity,
        RatioMetric::Precision,
        RatioMetric::Npv,
        RatioMetric::F1,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RatioMetric::Accuracy => "accuracy",
            RatioMetric::Sensitivity => "sensitivity",
            RatioMetric::Specificity => "specificity",
            RatioMetric::Precision => "precision",
            RatioMetric::Npv => "npv",
            RatioMetric::F1 => "f1",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ratios_by_hand() {
        // threshold 0.5: preds = [1,1,0,0,1,0]; labels = [1,1,1,0,0,0]
        let labels = [true, true, true, false, false, false];
        let scores = [0.9, 0.5, 0.4, 0.3, 0.7, 0.1];
        let cm = ConfusionMatrix::from_scores(&labels, &scores, 0.5);
        assert_eq!((cm.tp, cm.fn_, cm.fp, cm.tn), (2, 1, 1, 2));
        assert_eq!(cm.value(RatioMetric::Accuracy), Some(4.0 / 6.0));
        assert_eq!(cm.value(RatioMetric::Sensitivity), Some(2.0 / 3.0));
        assert_eq!(cm.value(RatioMetric::Specificity), Some(2.0 / 3.0));
        assert_eq!(cm.value(RatioMetric::Precision), Some(2.0 / 3.0));
        assert_eq!(cm.value(RatioMetric::Npv), Some(2.0 / 3.0));
        assert_eq!(cm.value(RatioMetric::F1), Some(4.0 / 6.0));
    }

    #[test]
    fn empty_denominators_are_none() {
        let cm = ConfusionMatrix::from_scores(&[false, false], &[0.1, 0.2], 0.5);
        assert_eq!(cm.value(RatioMetric::Sensitivity), None);
        assert_eq!(cm.value(RatioMetric::Precision), None);
        assert_eq!(cm.value(RatioMetric::Specificity), Some(1.0));
        assert_eq!(cm.value(RatioMetric::F1), None);
        let empty = ConfusionMatrix::from_scores(&[], &[], 0.5);
        assert_eq!(empty.value(RatioMetric::Accuracy), None);
    }
}
