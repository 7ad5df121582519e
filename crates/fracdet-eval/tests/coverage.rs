//! The bootstrap AUROC interval should cover the true AUROC about 95% of the time.

mod common;

use fracdet_eval::{BootstrapConfig, auroc_with_ci};

#[test]
fn bootstrap_auroc_ci_covers_true_value_about_95_percent() {
    let true_auc = 0.80;
    let mu = common::mu_for_auroc(true_auc);
    // COVERAGE_REPS raises the repetitions for a sharper estimate (1000 reps: 0.950).
    let reps: u64 = std::env::var("COVERAGE_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut covered = 0;
    let mut mean_width = 0.0;
    for r in 0..reps {
        let (labels, scores) = common::binormal(100, 100, mu, 1000 + r);
        let cfg = BootstrapConfig {
            n_resamples: 500,
            seed: r,
            level: 0.95,
        };
        let e = auroc_with_ci(&labels, &scores, &cfg).unwrap();
        let ci = e.ci.unwrap();
        mean_width += ci.width() / reps as f64;
        if ci.contains(true_auc) {
            covered += 1;
        }
    }
    let coverage = covered as f64 / reps as f64;
    eprintln!("coverage {coverage:.3}, mean width {mean_width:.4}");
    // 200 repetitions: binomial SD of the coverage is ~0.015 around 0.95.
    assert!((0.88..=0.99).contains(&coverage), "coverage {coverage}");
    // Hanley–McNeil SE at AUC .8, 100/100 is ~0.031 -> width ~0.12.
    assert!(
        (0.09..0.16).contains(&mean_width),
        "mean width {mean_width}"
    );
}
