//! Area under the ROC curve (Mann–Whitney U with ties counted as one half), O(n log n),
//! with a stratified percentile-bootstrap CI.

use crate::bootstrap::{BootstrapConfig, StratifiedResampler};
use crate::ci::percentile_interval;
use crate::error::{Result, validate};
use crate::estimate::Estimate;
use crate::ranking::{Ranking, auc_from_counts};

const NO_CLASS: &str = "AUROC needs at least one positive and one negative sample";

/// AUROC without interval. Undefined (`value: None`) when a class is missing; exactly 0.5
/// when all scores are equal.
pub fn auroc(labels: &[bool], scores: &[f32]) -> Result<Estimate> {
    validate(labels, scores)?;
    let ranking = Ranking::new(scores);
    let mut counts = Vec::new();
    ranking.counts(labels, None, &mut counts);
    Ok(match auc_from_counts(&counts) {
        Some(v) => Estimate::point(v),
        None => Estimate::undefined(NO_CLASS),
    })
}

/// AUROC with a stratified percentile-bootstrap CI. With perfect (or perfectly inverted)
/// separation every replicate gives the same value and the interval is a point; `note`
/// then says so (no binomial fallback exists for an AUROC).
pub fn auroc_with_ci(labels: &[bool], scores: &[f32], cfg: &BootstrapConfig) -> Result<Estimate> {
    validate(labels, scores)?;
    cfg.validate()?;
    let ranking = Ranking::new(scores);
    let mut counts = Vec::new();
    ranking.counts(labels, None, &mut counts);
    let Some(value) = auc_from_counts(&counts) else {
        return Ok(Estimate::undefined(NO_CLASS));
    };
    let mut reps = bootstrap_auroc(labels, &ranking, cfg);
    let mut est = Estimate::point(value).with_ci(percentile_interval(&mut reps, cfg.level));
    if ranking.n_groups() == 1 {
        est = est.with_note("all scores are equal: AUROC is 0.5 by tie handling");
    } else if est.ci.is_some_and(|c| c.width() == 0.0) {
        est = est.with_note("classes perfectly separated: bootstrap interval is degenerate");
    }
    Ok(est)
}

/// Bootstrap replicates of the AUROC (each an O(n) sweep over the fixed ranking).
pub(crate) fn bootstrap_auroc(
    labels: &[bool],
    ranking: &Ranking,
    cfg: &BootstrapConfig,
) -> Vec<f64> {
    let resampler = StratifiedResampler::new(labels);
    let mut rng = cfg.rng();
    let (mut w, mut counts) = (Vec::new(), Vec::new());
    let mut reps = Vec::with_capacity(cfg.n_resamples);
    for _ in 0..cfg.n_resamples {
        resampler.draw(&mut rng, &mut w);
        ranking.counts(labels, Some(&w), &mut counts);
        if let Some(v) = auc_from_counts(&counts) {
            reps.push(v);
        }
    }
    reps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force O(n^2) Mann–Whitney for cross-checking.
    fn brute(labels: &[bool], scores: &[f32]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi && !yj {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        wins += 1.0;
                    } else if scores[i] == scores[j] {
                        wins += 0.5;
                    }
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn hand_computed_with_ties() {
        // pos {0.8, 0.5, 0.3}, neg {0.5, 0.2}: pairs 6; 0.8 beats both (2), 0.5 ties 0.5 and
        // beats 0.2 (1.5), 0.3 beats 0.2 (1) -> 4.5 / 6 = 0.75.
        let labels = [true, true, true, false, false];
        let scores = [0.8, 0.5, 0.3, 0.5, 0.2];
        assert_eq!(auroc(&labels, &scores).unwrap().value, Some(0.75));
        assert_eq!(brute(&labels, &scores), 0.75);
    }

    #[test]
    fn matches_brute_force_on_many_ties() {
        let labels: Vec<bool> = (0..200).map(|i| (i * 7 + 3) % 5 < 2).collect();
        let scores: Vec<f32> = (0..200).map(|i| ((i * 13) % 11) as f32 / 10.0).collect();
        let fast = auroc(&labels, &scores).unwrap().value.unwrap();
        assert!((fast - brute(&labels, &scores)).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cases() {
        assert_eq!(auroc(&[], &[]).unwrap().value, None);
        assert_eq!(auroc(&[true, true], &[0.1, 0.2]).unwrap().value, None);
        let eq = auroc_with_ci(
            &[true, false, true],
            &[0.3, 0.3, 0.3],
            &BootstrapConfig::default(),
        )
        .unwrap();
        assert_eq!(eq.value, Some(0.5));
        assert!(eq.note.unwrap().contains("equal"));
        let perfect =
            auroc_with_ci(&[true, false], &[0.9, 0.1], &BootstrapConfig::default()).unwrap();
        assert_eq!(perfect.value, Some(1.0));
        assert_eq!(perfect.ci.unwrap().lower, 1.0);
        let inverted = auroc(&[true, false], &[0.1, 0.9]).unwrap();
        assert_eq!(inverted.value, Some(0.0));
    }
}
