//! Detection metrics over drawn boxes: average precision at an IoU (COCO-style, all boxes
//! pooled) and how large drawn boxes are against the true ones.
//!
//! The inputs are [`LocalisationCase`]s, as for FROC ([`crate::localisation`]): per image
//! its true boxes and every box the detector proposes, with scores.

use serde::{Deserialize, Serialize};

use crate::localisation::{LocalisationCase, froc_curve, recall_at_fp_rates};

/// Recall points of COCO's interpolated AP: 0, 0.01, …, 1.
const RECALL_POINTS: usize = 101;

/// Average precision at `iou` over all images, COCO-style: detections of all images sorted
/// by score (ties in input order); each is a true positive when it overlaps a not yet
/// matched true box of its image at IoU ≥ `iou` (the best such box), else a false positive;
/// the precision envelope (the best precision at any recall at least r) is averaged over
/// 101 recall points. `None` without true boxes. Images without true boxes count through
/// their false positives.
pub fn average_precision_at(cases: &[LocalisationCase], iou: f32) -> Option<f64> {
    let n_truth: usize = cases.iter().map(|c| c.truth.len()).sum();
    if n_truth == 0 {
        return None;
    }
    let mut detections: Vec<(f32, usize, usize)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.predicted
                .iter()
                .enumerate()
                .map(move |(k, p)| (p.score, i, k))
        })
        .collect();
    // Stable: equal scores keep input order.
    detections.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut matched: Vec<Vec<bool>> = cases.iter().map(|c| vec![false; c.truth.len()]).collect();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve: Vec<(f64, f64)> = Vec::with_capacity(detections.len());
    for (_, i, k) in detections {
        let p = &cases[i].predicted[k].bbox;
        let best = cases[i]
            .truth
            .iter()
            .enumerate()
            .filter(|(j, _)| !matched[i][*j])
            .map(|(j, t)| (j, p.iou(t)))
            .filter(|(_, v)| *v >= iou)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((j, _)) => {
                matched[i][j] = true;
                tp += 1;
            }
            None => fp += 1,
        }
        curve.push((tp as f64 / n_truth as f64, tp as f64 / (tp + fp) as f64));
    }
    // Precision envelope from the right.
    let mut envelope = curve.clone();
    for k in (0..envelope.len().saturating_sub(1)).rev() {
        envelope[k].1 = envelope[k].1.max(envelope[k + 1].1);
    }
    let mut sum = 0.0;
    for r in 0..RECALL_POINTS {
        let recall = r as f64 / (RECALL_POINTS - 1) as f64;
        // The first vertex reaching this recall carries the envelope's precision there.
        if let Some(&(_, p)) = envelope.iter().find(|(rc, _)| *rc >= recall - 1e-12) {
            sum += p;
        }
    }
    Some(sum / RECALL_POINTS as f64)
}

/// Median of drawn box area over true box area: for every box scored at least `min_score`
/// that overlaps a true box of its image, its area over that of the true box it overlaps
/// most (IoU). 1 is a box of the fracture's size; the old CAM boxes measured about 92.
/// `None` when no drawn box overlaps a true one.
pub fn median_area_ratio(cases: &[LocalisationCase], min_score: f32) -> Option<f64> {
    let mut ratios: Vec<f64> = cases
        .iter()
        .flat_map(|c| {
            c.predicted
                .iter()
                .filter(move |p| p.score >= min_score)
                .filter_map(move |p| {
                    c.truth
                        .iter()
                        .map(|t| (t, p.bbox.iou(t)))
                        .filter(|(t, v)| *v > 0.0 && t.area() > 0.0)
                        .max_by(|a, b| a.1.total_cmp(&b.1))
                        .map(|(t, _)| f64::from(p.bbox.area()) / f64::from(t.area()))
                })
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let m = ratios.len();
    Some(if m % 2 == 1 {
        ratios[m / 2]
    } else {
        (ratios[m / 2 - 1] + ratios[m / 2]) / 2.0
    })
}

/// Box recall at one IoU at each of [`crate::localisation::FROC_FP_RATES`] false-positive
/// boxes per image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallAtFp {
    pub iou: f32,
    /// (false positives per image, recall); recall `None` when no box was drawn.
    pub at: Vec<(f64, Option<f64>)>,
}

/// What the drawn boxes are worth as detections, over every image (normal images count
/// through their false positives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionMetrics {
    /// Average precision at IoU 0.5, COCO-style ([`average_precision_at`]).
    pub ap50: Option<f64>,
    /// FROC recall at IoU 0.3 and 0.5.
    pub recall: Vec<RecallAtFp>,
    /// Median drawn / true area of the boxes drawn at `drawn_at` ([`median_area_ratio`]).
    pub median_area_ratio: Option<f64>,
    /// The box score at which boxes are drawn (the validation-chosen box threshold, else
    /// the run's region threshold).
    pub drawn_at: f32,
    pub n_images: usize,
    pub n_truth_boxes: usize,
}

/// [`DetectionMetrics`] of `cases`, boxes drawn at scores `>= drawn_at`.
pub fn detection_metrics(cases: &[LocalisationCase], drawn_at: f32) -> DetectionMetrics {
    let recall = [0.3f32, 0.5]
        .into_iter()
        .map(|iou| {
            let at = recall_at_fp_rates(&froc_curve(cases, iou));
            RecallAtFp { iou, at }
        })
        .collect();
    DetectionMetrics {
        ap50: average_precision_at(cases, 0.5),
        recall,
        median_area_ratio: median_area_ratio(cases, drawn_at),
        drawn_at,
        n_images: cases.len(),
        n_truth_boxes: cases.iter().map(|c| c.truth.len()).sum(),
    }
}

/// Drawn boxes per image on validation are budgeted to this many false positives: a
/// reader shown many wrong boxes stops looking at them (at 1 FP per image the val recall
/// of the first box detector was only 0.04 higher than at 0.5).
pub const BOX_FP_BUDGET: f64 = 0.5;
/// A drawn box counts as finding a fracture at this IoU when choosing the threshold (the
/// FROC convention of [`detection_metrics`]).
pub const BOX_THRESHOLD_IOU: f32 = 0.3;

/// The box score a box head's boxes are drawn at, chosen on validation, and what it gave
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxThreshold {
    pub score: f32,
    /// Mean false-positive boxes per image at `score`, normal images included.
    pub fp_per_image: f64,
    /// Fraction of true boxes found at IoU [`BOX_THRESHOLD_IOU`].
    pub recall: f64,
}

impl BoxThreshold {
    /// One line for the user: where boxes are drawn and what that gave on validation.
    pub fn describe(&self) -> String {
        format!(
            "boxes drawn at score >= {:.3} (chosen on val: {:.2} false-positive boxes per \
             image, box recall {:.3} at IoU {BOX_THRESHOLD_IOU})",
            self.score, self.fp_per_image, self.recall
        )
    }
}

/// The lowest box score whose FROC vertex (IoU [`BOX_THRESHOLD_IOU`]) stays within
/// `fp_budget` false positives per image: the most sensitive drawing threshold the budget
/// allows. `None` without true boxes or predicted boxes, or when even the top-scoring box is
/// over the budget.
pub fn choose_box_threshold(cases: &[LocalisationCase], fp_budget: f64) -> Option<BoxThreshold> {
    froc_curve(cases, BOX_THRESHOLD_IOU)
        .into_iter()
        .filter(|p| p.fp_per_image <= fp_budget + 1e-12)
        .min_by(|a, b| a.threshold.total_cmp(&b.threshold))
        .map(|p| BoxThreshold {
            score: p.threshold as f32,
            fp_per_image: p.fp_per_image,
            recall: p.sensitivity,
        })
}

impl DetectionMetrics {
    /// Recall at `iou` with at most `fp` false positives per image, if computed.
    pub fn recall_at(&self, iou: f32, fp: f64) -> Option<f64> {
        self.recall
            .iter()
            .find(|r| (r.iou - iou).abs() < 1e-6)?
            .at
            .iter()
            .find(|(rate, _)| (*rate - fp).abs() < 1e-9)?
            .1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localisation::ScoredBox;
    use fracdet_io::BBox;

    fn b(x: f32, y: f32, side: f32) -> BBox {
        BBox::new(x, y, x + side, y + side)
    }

    fn scored(bbox: BBox, score: f32) -> ScoredBox {
        ScoredBox { bbox, score }
    }

    fn case(truth: Vec<BBox>, predicted: Vec<ScoredBox>) -> LocalisationCase {
        LocalisationCase {
            truth,
            peak: None,
            predicted,
        }
    }

    #[test]
    fn perfect_and_hand_computed_precision() {
        let perfect = [case(
            vec![b(0.0, 0.0, 10.0)],
            vec![scored(b(0.0, 0.0, 10.0), 0.9)],
        )];
        assert_eq!(average_precision_at(&perfect, 0.5), Some(1.0));
        // Two true boxes; detections by score: TP, FP, TP. Curve (recall, precision):
        // (0.5, 1), (0.5, 0.5), (1, 2/3). Envelope: 1 up to recall 0.5, 2/3 beyond:
        // 51 points at 1 and 50 at 2/3.
        let cases = [
            case(
                vec![b(0.0, 0.0, 10.0), b(50.0, 50.0, 10.0)],
                vec![
                    scored(b(0.0, 0.0, 10.0), 0.9),
                    scored(b(50.0, 50.0, 10.0), 0.5),
                ],
            ),
            case(vec![], vec![scored(b(0.0, 0.0, 10.0), 0.7)]),
        ];
        let want = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
        let got = average_precision_at(&cases, 0.5).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // A duplicate on an already matched box is a false positive.
        let dup = [case(
            vec![b(0.0, 0.0, 10.0)],
            vec![
                scored(b(0.0, 0.0, 10.0), 0.9),
                scored(b(1.0, 0.0, 10.0), 0.8),
            ],
        )];
        assert_eq!(average_precision_at(&dup, 0.5), Some(1.0));
        // A miss at IoU 0.5 that counts at 0.3: 5x10 shifted by 5 has IoU 1/3.
        let shifted = [case(
            vec![b(0.0, 0.0, 10.0)],
            vec![scored(b(5.0, 0.0, 10.0), 0.9)],
        )];
        assert_eq!(average_precision_at(&shifted, 0.5), Some(0.0));
        assert_eq!(average_precision_at(&shifted, 0.3), Some(1.0));
        assert_eq!(average_precision_at(&[case(vec![], vec![])], 0.5), None);
    }

    #[test]
    fn area_ratio_uses_the_best_overlapping_truth() {
        let cases = [
            case(
                vec![b(0.0, 0.0, 10.0), b(100.0, 100.0, 40.0)],
                vec![
                    scored(b(0.0, 0.0, 20.0), 0.9),     // 400 / 100 = 4
                    scored(b(100.0, 100.0, 20.0), 0.8), // 400 / 1600 = 0.25
                    scored(b(300.0, 300.0, 5.0), 0.9),  // overlaps nothing
                    scored(b(0.0, 0.0, 10.0), 0.1),     // under the score
                ],
            ),
            case(
                vec![b(0.0, 0.0, 10.0)],
                vec![scored(b(0.0, 0.0, 10.0), 0.6)],
            ), // 1
        ];
        assert_eq!(median_area_ratio(&cases, 0.5), Some(1.0));
        assert_eq!(median_area_ratio(&cases, 0.85), Some(4.0));
        assert_eq!(median_area_ratio(&cases, 0.95), None);
        // At IoU 0.3 the two larger boxes (IoU 0.25) and the 5-px one are false positives:
        // the two scored 0.9 already make 1 per image with nothing found; lowering to 0.1
        // finds 2 of 3 truths at 1.5 false positives per image.
        let m = detection_metrics(&cases, 0.5);
        assert_eq!(m.n_truth_boxes, 3);
        assert_eq!(m.recall_at(0.3, 1.0), Some(0.0));
        assert_eq!(m.recall_at(0.3, 2.0), Some(2.0 / 3.0));
        assert_eq!(m.median_area_ratio, Some(1.0));
        assert!(m.recall_at(0.4, 1.0).is_none());
    }

    #[test]
    fn box_threshold_is_the_lowest_score_within_the_false_positive_budget() {
        // Two images, one true box each. Boxes by score: 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP,
        // 0.5 FP: FP per image 0, 0.5, 0.5, 1, 1.5 at those thresholds.
        let cases = [
            case(
                vec![b(0.0, 0.0, 10.0)],
                vec![
                    scored(b(0.0, 0.0, 10.0), 0.9),
                    scored(b(50.0, 50.0, 10.0), 0.8),
                    scored(b(80.0, 80.0, 10.0), 0.5),
                ],
            ),
            case(
                vec![b(20.0, 20.0, 10.0)],
                vec![
                    scored(b(20.0, 20.0, 10.0), 0.7),
                    scored(b(60.0, 0.0, 10.0), 0.6),
                ],
            ),
        ];
        let t = choose_box_threshold(&cases, 0.5).unwrap();
        assert_eq!(t.score, 0.7);
        assert_eq!((t.fp_per_image, t.recall), (0.5, 1.0));
        let strict = choose_box_threshold(&cases, 0.0).unwrap();
        assert_eq!((strict.score, strict.recall), (0.9, 0.5));
        // No true box: nothing to choose on.
        let normal = [case(vec![], vec![scored(b(0.0, 0.0, 10.0), 0.9)])];
        assert!(choose_box_threshold(&normal, 0.5).is_none());
    }
}
