//! The classifier training loop.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use crate::atomic::write_atomic;
use crate::checkpoint::{
    BEST_FILE, Checkpoint, EpochMetrics, LAST_FILE, METRICS_FILE, PartialEpoch, StopReason,
    TrainState, metrics_csv,
};
use crate::config::ClassifierConfig;
use crate::control::{StopFlag, TrainObserver};
use crate::error::{Result, TrainError};
use crate::loss::weighted_bce_with_logits;
use crate::model::BinaryClassifier;
use crate::order::{DEVICE, augment_seed, derive_seed, epoch_order};
use crate::schedule::WarmupCosine;
use crate::source::{SampleSource, Skipped, load_batch};
use crate::weights::{model_from_bytes, model_to_bytes};

/// How a call to [`train_classifier`] ended.
#[derive(Debug)]
pub struct TrainOutcome {
    pub stop: StopReason,
    /// State as saved in `last.ckpt`.
    pub state: TrainState,
    /// Images left out in this call (each named once).
    pub skipped: Vec<Skipped>,
}

/// Where a run starts.
pub enum Start {
    /// A new run in an empty or absent directory; `config.json` is written.
    Fresh,
    /// Continue from `last.ckpt`; the directory's `config.json` must equal the given config.
    Resume,
}

/// Positive-class weight `n_negative / n_positive`, the usual balance for W-BCE.
pub fn balanced_pos_weight(source: &dyn SampleSource) -> Result<f32> {
    let n_pos = (0..source.len()).filter(|&i| source.label(i)).count();
    let n_neg = source.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(TrainError::Data(format!(
            "training set needs both classes, has {n_pos} positive and {n_neg} negative"
        )));
    }
    Ok(n_neg as f32 / n_pos as f32)
}

/// Train `model` (built on `device`, with any pretrained weights already in it) as the run in
/// `run_dir` describes, saving `last.ckpt` every epoch and `best.ckpt` on every better
/// validation AUROC. When `stop` is requested it finishes the current step, saves a
/// `last.ckpt` that records the position inside the epoch, and returns; resuming from it
/// gives the same result as never stopping.
#[allow(clippy::too_many_arguments)]
pub fn train_classifier<M: BinaryClassifier>(
    model: M,
    config: &ClassifierConfig,
    train: &dyn SampleSource,
    val: &dyn SampleSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn TrainObserver,
    stop: &StopFlag,
) -> Result<TrainOutcome> {
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
    if config.freeze_epochs > 0 && model.backbone_params().is_none() {
        return Err(TrainError::Config(
            "this network has no backbone/head split; freeze epochs must be 0".into(),
        ));
    }

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
            let pos_weight = match config.pos_weight {
                Some(w) => w,
                None => balanced_pos_weight(train)?,
            };
            config.save(run_dir)?;
            let state = TrainState {
                epoch: 0,
                global_step: 0,
                seed: config.seed,
                pos_weight,
                best_auroc: None,
                best_epoch: None,
                epochs_without_improvement: 0,
                history: Vec::new(),
                finished: None,
                partial: None,
            };
            // A checkpoint before the first step, so that a run stopped in its first epoch
            // can be resumed too.
            Checkpoint {
                state: state.clone(),
                model: model_to_bytes(&model)?,
                optimizer: Vec::new(),
            }
            .save(&last_path)?;
            write_atomic(&run_dir.join(METRICS_FILE), metrics_csv(&[]).as_bytes())?;
            state
        }
        Start::Resume => {
            let saved = ClassifierConfig::load(run_dir)?;
            if &saved != config {
                return Err(TrainError::Config(format!(
                    "the configuration differs from {}",
                    run_dir.join(crate::config::CONFIG_FILE).display()
                )));
            }
            let ckpt = Checkpoint::load(&last_path)?;
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

    // After loading: parameter ids come from the checkpoint.
    let backbone = model.backbone_params();
    let mut reported: BTreeSet<(bool, usize)> = BTreeSet::new();
    let mut skipped_all = Vec::new();
    if let Some(reason) = state.finished {
        return Ok(TrainOutcome {
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
    let spec = &config.input;
    let side = spec.size as usize;
    let canvas_len = side * side;

    for epoch in state.epoch..config.epochs {
        let started = Instant::now();
        let frozen = epoch < config.freeze_epochs;
        model = match (&backbone, frozen) {
            (Some(group), true) => model
                .set_require_grad(true)
                .set_require_grad_group(group.clone(), false),
            _ => model.set_require_grad(true),
        };

        let order = epoch_order(config.seed, epoch, n_train);
        observer.epoch_started(epoch, config.epochs, steps_per_epoch as usize);
        // A run stopped inside this epoch continues from its next batch with its totals.
        let resumed = state.partial.take().unwrap_or_default();
        let first_batch = resumed.batches_done as usize;
        let mut loss_sum = resumed.loss_sum;
        let mut loss_images = resumed.loss_images as usize;
        let mut skipped_this_epoch = resumed.skipped;
        let mut train_time = resumed.train_seconds;
        let earlier_seconds = resumed.seconds;
        let mut lr = schedule.lr(epoch * steps_per_epoch);
        for (b, chunk) in order
            .chunks(config.batch_size)
            .enumerate()
            .skip(first_batch)
        {
            if stop.is_requested() {
                // Save between steps: model, optimizer and where in the epoch we are.
                state.partial = Some(PartialEpoch {
                    batches_done: b as u64,
                    loss_sum,
                    loss_images: loss_images as u64,
                    skipped: skipped_this_epoch,
                    train_seconds: train_time,
                    seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                });
                save_last(&model, &optim, &state, &last_path)?;
                return Ok(TrainOutcome {
                    stop: StopReason::Interrupted,
                    state,
                    skipped: skipped_all,
                });
            }
            // Layer randomness (dropout) of this step, independent of what ran before.
            ad.seed(derive_seed(config.seed, &[DEVICE, epoch, b as u64]));
            let step_started = Instant::now();
            let seed = config.seed;
            let batch = load_batch(
                train,
                chunk,
                |i| {
                    config
                        .augment
                        .is_some()
                        .then(|| augment_seed(seed, epoch, i))
                },
                canvas_len,
            );
            for s in batch.skipped {
                skipped_this_epoch += 1;
                if reported.insert((true, s.index)) {
                    observer.skipped(&s);
                    skipped_all.push(s);
                }
            }
            let step = epoch * steps_per_epoch + b as u64;
            lr = schedule.lr(step);
            state.global_step = step + 1;
            // BatchNorm cannot estimate a variance from one image.
            if batch.canvases.len() < 2 {
                continue;
            }
            let n = batch.canvases.len();
            let (images, targets) = to_tensors(&batch.canvases, &batch.labels, config, &ad);
            let logits = model.logits(images);
            let loss = weighted_bce_with_logits(logits, targets, state.pos_weight);
            let loss_value: f32 = loss.clone().into_scalar();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            loss_sum += loss_value as f64 * n as f64;
            loss_images += n;
            train_time += step_started.elapsed().as_secs_f64();
            observer.step_finished(loss_value as f64, n);
        }

        if loss_images == 0 {
            return Err(TrainError::Data(format!(
                "no training image of epoch {} could be used ({} skipped)",
                epoch + 1,
                skipped_this_epoch
            )));
        }

        // Validation.
        let eval_model = model.valid();
        let plain = device.clone();
        observer.validating(val.len());
        let val_indices: Vec<usize> = (0..val.len()).collect();
        let mut val_labels = Vec::with_capacity(val.len());
        let mut val_scores = Vec::with_capacity(val.len());
        let mut val_loss_sum = 0.0f64;
        for chunk in val_indices.chunks(config.batch_size) {
            let batch = load_batch(val, chunk, |_| None, canvas_len);
            for s in batch.skipped {
                skipped_this_epoch += 1;
                if reported.insert((false, s.index)) {
                    observer.skipped(&s);
                    skipped_all.push(s);
                }
            }
            if batch.canvases.is_empty() {
                continue;
            }
            let n = batch.canvases.len();
            let (images, targets) = to_tensors(&batch.canvases, &batch.labels, config, &plain);
            let logits = eval_model.logits(images);
            let loss: f32 =
                weighted_bce_with_logits(logits.clone(), targets, state.pos_weight).into_scalar();
            val_loss_sum += loss as f64 * n as f64;
            val_scores.extend(tensor_to_vec(sigmoid(logits))?);
            val_labels.extend(batch.labels);
        }
        let val_auroc = crate::metrics::auroc(&val_labels, &val_scores);
        let improved = match (val_auroc, state.best_auroc) {
            (Some(a), Some(best)) => a > best,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if improved {
            state.best_auroc = val_auroc;
            state.best_epoch = Some(epoch);
            state.epochs_without_improvement = 0;
        } else {
            state.epochs_without_improvement += 1;
        }
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: if loss_images > 0 {
                loss_sum / loss_images as f64
            } else {
                f64::NAN
            },
            val_loss: if val_labels.is_empty() {
                f64::NAN
            } else {
                val_loss_sum / val_labels.len() as f64
            },
            val_auroc,
            seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            train_images_per_second: if train_time > 0.0 {
                loss_images as f64 / train_time
            } else {
                0.0
            },
            skipped: skipped_this_epoch,
            frozen,
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
            Checkpoint {
                state: state.clone(),
                model: model_bytes.clone(),
                optimizer: Vec::new(),
            }
            .save(&run_dir.join(BEST_FILE))?;
        }
        save_last_bytes(model_bytes, &optim, &state, &last_path)?;
        write_atomic(
            &run_dir.join(METRICS_FILE),
            metrics_csv(&state.history).as_bytes(),
        )?;
        observer.epoch_finished(&metrics, improved);

        if let Some(reason) = state.finished {
            return Ok(TrainOutcome {
                stop: reason,
                state,
                skipped: skipped_all,
            });
        }
        if stop.is_requested() {
            return Ok(TrainOutcome {
                stop: StopReason::Interrupted,
                state,
                skipped: skipped_all,
            });
        }
    }
    // Only reached when the loop had nothing to run (state.epoch >= epochs without finished).
    Ok(TrainOutcome {
        stop: StopReason::Completed,
        state,
        skipped: skipped_all,
    })
}

/// Write `last.ckpt`: weights, optimizer moments and training state.
fn save_last<M: BinaryClassifier>(
    model: &M,
    optim: &ModuleOptimizer,
    state: &TrainState,
    path: &Path,
) -> Result<()> {
    save_last_bytes(model_to_bytes(model)?, optim, state, path)
}

fn save_last_bytes(
    model: Vec<u8>,
    optim: &ModuleOptimizer,
    state: &TrainState,
    path: &Path,
) -> Result<()> {
    let optimizer = optim
        .into_bytes()
        .map_err(|e| TrainError::Config(format!("cannot serialise optimizer state: {e}")))?;
    Checkpoint {
        state: state.clone(),
        model,
        optimizer: optimizer.to_vec(),
    }
    .save(path)
}

/// Stack canvases into the normalised `[B, C, S, S]` input and the `[B]` 0/1 targets.
pub(crate) fn to_tensors(
    canvases: &[Vec<f32>],
    labels: &[bool],
    config: &ClassifierConfig,
    device: &Device,
) -> (Tensor<4>, Tensor<1>) {
    let spec = &config.input;
    let side = spec.size as usize;
    let mut data = Vec::with_capacity(canvases.len() * spec.numel());
    for c in canvases {
        spec.normalise_into(c, &mut data);
    }
    let images = Tensor::from_data(
        TensorData::new(data, [canvases.len(), spec.channels, side, side]),
        device,
    );
    let targets: Vec<f32> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
    let targets = Tensor::from_data(TensorData::new(targets, [labels.len()]), device);
    (images, targets)
}

pub(crate) fn tensor_to_vec(t: Tensor<1>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("cannot read tensor: {e:?}")))
}
