//! Loader throughput on FracAtlas train: cache fill (decode + letterbox), then augmented
//! 224² epochs from the cache. A plain program (harness = false) printing a table; not a
//! test, because its numbers depend on the machine.
//!
//! Run: `cargo bench -p fracdet-io --bench loader` (release settings).
//! Data: `$FRACDET_DATA`, else `../shared/datasets/fracatlas` next to the workspace; skipped
//! with a message when absent. Threads: `$FRACDET_BENCH_THREADS` (default 2).

use std::path::PathBuf;
use std::time::Instant;

use fracdet_io::dataset::{Dataset, Split};
use fracdet_io::loader::{Loader, LoaderConfig};

fn main() {
    let root = std::env::var_os("FRACDET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fracatlas")
        });
    if !root.join("labels.csv").is_file() {
        println!(
            "loader bench skipped: no FracAtlas at {} (set FRACDET_DATA)",
            root.display()
        );
        return;
    }
    let threads: usize = std::env::var("FRACDET_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot build thread pool: {e}");
            std::process::exit(1);
        }
    };
    let dataset = match Dataset::open(&root) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot open {}: {e}", root.display());
            std::process::exit(1);
        }
    };
    let train = dataset.split(Split::Train);
    let n = train.len();
    let config = LoaderConfig {
        size: 224,
        batch_size: 32,
        seed: 1,
        ..LoaderConfig::default()
    };
    let eval_config = LoaderConfig {
        augment: None,
        shuffle: false,
        ..config.clone()
    };
    let loader = match Loader::new(train, config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };

    println!(
        "FracAtlas train: {n} images, {threads} threads, 224x224, batch 32, ImageNet 3-channel"
    );
    println!(
        "{:<34} {:>7} {:>9} {:>9}",
        "phase", "images", "seconds", "img/s"
    );
    let row = |phase: &str, images: usize, secs: f64| {
        println!(
            "{phase:<34} {images:>7} {secs:>9.2} {:>9.0}",
            images as f64 / secs
        );
    };
    pool.install(|| {
        let t = Instant::now();
        let skipped = loader.warm_up();
        row(
            "cache fill (decode + letterbox)",
            n - skipped.len(),
            t.elapsed().as_secs_f64(),
        );
        for epoch in 0..3 {
            let t = Instant::now();
            let images: usize = loader.epoch(epoch).map(|b| b.len()).sum();
            row(
                &format!("augmented epoch {epoch} (cached)"),
                images,
                t.elapsed().as_secs_f64(),
            );
        }
    });
    // Evaluation path: same cache contents, no augmentation.
    let eval = Loader::new(loader.samples().to_vec(), eval_config).ok();
    if let Some(eval) = eval {
        pool.install(|| {
            eval.warm_up();
            let t = Instant::now();
            let images: usize = eval.epoch(0).map(|b| b.len()).sum();
            row(
                "plain epoch (cached, no augment)",
                images,
                t.elapsed().as_secs_f64(),
            );
        });
    }
}
