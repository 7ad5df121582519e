//! Localisation metrics: heatmap peak hit rate, box recall at an IoU threshold, and FROC.
//!
//! All coordinates are pixels of the same image space as the ground-truth boxes
//! ([`fracdet_io::BBox`], continuous edges).

use fracdet_io::BBox;
use serde::{Deserialize, Serialize};

use crate::ci::wilson;
use crate::error::{EvalError, Result};
use crate::estimate::Estimate;

/// Default IoU at which a predicted box counts as finding a ground-truth box. 0.3 rather
/// than detection's usual 0.5 because fracture extents are ill-defined and annotators
/// draw boxes of very different tightness.
pub const DEFAULT_IOU: f32 = 0.3;

/// False-positive rates (per image) at which FROC sensitivity is reported.
pub const FROC_FP_RATES: [f64; 3] = [0.5, 1.0, 2.0];

/// A predicted box with its confidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredBox {
    pub bbox: BBox,
    pub score: f32,
}

/// Everything known about one image for localisation scoring.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LocalisationCase {
    /// Ground-truth fracture boxes (empty for a normal image).
    pub truth: Vec<BBox>,
    /// Location `(x, y)` of the heatmap maximum, if the model produced a heatmap.
    pub peak: Option<(f32, f32)>,
    /// Predicted boxes, any number, any scores.
    pub predicted: Vec<ScoredBox>,
}

/// One FROC vertex: at `threshold`, lesion sensitivity vs mean false positives per image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrocPoint {
    pub threshold: f64,
    pub fp_per_image: f64,
    pub sensitivity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalisationMetrics {
    /// Fraction of images with ground truth whose heatmap peak lies in a true box
    /// (Wilson CI over images). Images without a peak count as misses.
    pub hit_rate: Estimate,
    /// Fraction of ground-truth boxes overlapped at `iou >= iou_threshold` by any predicted
    /// box regardless of score (Wilson CI over boxes; boxes of one image are treated as
    /// independent, which makes the interval slightly optimistic).
    pub box_recall: Estimate,
    pub iou_threshold: f32,
    /// FROC curve, one vertex per distinct predicted score (descending).
    pub froc: Vec<FrocPoint>,
    /// Sensitivity at [`FROC_FP_RATES`]: the highest sensitivity among vertices with at
    /// most that many FPs per image; `None` when no box was predicted or there is no
    /// ground truth.
    pub froc_at: Vec<(f64, Option<f64>)>,
    pub n_images: usize,
    pub n_truth_boxes: usize,
}

/// Computes all localisation metrics. `level` is the CI level (e.g. 0.95).
pub fn localisation_metrics(
    cases: &[LocalisationCase],
    iou_threshold: f32,
    level: f64,
) -> Result<LocalisationMetrics> {
    if !(iou_threshold > 0.0 && iou_threshold <= 1.0) {
        return Err(EvalError::InvalidParameter(format!(
            "IoU threshold must be in (0, 1], got {iou_threshold}"
        )));
    }
    // `index` counts predicted boxes across all cases, in order.
    if let Some((index, b)) = cases
        .iter()
        .flat_map(|c| &c.predicted)
        .enumerate()
        .find(|(_, b)| !b.score.is_finite())
    {
        return Err(EvalError::NonFiniteScore {
            index,
            value: f64::from(b.score),
        });
    }

    // Hit rate over images with ground truth.
    let with_truth: Vec<&LocalisationCase> = cases.iter().filter(|c| !c.truth.is_empty()).collect();
    let hits = with_truth
        .iter()
        .filter(|c| {
            c.peak
                .is_some_and(|(x, y)| c.truth.iter().any(|b| b.contains(x, y)))
        })
        .count();
    let hit_rate = proportion(
        hits,
        with_truth.len(),
        level,
        "no image has a ground-truth box",
    );

    // Box recall regardless of score.
    let n_truth: usize = cases.iter().map(|c| c.truth.len()).sum();
    let recalled: usize = cases
        .iter()
        .map(|c| {
            c.truth
                .iter()
                .filter(|t| c.predicted.iter().any(|p| p.bbox.iou(t) >= iou_threshold))
                .count()
        })
        .sum();
    let box_recall = proportion(recalled, n_truth, level, "no ground-truth boxes");

    let froc = froc_curve(cases, iou_threshold);
    let froc_at = recall_at_fp_rates(&froc);
    Ok(LocalisationMetrics {
        hit_rate,
        box_recall,
        iou_threshold,
        froc,
        froc_at,
        n_images: cases.len(),
        n_truth_boxes: n_truth,
    })
}

/// Sensitivity at each of [`FROC_FP_RATES`] false positives per image: the best vertex of
/// `froc` within that budget, 0 when every vertex is over it (a threshold above all scores
/// finds nothing and makes no false positive), `None` for an empty curve (no ground truth,
/// or no predicted box).
pub fn recall_at_fp_rates(froc: &[FrocPoint]) -> Vec<(f64, Option<f64>)> {
    FROC_FP_RATES
        .iter()
        .map(|&rate| {
            let best = froc
                .iter()
                .filter(|p| p.fp_per_image <= rate + 1e-12)
                .map(|p| p.sensitivity)
                .reduce(f64::max);
            (rate, best.or((!froc.is_empty()).then_some(0.0)))
        })
        .collect()
}

fn proportion(k: usize, n: usize, level: f64, empty_reason: &str) -> Estimate {
    if n == 0 {
        return Estimate::undefined(empty_reason);
    }
    Estimate::point(k as f64 / n as f64).with_ci(wilson(k as f64, n as f64, level))
}

/// FROC vertices. Lowering the threshold to each distinct predicted score: a ground-truth
/// box is found once any box at or above the threshold overlaps it at `iou_threshold`
/// (further boxes on an already found lesion are neither TP nor FP, the usual FROC
/// convention); a predicted box overlapping no ground truth is a false positive. FPs are
/// averaged over all images, normal ones included.
pub fn froc_curve(cases: &[LocalisationCase], iou_threshold: f32) -> Vec<FrocPoint> {
    let n_truth: usize = cases.iter().map(|c| c.truth.len()).sum();
    if cases.is_empty() || n_truth == 0 {
        return Vec::new();
    }
    // Every predicted box with the global ids of the truth boxes it matches.
    let mut offset = 0;
    let mut events: Vec<(f32, Vec<usize>)> = Vec::new();
    for c in cases {
        for p in &c.predicted {
            let matched = c
                .truth
                .iter()
                .enumerate()
                .filter(|(_, t)| p.bbox.iou(t) >= iou_threshold)
                .map(|(j, _)| offset + j)
                .collect();
            events.push((p.score, matched));
        }
        offset += c.truth.len();
    }
    events.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut found = vec![false; n_truth];
    let (mut n_found, mut fp) = (0usize, 0usize);
    let mut out = Vec::new();
    for (k, (score, matched)) in events.iter().enumerate() {
        if matched.is_empty() {
            fp += 1;
        }
        for &j in matched {
            if !found[j] {
                found[j] = true;
                n_found += 1;
            }
        }
        // Emit one vertex per tie group of scores.
        if events.get(k + 1).is_none_or(|next| next.0 != *score) {
            out.push(FrocPoint {
                threshold: f64::from(*score),
                fp_per_image: fp as f64 / cases.len() as f64,
                sensitivity: n_found as f64 / n_truth as f64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> BBox {
        BBox::new(x0, y0, x1, y1)
    }
    fn sb(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> ScoredBox {
        ScoredBox {
            bbox: b(x0, y0, x1, y1),
            score,
        }
    }

    fn cases() -> Vec<LocalisationCase> {
        vec![
            // Image 0: two fractures; peak inside first; one exact hit (0.9), one FP (0.8),
            // one box with IoU 0.25 on the second fracture (0.7: a miss -> FP).
            LocalisationCase {
                truth: vec![b(0., 0., 10., 10.), b(50., 50., 60., 60.)],
                peak: Some((5.0, 5.0)),
                predicted: vec![
                    sb(0., 0., 10., 10., 0.9),
                    sb(100., 100., 110., 110., 0.8),
                    sb(50., 50., 55., 55., 0.7),
                ],
            },
            // Image 1: one fracture, peak outside, found by a low-score box (0.3).
            LocalisationCase {
                truth: vec![b(20., 20., 30., 30.)],
                peak: Some((0.0, 0.0)),
                predicted: vec![sb(20., 20., 30., 29., 0.3)],
            },
            // Image 2: normal, one FP at 0.6.
            LocalisationCase {
                truth: vec![],
                peak: Some((1.0, 1.0)),
                predicted: vec![sb(0., 0., 5., 5., 0.6)],
            },
        ]
    }

    #[test]
    fn hit_rate_and_recall_by_hand() {
        let m = localisation_metrics(&cases(), DEFAULT_IOU, 0.95).unwrap();
        assert_eq!(m.hit_rate.value, Some(0.5)); // 1 of 2 images with truth
        // IoU(50..55 box, 50..60 box) = 25/100 = 0.25 < 0.3 -> 2 of 3 boxes recalled.
        assert!((m.box_recall.value.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.n_truth_boxes, 3);
        assert!(m.hit_rate.ci.unwrap().lower < 0.5);
    }

    #[test]
    fn froc_by_hand() {
        let m = localisation_metrics(&cases(), DEFAULT_IOU, 0.95).unwrap();
        let pts: Vec<(f64, f64)> = m
            .froc
            .iter()
            .map(|p| (p.fp_per_image, p.sensitivity))
            .collect();
        let third = 1.0 / 3.0;
        let expected = [
            (0.0, third),
            (third, third),
            (2.0 * third, third),
            (1.0, third),
            (1.0, 2.0 * third),
        ];
        assert_eq!(pts.len(), expected.len());
        for (p, e) in pts.iter().zip(expected) {
            assert!(
                (p.0 - e.0).abs() < 1e-12 && (p.1 - e.1).abs() < 1e-12,
                "{pts:?}"
            );
        }
        assert_eq!(m.froc_at[0], (0.5, Some(third)));
        assert_eq!(m.froc_at[1], (1.0, Some(2.0 * third)));
        assert_eq!(m.froc_at[2], (2.0, Some(2.0 * third)));
    }

    #[test]
    fn degenerate_inputs() {
        let m = localisation_metrics(&[], DEFAULT_IOU, 0.95).unwrap();
        assert_eq!(m.hit_rate.value, None);
        assert_eq!(m.box_recall.value, None);
        assert!(m.froc.is_empty());
        assert_eq!(m.froc_at[0].1, None);
        // Truth but no predictions and no peak: zeros, not undefined.
        let c = vec![LocalisationCase {
            truth: vec![b(0., 0., 1., 1.)],
            ..Default::default()
        }];
        let m = localisation_metrics(&c, DEFAULT_IOU, 0.95).unwrap();
        assert_eq!(m.hit_rate.value, Some(0.0));
        assert_eq!(m.box_recall.value, Some(0.0));
        assert_eq!(m.froc_at[0].1, None);
        assert!(localisation_metrics(&c, 0.0, 0.95).is_err());
    }
}
