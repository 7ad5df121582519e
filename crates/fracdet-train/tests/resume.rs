//! A run stopped after one epoch and resumed ends exactly where an uninterrupted run ends.

mod common;

use std::path::Path;

use burn::tensor::Device;
use common::resume::{assert_same_sections, straight_and_in_pieces};
use common::{PngSource, TinyNet, max_weight_difference, optimizer_contents, write_dataset};
use fracdet_train::checkpoint::{LAST_FILE, METRICS_FILE};
use fracdet_train::{
    Checkpoint, ClassifierConfig, EpochMetrics, Start, StopFlag, StopReason, TrainObserver,
    model_from_bytes, model_to_bytes, train_classifier,
};

fn config() -> ClassifierConfig {
    let mut c = common::grey_config("tiny");
    c.epochs = 3;
    c.batch_size = 4;
    c.lr = 1e-2;
    c.warmup_epochs = 1;
    c.freeze_epochs = 1;
    c.patience = None;
    c.seed = 7;
    c
}

/// Stops the run once `after` epochs have finished.
struct StopAfter {
    after: u64,
    flag: StopFlag,
}

impl TrainObserver for StopAfter {
    fn epoch_finished(&mut self, m: &EpochMetrics, _improved: bool) {
        if m.epoch + 1 >= self.after {
            self.flag.request();
        }
    }
}

/// metrics.csv without the wall-clock columns (seconds, images per second).
fn deterministic_columns(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    text.lines()
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            [&cols[..5], &cols[7..]].concat().join(",")
        })
        .collect()
}

#[test]
fn stopped_and_resumed_run_matches_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let train = PngSource {
        items: write_dataset(&tmp.path().join("train"), 16),
    };
    let mut val_items = write_dataset(&tmp.path().join("val"), 8);
    // Different images from training: shift the names' pattern by regenerating with offset.
    val_items.rotate_left(1);
    let val = PngSource { items: val_items };
    let device = Device::flex();
    let cfg = config();

    // Both runs start from the same weights (and parameter ids).
    let init = TinyNet::new(1, &device);
    let init_bytes = model_to_bytes(&init).unwrap();
    let same_init = || {
        model_from_bytes(
            TinyNet::new(1, &device),
            init_bytes.clone(),
            Path::new("init"),
        )
        .unwrap()
    };

    let run_a = tmp.path().join("a");
    let mut quiet = fracdet_train::LogObserver;
    let a = train_classifier(
        same_init(),
        &cfg,
        &train,
        &val,
        &run_a,
        Start::Fresh,
        &device,
        &mut quiet,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(a.stop, StopReason::Completed);
    assert_eq!(a.state.epoch, 3);

    let run_b = tmp.path().join("b");
    let flag = StopFlag::new();
    let mut stopper = StopAfter {
        after: 1,
        flag: flag.clone(),
    };
    let b1 = train_classifier(
        same_init(),
        &cfg,
        &train,
        &val,
        &run_b,
        Start::Fresh,
        &device,
        &mut stopper,
        &flag,
    )
    .unwrap();
    assert_eq!(b1.stop, StopReason::Interrupted);
    assert_eq!(b1.state.epoch, 1);
    assert_eq!(deterministic_columns(&run_b).len(), 2, "header + one epoch");

    // Resume into a freshly initialised network: everything must come from the checkpoint.
    let b2 = train_classifier(
        TinyNet::new(1, &device),
        &cfg,
        &train,
        &val,
        &run_b,
        Start::Resume,
        &device,
        &mut quiet,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(b2.stop, StopReason::Completed);

    let rows_a = deterministic_columns(&run_a);
    assert_eq!(rows_a.len(), 4);
    assert_eq!(rows_a, deterministic_columns(&run_b));
    // Training moved the weights, and the frozen first epoch was recorded.
    assert_ne!(a.state.history[0].train_loss, a.state.history[2].train_loss);
    assert!(a.state.history[0].frozen && !a.state.history[1].frozen);

    let last_a = Checkpoint::load(&run_a.join(LAST_FILE)).unwrap();
    let last_b = Checkpoint::load(&run_b.join(LAST_FILE)).unwrap();
    assert!(
        max_weight_difference(&last_a.model, &init_bytes) > 1e-3,
        "weights changed"
    );
    let diff = max_weight_difference(&last_a.model, &last_b.model);
    assert_eq!(diff, 0.0, "final weights differ by up to {diff}");
    let (opt_a, opt_b) = (
        optimizer_contents(&last_a.optimizer),
        optimizer_contents(&last_b.optimizer),
    );
    assert!(!opt_a.0.is_empty(), "optimizer state was saved");
    assert!(opt_a == opt_b, "optimizer state differs");
    assert_eq!(last_a.state.global_step, last_b.state.global_step);

    // Resuming a finished run does nothing.
    let again = train_classifier(
        TinyNet::new(1, &device),
        &cfg,
        &train,
        &val,
        &run_b,
        Start::Resume,
        &device,
        &mut quiet,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(again.stop, StopReason::Completed);
    assert!(Checkpoint::load(&run_b.join(LAST_FILE)).unwrap().model == last_b.model);
}

#[test]
fn fresh_start_refuses_an_existing_run_and_resume_refuses_a_changed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let train = PngSource {
        items: write_dataset(&tmp.path().join("train"), 8),
    };
    let val = PngSource {
        items: write_dataset(&tmp.path().join("val"), 4),
    };
    let device = Device::flex();
    let mut cfg = config();
    cfg.epochs = 1;
    cfg.freeze_epochs = 0;
    let run = tmp.path().join("r");
    let mut quiet = fracdet_train::LogObserver;
    train_classifier(
        TinyNet::new(1, &device),
        &cfg,
        &train,
        &val,
        &run,
        Start::Fresh,
        &device,
        &mut quiet,
        &StopFlag::new(),
    )
    .unwrap();
    assert!(
        train_classifier(
            TinyNet::new(1, &device),
            &cfg,
            &train,
            &val,
            &run,
            Start::Fresh,
            &device,
            &mut quiet,
            &StopFlag::new()
        )
        .is_err()
    );
    let mut changed = cfg.clone();
    changed.lr = 0.5;
    assert!(
        train_classifier(
            TinyNet::new(1, &device),
            &changed,
            &train,
            &val,
            &run,
            Start::Resume,
            &device,
            &mut quiet,
            &StopFlag::new()
        )
        .is_err()
    );
}

#[test]
fn runs_stopped_inside_and_at_the_end_of_epochs_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let train = PngSource {
        items: write_dataset(&tmp.path().join("train"), 16),
    };
    let mut val_items = write_dataset(&tmp.path().join("val"), 8);
    val_items.rotate_left(1);
    let val = PngSource { items: val_items };
    let device = Device::flex();
    let cfg = config();
    let init = TinyNet::new(1, &device);
    let init_bytes = model_to_bytes(&init).unwrap();
    let same_init = || {
        model_from_bytes(
            TinyNet::new(1, &device),
            init_bytes.clone(),
            Path::new("init"),
        )
        .unwrap()
    };

    // 4 steps per epoch: stop after 3 (inside the frozen epoch 0), after 4 more (inside
    // epoch 1), after 1 more (the end of epoch 1), then run to the end. Partial epochs of
    // several steps: their loss sums must survive the checkpoint to the last bit.
    let runs = straight_and_in_pieces(tmp.path(), &[3, 4, 1], |dir, start, first, obs| {
        let net = if first {
            same_init()
        } else {
            TinyNet::new(1, &device)
        };
        let flag = obs.flag.clone();
        train_classifier(net, &cfg, &train, &val, dir, start, &device, obs, &flag).unwrap()
    });
    let partial: Vec<bool> = runs
        .piece_outs
        .iter()
        .map(|o| o.state.partial.is_some())
        .collect();
    assert_eq!(
        partial,
        [true, true, false, false],
        "where the calls stopped"
    );
    assert_eq!(runs.piece_outs[2].state.epoch, 2);

    let last_a = Checkpoint::load(&runs.straight.join(LAST_FILE)).unwrap();
    let last_b = Checkpoint::load(&runs.resumed.join(LAST_FILE)).unwrap();
    let diff = max_weight_difference(&last_a.model, &last_b.model);
    assert_eq!(diff, 0.0, "final weights differ by up to {diff}");
    assert!(optimizer_contents(&last_a.optimizer) == optimizer_contents(&last_b.optimizer));
    assert_same_sections(
        &["model", "optimizer"],
        &[last_a.model, last_a.optimizer],
        &[last_b.model, last_b.optimizer],
    );
    let (sa, sb) = (&last_a.state, &last_b.state);
    assert_eq!(
        (sa.global_step, sa.best_auroc, sa.best_epoch, sa.pos_weight),
        (sb.global_step, sb.best_auroc, sb.best_epoch, sb.pos_weight),
        "training state differs"
    );
}
