//! ROC and precision–recall curves, average precision, and a bootstrap ROC band.

use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, StratifiedResampler};
use crate::ci::quantile_sorted;
use crate::error::{Result, validate};
use crate::estimate::Estimate;
use crate::ranking::{GroupCount, Ranking, roc_points, tpr_on_grid};

/// ROC polyline. `thresholds[k]` is the score at or above which vertex `k` is reached;
/// the first vertex (0, 0) predicts nothing positive and has `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<Option<f64>>,
}

/// ROC curve, `None` when either class is empty.
pub fn roc_curve(labels: &[bool], scores: &[f32]) -> Result<Option<RocCurve>> {
    validate(labels, scores)?;
    let ranking = Ranking::new(scores);
    let mut counts = Vec::new();
    ranking.counts(labels, None, &mut counts);
    Ok(roc_points(&counts).map(|pts| RocCurve {
        fpr: pts.iter().map(|p| p.0).collect(),
        tpr: pts.iter().map(|p| p.1).collect(),
        thresholds: std::iter::once(None)
            .chain(ranking.thresholds.iter().map(|&t| Some(t)))
            .collect(),
    }))
}

/// Pointwise bootstrap band of the ROC: at each FPR of `fpr` (evenly spaced on [0, 1]),
/// percentile interval of the replicate TPRs (vertical averaging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocBand {
    pub fpr: Vec<f64>,
    pub tpr_lower: Vec<f64>,
    pub tpr_upper: Vec<f64>,
    pub level: f64,
}

/// Bootstrap ROC band on `grid_points` (>= 2) FPR values; `None` when a class is empty.
pub fn roc_band(
    labels: &[bool],
    scores: &[f32],
    grid_points: usize,
    cfg: &BootstrapConfig,
) -> Result<Option<RocBand>> {
    validate(labels, scores)?;
    cfg.validate()?;
    let n_pos = labels.iter().filter(|&&y| y).count();
    if n_pos == 0 || n_pos == labels.len() {
        return Ok(None);
    }
    let grid_points = grid_points.max(2);
    let grid: Vec<f64> = (0..grid_points)
        .map(|k| k as f64 / (grid_points - 1) as f64)
        .collect();
    let ranking = Ranking::new(scores);
    let resampler = StratifiedResampler::new(labels);
    let mut rng = cfg.rng();
    let (mut w, mut counts, mut row) = (Vec::new(), Vec::new(), Vec::new());
    // per_grid[k]: replicate TPRs at grid[k].
    let mut per_grid = vec![Vec::with_capacity(cfg.n_resamples); grid_points];
    for _ in 0..cfg.n_resamples {
        resampler.draw(&mut rng, &mut w);
        ranking.counts(labels, Some(&w), &mut counts);
        if let Some(pts) = roc_points(&counts) {
            tpr_on_grid(&pts, &grid, &mut row);
            for (k, &v) in row.iter().enumerate() {
                per_grid[k].push(v);
            }
        }
    }
    let alpha = 1.0 - cfg.level;
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    for reps in &mut per_grid {
        reps.sort_by(f64::total_cmp);
        lo.push(quantile_sorted(reps, alpha / 2.0).unwrap_or(0.0));
        hi.push(quantile_sorted(reps, 1.0 - alpha / 2.0).unwrap_or(1.0));
    }
    Ok(Some(RocBand {
        fpr: grid,
        tpr_lower: lo,
        tpr_upper: hi,
        level: cfg.level,
    }))
}

/// Precision–recall points, one per distinct threshold (descending), starting from the
/// highest threshold. Precision is always defined there (at least one sample is called).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    pub recall: Vec<f64>,
    pub precision: Vec<f64>,
    pub thresholds: Vec<f64>,
    /// Fraction of positives: the precision of a random classifier.
    pub prevalence: f64,
}

fn pr_from_counts(counts: &[GroupCount], thresholds: &[f64]) -> Option<PrCurve> {
    let total_pos: f64 = counts.iter().map(|g| g.pos).sum();
    let total: f64 = counts.iter().map(|g| g.pos + g.neg).sum();
    if total_pos <= 0.0 {
        return None;
    }
    let (mut tp, mut called) = (0.0, 0.0);
    let mut c = PrCurve {
        recall: Vec::new(),
        precision: Vec::new(),
        thresholds: thresholds.to_vec(),
        prevalence: total_pos / total,
    };
    for g in counts {
        tp += g.pos;
        called += g.pos + g.neg;
        c.recall.push(tp / total_pos);
        c.precision.push(tp / called);
    }
    Some(c)
}

/// Precision–recall curve, `None` without positives.
pub fn pr_curve(labels: &[bool], scores: &[f32]) -> Result<Option<PrCurve>> {
    validate(labels, scores)?;
    let ranking = Ranking::new(scores);
    let mut counts = Vec::new();
    ranking.counts(labels, None, &mut counts);
    Ok(pr_from_counts(&counts, &ranking.thresholds))
}

/// Average precision, `AP = sum_k (R_k - R_{k-1}) P_k` over distinct thresholds (the
/// step-wise, non-interpolated definition used by scikit-learn; tied scores form one
/// step). Undefined without positives.
pub fn average_precision(labels: &[bool], scores: &[f32]) -> Result<Estimate> {
    Ok(match pr_curve(labels, scores)? {
        None => Estimate::undefined("average precision needs at least one positive sample"),
        Some(c) => {
            let mut prev_r = 0.0;
            let mut ap = 0.0;
            for (r, p) in c.recall.iter().zip(&c.precision) {
                ap += (r - prev_r) * p;
                prev_r = *r;
            }
            Estimate::point(ap)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_vertices_by_hand() {
        let labels = [true, false, true, false];
        let scores = [0.9, 0.7, 0.7, 0.1];
        let c = roc_curve(&labels, &scores).unwrap().unwrap();
        assert_eq!(c.fpr, vec![0.0, 0.0, 0.5, 1.0]);
        assert_eq!(c.tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(c.thresholds[0], None);
        assert_eq!(c.thresholds[2], Some(f64::from(0.7f32)));
        assert!(roc_curve(&[true], &[0.2]).unwrap().is_none());
    }

    #[test]
    fn average_precision_by_hand() {
        // desc: 0.9(+), 0.8(-), 0.7(+), 0.1(-): P at recalls .5, 1 = 1, 2/3 -> AP = 0.8333.
        let labels = [true, false, true, false];
        let scores = [0.9, 0.8, 0.7, 0.1];
        let ap = average_precision(&labels, &scores).unwrap().value.unwrap();
        assert!((ap - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
        // All tied: one step, AP = prevalence.
        let tied = average_precision(&labels, &[0.5; 4])
            .unwrap()
            .value
            .unwrap();
        assert!((tied - 0.5).abs() < 1e-12);
        assert_eq!(average_precision(&[false], &[0.3]).unwrap().value, None);
        assert_eq!(average_precision(&[], &[]).unwrap().value, None);
    }

    #[test]
    fn band_brackets_curve() {
        let labels: Vec<bool> = (0..120).map(|i| i % 3 == 0).collect();
        let scores: Vec<f32> = (0..120)
            .map(|i| {
                if i % 3 == 0 {
                    0.3 + (i % 7) as f32 * 0.1
                } else {
                    (i % 6) as f32 * 0.1
                }
            })
            .collect();
        let cfg = BootstrapConfig {
            n_resamples: 300,
            ..Default::default()
        };
        let band = roc_band(&labels, &scores, 21, &cfg).unwrap().unwrap();
        assert_eq!(band.fpr.len(), 21);
        for k in 0..21 {
            assert!(band.tpr_lower[k] <= band.tpr_upper[k]);
        }
        assert_eq!(band.tpr_upper[20], 1.0);
        assert!(band.tpr_upper[5] - band.tpr_lower[5] > 0.0);
    }
}
