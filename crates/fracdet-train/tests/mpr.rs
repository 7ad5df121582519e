//! The MPR detector's training loop on a tiny generated dataset with fracture boxes: the
//! loss falls, a stopped and resumed run ends exactly where an uninterrupted one does, the
//! residual cache is reused, and the predictor opens the run.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use common::resume::{assert_same_sections, straight_and_in_pieces};
use fracdet_io::BBox;
use fracdet_io::dataset::{Sample, SampleMeta, Split};
use fracdet_train::LabelledSource;
use fracdet_train::checkpoint::{LAST_FILE, METRICS_FILE};
use fracdet_train::mpr::{
    MprCheckpoint, MprConfig, MprData, MprEpochMetrics, MprPredictor, NoResiduals, ResidualSource,
    train_mpr,
};
use fracdet_train::{
    LogObserver, Start, StopFlag, StopReason, TrainObserver, model_from_bytes, model_to_bytes,
};

const SIZE: u32 = 64;

/// 64x64 grey PNGs: a soft blob on a dark background; positives (even `i`) also get a
/// bright short diagonal crack at a place that moves with `i`, with its box.
fn write_dataset(dir: &Path, n: usize, split: Split) -> Vec<Sample> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let positive = i % 2 == 0;
            let (cx, cy) = (12 + (i as u32 * 11) % 36, 10 + (i as u32 * 7) % 40);
            let img = image::GrayImage::from_fn(SIZE, SIZE, |x, y| {
                let d2 = (x as i32 - 32).pow(2) + (y as i32 - 30).pow(2);
                let mut v = 40 + (150 - d2.min(150) as u32) as u8 / 2;
                let on_crack = x >= cx
                    && x < cx + 10
                    && (y as i32 - cy as i32 - (x as i32 - cx as i32)).abs() <= 1;
                if positive && on_crack {
                    v = 250;
                }
                image::Luma([v])
            });
            let path = dir.join(format!("img{i:02}.png"));
            img.save(&path).unwrap();
            let boxes = if positive {
                vec![BBox::new(
                    cx as f32 - 1.0,
                    cy as f32 - 2.0,
                    cx as f32 + 11.0,
                    cy as f32 + 12.0,
                )]
            } else {
                Vec::new()
            };
            Sample {
                image: path,
                split,
                label: Some(positive),
                boxes,
                meta: SampleMeta::default(),
            }
        })
        .collect()
}

/// A cheap stand-in for the inpainter: per scale, |x - box mean of x| over a window of
/// that side (what a blur "re-draws" is missing exactly where there is a thin line).
struct BlurResiduals {
    scales: Vec<usize>,
}

impl ResidualSource for BlurResiduals {
    fn scales(&self) -> &[usize] {
        &self.scales
    }

    fn residuals(
        &self,
        canvases: &[Vec<f32>],
        size: u32,
    ) -> Result<Vec<Vec<f32>>, fracdet_train::RunError> {
        let s = size as usize;
        Ok(canvases
            .iter()
            .map(|c| {
                let mut out = Vec::with_capacity(self.scales.len() * s * s);
                for &k in &self.scales {
                    let r = (k / 2) as isize;
                    for y in 0..s as isize {
                        for x in 0..s as isize {
                            let (mut sum, mut n) = (0.0f32, 0.0f32);
                            for yy in (y - r).max(0)..(y + r + 1).min(s as isize) {
                                for xx in (x - r).max(0)..(x + r + 1).min(s as isize) {
                                    sum += c[yy as usize * s + xx as usize];
                                    n += 1.0;
                                }
                            }
                            out.push((c[y as usize * s + x as usize] - sum / n).abs());
                        }
                    }
                }
                out
            })
            .collect())
    }

    fn describe(&self) -> String {
        format!("blur {:?}", self.scales)
    }
}

fn config(scales: Vec<usize>) -> MprConfig {
    let mut c = MprConfig::new(SIZE, scales);
    c.epochs = 3;
    c.batch_size = 4;
    c.lr = 2e-3;
    c.min_lr = 1e-5;
    c.warmup_epochs = 0;
    c.head_channels = 16;
    c.patience = None;
    c.seed = 5;
    c
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    train: MprData,
    val: MprData,
}

fn fixture(cfg: &MprConfig, source: &dyn ResidualSource) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let train_samples = write_dataset(&root.join("train"), 12, Split::Train);
    let val_samples = write_dataset(&root.join("val"), 6, Split::Val);
    let mut train = MprData::new(&train_samples, SIZE, cfg.augment.clone()).unwrap();
    let mut val = MprData::new(&val_samples, SIZE, None).unwrap();
    train.compute_residuals(source, 4, &mut |_, _| {}).unwrap();
    val.compute_residuals(source, 4, &mut |_, _| {}).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        train,
        val,
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

/// Records every epoch's MPR metrics.
#[derive(Default)]
struct Record(Vec<MprEpochMetrics>);

impl TrainObserver<f64, MprEpochMetrics> for Record {
    fn epoch_finished(&mut self, m: &MprEpochMetrics, _improved: bool) {
        self.0.push(m.clone());
    }
}

#[test]
fn training_with_residual_channels_lowers_the_loss_and_predicts() {
    let cfg = config(vec![3, 7]);
    let source = BlurResiduals { scales: vec![3, 7] };
    let f = fixture(&cfg, &source);
    let device = Device::flex();
    let model = cfg.detector().init(&device).unwrap();
    let run = f.root.join("run");
    let mut record = Record::default();
    let out = train_mpr(
        model,
        &cfg,
        &f.train,
        &f.val,
        &run,
        Start::Fresh,
        &device,
        &mut record,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(out.stop, StopReason::Completed);
    let h = &out.state.history;
    assert_eq!(h.len(), 3);
    assert!(
        h[2].train_loss < h[0].train_loss,
        "loss did not fall: {:?}",
        h.iter().map(|m| m.train_loss).collect::<Vec<_>>()
    );
    assert_eq!(record.0, *h);
    // 6 positive train images with one box each; at 64 px the grid is 4x4 and each crack box
    // (12x14 px) covers 1-4 cells, so the weight is (96 - pos) / pos over 12 images.
    let w = out.state.cell_pos_weight;
    assert!(w > 10.0 && w < 95.0, "cell weight {w}");
    assert!((out.state.image_pos_weight - 1.0).abs() < 1e-6);
    assert!(
        h.iter()
            .all(|m| m.val_cell_auroc.is_some() && m.val_hit_rate.is_some())
    );

    // The predictor opens the run with the same residual source, and refuses another.
    let p = MprPredictor::open(
        &run,
        &device,
        Box::new(BlurResiduals { scales: vec![3, 7] }),
    )
    .unwrap();
    assert!(MprPredictor::open(&run, &device, Box::new(NoResiduals)).is_err());
    let canvases: Vec<Vec<f32>> = (0..2).map(|i| f.val.load(i, None).unwrap().image).collect();
    let preds = p.predict(&canvases, &device).unwrap();
    assert_eq!(preds.len(), 2);
    for pr in &preds {
        assert_eq!((pr.grid, pr.cells.len()), (4, 16));
        assert!((0.0..=1.0).contains(&pr.probability));
        // Noisy-OR: the image is at least as likely as its hottest cell.
        let top = pr.cells.iter().cloned().fold(0.0f32, f32::max);
        assert!(pr.probability >= top - 1e-5, "{} < {top}", pr.probability);
    }
    assert!(p.predict(&[vec![0.0; 10]], &device).is_err());
    // The maps shown beside a prediction are the source's, one plane per scale.
    let maps = p.residual_maps(&canvases).unwrap();
    assert_eq!(maps, source.residuals(&canvases, SIZE).unwrap());
    assert!(maps.iter().all(|m| m.len() == 2 * (SIZE * SIZE) as usize));
    assert!(p.residual_maps(&[vec![0.0; 10]]).is_err());
}

#[test]
fn stopped_and_resumed_runs_match_an_uninterrupted_run() {
    let cfg = config(Vec::new());
    let f = fixture(&cfg, &NoResiduals);
    let device = Device::flex();
    let init = cfg.detector().init(&device).unwrap();
    let init_bytes = model_to_bytes(&init).unwrap();
    let same_init = || {
        model_from_bytes(
            cfg.detector().init(&device).unwrap(),
            init_bytes.clone(),
            Path::new("init"),
        )
        .unwrap()
    };

    // 3 steps per epoch: stop after 2 (inside epoch 0), after 3 more (inside epoch 1),
    // after 1 more (the end of epoch 1).
    let runs = straight_and_in_pieces(&f.root, &[2, 3, 1], |dir, start, first, obs| {
        let net = if first {
            same_init()
        } else {
            cfg.detector().init(&device).unwrap()
        };
        let flag = obs.flag.clone();
        train_mpr(net, &cfg, &f.train, &f.val, dir, start, &device, obs, &flag).unwrap()
    });
    let partial: Vec<bool> = runs
        .piece_outs
        .iter()
        .map(|o| o.state.partial.is_some())
        .collect();
    assert_eq!(partial, [true, true, false, false], "stopped inside epochs");
    let (run_a, run_b) = (runs.straight, runs.resumed);

    let rows = deterministic_columns(&run_a);
    assert_eq!(rows.len(), 4, "header + 3 epochs");
    assert_eq!(rows, deterministic_columns(&run_b));
    let last_a = MprCheckpoint::load(&run_a.join(LAST_FILE)).unwrap();
    let last_b = MprCheckpoint::load(&run_b.join(LAST_FILE)).unwrap();
    let tensors = |bytes: &[u8]| {
        common::tensors_of_with(bytes, || cfg.detector().init(&device).unwrap())
            .into_iter()
            .map(|(name, (_id, values))| (name, values))
            .collect::<Vec<_>>()
    };
    assert_same_sections(
        &["model", "optimizer"],
        &[last_a.model.clone(), last_a.optimizer.clone()],
        &[last_b.model.clone(), last_b.optimizer.clone()],
    );
    let (ta, tb) = (tensors(&last_a.model), tensors(&last_b.model));
    assert!(ta == tb, "final weights differ");
    assert!(ta != tensors(&init_bytes), "training moved the weights");
    assert_eq!(last_a.state.history, {
        // Wall-clock fields differ between the runs; everything else must not.
        let mut h = last_b.state.history.clone();
        for (a, b) in h.iter_mut().zip(&last_a.state.history) {
            a.seconds = b.seconds;
            a.train_images_per_second = b.train_images_per_second;
        }
        h
    });

    // A run without residual channels opens with the source its config names (none).
    let p = MprPredictor::open_run(&run_a, &device).unwrap();
    assert_eq!(p.grid(), 4);

    // A changed configuration does not resume.
    let mut changed = cfg.clone();
    changed.lr = 0.5;
    assert!(
        train_mpr(
            cfg.detector().init(&device).unwrap(),
            &changed,
            &f.train,
            &f.val,
            &run_b,
            Start::Resume,
            &device,
            &mut LogObserver,
            &StopFlag::new(),
        )
        .is_err()
    );
}

#[test]
fn residual_cache_is_reused_only_for_the_same_source() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = write_dataset(&tmp.path().join("imgs"), 3, Split::Train);
    let cache = tmp.path().join("residuals.bin");
    let a = BlurResiduals { scales: vec![3] };
    let mut data = MprData::new(&samples, SIZE, None).unwrap();
    assert!(!data.load_or_compute(&cache, &a, 2, &mut |_, _| {}).unwrap());
    let first = data.load(0, None).unwrap();
    assert_eq!(first.residuals.len(), (SIZE * SIZE) as usize);
    assert!(first.residuals.iter().any(|&v| v > 0.1));

    let mut again = MprData::new(&samples, SIZE, None).unwrap();
    let mut calls = 0;
    assert!(
        again
            .load_or_compute(&cache, &a, 2, &mut |_, _| calls += 1)
            .unwrap()
    );
    assert_eq!(calls, 0, "maps came from the cache");
    assert_eq!(again.load(0, None).unwrap(), first);

    let b = BlurResiduals { scales: vec![5] };
    let mut other = MprData::new(&samples, SIZE, None).unwrap();
    assert!(
        !other
            .load_or_compute(&cache, &b, 2, &mut |_, _| {})
            .unwrap()
    );
}
