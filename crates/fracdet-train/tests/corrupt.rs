//! A corrupt image in the training or validation set is reported and skipped, not fatal.

mod common;

use burn::tensor::Device;
use common::{PngSource, TinyNet, write_dataset};
use fracdet_train::{Skipped, Start, StopFlag, StopReason, TrainObserver, train_classifier};

#[derive(Default)]
struct Collect {
    skipped: Vec<Skipped>,
}

impl TrainObserver for Collect {
    fn skipped(&mut self, s: &Skipped) {
        self.skipped.push(s.clone());
    }
}

#[test]
fn corrupt_images_are_reported_once_and_training_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut train_items = write_dataset(&tmp.path().join("train"), 12);
    let bad = tmp.path().join("train/broken.png");
    // A PNG signature followed by garbage: decodes as a PNG and fails.
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n this is not really an image").unwrap();
    train_items.push((bad.clone(), true));
    let train = PngSource { items: train_items };
    let mut val_items = write_dataset(&tmp.path().join("val"), 6);
    let bad_val = tmp.path().join("val/empty.png");
    std::fs::write(&bad_val, b"").unwrap();
    val_items.push((bad_val.clone(), false));
    let val = PngSource { items: val_items };

    let mut cfg = common::grey_config("tiny");
    cfg.epochs = 2;
    cfg.batch_size = 4;
    cfg.patience = None;
    let device = Device::flex();
    let mut seen = Collect::default();
    let out = train_classifier(
        TinyNet::new(1, &device),
        &cfg,
        &train,
        &val,
        &tmp.path().join("run"),
        Start::Fresh,
        &device,
        &mut seen,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(out.stop, StopReason::Completed);
    let names: Vec<&str> = seen.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 2, "each bad file reported once: {names:?}");
    assert!(names.contains(&bad.display().to_string().as_str()));
    assert!(names.contains(&bad_val.display().to_string().as_str()));
    assert_eq!(out.skipped.len(), 2);
    // Each epoch skipped the two files again and still produced a validation score.
    for m in &out.state.history {
        assert_eq!(m.skipped, 2);
        assert!(m.val_auroc.is_some());
        assert!(m.train_loss.is_finite());
    }
}

#[test]
fn all_training_images_unreadable_is_an_error_not_a_nan_run() {
    let tmp = tempfile::tempdir().unwrap();
    let train_items: Vec<_> = (0..4)
        .map(|i| {
            let p = tmp.path().join(format!("bad{i}.png"));
            std::fs::write(&p, b"junk").unwrap();
            (p, i % 2 == 0)
        })
        .collect();
    let train = PngSource { items: train_items };
    let val = PngSource {
        items: write_dataset(&tmp.path().join("val"), 4),
    };
    let cfg = common::grey_config("tiny");
    let device = Device::flex();
    let err = train_classifier(
        TinyNet::new(1, &device),
        &cfg,
        &train,
        &val,
        &tmp.path().join("run"),
        Start::Fresh,
        &device,
        &mut Collect::default(),
        &StopFlag::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no training image"), "{err}");
}
