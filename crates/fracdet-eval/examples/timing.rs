//! Wall-clock timings of the main metrics on synthetic data, for the crate README.
//! `cargo run --release -p fracdet-eval --example timing`

use std::time::Instant;

use fracdet_eval::{BootstrapConfig, auroc, auroc_with_ci, binary_metrics, compare_auroc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data(n: usize, seed: u64) -> (Vec<bool>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let y = rng.random::<f64>() < 0.3;
            let s = (rng.random::<f32>() + if y { 0.4 } else { 0.0 }).min(1.0);
            (y, s)
        })
        .unzip()
}

fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{what:<55} {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3);
    out
}

fn main() {
    let cfg = BootstrapConfig::default(); // 2000 resamples
    for n in [1_000, 10_000, 100_000] {
        let (l, s) = data(n, 1);
        let (_, s2) = data(n, 2);
        time(&format!("auroc, n = {n}"), || auroc(&l, &s).ok());
        time(&format!("auroc_with_ci (2000 resamples), n = {n}"), || {
            auroc_with_ci(&l, &s, &cfg).ok()
        });
        time(&format!("binary_metrics (2000 resamples), n = {n}"), || {
            binary_metrics(&l, &s, 0.5, &cfg).ok()
        });
        time(&format!("compare_auroc (2000 resamples), n = {n}"), || {
            compare_auroc(&l, &s, &s2, &cfg).ok()
        });
    }
}
