//! The MPR detector's training loop: the classifier loop's structure (AdamW, warm-up +
//! cosine, validation every epoch, early stopping, atomic best/last checkpoints, exact
//! resume, Ctrl-C between steps) with cell targets and the cell + image loss.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use fracdet_eval::cell_regions::{CellGrid, cell_regions};
use fracdet_eval::localisation::{DEFAULT_IOU, LocalisationCase, localisation_metrics};
use fracdet_model::grid_detector::GridDetector;
use rayon::prelude::*;

use crate::atomic::write_atomic;
use crate::checkpoint::{BEST_FILE, LAST_FILE, METRICS_FILE, StopReason};
use crate::control::{LogObserver, StopFlag, TrainObserver};
use crate::error::{Result, TrainError};
use crate::mpr::config::MprConfig;
use crate::mpr::data::{MprItem, MprSource};
use crate::mpr::loss::{LossWeights, mpr_loss};
use crate::mpr::state::{MprCheckpoint, MprEpochMetrics, MprState, mpr_metrics_csv};
use crate::mpr::targets::{ImageTargets, cell_pos_weight, count_cells, image_targets};
use crate::order::{DEVICE, augment_seed, derive_seed, epoch_order};
use crate::schedule::WarmupCosine;
use crate::source::Skipped;
use crate::trainer::Start;
use crate::weights::{model_from_bytes, model_to_bytes};

/// Callbacks of the MPR loop: the classifier's, plus the detector's epoch metrics.
pub trait MprObserver: TrainObserver {
    /// The epoch's full row of metrics.csv (after [`TrainObserver::epoch_finished`]).
    fn mpr_epoch_finished(&mut self, _metrics: &MprEpochMetrics) {}
}

impl MprObserver for LogObserver {
    fn mpr_epoch_finished(&mut self, m: &MprEpochMetrics) {
        tracing::info!(
            "epoch {} cell_auroc {:?} hit_rate {:?} box_recall {:?}",
            m.epoch,
            m.val_cell_auroc,
            m.val_hit_rate,
            m.val_box_recall
        );
    }
}

/// How a call to [`train_mpr`] ended.
#[derive(Debug)]
pub struct MprOutcome {
    pub stop: StopReason,
    /// State as saved in `last.ckpt`.
    pub state: MprState,
    /// Images left out in this call (each named once).
    pub skipped: Vec<Skipped>,
}

/// A batch as the network and the loss take it.
struct Loaded {
    items: Vec<MprItem>,
    skipped: Vec<Skipped>,
}

/// Load `indices` in parallel (order kept), refusing items of the wrong size.
fn load_items(
    source: &dyn MprSource,
    indices: &[usize],
    seed_of: impl Fn(usize) -> Option<u64> + Sync,
    config: &MprConfig,
) -> Loaded {
    let plane = config.size as usize * config.size as usize;
    let maps = config.residual_scales.len() * plane;
    let results: Vec<(usize, Result<MprItem, String>)> = indices
        .par_iter()
        .map(|&i| {
            let r = source.load(i, seed_of(i)).and_then(|item| {
                if item.image.len() == plane && item.residuals.len() == maps {
                    Ok(item)
                } else {
                    Err(format!(
                        "sample has {} image and {} residual values, expected {plane} and {maps}",
                        item.image.len(),
                        item.residuals.len()
                    ))
                }
            });
            (i, r)
        })
        .collect();
    let mut out = Loaded {
        items: Vec::with_capacity(indices.len()),
        skipped: Vec::new(),
    };
    for (i, r) in results {
        match r {
            Ok(item) => out.items.push(item),
            Err(reason) => out.skipped.push(Skipped {
                index: i,
                name: source.name(i),
                reason,
            }),
        }
    }
    out
}

/// The normalised `[N, 1 + S, size, size]` input of `items`.
pub fn input_tensor(items: &[MprItem], config: &MprConfig, device: &Device) -> Tensor<4> {
    let side = config.size as usize;
    let channels = config.in_channels();
    let mut data = Vec::with_capacity(items.len() * channels * side * side);
    let (m, s) = (config.image_mean, config.image_std);
    let r = 1.0 / config.residual_std;
    for item in items {
        data.extend(item.image.iter().map(|&v| (v - m) / s));
        data.extend(item.residuals.iter().map(|&v| v * r));
    }
    Tensor::from_data(
        TensorData::new(data, [items.len(), channels, side, side]),
        device,
    )
}

/// Targets of `items` on the run's grid.
fn targets_of(items: &[MprItem], config: &MprConfig, grid: usize) -> Vec<ImageTargets> {
    items
        .iter()
        .map(|it| {
            image_targets(
                it.label,
                &it.boxes,
                config.size,
                grid,
                grid,
                config.min_cell_overlap,
            )
        })
        .collect()
}

/// Loss weights from the training set: image n_neg / n_pos and cell negative / positive
/// over un-augmented boxes, unless the config fixes them.
fn loss_weights(config: &MprConfig, train: &dyn MprSource, grid: usize) -> Result<(f32, f32)> {
    let n_pos = (0..train.len()).filter(|&i| train.label(i)).count();
    let n_neg = train.len() - n_pos;
    let image = match config.image_pos_weight {
        Some(w) => w,
        None if n_pos == 0 || n_neg == 0 => {
            return Err(TrainError::Data(format!(
                "training set needs both classes, has {n_pos} positive and {n_neg} negative"
            )));
        }
        None => n_neg as f32 / n_pos as f32,
    };
    let cell = match config.cell_pos_weight {
        Some(w) => w,
        None => {
            // Boxes only: the image channels are not needed, but loading is cached anyway.
            let all: Vec<usize> = (0..train.len()).collect();
            let mut targets = Vec::with_capacity(train.len());
            for chunk in all.chunks(64) {
                let loaded = load_items(train, chunk, |_| None, config);
                targets.extend(targets_of(&loaded.items, config, grid));
            }
            let (neg, pos) = count_cells(&targets);
            cell_pos_weight(neg, pos)
        }
    };
    Ok((image, cell))
}

/// Train `model` (built on `device` with `config.detector()`, pretrained weights already
/// in it) as the run in `run_dir` describes; see the classifier's `train_classifier` for
/// the checkpoint and resume contract, which is the same.
#[allow(clippy::too_many_arguments)]
pub fn train_mpr(
    model: GridDetector,
    config: &MprConfig,
    train: &dyn MprSource,
    val: &dyn MprSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn MprObserver,
    stop: &StopFlag,
) -> Result<MprOutcome> {
    config.validate()?;
    if train.is_empty() {
        return Err(TrainError::Data("training set is empty".into()));
    }
    let n_val_pos = (0..val.len()).filter(|&i| val.label(i)).count();
    if n_val_pos == 0 || n_val_pos == val.len() {
        return Err(TrainError::Data(format!(
            "validation set needs both classes for AUROC, has {n_val_pos} positive of {}",
            val.len()
        )));
    }
    let grid = config.detector().grid_side(config.size as usize);

    let ad = device.clone().autodiff();
    let mut model = model.fork(&ad).train();
    let optim_config = AdamWConfig::new().with_weight_decay(config.weight_decay);
    let mut optim: ModuleOptimizer = optim_config.init();
    let last_path = run_dir.join(LAST_FILE);

    let mut state = match start {
        Start::Fresh => {
            if last_path.exists() {
                return Err(TrainError::Config(format!(
                    "{} already holds a run; resume it or choose another directory",
                    run_dir.display()
                )));
            }
            std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
            let (image_pos_weight, cell_pos_weight) = loss_weights(config, train, grid)?;
            config.save(run_dir)?;
            let state = MprState {
                epoch: 0,
                global_step: 0,
                seed: config.seed,
                image_pos_weight,
                cell_pos_weight,
                best_auroc: None,
                best_epoch: None,
                epochs_without_improvement: 0,
                history: Vec::new(),
                finished: None,
                partial: None,
            };
            MprCheckpoint {
                state: state.clone(),
                model: model_to_bytes(&model)?,
                optimizer: Vec::new(),
            }
            .save(&last_path)?;
            write_atomic(&run_dir.join(METRICS_FILE), mpr_metrics_csv(&[]).as_bytes())?;
            state
        }
        Start::Resume => {
            let saved = MprConfig::load(run_dir)?;
            if &saved != config {
                return Err(TrainError::Config(format!(
                    "the configuration differs from {}",
                    run_dir.join(crate::config::CONFIG_FILE).display()
                )));
            }
            let ckpt = MprCheckpoint::load(&last_path)?;
            model = model_from_bytes(model, ckpt.model, &last_path)?;
            if !ckpt.optimizer.is_empty() {
                optim = optim
                    .from_bytes(Bytes::from_bytes_vec(ckpt.optimizer))
                    .map_err(|e| {
                        TrainError::format(&last_path, format!("bad optimizer state: {e}"))
                    })?;
            }
            ckpt.state
        }
    };
    let weights = LossWeights {
        cell_pos_weight: state.cell_pos_weight,
        image_pos_weight: state.image_pos_weight,
        image_weight: config.image_loss_weight,
    };

    let mut reported: BTreeSet<(bool, usize)> = BTreeSet::new();
    let mut skipped_all = Vec::new();
    if let Some(reason) = state.finished {
        return Ok(MprOutcome {
            stop: reason,
            state,
            skipped: skipped_all,
        });
    }

    let n_train = train.len();
    let steps_per_epoch = n_train.div_ceil(config.batch_size) as u64;
    let schedule = WarmupCosine {
        base_lr: config.lr,
        min_lr: config.min_lr,
        warmup_steps: config.warmup_epochs * steps_per_epoch,
        total_steps: config.epochs * steps_per_epoch,
    };

    for epoch in state.epoch..config.epochs {
        let started = Instant::now();
        let order = epoch_order(config.seed, epoch, n_train);
        observer.epoch_started(epoch, config.epochs, steps_per_epoch as usize);
        let resumed = state.partial.take().unwrap_or_default();
        let mut p = resumed.clone();
        let mut lr = schedule.lr(epoch * steps_per_epoch);
        for (b, chunk) in order
            .chunks(config.batch_size)
            .enumerate()
            .skip(resumed.batches_done as usize)
        {
            if stop.is_requested() {
                p.batches_done = b as u64;
                p.seconds = resumed.seconds + started.elapsed().as_secs_f64();
                state.partial = Some(p);
                save_last(model_to_bytes(&model)?, &optim, &state, &last_path)?;
                return Ok(MprOutcome {
                    stop: StopReason::Interrupted,
                    state,
                    skipped: skipped_all,
                });
            }
            ad.seed(derive_seed(config.seed, &[DEVICE, epoch, b as u64]));
            let step_started = Instant::now();
            let seed = config.seed;
            let batch = load_items(
                train,
                chunk,
                |i| {
                    config
                        .augment
                        .is_some()
                        .then(|| augment_seed(seed, epoch, i))
                },
                config,
            );
            for s in batch.skipped {
                p.skipped += 1;
                if reported.insert((true, s.index)) {
                    observer.skipped(&s);
                    skipped_all.push(s);
                }
            }
            let step = epoch * steps_per_epoch + b as u64;
            lr = schedule.lr(step);
            state.global_step = step + 1;
            // BatchNorm cannot estimate a variance from one image.
            if batch.items.len() < 2 {
                continue;
            }
            let n = batch.items.len();
            let targets = targets_of(&batch.items, config, grid);
            let (cells, image) = model.forward(input_tensor(&batch.items, config, &ad));
            let loss = mpr_loss(cells, image, &targets, &weights).ok_or_else(|| {
                TrainError::Config("detector output does not fit the cell grid".into())
            })?;
            let (cell_v, image_v): (f32, f32) = (
                loss.cell.clone().into_scalar(),
                loss.image.clone().into_scalar(),
            );
            let loss_value: f32 = loss.total.clone().into_scalar();
            let grads = GradientsParams::from_grads(loss.total.backward(), &model);
            model = optim.step(lr, model, grads);
            p.loss_sum += loss_value as f64 * n as f64;
            p.cell_loss_sum += cell_v as f64 * n as f64;
            p.image_loss_sum += image_v as f64 * n as f64;
            p.loss_images += n as u64;
            p.train_seconds += step_started.elapsed().as_secs_f64();
            observer.step_finished(loss_value as f64, n);
        }
        if p.loss_images == 0 {
            return Err(TrainError::Data(format!(
                "no training image of epoch {} could be used ({} skipped)",
                epoch + 1,
                p.skipped
            )));
        }

        observer.validating(val.len());
        let v = validate(&model.valid(), config, val, device, grid, &weights)?;
        for s in v.skipped {
            p.skipped += 1;
            if reported.insert((false, s.index)) {
                observer.skipped(&s);
                skipped_all.push(s);
            }
        }
        let improved = match (v.auroc, state.best_auroc) {
            (Some(a), Some(best)) => a > best,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if improved {
            state.best_auroc = v.auroc;
            state.best_epoch = Some(epoch);
            state.epochs_without_improvement = 0;
        } else {
            state.epochs_without_improvement += 1;
        }
        let images = p.loss_images as f64;
        let metrics = MprEpochMetrics {
            epoch,
            lr,
            train_loss: p.loss_sum / images,
            train_cell_loss: p.cell_loss_sum / images,
            train_image_loss: p.image_loss_sum / images,
            val_loss: v.loss,
            val_auroc: v.auroc,
            val_cell_auroc: v.cell_auroc,
            val_hit_rate: v.hit_rate,
            val_box_recall: v.box_recall,
            seconds: resumed.seconds + started.elapsed().as_secs_f64(),
            train_images_per_second: if p.train_seconds > 0.0 {
                images / p.train_seconds
            } else {
                0.0
            },
            skipped: p.skipped,
        };
        state.history.push(metrics.clone());
        state.epoch = epoch + 1;
        if config
            .patience
            .is_some_and(|p| state.epochs_without_improvement >= p)
        {
            state.finished = Some(StopReason::EarlyStopped);
        } else if state.epoch >= config.epochs {
            state.finished = Some(StopReason::Completed);
        }

        // best before last: a crash in between redoes this epoch and rewrites the same best.
        let model_bytes = model_to_bytes(&model)?;
        if improved {
            MprCheckpoint {
                state: state.clone(),
                model: model_bytes.clone(),
                optimizer: Vec::new(),
            }
            .save(&run_dir.join(BEST_FILE))?;
        }
        save_last(model_bytes, &optim, &state, &last_path)?;
        write_atomic(
            &run_dir.join(METRICS_FILE),
            mpr_metrics_csv(&state.history).as_bytes(),
        )?;
        observer.epoch_finished(&metrics.base(), improved);
        observer.mpr_epoch_finished(&metrics);

        if let Some(reason) = state.finished {
            return Ok(MprOutcome {
                stop: reason,
                state,
                skipped: skipped_all,
            });
        }
        if stop.is_requested() {
            return Ok(MprOutcome {
                stop: StopReason::Interrupted,
                state,
                skipped: skipped_all,
            });
        }
    }
    Ok(MprOutcome {
        stop: StopReason::Completed,
        state,
        skipped: skipped_all,
    })
}

fn save_last(model: Vec<u8>, optim: &ModuleOptimizer, state: &MprState, path: &Path) -> Result<()> {
    let optimizer = optim
        .into_bytes()
        .map_err(|e| TrainError::Config(format!("cannot serialise optimizer state: {e}")))?;
    MprCheckpoint {
        state: state.clone(),
        model,
        optimizer: optimizer.to_vec(),
    }
    .save(path)
}

/// Validation results of one epoch.
pub struct Validation {
    /// Mean total loss per image.
    pub loss: f64,
    /// Image AUROC (on logits: probabilities of a noisy-OR saturate to 1.0 in f32 and tie).
    pub auroc: Option<f64>,
    pub cell_auroc: Option<f64>,
    pub hit_rate: Option<f64>,
    pub box_recall: Option<f64>,
    pub skipped: Vec<Skipped>,
}

/// Score `val` with `model` (inference mode) on `device`.
pub fn validate(
    model: &GridDetector,
    config: &MprConfig,
    val: &dyn MprSource,
    device: &Device,
    grid: usize,
    weights: &LossWeights,
) -> Result<Validation> {
    let indices: Vec<usize> = (0..val.len()).collect();
    let (mut labels, mut scores) = (Vec::new(), Vec::new());
    let (mut cell_labels, mut cell_scores) = (Vec::new(), Vec::new());
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(config.batch_size) {
        let batch = load_items(val, chunk, |_| None, config);
        skipped.extend(batch.skipped);
        if batch.items.is_empty() {
            continue;
        }
        let n = batch.items.len();
        let targets = targets_of(&batch.items, config, grid);
        let (cells, image) = model.forward(input_tensor(&batch.items, config, device));
        let loss = mpr_loss(cells.clone(), image.clone(), &targets, weights).ok_or_else(|| {
            TrainError::Config("detector output does not fit the cell grid".into())
        })?;
        let l: f32 = loss.total.into_scalar();
        loss_sum += l as f64 * n as f64;
        let image = to_vec(image.into_data())?;
        let cells = to_vec(cells.into_data())?;
        let g = grid * grid;
        for ((item, t), (logit, z)) in batch
            .items
            .iter()
            .zip(&targets)
            .zip(image.iter().zip(cells.chunks(g)))
        {
            labels.push(item.label);
            scores.push(*logit);
            if let Some(c) = &t.cells {
                cell_labels.extend(c.iter().map(|&v| v > 0.5));
                cell_scores.extend_from_slice(z);
            }
            let probs: Vec<f32> = z.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
            let cell_grid = CellGrid::new(&probs, grid, grid, config.size)
                .map_err(|e| TrainError::Config(e.to_string()))?;
            cases.push(LocalisationCase {
                truth: if item.label {
                    item.boxes.clone()
                } else {
                    Vec::new()
                },
                peak: cell_grid.peak(),
                predicted: cell_regions(&cell_grid, config.region_threshold),
            });
        }
    }
    let loc = localisation_metrics(&cases, DEFAULT_IOU, 0.95).ok();
    Ok(Validation {
        loss: if labels.is_empty() {
            f64::NAN
        } else {
            loss_sum / labels.len() as f64
        },
        auroc: crate::metrics::auroc(&labels, &scores),
        cell_auroc: crate::metrics::auroc(&cell_labels, &cell_scores),
        hit_rate: loc.as_ref().and_then(|m| m.hit_rate.value),
        box_recall: loc.as_ref().and_then(|m| m.box_recall.value),
        skipped,
    })
}

fn to_vec(data: TensorData) -> Result<Vec<f32>> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("cannot read tensor: {e:?}")))
}
