//! Validation metric used for model selection.

/// Area under the ROC curve (fracdet-eval's, ties count one half); `None` when a class is
/// missing or the inputs are unusable (NaN scores).
pub fn auroc(labels: &[bool], scores: &[f32]) -> Option<f64> {
    fracdet_eval::auroc(labels, scores)
        .ok()
        .and_then(|e| e.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_inverted_ties_and_missing_class() {
        assert_eq!(auroc(&[false, true], &[0.1, 0.9]), Some(1.0));
        assert_eq!(auroc(&[false, true], &[0.9, 0.1]), Some(0.0));
        assert_eq!(auroc(&[false, true], &[0.5, 0.5]), Some(0.5));
        assert_eq!(auroc(&[true, true], &[0.5, 0.6]), None);
        let a = auroc(&[false, true, false, true], &[0.1, 0.3, 0.35, 0.8]).unwrap();
        assert!((a - 0.75).abs() < 1e-12);
    }
}
