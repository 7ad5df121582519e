//! Shared synthetic data: binormal scores with a known AUROC.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Standard normal draw by Box–Muller.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n_pos` positives ~ N(mu, 1), `n_neg` negatives ~ N(0, 1), squashed by a logistic so
/// the scores look like probabilities (monotone, so the AUROC is unchanged):
/// AUROC = Phi(mu / sqrt 2).
pub fn binormal(n_pos: usize, n_neg: usize, mu: f64, seed: u64) -> (Vec<bool>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels = Vec::with_capacity(n_pos + n_neg);
    let mut scores = Vec::with_capacity(n_pos + n_neg);
    for i in 0..n_pos + n_neg {
        let y = i < n_pos;
        let x = normal(&mut rng) + if y { mu } else { 0.0 };
        labels.push(y);
        scores.push((1.0 / (1.0 + (-(x - mu / 2.0)).exp())) as f32);
    }
    (labels, scores)
}

/// `mu` giving a binormal AUROC of `auc`.
pub fn mu_for_auroc(auc: f64) -> f64 {
    std::f64::consts::SQRT_2 * fracdet_eval::ci::normal_quantile(auc)
}
