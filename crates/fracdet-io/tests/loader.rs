//! Loader behaviour on small generated PNG datasets.

use std::path::{Path, PathBuf};

use fracdet_io::BBox;
use fracdet_io::augment::AugmentConfig;
use fracdet_io::dataset::{Sample, SampleMeta, Split};
use fracdet_io::loader::{Loader, LoaderConfig};
use fracdet_io::preprocess::{LetterboxTransform, Normalization};

/// A grey PNG, `w` x `h`, background 0.2, with a white rectangle over `b`.
fn write_png(path: &Path, w: u32, h: u32, b: &BBox) {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let inside = (x as f32) >= b.x_min
            && (x as f32) < b.x_max
            && (y as f32) >= b.y_min
            && (y as f32) < b.y_max;
        image::Luma([if inside { 255 } else { 51 }])
    });
    img.save(path).expect("write png");
}

/// `n` samples, sizes varying, each with one box around its white rectangle; returns
/// samples and the folder.
fn dataset(n: usize) -> (tempfile::TempDir, Vec<Sample>) {
    let dir = tempfile::tempdir().unwrap();
    let samples = (0..n)
        .map(|i| {
            let (w, h) = (120 + 13 * i as u32, 160 - 7 * i as u32);
            let b = BBox::new(20.0 + i as f32, 30.0, 60.0 + i as f32, 75.0);
            let path = dir.path().join(format!("img{i:02}.png"));
            write_png(&path, w, h, &b);
            Sample {
                image: path,
                split: Split::Train,
                label: Some(i % 2 == 0),
                boxes: vec![b],
                meta: SampleMeta::default(),
            }
        })
        .collect();
    (dir, samples)
}

fn config() -> LoaderConfig {
    LoaderConfig {
        size: 64,
        batch_size: 4,
        seed: 7,
        ..LoaderConfig::default()
    }
}

#[test]
fn batches_have_the_documented_shape_and_boxes_in_working_coordinates() {
    let (_dir, samples) = dataset(6);
    let cfg = LoaderConfig {
        augment: None,
        shuffle: false,
        ..config()
    };
    let loader = Loader::new(samples.clone(), cfg).unwrap();
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].shape(), [4, 3, 64, 64]);
    assert_eq!(batches[0].images.len(), 4 * 3 * 64 * 64);
    assert_eq!(batches[1].indices, vec![4, 5]);
    assert_eq!(
        batches[0].labels,
        vec![Some(true), Some(false), Some(true), Some(false)]
    );
    for (k, &i) in batches[0].indices.iter().enumerate() {
        let s = &samples[i];
        let size = image::image_dimensions(&s.image).unwrap();
        let t = LetterboxTransform::new(size.0, size.1, 64);
        let want = t.bbox_to_working(&s.boxes[0]);
        assert_eq!(batches[0].boxes[k], vec![want]);
        assert_eq!(loader.cached(i).unwrap().transform, t);
    }
}

#[test]
fn same_seed_same_batches_regardless_of_cache_state() {
    let (_dir, samples) = dataset(9);
    let warm = Loader::new(samples.clone(), config()).unwrap();
    assert!(warm.warm_up().is_empty());
    let cold = Loader::new(samples.clone(), config()).unwrap();
    for epoch in 0..2 {
        let a: Vec<_> = warm.epoch(epoch).collect();
        let b: Vec<_> = cold.epoch(epoch).collect();
        assert_eq!(a, b, "epoch {epoch}");
    }
    let e0: Vec<usize> = warm.epoch(0).flat_map(|b| b.indices).collect();
    let e1: Vec<usize> = warm.epoch(1).flat_map(|b| b.indices).collect();
    assert_ne!(e0, e1, "epochs are shuffled differently");
    let mut sorted = e0.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (0..9).collect::<Vec<_>>(),
        "each sample once per epoch"
    );
    let other = Loader::new(
        samples,
        LoaderConfig {
            seed: 8,
            ..config()
        },
    )
    .unwrap();
    assert_ne!(other.batch(0, 0), warm.batch(0, 0));
}

#[test]
fn later_epochs_never_decode_again() {
    let (dir, samples) = dataset(5);
    let loader = Loader::new(samples, config()).unwrap();
    let first: Vec<_> = loader.epoch(3).collect();
    // With the files gone, only the cache can serve the images.
    drop(dir);
    let again: Vec<_> = loader.epoch(3).collect();
    assert_eq!(first, again);
    assert_eq!(loader.epoch(4).map(|b| b.len()).sum::<usize>(), 5);
    assert!(loader.skipped().is_empty());
}

#[test]
fn corrupt_and_missing_images_are_skipped_and_reported() {
    let (dir, mut samples) = dataset(6);
    let corrupt: PathBuf = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let mut bad = samples[0].clone();
    bad.image = corrupt.clone();
    samples.insert(2, bad);
    let mut missing = samples[0].clone();
    missing.image = dir.path().join("missing.png");
    samples.push(missing);
    let loader = Loader::new(samples, config()).unwrap();
    let seen: usize = loader.epoch(0).map(|b| b.len()).sum();
    assert_eq!(seen, 6);
    let skipped = loader.skipped();
    assert_eq!(
        skipped.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![2, 7]
    );
    assert_eq!(skipped[0].image, corrupt);
    assert!(!skipped[0].error.is_empty());
    // Reported once, however often the sample comes round.
    let _: Vec<_> = loader.epoch(1).collect();
    assert_eq!(loader.skipped().len(), 2);
}

#[test]
fn augmented_boxes_follow_the_white_rectangle() {
    let (_dir, samples) = dataset(8);
    let aug = AugmentConfig {
        brightness: 0.0,
        contrast: 0.0,
        gamma_range: (1.0, 1.0),
        min_box_visible: 0.0,
        ..AugmentConfig::default()
    };
    let cfg = LoaderConfig {
        size: 128,
        augment: Some(aug),
        normalization: Normalization::Grey {
            mean: 0.0,
            std: 1.0,
        },
        ..config()
    };
    let loader = Loader::new(samples, cfg).unwrap();
    for epoch in 0..3 {
        for batch in loader.epoch(epoch) {
            for k in 0..batch.len() {
                let img = &batch.images[k * 128 * 128..(k + 1) * 128 * 128];
                let bright =
                    BBox::enclosing(img.iter().enumerate().filter(|(_, v)| **v > 0.6).flat_map(
                        |(i, _)| {
                            let (x, y) = ((i % 128) as f32, (i / 128) as f32);
                            [(x, y), (x + 1.0, y + 1.0)]
                        },
                    ))
                    .unwrap();
                let b = batch.boxes[k][0];
                for (p, q) in bright.corners().iter().zip(b.corners()) {
                    assert!(
                        (p.0 - q.0).abs() <= 1.6 && (p.1 - q.1).abs() <= 1.6,
                        "epoch {epoch}: {bright:?} vs {b:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn caller_seeded_samples_are_reproducible() {
    let (_dir, samples) = dataset(3);
    let loader = Loader::new(samples, config()).unwrap();
    let a = loader.grey_with_seed(1, Some(42)).unwrap();
    assert_eq!(a, loader.grey_with_seed(1, Some(42)).unwrap());
    assert_ne!(a, loader.grey_with_seed(1, Some(43)).unwrap());
    let plain = loader.grey_with_seed(1, None).unwrap();
    assert_eq!(plain.0, loader.cached(1).unwrap().canvas());
    assert_eq!(plain.0.len(), 64 * 64);
    assert!(loader.grey_with_seed(99, None).is_err());
}
