//! MPR inpainter training (issue #5): it learns, it resumes exactly, it loads back.

mod common;

use std::path::Path;

use burn::tensor::Device;
use common::resume::{assert_same_sections, straight_and_in_pieces};
use fracdet_model::mpr::InpainterConfig;
use fracdet_train::checkpoint::{BEST_FILE, LAST_FILE, METRICS_FILE};
use fracdet_train::inpainter::checkpoint::InpainterCheckpoint;
use fracdet_train::inpainter::trainer::SAMPLES_DIR;
use fracdet_train::inpainter::{
    Critics, InpainterTrainConfig, QuietInpainterObserver, load_inpainter, normal_indices,
    train_inpainter, validate_inpainter,
};
use fracdet_train::{
    LabelledSource, Start, StopFlag, StopReason, model_from_bytes, model_to_bytes,
};

const SIDE: usize = 32;

/// Smooth grey images: a tilted gradient plus a soft blob, every fourth one "fractured"
/// (a bright line, which the inpainter must never see). The augmentation is a seeded flip.
struct Smooth {
    n: usize,
    offset: usize,
}

impl LabelledSource<Vec<f32>> for Smooth {
    fn len(&self) -> usize {
        self.n
    }
    fn label(&self, index: usize) -> bool {
        index % 4 == 3
    }
    fn name(&self, index: usize) -> String {
        format!("smooth{index}")
    }
    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<Vec<f32>, String> {
        let k = (index + self.offset) as f32;
        let flip = augment_seed.is_some_and(|s| s & 1 == 1);
        let (a, b) = (0.3 + 0.05 * (k % 5.0), 0.2 + 0.04 * (k % 3.0));
        let cx = 8.0 + (k * 3.0) % 16.0;
        Ok((0..SIDE * SIDE)
            .map(|i| {
                let (y, x) = ((i / SIDE) as f32, (i % SIDE) as f32);
                let x = if flip { SIDE as f32 - 1.0 - x } else { x };
                let d2 = (x - cx).powi(2) + (y - 16.0).powi(2);
                let mut v =
                    0.1 + a * x / SIDE as f32 + b * y / SIDE as f32 + 0.3 * (-d2 / 60.0).exp();
                if self.label(index) && (x - y).abs() < 1.0 {
                    v = 1.0;
                }
                v.clamp(0.0, 1.0)
            })
            .collect())
    }
}

fn config() -> InpainterTrainConfig {
    let mut c = InpainterTrainConfig::new(SIDE as u32);
    c.scales = vec![8, 16];
    c.width = 16;
    c.dilations = vec![1, 2];
    c.epochs = 2;
    c.batch_size = 4;
    c.lr_g = 1e-2;
    c.lr_d = 1e-3;
    c.adv_weight = 0.05;
    c.local_side = 16;
    c.global_side = 16;
    c.augment = None;
    c.sample_rows = 2;
    c.seed = 5;
    c
}

/// metrics.csv rows without the wall-clock columns, as numbers.
fn metrics_without_clock(run: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            cols[..9]
                .iter()
                .chain(&cols[11..])
                .map(|c| c.parse().unwrap())
                .collect()
        })
        .collect()
}

/// Equal up to the last bit or two: earlier epochs' rows of a resumed run went through the
/// checkpoint's JSON, and serde_json's float parsing may land one ulp off.
fn assert_rows_match(a: &[Vec<f64>], b: &[Vec<f64>]) {
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(b) {
        for (x, y) in ra.iter().zip(rb) {
            assert!(
                (x - y).abs() <= 1e-14 * x.abs().max(1.0),
                "{ra:?} vs {rb:?}"
            );
        }
    }
}

#[test]
fn training_steps_reduce_the_masked_error() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let train = Smooth { n: 32, offset: 0 };
    let val = Smooth { n: 8, offset: 100 };
    let mut cfg = config();
    cfg.adv_weight = 0.0;
    cfg.epochs = 6;
    cfg.lr_g = 3e-3;
    let g = cfg.generator().init(&device).unwrap();
    let critics = Critics::new(&device).unwrap();
    let val_idx = normal_indices(&val);
    assert_eq!(val_idx.len(), 6, "fractured images are left out");
    let (before, _, _) = validate_inpainter(&g, &val, &val_idx, &cfg, &device).unwrap();
    let run = tmp.path().join("run");
    let out = train_inpainter(
        g,
        critics,
        &cfg,
        &train,
        &val,
        &run,
        Start::Fresh,
        &device,
        &mut QuietInpainterObserver,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(out.stop, StopReason::Completed);
    let after = out.state.history.last().unwrap();
    assert!(
        after.val_l1 < 0.75 * before.g_l1,
        "masked L1 {} -> {}",
        before.g_l1,
        after.val_l1
    );
    assert!(
        after.blur_l1 > 0.0 && after.blur_l1 < 0.2,
        "blur fill {}",
        after.blur_l1
    );
    assert_eq!(
        after.train_adv, 0.0,
        "no critics when the adversarial weight is 0"
    );
    assert!(run.join(SAMPLES_DIR).join("epoch_006.png").exists());

    // The detector's entry point gets the trained generator back: best.ckpt, the epoch
    // with the lowest validation L1 (not necessarily the last one).
    let (g, loaded_cfg) = load_inpainter(&run, &device).unwrap();
    assert_eq!(loaded_cfg, cfg);
    let (again, _, _) = validate_inpainter(&g, &val, &val_idx, &cfg, &device).unwrap();
    let best = out
        .state
        .history
        .iter()
        .map(|e| e.val_l1)
        .fold(f64::INFINITY, f64::min);
    assert!(
        (again.g_l1 - best).abs() < 1e-9,
        "{} vs best {best}",
        again.g_l1
    );
}

#[test]
fn stopped_and_resumed_gan_run_matches_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let train = Smooth { n: 12, offset: 0 };
    let val = Smooth { n: 4, offset: 50 };
    let cfg = config();
    let init = model_to_bytes(&cfg.generator().init(&device).unwrap()).unwrap();
    let critics_init = model_to_bytes(&Critics::new(&device).unwrap()).unwrap();
    let same_critics = || {
        model_from_bytes(
            Critics::new(&device).unwrap(),
            critics_init.clone(),
            Path::new("init"),
        )
        .unwrap()
    };
    let same_init = || {
        model_from_bytes(
            InpainterConfig::new()
                .with_width(16)
                .with_dilations(vec![1, 2])
                .init(&device)
                .unwrap(),
            init.clone(),
            Path::new("init"),
        )
        .unwrap()
    };
    // 9 normal training images, batch 4: 3 steps per epoch. Stop after 2 steps (inside
    // the first epoch), after 1 more (its end), after 1 more (inside the second epoch).
    let runs = straight_and_in_pieces(tmp.path(), &[2, 1, 1], |dir, start, first, obs| {
        let (g, critics) = if first {
            (same_init(), same_critics())
        } else {
            (
                cfg.generator().init(&device).unwrap(),
                Critics::new(&device).unwrap(),
            )
        };
        let flag = obs.flag.clone();
        train_inpainter(
            g, critics, &cfg, &train, &val, dir, start, &device, obs, &flag,
        )
        .unwrap()
    });
    let (a, run_a, run_b) = (&runs.straight_out, &runs.straight, &runs.resumed);
    assert!(
        a.state
            .history
            .iter()
            .all(|m| m.train_d > 0.0 && m.train_adv != 0.0)
    );
    let b1 = &runs.piece_outs[2];
    assert_eq!(b1.stop, StopReason::Interrupted);
    assert_eq!(b1.state.epoch, 1);
    assert_eq!(b1.state.partial.as_ref().unwrap().batches_done, 1);
    assert!(
        runs.piece_outs[1].state.partial.is_none(),
        "stopped at an epoch end"
    );
    let b2 = runs.piece_outs.last().unwrap();
    assert_eq!(b2.stop, StopReason::Completed);
    let rows = metrics_without_clock(run_a);
    assert_eq!(rows.len(), 2);
    assert_rows_match(&rows, &metrics_without_clock(run_b));
    let (la, lb) = (
        InpainterCheckpoint::load(&run_a.join(LAST_FILE)).unwrap(),
        InpainterCheckpoint::load(&run_b.join(LAST_FILE)).unwrap(),
    );
    assert!(la.generator == lb.generator, "generator weights differ");
    assert_same_sections(
        &[
            "generator",
            "critics",
            "generator optimizer",
            "critic optimizer",
        ],
        &[
            la.generator.clone(),
            la.critics.clone(),
            la.optim_g.clone(),
            la.optim_d.clone(),
        ],
        &[
            lb.generator.clone(),
            lb.critics.clone(),
            lb.optim_g.clone(),
            lb.optim_d.clone(),
        ],
    );
    // Compared by value: burnpack gives running states (the spectral-norm vectors) new ids.
    let values = |bytes: &[u8]| {
        common::tensors_of_with(bytes, || Critics::new(&device).unwrap())
            .into_iter()
            .map(|(name, (_, v))| (name, v))
            .collect::<Vec<_>>()
    };
    let (ca, cb) = (values(&la.critics), values(&lb.critics));
    assert!(
        ca.iter().any(|(name, _)| name.ends_with(".u")),
        "{:?}",
        ca.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    assert!(ca == cb, "critic weights or spectral-norm vectors differ");
    assert!(la.generator != init, "training moved the weights");
    assert!(run_b.join(BEST_FILE).exists());

    // A fresh start refuses the existing run; a changed config refuses to resume.
    let again = train_inpainter(
        same_init(),
        same_critics(),
        &cfg,
        &train,
        &val,
        run_b,
        Start::Fresh,
        &device,
        &mut QuietInpainterObserver,
        &StopFlag::new(),
    );
    assert!(again.is_err());
    let mut changed = cfg.clone();
    changed.adv_weight = 0.1;
    let resumed = train_inpainter(
        same_init(),
        same_critics(),
        &changed,
        &train,
        &val,
        run_b,
        Start::Resume,
        &device,
        &mut QuietInpainterObserver,
        &StopFlag::new(),
    );
    assert!(resumed.is_err());
}
