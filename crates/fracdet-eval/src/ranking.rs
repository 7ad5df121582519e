//! Shared machinery for threshold-free metrics: samples sorted once by descending score
//! and grouped into ties, so each bootstrap replicate is an O(n) sweep, not a re-sort.

/// Descending score order with tie groups.
pub(crate) struct Ranking {
    /// Sample indices, highest score first.
    order: Vec<usize>,
    /// `order[starts[g]..starts[g + 1]]` is tie group `g`.
    starts: Vec<usize>,
    /// Score shared by group `g`.
    pub thresholds: Vec<f64>,
}

/// Positive and negative (weighted) counts of one tie group.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupCount {
    pub pos: f64,
    pub neg: f64,
}

impl Ranking {
    /// O(n log n). Scores must be finite (checked by callers via `validate`).
    pub fn new(scores: &[f32]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut starts = Vec::new();
        let mut thresholds = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let s = f64::from(scores[i]);
            if thresholds.last() != Some(&s) {
                starts.push(k);
                thresholds.push(s);
            }
        }
        starts.push(order.len());
        Self {
            order,
            starts,
            thresholds,
        }
    }

    pub fn n_groups(&self) -> usize {
        self.thresholds.len()
    }

    /// Per-group class counts, optionally weighted by bootstrap multiplicities. O(n).
    pub fn counts(&self, labels: &[bool], weights: Option<&[u32]>, out: &mut Vec<GroupCount>) {
        out.clear();
        for g in 0..self.n_groups() {
            let mut c = GroupCount::default();
            for &i in &self.order[self.starts[g]..self.starts[g + 1]] {
                let w = weights.map_or(1.0, |w| f64::from(w[i]));
                if labels[i] {
                    c.pos += w;
                } else {
                    c.neg += w;
                }
            }
            out.push(c);
        }
    }
}

/// Mann–Whitney AUROC from tie-group counts: P(score+ > score-) + 0.5 P(score+ = score-).
/// `None` when either class is empty.
pub(crate) fn auc_from_counts(groups: &[GroupCount]) -> Option<f64> {
    let total_pos: f64 = groups.iter().map(|g| g.pos).sum();
    let total_neg: f64 = groups.iter().map(|g| g.neg).sum();
    if total_pos <= 0.0 || total_neg <= 0.0 {
        return None;
    }
    let mut neg_seen = 0.0;
    let mut wins = 0.0;
    for g in groups {
        // Negatives strictly below this group's score: not yet seen, not in this group.
        wins += g.pos * (total_neg - neg_seen - g.neg) + 0.5 * g.pos * g.neg;
        neg_seen += g.neg;
    }
    Some(wins / (total_pos * total_neg))
}

/// ROC vertices `(fpr, tpr)` from (0, 0) to (1, 1), one per tie group; ties give a
/// diagonal segment, consistent with the 0.5 tie credit of the AUROC.
pub(crate) fn roc_points(groups: &[GroupCount]) -> Option<Vec<(f64, f64)>> {
    let total_pos: f64 = groups.iter().map(|g| g.pos).sum();
    let total_neg: f64 = groups.iter().map(|g| g.neg).sum();
    if total_pos <= 0.0 || total_neg <= 0.0 {
        return None;
    }
    let mut pts = Vec::with_capacity(groups.len() + 1);
    pts.push((0.0, 0.0));
    let (mut tp, mut fp) = (0.0, 0.0);
    for g in groups {
        tp += g.pos;
        fp += g.neg;
        pts.push((fp / total_neg, tp / total_pos));
    }
    Some(pts)
}

/// TPR of the ROC polyline at each FPR of `grid` (ascending), by linear interpolation;
/// on a vertical segment the highest TPR is taken.
pub(crate) fn tpr_on_grid(points: &[(f64, f64)], grid: &[f64], out: &mut Vec<f64>) {
    out.clear();
    let mut k = 0;
    for &f in grid {
        while k + 1 < points.len() && points[k + 1].0 <= f {
            k += 1;
        }
        let (f0, t0) = points[k];
        let v = match points.get(k + 1) {
            Some(&(f1, t1)) if f1 > f0 && f > f0 => t0 + (t1 - t0) * (f - f0) / (f1 - f0),
            _ => t0,
        };
        out.push(v);
    }
}
