//! One training engine for every model kind.
//!
//! [`train`] owns what every run does the same way: fresh start or resume from
//! `last.ckpt`, the epoch order (a pure function of seed and epoch), the per-step device
//! seed, Ctrl-C between two steps with a mid-epoch `last.ckpt` whose loss sums resume bit
//! for bit, images left out (each reported once, counted every epoch), validation every
//! epoch, the best score and early stopping, `best.ckpt` before `last.ckpt`, `metrics.csv`
//! and the observer's progress calls. A model kind (classifier, MPR detector, inpainter GAN)
//! implements [`TrainKind`]: its step (one batch: forward, backward, its optimizer or
//! optimizers), its validation (the metric row's values and a "higher is better" selection
//! score) and its checkpoint sections (models, optimizer states, kind-specific state). This
//! is the shape of burn-train's `TrainStep`/`ValidStep` and of MONAI's trainers, where a
//! supervised and a GAN trainer differ only in their iteration.

mod run;
pub mod state;

use std::path::Path;

use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use run::train;
pub use state::{Partial, RunState};

use crate::checkpoint::StopReason;
use crate::error::Result;
use crate::order::augment_seed;
use crate::source::Skipped;

/// Where a run starts.
pub enum Start {
    /// A new run in an empty or absent directory; `config.json` is written.
    Fresh,
    /// Continue from `last.ckpt`; the directory's `config.json` must equal the given config.
    Resume,
}

/// How a call to [`train`] ended.
#[derive(Debug)]
pub struct Outcome<S> {
    pub stop: StopReason,
    /// State as saved in `last.ckpt`.
    pub state: S,
    /// Images left out in this call (each named once).
    pub skipped: Vec<Skipped>,
}

/// A run configuration as `config.json` holds it. fracdet's kinds write theirs tagged
/// with the run kind ([`fracdet_run::RunConfig`]); the defaults write plain JSON.
pub trait EngineConfig: Serialize + DeserializeOwned + PartialEq {
    /// Refuses values the run cannot train with.
    fn check(&self) -> Result<()>;

    /// Write `config.json` into `run_dir`.
    fn save(&self, run_dir: &Path) -> Result<()> {
        Ok(crate::config::save_run_config(run_dir, self)?)
    }

    /// Read and check the `config.json` of `run_dir`.
    fn load(run_dir: &Path) -> Result<Self> {
        Ok(crate::config::load_run_config(run_dir, Self::check)?)
    }
}

/// fracdet's own kinds: their configs check themselves and are saved and loaded tagged with
/// the run kind.
macro_rules! tagged_config {
    ($($t:ty),*) => {$(
        impl EngineConfig for $t {
            fn check(&self) -> Result<()> {
                Ok(self.validate()?)
            }
            fn save(&self, run_dir: &Path) -> Result<()> {
                Ok(<$t>::save(self, run_dir)?)
            }
            fn load(run_dir: &Path) -> Result<Self> {
                Ok(<$t>::load(run_dir)?)
            }
        }
    )*};
}
tagged_config!(
    fracdet_run::ClassifierConfig,
    fracdet_run::mpr::MprConfig,
    fracdet_run::inpainter::InpainterTrainConfig
);

/// What the engine needs to know about a run before its first step.
pub struct Plan {
    pub epochs: u64,
    pub batch_size: usize,
    pub seed: u64,
    /// Stop after this many epochs without a better selection score; `None` = never.
    pub patience: Option<u64>,
    /// Whether training samples are augmented ([`Batch::augment_seed`]).
    pub augment: bool,
    /// The training samples the run visits (all, or a kind's subset), in index order.
    pub train: Vec<usize>,
    /// Validation images, for the progress display.
    pub val_images: usize,
    /// The autodiff device the step runs on; seeded before every step, so that layer
    /// randomness (dropout) is a function of (seed, epoch, batch).
    pub device: Device,
    /// Purpose of that seed ([`crate::order::derive_seed`]).
    pub device_purpose: u64,
}

/// One training batch, as the engine hands it to [`TrainKind::step`].
pub struct Batch<'a> {
    pub epoch: u64,
    /// Global optimiser step (the schedule position).
    pub step: u64,
    /// Samples of the batch, in epoch order.
    pub indices: &'a [usize],
    seed: u64,
    augment: bool,
}

impl Batch<'_> {
    /// Augmentation seed of sample `index` in this epoch; `None` when the run does not
    /// augment.
    pub fn augment_seed(&self, index: usize) -> Option<u64> {
        self.augment
            .then(|| augment_seed(self.seed, self.epoch, index))
    }

    /// Seed of sample `index`'s training crop in this epoch.
    pub fn crop_seed(&self, index: usize) -> u64 {
        crate::order::crop_seed(self.seed, self.epoch, index)
    }
}

/// What one training step did.
pub struct Stepped<L> {
    /// Samples of the batch that could not be used.
    pub skipped: Vec<Skipped>,
    /// `None` when the step was skipped (too few usable images).
    pub done: Option<StepDone<L>>,
}

impl<L> Stepped<L> {
    /// A step that updated nothing (no usable images, or too few).
    pub fn nothing(skipped: Vec<Skipped>) -> Self {
        Self {
            skipped,
            done: None,
        }
    }

    /// A step on `images` images with mean loss terms `means`, showing `report`.
    pub fn done(skipped: Vec<Skipped>, images: usize, means: Vec<f64>, report: L) -> Self {
        Self {
            skipped,
            done: Some(StepDone {
                images,
                means,
                report,
            }),
        }
    }
}

/// A step that updated the model.
pub struct StepDone<L> {
    /// Images in the step.
    pub images: usize,
    /// The step's mean loss terms, summed (x images) into the epoch's means; one entry per
    /// term, always the same number.
    pub means: Vec<f64>,
    /// What the observer is shown.
    pub report: L,
}

/// What one validation pass measured.
pub struct Validated<V> {
    /// Model selection: higher is better; `None` when the epoch has no usable score.
    pub score: Option<f64>,
    /// Validation samples that could not be used.
    pub skipped: Vec<Skipped>,
    /// The kind's measurements, for its metrics row.
    pub measured: V,
}

/// An epoch's training totals, for the kind's metrics row.
pub struct EpochTotals {
    pub epoch: u64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean of each loss term over the epoch's training images ([`StepDone::means`]).
    pub means: Vec<f64>,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
    pub images_per_second: f64,
    /// Images left out (training and validation).
    pub skipped: u64,
}

impl EpochTotals {
    /// Mean of loss term `i`; NaN when the kind reported fewer terms.
    pub fn mean(&self, i: usize) -> f64 {
        self.means.get(i).copied().unwrap_or(f64::NAN)
    }
}

/// Which checkpoint file [`TrainKind::save`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `last.ckpt` before the first step.
    Initial,
    /// `last.ckpt`: everything needed to continue.
    Last,
    /// `best.ckpt`: for prediction; optimizer states may be left out.
    Best,
}

/// A model kind the engine can train.
///
/// The smallest kind: one scalar weight pulled towards the training labels, scored by its
/// distance to the validation labels' mean.
///
/// ```
/// use std::path::Path;
/// use fracdet_train::engine::*;
/// use fracdet_train::{Device, LogObserver, StopFlag, TrainObserver};
///
/// #[derive(PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Config { epochs: u64 }
/// impl EngineConfig for Config {
///     fn check(&self) -> fracdet_train::Result<()> { Ok(()) }
/// }
///
/// struct Toy { config: Config, labels: Vec<f64>, w: f64 }
///
/// impl TrainKind for Toy {
///     type Config = Config;
///     type Losses = f64;
///     type Valid = f64;
///     type Row = (u64, f64);
///     type State = (RunState<(u64, f64)>, f64);
///
///     fn config(&self) -> &Config { &self.config }
///     fn plan(&self) -> Plan {
///         Plan { epochs: self.config.epochs, batch_size: 2, seed: 0, patience: None,
///                augment: false, train: (0..self.labels.len()).collect(), val_images: 0,
///                device: Device::flex().autodiff(), device_purpose: 0 }
///     }
///     fn lr(&self, _step: u64) -> f64 { 0.5 }
///     fn step(&mut self, batch: &Batch) -> fracdet_train::Result<Stepped<f64>> {
///         let target = batch.indices.iter().map(|&i| self.labels[i]).sum::<f64>()
///             / batch.indices.len() as f64;
///         let loss = (self.w - target).powi(2);
///         self.w -= self.lr(batch.step) * 2.0 * (self.w - target);
///         Ok(Stepped::done(vec![], batch.indices.len(), vec![loss], loss))
///     }
///     fn validate(&mut self, _epoch: u64, _run: &Path) -> fracdet_train::Result<Validated<f64>> {
///         let d = (self.w - 0.5).abs();
///         Ok(Validated { score: Some(-d), skipped: vec![], measured: d })
///     }
///     fn row(&self, t: EpochTotals, d: f64) -> (u64, f64) { (t.epoch, d) }
///     fn metrics_csv(h: &[(u64, f64)]) -> String {
///         h.iter().map(|(e, d)| format!("{e},{d}\n")).collect()
///     }
///     fn state(&self, run: &RunState<(u64, f64)>) -> Self::State { (run.clone(), self.w) }
///     fn save(&self, s: &Self::State, _slot: Slot, path: &Path) -> fracdet_train::Result<()> {
///         std::fs::write(path, format!("{}", s.1))
///             .map_err(|e| fracdet_train::RunError::io(path, e).into())
///     }
///     fn restore(&mut self, _path: &Path) -> fracdet_train::Result<RunState<(u64, f64)>> {
///         unimplemented!("a real kind decodes the checkpoint it saved")
///     }
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut toy = Toy { config: Config { epochs: 3 }, labels: vec![0.0, 1.0, 1.0, 0.0], w: 3.0 };
/// let out = train(&mut toy, &dir.path().join("run"), Start::Fresh, &mut LogObserver,
///                 &StopFlag::new()).unwrap();
/// assert_eq!(out.state.0.history.len(), 3);
/// assert!((0.0..=1.0).contains(&toy.w), "w moved to the batch means");
/// ```
pub trait TrainKind {
    /// `config.json`.
    type Config: EngineConfig;
    /// What a step shows the observer (the classifier's mean loss, the inpainter's terms).
    type Losses;
    /// What validation measured, for the metrics row.
    type Valid;
    /// One row of `metrics.csv`.
    type Row: Clone;
    /// The checkpoint's training state, as the kind's files store it.
    type State;

    fn config(&self) -> &Self::Config;

    /// Called once, at the start of [`train`].
    fn plan(&self) -> Plan;

    /// A fresh run's one-off preparation before its first checkpoint (loss weights from the
    /// training set).
    fn fresh(&mut self) -> Result<()> {
        Ok(())
    }

    /// The learning rate shown for global step `step` (a kind with two optimizers shows
    /// the first's).
    fn lr(&self, step: u64) -> f64;

    /// Called before the first step of every epoch run (freezing a backbone).
    fn begin_epoch(&mut self, _epoch: u64) {}

    /// One training step on `batch`: load, forward, backward, optimizer step(s).
    fn step(&mut self, batch: &Batch) -> Result<Stepped<Self::Losses>>;

    /// Score the validation set after `epoch`; `run_dir` is for by-products (sample grids).
    fn validate(&mut self, epoch: u64, run_dir: &Path) -> Result<Validated<Self::Valid>>;

    /// The epoch's `metrics.csv` row.
    fn row(&self, totals: EpochTotals, valid: Self::Valid) -> Self::Row;

    /// `metrics.csv` for a whole history (header first).
    fn metrics_csv(history: &[Self::Row]) -> String;

    /// The kind's checkpoint state for `run` (with its own fields, such as loss weights).
    fn state(&self, run: &RunState<Self::Row>) -> Self::State;

    /// Write the checkpoint `slot` to `path` (atomically): `state` and the kind's sections.
    fn save(&self, state: &Self::State, slot: Slot, path: &Path) -> Result<()>;

    /// Load `last.ckpt` at `path` into the models and optimizers; return the progress.
    fn restore(&mut self, path: &Path) -> Result<RunState<Self::Row>>;
}
