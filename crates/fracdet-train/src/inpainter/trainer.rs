//! The inpainter training loop: masked L1 plus, when `adv_weight > 0`, a hinge GAN with a
//! local and a global critic.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Bytes, Device, Tensor, TensorData, s};
use fracdet_model::mpr::{Discriminator, DiscriminatorConfig, Inpainter};

use super::checkpoint::{
    InpainterCheckpoint, InpainterEpochMetrics, InpainterState, inpainter_metrics_csv,
};
use super::config::InpainterTrainConfig;
use super::masks::{Square, paint, training_squares};
use super::validate::{sample_grid_png, validate_inpainter};
use super::{InpainterObserver, StepLosses};
use crate::atomic::write_atomic;
use crate::checkpoint::{BEST_FILE, LAST_FILE, METRICS_FILE, StopReason};
use crate::control::StopFlag;
use crate::error::{Result, TrainError};
use crate::order::{augment_seed, derive_seed, epoch_order};
use crate::schedule::WarmupCosine;
use crate::source::{SampleSource, Skipped, load_batch};
use crate::trainer::Start;
use crate::weights::{model_from_bytes, model_to_bytes};

/// Directory of the per-epoch sample grids inside the run directory.
pub const SAMPLES_DIR: &str = "samples";
/// Purpose of the per-step device seed.
const DEVICE_SEED: u64 = 0x4d50_5203;

/// The two critics of the multiscale GAN, trained by one optimizer.
#[derive(Module, Debug)]
pub struct Critics {
    /// Sees the masked square with its context (twice its side), resized to `local_side`.
    pub local: Discriminator,
    /// Sees the whole canvas downscaled to `global_side`.
    pub global: Discriminator,
}

impl Critics {
    pub fn new(device: &Device) -> Result<Self> {
        Ok(Self {
            local: DiscriminatorConfig::new().init(device)?,
            global: DiscriminatorConfig::new().init(device)?,
        })
    }
}

/// How a call to [`train_inpainter`] ended.
#[derive(Debug)]
pub struct InpainterOutcome {
    pub stop: StopReason,
    /// State as saved in `last.ckpt`.
    pub state: InpainterState,
    /// Images left out in this call (each named once).
    pub skipped: Vec<Skipped>,
}

/// Non-fractured samples of a source, in index order.
pub fn normal_indices(source: &dyn SampleSource) -> Vec<usize> {
    (0..source.len()).filter(|&i| !source.label(i)).collect()
}

/// Train the inpainter `g` and the `critics` (both built on `device`; [`Critics::new`]
/// for fresh ones, ignored when the critics are off) on the non-fractured samples of `train`,
/// validating on the non-fractured samples of `val` every epoch, as the run in `run_dir`
/// describes. Writes `config.json`, `metrics.csv`, `last.ckpt` (every epoch and when
/// stopped), `best.ckpt` (lowest val L1) and `samples/epoch_NNN.png`. When `stop` is
/// requested it finishes the current step, saves a `last.ckpt` that records the position
/// inside the epoch, and returns; resuming from it gives the same result as never stopping.
#[allow(clippy::too_many_arguments)]
pub fn train_inpainter(
    g: Inpainter,
    critics: Critics,
    config: &InpainterTrainConfig,
    train: &dyn SampleSource,
    val: &dyn SampleSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn InpainterObserver,
    stop: &StopFlag,
) -> Result<InpainterOutcome> {
    config.validate()?;
    let train_idx = normal_indices(train);
    let mut val_idx = normal_indices(val);
    if let Some(limit) = config.val_limit {
        val_idx.truncate(limit);
    }
    if train_idx.is_empty() || val_idx.is_empty() {
        return Err(TrainError::Data(format!(
            "the inpainter needs non-fractured train and val images, found {} and {}",
            train_idx.len(),
            val_idx.len()
        )));
    }
    let adversarial = config.adv_weight > 0.0;
    let ad = device.clone().autodiff();
    let mut g = g.fork(&ad).train();
    let mut critics = critics.fork(&ad).train();
    let adam = AdamConfig::new().with_beta_1(0.5).with_beta_2(0.999);
    let mut optim_g: ModuleOptimizer = adam.init();
    let mut optim_d: ModuleOptimizer = adam.init();
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
            config.save(run_dir)?;
            let state = InpainterState {
                epoch: 0,
                global_step: 0,
                seed: config.seed,
                best_val_l1: None,
                best_epoch: None,
                history: Vec::new(),
                finished: None,
                partial: None,
            };
            // A checkpoint before the first step, so that a run stopped in its first epoch
            // can be resumed too (critics included: their initial weights are random).
            save_last(&g, &critics, &optim_g, &optim_d, &state, &last_path)?;
            write_atomic(
                &run_dir.join(METRICS_FILE),
                inpainter_metrics_csv(&[]).as_bytes(),
            )?;
            state
        }
        Start::Resume => {
            let saved = InpainterTrainConfig::load(run_dir)?;
            if &saved != config {
                return Err(TrainError::Config(format!(
                    "the configuration differs from {}",
                    run_dir.join(crate::config::CONFIG_FILE).display()
                )));
            }
            let ckpt = InpainterCheckpoint::load(&last_path)?;
            g = model_from_bytes(g, ckpt.generator, &last_path)?;
            critics = model_from_bytes(critics, ckpt.critics, &last_path)?;
            optim_g = load_optim(optim_g, ckpt.optim_g, &last_path)?;
            optim_d = load_optim(optim_d, ckpt.optim_d, &last_path)?;
            ckpt.state
        }
    };
    // After loading: every parameter of both networks trains.
    let mut g = g.set_require_grad(true);
    let mut critics = critics.set_require_grad(true);
    let mut skipped_all: Vec<Skipped> = Vec::new();
    if let Some(reason) = state.finished {
        return Ok(InpainterOutcome {
            stop: reason,
            state,
            skipped: skipped_all,
        });
    }

    let size = config.size as usize;
    let plane = size * size;
    let steps_per_epoch = train_idx.len().div_ceil(config.batch_size) as u64;
    let schedule = |base: f64| WarmupCosine {
        base_lr: base,
        min_lr: base * 0.01,
        warmup_steps: 0,
        total_steps: config.epochs * steps_per_epoch,
    };
    let (sched_g, sched_d) = (schedule(config.lr_g), schedule(config.lr_d));
    let mut reported = std::collections::BTreeSet::new();

    for epoch in state.epoch..config.epochs {
        let started = Instant::now();
        let order: Vec<usize> = epoch_order(config.seed, epoch, train_idx.len())
            .into_iter()
            .map(|k| train_idx[k])
            .collect();
        observer.epoch_started(epoch, config.epochs, steps_per_epoch as usize);
        let resumed = state.partial.take().unwrap_or_default();
        let mut acc = resumed.clone();
        let earlier_seconds = resumed.seconds;
        let mut lr_g = sched_g.lr(epoch * steps_per_epoch);
        for (b, chunk) in order
            .chunks(config.batch_size)
            .enumerate()
            .skip(resumed.batches_done as usize)
        {
            if stop.is_requested() {
                acc.batches_done = b as u64;
                acc.seconds = earlier_seconds + started.elapsed().as_secs_f64();
                state.partial = Some(acc);
                save_last(&g, &critics, &optim_g, &optim_d, &state, &last_path)?;
                return Ok(InpainterOutcome {
                    stop: StopReason::Interrupted,
                    state,
                    skipped: skipped_all,
                });
            }
            ad.seed(derive_seed(config.seed, &[DEVICE_SEED, epoch, b as u64]));
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
                plane,
            );
            for s in &batch.skipped {
                acc.skipped += 1;
                if reported.insert(s.index) {
                    observer.skipped(s);
                    skipped_all.push(s.clone());
                }
            }
            let step = epoch * steps_per_epoch + b as u64;
            lr_g = sched_g.lr(step);
            let lr_d = sched_d.lr(step);
            state.global_step = step + 1;
            if batch.canvases.is_empty() {
                continue;
            }
            let loaded: Vec<usize> = chunk
                .iter()
                .copied()
                .filter(|i| !batch.skipped.iter().any(|s| s.index == *i))
                .collect();
            let n = batch.canvases.len();
            let squares: Vec<Vec<Square>> = batch
                .canvases
                .iter()
                .zip(&loaded)
                .map(|(c, &i)| {
                    training_squares(
                        c,
                        size,
                        &config.scales,
                        config.patches_per_image,
                        config.seed,
                        epoch,
                        i,
                    )
                })
                .collect();
            let mut masks = Vec::with_capacity(n * plane);
            for sq in &squares {
                paint(sq, size, &mut masks);
            }
            let x = Tensor::<4>::from_data(
                TensorData::new(batch.canvases.concat(), [n, 1, size, size]),
                &ad,
            );
            let m = Tensor::<4>::from_data(TensorData::new(masks, [n, 1, size, size]), &ad);
            let out = g.forward(x.clone(), m.clone());
            let l1 = ((out.clone() - x.clone()).abs() * m.clone()).sum() / m.clone().sum();
            let mut losses = StepLosses {
                l1: scalar(&l1),
                adv: 0.0,
                d: 0.0,
            };
            let g_loss = if adversarial {
                // Critic step on real and (detached) fake views.
                let first: Vec<Square> = squares.iter().map(|s| s[0]).collect();
                let real = views(&x, &m, &first, config);
                let fake = views(&out.clone().detach(), &m, &first, config);
                let d_loss = hinge_d(critics.local.forward(real.0), critics.local.forward(fake.0))
                    + hinge_d(
                        critics.global.forward(real.1),
                        critics.global.forward(fake.1),
                    );
                losses.d = scalar(&d_loss);
                let grads = GradientsParams::from_grads(d_loss.backward(), &critics);
                critics = optim_d.step(lr_d, critics, grads);
                // Generator's adversarial term against the updated critics.
                let fake = views(&out, &m, &first, config);
                let adv = (critics.local.forward(fake.0).mean()
                    + critics.global.forward(fake.1).mean())
                .neg()
                    / 2.0;
                losses.adv = scalar(&adv);
                l1 + adv.mul_scalar(config.adv_weight)
            } else {
                l1
            };
            let grads = GradientsParams::from_grads(g_loss.backward(), &g);
            g = optim_g.step(lr_g, g, grads);
            acc.l1_sum += losses.l1 * n as f64;
            acc.adv_sum += losses.adv * n as f64;
            acc.d_sum += losses.d * n as f64;
            acc.images += n as u64;
            acc.train_seconds += step_started.elapsed().as_secs_f64();
            observer.step_finished(&losses, n);
        }
        if acc.images == 0 {
            return Err(TrainError::Data(format!(
                "no training image of epoch {} could be used ({} skipped)",
                epoch + 1,
                acc.skipped
            )));
        }

        observer.validating(val_idx.len());
        let eval_g = g.valid();
        let (scores, val_skipped, rows) =
            validate_inpainter(&eval_g, val, &val_idx, config, device)?;
        for s in val_skipped {
            acc.skipped += 1;
            if reported.insert(usize::MAX / 2 + s.index) {
                observer.skipped(&s);
                skipped_all.push(s);
            }
        }
        if config.sample_rows > 0 && !rows.is_empty() {
            let dir = run_dir.join(SAMPLES_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
            write_atomic(
                &dir.join(format!("epoch_{:03}.png", epoch + 1)),
                &sample_grid_png(&rows, size)?,
            )?;
        }
        let images = acc.images as f64;
        let metrics = InpainterEpochMetrics {
            epoch,
            lr_g,
            train_l1: acc.l1_sum / images,
            train_adv: acc.adv_sum / images,
            train_d: acc.d_sum / images,
            val_l1: scores.g_l1,
            val_psnr: scores.g_psnr,
            blur_l1: scores.blur_l1,
            blur_psnr: scores.blur_psnr,
            seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            train_images_per_second: if acc.train_seconds > 0.0 {
                images / acc.train_seconds
            } else {
                0.0
            },
            skipped: acc.skipped,
        };
        let improved =
            scores.g_l1.is_finite() && state.best_val_l1.is_none_or(|best| scores.g_l1 < best);
        if improved {
            state.best_val_l1 = Some(scores.g_l1);
            state.best_epoch = Some(epoch);
        }
        state.history.push(metrics.clone());
        state.epoch = epoch + 1;
        if state.epoch >= config.epochs {
            state.finished = Some(StopReason::Completed);
        }
        // best before last: a crash in between redoes this epoch and rewrites the same best.
        let g_bytes = model_to_bytes(&g)?;
        if improved {
            InpainterCheckpoint {
                state: state.clone(),
                generator: g_bytes.clone(),
                critics: Vec::new(),
                optim_g: Vec::new(),
                optim_d: Vec::new(),
            }
            .save(&run_dir.join(BEST_FILE))?;
        }
        save_last_bytes(g_bytes, &critics, &optim_g, &optim_d, &state, &last_path)?;
        write_atomic(
            &run_dir.join(METRICS_FILE),
            inpainter_metrics_csv(&state.history).as_bytes(),
        )?;
        observer.epoch_finished(&metrics, improved);
        if let Some(reason) = state.finished {
            return Ok(InpainterOutcome {
                stop: reason,
                state,
                skipped: skipped_all,
            });
        }
        if stop.is_requested() {
            return Ok(InpainterOutcome {
                stop: StopReason::Interrupted,
                state,
                skipped: skipped_all,
            });
        }
    }
    Ok(InpainterOutcome {
        stop: StopReason::Completed,
        state,
        skipped: skipped_all,
    })
}

fn scalar(t: &Tensor<1>) -> f64 {
    let v: f32 = t.clone().into_scalar();
    v as f64
}

/// Hinge loss of a critic: `mean(relu(1 − real)) + mean(relu(1 + fake))`.
fn hinge_d(real: Tensor<4>, fake: Tensor<4>) -> Tensor<1> {
    relu(real.neg().add_scalar(1.0)).mean() + relu(fake.add_scalar(1.0)).mean()
}

/// The critics' inputs for images `x` with masks `m` (`[N, 1, S, S]` each): the local view
/// (the context window of each image's first square, `[N, 2, local, local]`) and the global
/// view (`[N, 2, global, global]`).
fn views(
    x: &Tensor<4>,
    m: &Tensor<4>,
    squares: &[Square],
    config: &InpainterTrainConfig,
) -> (Tensor<4>, Tensor<4>) {
    let size = config.size as usize;
    let both = Tensor::cat(vec![x.clone(), m.clone()], 1);
    let local: Vec<Tensor<4>> = squares
        .iter()
        .enumerate()
        .map(|(i, sq)| {
            let (y, x0, side) = sq.context(size);
            let crop = both
                .clone()
                .slice(s![i..i + 1, .., y..y + side, x0..x0 + side]);
            if side == config.local_side {
                crop
            } else {
                adaptive_avg_pool2d(crop, [config.local_side, config.local_side])
            }
        })
        .collect();
    let global = if size == config.global_side {
        both
    } else {
        adaptive_avg_pool2d(both, [config.global_side, config.global_side])
    };
    (Tensor::cat(local, 0), global)
}

fn load_optim(optim: ModuleOptimizer, bytes: Vec<u8>, path: &Path) -> Result<ModuleOptimizer> {
    if bytes.is_empty() {
        return Ok(optim);
    }
    optim
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::format(path, format!("bad optimizer state: {e}")))
}

fn optim_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>> {
    Ok(optim
        .into_bytes()
        .map_err(|e| TrainError::Config(format!("cannot serialise optimizer state: {e}")))?
        .to_vec())
}

fn save_last(
    g: &Inpainter,
    critics: &Critics,
    optim_g: &ModuleOptimizer,
    optim_d: &ModuleOptimizer,
    state: &InpainterState,
    path: &Path,
) -> Result<()> {
    save_last_bytes(model_to_bytes(g)?, critics, optim_g, optim_d, state, path)
}

fn save_last_bytes(
    generator: Vec<u8>,
    critics: &Critics,
    optim_g: &ModuleOptimizer,
    optim_d: &ModuleOptimizer,
    state: &InpainterState,
    path: &Path,
) -> Result<()> {
    InpainterCheckpoint {
        state: state.clone(),
        generator,
        critics: model_to_bytes(critics)?,
        optim_g: optim_bytes(optim_g)?,
        optim_d: optim_bytes(optim_d)?,
    }
    .save(path)
}
