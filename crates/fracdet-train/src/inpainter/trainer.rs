//! The inpainter as a [`TrainKind`]: masked L1 plus, when `adv_weight > 0`, a hinge GAN
//! with a local and a global critic, each network with its own Adam optimizer.

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor, TensorData, s};
use fracdet_model::mpr::{Discriminator, DiscriminatorConfig, Inpainter};

use super::StepLosses;
use super::checkpoint::{
    InpainterCheckpoint, InpainterEpochMetrics, InpainterPartial, InpainterState,
    inpainter_metrics_csv,
};
use super::config::InpainterTrainConfig;
use super::masks::{Square, paint, training_squares};
use super::validate::{InpaintScores, sample_grid_png, validate_inpainter};
use crate::RunError;
use crate::atomic::write_atomic;
use crate::control::{StopFlag, TrainObserver};
use crate::engine::{
    Batch, EpochTotals, Outcome, Partial, Plan, RunState, Slot, Start, Stepped, TrainKind,
    Validated, train,
};
use crate::error::{Result, TrainError};
use crate::optim::{load_optimizer, optimizer_bytes};
use crate::schedule::WarmupCosine;
use crate::source::{SampleSource, canvas_of, load_batch};
use crate::weights::{model_from_bytes, model_to_bytes};

/// Directory of the per-epoch sample grids inside the run directory.
pub const SAMPLES_DIR: &str = "samples";
/// Purpose of the per-step device seed (the inpainter's own, so that its runs continue as
/// they did before the engine).
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
pub type InpainterOutcome = Outcome<InpainterState>;

/// Non-fractured samples of a source, in index order.
pub fn normal_indices(source: &dyn SampleSource) -> Vec<usize> {
    (0..source.len()).filter(|&i| !source.label(i)).collect()
}

/// Train the inpainter `g` and the `critics` (both built on `device`; [`Critics::new`]
/// for fresh ones, ignored when the critics are off) on the non-fractured samples of `train`,
/// validating on the non-fractured samples of `val` every epoch, as the run in `run_dir`
/// describes. Writes `config.json`, `metrics.csv`, `last.ckpt` (every epoch and when
/// stopped), `best.ckpt` (lowest val L1) and `samples/epoch_NNN.png`; stopping and resuming
/// as [`crate::engine::train`] says.
#[allow(clippy::too_many_arguments)]
pub fn train_inpainter(
    g: Inpainter,
    critics: Critics,
    config: &InpainterTrainConfig,
    train_set: &dyn SampleSource,
    val: &dyn SampleSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn TrainObserver<StepLosses, InpainterEpochMetrics>,
    stop: &StopFlag,
) -> Result<InpainterOutcome> {
    let mut kind = InpainterKind::new(g, critics, config, train_set, val, device)?;
    train(&mut kind, run_dir, start, observer, stop)
}

/// An inpainter run in progress: two networks, two optimizers.
struct InpainterKind<'a> {
    g: Inpainter,
    critics: Critics,
    optim_g: ModuleOptimizer,
    optim_d: ModuleOptimizer,
    config: &'a InpainterTrainConfig,
    train: &'a dyn SampleSource,
    val: &'a dyn SampleSource,
    train_idx: Vec<usize>,
    val_idx: Vec<usize>,
    device: Device,
    autodiff: Device,
    sched_g: WarmupCosine,
    sched_d: WarmupCosine,
}

impl<'a> InpainterKind<'a> {
    fn new(
        g: Inpainter,
        critics: Critics,
        config: &'a InpainterTrainConfig,
        train: &'a dyn SampleSource,
        val: &'a dyn SampleSource,
        device: &Device,
    ) -> Result<Self> {
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
        let autodiff = device.clone().autodiff();
        let adam = AdamConfig::new().with_beta_1(0.5).with_beta_2(0.999);
        let steps_per_epoch = train_idx.len().div_ceil(config.batch_size) as u64;
        let schedule =
            |base: f64| WarmupCosine::planned(base, base * 0.01, 0, config.epochs, steps_per_epoch);
        // Every parameter of both networks trains.
        Ok(Self {
            g: g.fork(&autodiff).train().set_require_grad(true),
            critics: critics.fork(&autodiff).train().set_require_grad(true),
            optim_g: adam.init(),
            optim_d: adam.init(),
            config,
            train,
            val,
            train_idx,
            val_idx,
            device: device.clone(),
            autodiff,
            sched_g: schedule(config.lr_g),
            sched_d: schedule(config.lr_d),
        })
    }

    /// The generator's and (when the critics are on) the critics' update on one batch of
    /// canvases, samples `loaded`, with fresh training squares.
    fn update(&mut self, canvases: &[Vec<f32>], loaded: &[usize], batch: &Batch) -> StepLosses {
        let config = self.config;
        let size = config.size as usize;
        let plane = size * size;
        let n = canvases.len();
        let squares: Vec<Vec<Square>> = canvases
            .iter()
            .zip(loaded)
            .map(|(c, &i)| {
                training_squares(
                    c,
                    size,
                    &config.scales,
                    config.patches_per_image,
                    config.seed,
                    batch.epoch,
                    i,
                )
            })
            .collect();
        let mut masks = Vec::with_capacity(n * plane);
        for sq in &squares {
            paint(sq, size, &mut masks);
        }
        let ad = &self.autodiff;
        let x = Tensor::<4>::from_data(TensorData::new(canvases.concat(), [n, 1, size, size]), ad);
        let m = Tensor::<4>::from_data(TensorData::new(masks, [n, 1, size, size]), ad);
        let out = self.g.forward(x.clone(), m.clone());
        let l1 = ((out.clone() - x.clone()).abs() * m.clone()).sum() / m.clone().sum();
        let mut losses = StepLosses {
            l1: scalar(&l1),
            adv: 0.0,
            d: 0.0,
        };
        let g_loss = if config.adv_weight > 0.0 {
            // Critic step on real and (detached) fake views.
            let first: Vec<Square> = squares.iter().map(|s| s[0]).collect();
            let real = views(&x, &m, &first, config);
            let fake = views(&out.clone().detach(), &m, &first, config);
            let critics = &self.critics;
            let d_loss = hinge_d(critics.local.forward(real.0), critics.local.forward(fake.0))
                + hinge_d(
                    critics.global.forward(real.1),
                    critics.global.forward(fake.1),
                );
            losses.d = scalar(&d_loss);
            let grads = GradientsParams::from_grads(d_loss.backward(), critics);
            let lr_d = self.sched_d.lr(batch.step);
            self.critics = self.optim_d.step(lr_d, self.critics.clone(), grads);
            // Generator's adversarial term against the updated critics.
            let fake = views(&out, &m, &first, config);
            let critics = &self.critics;
            let adv = (critics.local.forward(fake.0).mean()
                + critics.global.forward(fake.1).mean())
            .neg()
                / 2.0;
            losses.adv = scalar(&adv);
            l1 + adv.mul_scalar(config.adv_weight)
        } else {
            l1
        };
        let grads = GradientsParams::from_grads(g_loss.backward(), &self.g);
        self.g = self
            .optim_g
            .step(self.sched_g.lr(batch.step), self.g.clone(), grads);
        losses
    }
}

impl TrainKind for InpainterKind<'_> {
    type Config = InpainterTrainConfig;
    type Losses = StepLosses;
    type Valid = InpaintScores;
    type Row = InpainterEpochMetrics;
    type State = InpainterState;

    fn config(&self) -> &InpainterTrainConfig {
        self.config
    }

    fn plan(&self) -> Plan {
        Plan {
            epochs: self.config.epochs,
            batch_size: self.config.batch_size,
            seed: self.config.seed,
            // The inpainter has no early stopping: it keeps the lowest-L1 epoch as best.
            patience: None,
            augment: self.config.augment.is_some(),
            train: self.train_idx.clone(),
            val_images: self.val_idx.len(),
            device: self.autodiff.clone(),
            device_purpose: DEVICE_SEED,
        }
    }

    fn lr(&self, step: u64) -> f64 {
        self.sched_g.lr(step)
    }

    fn step(&mut self, batch: &Batch) -> Result<Stepped<StepLosses>> {
        let size = self.config.size as usize;
        let loaded = load_batch(
            self.train,
            batch.indices,
            |i| batch.augment_seed(i),
            canvas_of(size * size),
        );
        if loaded.items.is_empty() {
            return Ok(Stepped::nothing(loaded.skipped));
        }
        let losses = self.update(&loaded.items, &loaded.indices, batch);
        let means = vec![losses.l1, losses.adv, losses.d];
        Ok(Stepped::done(
            loaded.skipped,
            loaded.items.len(),
            means,
            losses,
        ))
    }

    fn validate(&mut self, epoch: u64, run_dir: &Path) -> Result<Validated<InpaintScores>> {
        let eval_g = self.g.valid();
        let (scores, skipped, rows) =
            validate_inpainter(&eval_g, self.val, &self.val_idx, self.config, &self.device)?;
        if self.config.sample_rows > 0 && !rows.is_empty() {
            let dir = run_dir.join(SAMPLES_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| RunError::io(&dir, e))?;
            write_atomic(
                &dir.join(format!("epoch_{:03}.png", epoch + 1)),
                &sample_grid_png(&rows, self.config.size as usize)?,
            )?;
        }
        Ok(Validated {
            // Lower L1 is better.
            score: scores.g_l1.is_finite().then_some(-scores.g_l1),
            skipped,
            measured: scores,
        })
    }

    fn row(&self, t: EpochTotals, v: InpaintScores) -> InpainterEpochMetrics {
        InpainterEpochMetrics {
            epoch: t.epoch,
            lr_g: t.lr,
            train_l1: t.mean(0),
            train_adv: t.mean(1),
            train_d: t.mean(2),
            val_l1: v.g_l1,
            val_psnr: v.g_psnr,
            blur_l1: v.blur_l1,
            blur_psnr: v.blur_psnr,
            seconds: t.seconds,
            train_images_per_second: t.images_per_second,
            skipped: t.skipped,
        }
    }

    fn metrics_csv(history: &[InpainterEpochMetrics]) -> String {
        inpainter_metrics_csv(history)
    }

    fn state(&self, run: &RunState<InpainterEpochMetrics>) -> InpainterState {
        InpainterState {
            epoch: run.epoch,
            global_step: run.global_step,
            seed: run.seed,
            best_val_l1: run.best_score.map(|s| -s),
            best_epoch: run.best_epoch,
            epochs_without_improvement: run.epochs_without_improvement,
            history: run.history.clone(),
            finished: run.finished,
            partial: run.partial.as_ref().map(|p| InpainterPartial {
                batches_done: p.batches_done,
                l1_sum: p.sum(0),
                adv_sum: p.sum(1),
                d_sum: p.sum(2),
                images: p.images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        }
    }

    fn save(&self, state: &InpainterState, slot: Slot, path: &Path) -> Result<()> {
        // best.ckpt is for inference: the generator alone. The others hold the critics too
        // (even before the first step: their initial weights are random).
        let (critics, optim_g, optim_d) = match slot {
            Slot::Best => Default::default(),
            Slot::Initial | Slot::Last => (
                model_to_bytes(&self.critics)?,
                optimizer_bytes(&self.optim_g)?,
                optimizer_bytes(&self.optim_d)?,
            ),
        };
        Ok(InpainterCheckpoint {
            state: state.clone(),
            generator: model_to_bytes(&self.g)?,
            critics,
            optim_g,
            optim_d,
        }
        .save(path)?)
    }

    fn restore(&mut self, path: &Path) -> Result<RunState<InpainterEpochMetrics>> {
        let ckpt = InpainterCheckpoint::load(path)?;
        self.g = model_from_bytes(self.g.clone(), ckpt.generator, path)?.set_require_grad(true);
        self.critics =
            model_from_bytes(self.critics.clone(), ckpt.critics, path)?.set_require_grad(true);
        self.optim_g = load_optimizer(self.optim_g.clone(), ckpt.optim_g, path)?;
        self.optim_d = load_optimizer(self.optim_d.clone(), ckpt.optim_d, path)?;
        let s = ckpt.state;
        Ok(RunState {
            epoch: s.epoch,
            global_step: s.global_step,
            seed: s.seed,
            best_score: s.best_val_l1.map(|l1| -l1),
            best_epoch: s.best_epoch,
            epochs_without_improvement: s.epochs_without_improvement,
            history: s.history,
            finished: s.finished,
            partial: s.partial.map(|p| Partial {
                batches_done: p.batches_done,
                sums: vec![p.l1_sum, p.adv_sum, p.d_sum],
                images: p.images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        })
    }
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
