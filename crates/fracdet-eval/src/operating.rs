//! Decision thresholds chosen on the validation set and stored with a model.
//!
//! A sample is called positive when `score >= threshold`. Candidate thresholds are the
//! distinct validation scores, so each rule's sensitivity/specificity on validation is
//! exactly achieved (not interpolated).

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, validate};
use crate::ranking::Ranking;

pub const DEFAULT_TARGET_SENSITIVITY: f64 = 0.90;
pub const DEFAULT_FIXED_THRESHOLD: f64 = 0.5;
/// Specificity of the "high specificity" point that `fracdet detect` reports beside the
/// high-sensitivity one (the two levels of a finding: "possible" and "likely").
pub const DEFAULT_TARGET_SPECIFICITY: f64 = 0.90;

/// One threshold with its validation sensitivity and specificity (`None` when the
/// validation set lacks that class).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub sensitivity: Option<f64>,
    pub specificity: Option<f64>,
}

/// The thresholds a model ships with. Serialised inside model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoints {
    /// A fixed threshold (default 0.5), evaluated on validation.
    pub fixed: OperatingPoint,
    /// Sensitivity the `target_sensitivity` point was asked to reach.
    pub target_sensitivity: f64,
    /// Highest threshold whose validation sensitivity is at least `target_sensitivity`;
    /// `None` without validation positives.
    pub at_target_sensitivity: Option<OperatingPoint>,
    /// Threshold maximising Youden's J = sensitivity + specificity - 1 (the highest such
    /// threshold on ties); `None` unless both classes are present.
    pub youden: Option<OperatingPoint>,
    /// Number of validation samples the points were chosen on.
    pub n_validation: usize,
    /// Specificity the `at_target_specificity` point was asked to keep.
    #[serde(default = "default_target_specificity")]
    pub target_specificity: f64,
    /// Lowest threshold whose validation specificity is at least `target_specificity`
    /// (the most sensitive point that keeps it), or just above every validation score when
    /// none does; `None` without validation negatives.
    /// Absent from files written before it existed.
    #[serde(default)]
    pub at_target_specificity: Option<OperatingPoint>,
    /// A box head's drawing threshold, chosen on the same validation split
    /// ([`crate::box_precision::choose_box_threshold`]); `None` for other models and for
    /// files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_threshold: Option<crate::box_precision::BoxThreshold>,
}

fn default_target_specificity() -> f64 {
    DEFAULT_TARGET_SPECIFICITY
}

impl OperatingPoints {
    /// [`choose_operating_points`] with threshold 0.5 and target sensitivity 0.90.
    pub fn choose_default(labels: &[bool], scores: &[f32]) -> Result<Self> {
        choose_operating_points(
            labels,
            scores,
            DEFAULT_FIXED_THRESHOLD,
            DEFAULT_TARGET_SENSITIVITY,
        )
    }
}

fn evaluate(labels: &[bool], scores: &[f32], threshold: f64) -> OperatingPoint {
    let cm = crate::confusion::ConfusionMatrix::from_scores(labels, scores, threshold);
    OperatingPoint {
        threshold,
        sensitivity: cm.value(crate::confusion::RatioMetric::Sensitivity),
        specificity: cm.value(crate::confusion::RatioMetric::Specificity),
    }
}

/// Chooses the three operating points on validation data.
pub fn choose_operating_points(
    labels: &[bool],
    scores: &[f32],
    fixed_threshold: f64,
    target_sensitivity: f64,
) -> Result<OperatingPoints> {
    validate(labels, scores)?;
    if !(0.0..=1.0).contains(&target_sensitivity) || !fixed_threshold.is_finite() {
        return Err(EvalError::InvalidParameter(format!(
            "target sensitivity {target_sensitivity} must be in [0, 1], fixed threshold finite"
        )));
    }
    let ranking = Ranking::new(scores);
    let mut counts = Vec::new();
    ranking.counts(labels, None, &mut counts);
    let total_pos: f64 = counts.iter().map(|g| g.pos).sum();
    let total_neg: f64 = counts.iter().map(|g| g.neg).sum();

    // Walk thresholds from high to low; sensitivity only grows, so the first threshold
    // reaching the target is the highest one. A relative epsilon absorbs 0.9 * 10 != 9.
    let mut at_target = None;
    let mut at_specificity = None;
    let mut youden: Option<(f64, f64)> = None; // (J, threshold)
    let (mut tp, mut fp) = (0.0, 0.0);
    for (g, c) in counts.iter().enumerate() {
        tp += c.pos;
        fp += c.neg;
        let t = ranking.thresholds[g];
        if total_pos > 0.0 && at_target.is_none() && tp / total_pos >= target_sensitivity - 1e-12 {
            at_target = Some(t);
        }
        // Specificity only falls as the threshold drops: keep the last one still meeting it.
        if total_neg > 0.0 && (total_neg - fp) / total_neg >= DEFAULT_TARGET_SPECIFICITY - 1e-12 {
            at_specificity = Some(t);
        }
        if total_pos > 0.0 && total_neg > 0.0 {
            let j = tp / total_pos + (total_neg - fp) / total_neg - 1.0;
            if youden.is_none_or(|(best, _)| j > best + 1e-15) {
                youden = Some((j, t));
            }
        }
    }
    Ok(OperatingPoints {
        fixed: evaluate(labels, scores, fixed_threshold),
        target_sensitivity,
        at_target_sensitivity: at_target.map(|t| evaluate(labels, scores, t)),
        youden: youden.map(|(_, t)| evaluate(labels, scores, t)),
        n_validation: labels.len(),
        target_specificity: DEFAULT_TARGET_SPECIFICITY,
        at_target_specificity: at_specificity
            .or_else(|| {
                // Even the top score belongs to too many negatives: only a threshold above
                // every validation score keeps the specificity (and calls nothing positive).
                let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                (total_neg > 0.0 && top.is_finite()).then(|| f64::from(top.next_up()))
            })
            .map(|t| evaluate(labels, scores, t)),
        box_threshold: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<bool>, Vec<f32>) {
        // Scores desc: .95+ .9+ .8- .7+ .6+ .4- .35+ .3- .2- .1-   (5 pos, 5 neg)
        let labels = vec![
            true, true, false, true, true, false, true, false, false, false,
        ];
        let scores = vec![0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.35, 0.3, 0.2, 0.1];
        (labels, scores)
    }

    #[test]
    fn target_sensitivity_is_highest_threshold_reaching_it() {
        let (l, s) = data();
        let op = choose_operating_points(&l, &s, 0.5, 0.8).unwrap();
        // sens 0.8 first reached at 0.6 (4 of 5 positives).
        let p = op.at_target_sensitivity.unwrap();
        assert_eq!(p.threshold, f64::from(0.6f32));
        assert_eq!(p.sensitivity, Some(0.8));
        assert_eq!(p.specificity, Some(0.8));
        let p90 = choose_operating_points(&l, &s, 0.5, 0.9)
            .unwrap()
            .at_target_sensitivity
            .unwrap();
        assert_eq!(p90.threshold, f64::from(0.35f32));
        assert_eq!(p90.sensitivity, Some(1.0));
    }

    #[test]
    fn target_specificity_is_lowest_threshold_keeping_it() {
        // 10 negatives at .05 .. .95 and one positive at .99: at threshold .95 one
        // negative is called positive (specificity 9/10); at .85 two are (8/10).
        let mut l = vec![false; 10];
        let mut s: Vec<f32> = (0..10).map(|i| 0.05 + 0.1 * i as f32).collect();
        l.push(true);
        s.push(0.99);
        let op = choose_operating_points(&l, &s, 0.5, 0.9).unwrap();
        let p = op.at_target_specificity.unwrap();
        assert_eq!(p.threshold, f64::from(s[9]));
        assert_eq!(p.specificity, Some(0.9));
        assert_eq!(p.sensitivity, Some(1.0));
        // Files written before the field existed still load.
        let mut json: serde_json::Value = serde_json::to_value(&op).unwrap();
        let obj = json.as_object_mut().unwrap();
        obj.remove("at_target_specificity");
        obj.remove("target_specificity");
        let old: OperatingPoints = serde_json::from_value(json).unwrap();
        assert!(old.at_target_specificity.is_none());
        assert_eq!(old.target_specificity, DEFAULT_TARGET_SPECIFICITY);
        // The top score is a negative's: no validation score keeps specificity 0.9 with 5
        // negatives, so the point sits just above every score.
        let op = choose_operating_points(
            &[false, true, false, false, false, false],
            &[0.9, 0.8, 0.3, 0.2, 0.1, 0.05],
            0.5,
            0.9,
        )
        .unwrap();
        let p = op.at_target_specificity.unwrap();
        assert!(p.threshold > 0.9 && p.threshold < 0.9001, "{}", p.threshold);
        assert_eq!((p.sensitivity, p.specificity), (Some(0.0), Some(1.0)));
    }

    #[test]
    fn youden_by_hand() {
        let (l, s) = data();
        // J at 0.6: .8 + .8 - 1 = .6; at 0.35: 1 + .6 - 1 = .6 (tie -> higher threshold);
        // at 0.9: .4 + 1 - 1 = .4.
        let op = choose_operating_points(&l, &s, 0.5, 0.9).unwrap();
        let y = op.youden.unwrap();
        assert_eq!(y.threshold, f64::from(0.6f32));
        assert_eq!(op.fixed.sensitivity, Some(0.8));
        let json = serde_json::to_string(&op).unwrap();
        let back: OperatingPoints = serde_json::from_str(&json).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn degenerate_validation_sets() {
        let op = choose_operating_points(&[false, false], &[0.2, 0.4], 0.5, 0.9).unwrap();
        assert!(op.at_target_sensitivity.is_none());
        assert!(op.youden.is_none());
        assert_eq!(op.fixed.sensitivity, None);
        let empty = OperatingPoints::choose_default(&[], &[]).unwrap();
        assert!(empty.youden.is_none());
        assert!(choose_operating_points(&[true], &[0.5], 0.5, 1.5).is_err());
    }
}
