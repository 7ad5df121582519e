//! Validation metric used for model selection.

/// Area under the ROC curve (ties count one half); `None` when a class is missing.
pub fn auroc(labels: &[bool], scores: &[f32]) -> Option<f64> {
    fracdet_eval_auroc(labels, scores)
}

fn fracdet_eval_auroc(labels: &[bool], scores: &[f32]) -> Option<f64> {
    // Mann-Whitney U with average ranks; O(n log n).
    let n = labels.len().min(scores.len());
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = labels[..n].iter().filter(|&&l| l).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_random_and_ties() {
        assert_eq!(auroc(&[false, true], &[0.1, 0.9]), Some(1.0));
        assert_eq!(auroc(&[false, true], &[0.9, 0.1]), Some(0.0));
        assert_eq!(auroc(&[false, true], &[0.5, 0.5]), Some(0.5));
        assert_eq!(auroc(&[true, true], &[0.5, 0.6]), None);
        let a = auroc(&[false, true, false, true], &[0.1, 0.3, 0.35, 0.8]).unwrap();
        assert!((a - 0.75).abs() < 1e-12);
    }
}
