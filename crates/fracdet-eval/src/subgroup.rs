//! Per-subgroup metrics (body part, hardware present, view, ...).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auroc::auroc_with_ci;
use crate::binary::{BinaryMetrics, binary_metrics};
use crate::bootstrap::BootstrapConfig;
use crate::error::{EvalError, Result, validate};
use crate::estimate::Estimate;

/// Groups with fewer positives than this get a warning: their intervals are wide and
/// their sensitivity rests on a handful of cases.
pub const MIN_POSITIVES_PER_GROUP: u64 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupMetrics {
    pub group: String,
    pub n: usize,
    pub n_positive: u64,
    pub n_negative: u64,
    pub metrics: BinaryMetrics,
    pub auroc: Estimate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// One grouping variable and its groups, sorted by group key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupAnalysis {
    /// Name of the grouping variable, e.g. "body_part".
    pub attribute: String,
    pub groups: Vec<SubgroupMetrics>,
}

/// Metrics with CIs for each distinct key of `groups` (one key per sample; callers map a
/// missing value to a key such as "unknown"). Each group is bootstrapped with the same
/// `cfg` (and seed) independently.
pub fn subgroup_analysis<S: AsRef<str>>(
    attribute: &str,
    labels: &[bool],
    scores: &[f32],
    groups: &[S],
    threshold: f64,
    cfg: &BootstrapConfig,
) -> Result<SubgroupAnalysis> {
    validate(labels, scores)?;
    if groups.len() != labels.len() {
        return Err(EvalError::LengthMismatch {
            what: "group keys",
            expected: labels.len(),
            got: groups.len(),
        });
    }
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        members.entry(g.as_ref()).or_default().push(i);
    }
    let mut out = Vec::with_capacity(members.len());
    for (key, idx) in members {
        let l: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
        let s: Vec<f32> = idx.iter().map(|&i| scores[i]).collect();
        let metrics = binary_metrics(&l, &s, threshold, cfg)?;
        let auroc = auroc_with_ci(&l, &s, cfg)?;
        let n_positive = metrics.confusion.positives();
        let warning = (n_positive < MIN_POSITIVES_PER_GROUP).then(|| {
            format!(
                "only {n_positive} positive case(s) (< {MIN_POSITIVES_PER_GROUP}): \
                 estimates are unstable, interpret with caution"
            )
        });
        out.push(SubgroupMetrics {
            group: key.to_string(),
            n: l.len(),
            n_positive,
            n_negative: metrics.confusion.negatives(),
            metrics,
            auroc,
            warning,
        });
    }
    Ok(SubgroupAnalysis {
        attribute: attribute.to_string(),
        groups: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_warns() {
        let mut labels = Vec::new();
        let mut scores = Vec::new();
        let mut groups = Vec::new();
        // wrist: 25 positives (all caught), 25 negatives; ankle: 3 positives, 5 negatives.
        for i in 0..50 {
            labels.push(i < 25);
            scores.push(if i < 25 { 0.8 } else { 0.2 });
            groups.push("wrist");
        }
        for i in 0..8 {
            labels.push(i < 3);
            scores.push(if i < 2 { 0.9 } else { 0.1 });
            groups.push("ankle");
        }
        let cfg = BootstrapConfig {
            n_resamples: 200,
            ..Default::default()
        };
        let a = subgroup_analysis("body_part", &labels, &scores, &groups, 0.5, &cfg).unwrap();
        assert_eq!(a.groups.len(), 2);
        let ankle = &a.groups[0];
        assert_eq!(ankle.group, "ankle");
        assert_eq!((ankle.n, ankle.n_positive, ankle.n_negative), (8, 3, 5));
        assert!((ankle.metrics.sensitivity.value.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!(
            ankle
                .warning
                .as_deref()
                .unwrap()
                .contains("only 3 positive")
        );
        let wrist = &a.groups[1];
        assert_eq!(wrist.metrics.sensitivity.value, Some(1.0));
        assert!(wrist.warning.is_none());
        assert_eq!(wrist.auroc.value, Some(1.0));
    }

    #[test]
    fn group_length_mismatch_is_error() {
        let cfg = BootstrapConfig::default();
        assert!(subgroup_analysis("v", &[true], &[0.3], &["a", "b"], 0.5, &cfg).is_err());
    }
}
