//! Training the MPR inpainter (issue #5): a generator that re-draws masked squares of
//! non-fractured radiographs, with masked L1 and a local + global hinge GAN.
//!
//! [`train_inpainter`] trains on the non-fractured samples of a [`crate::SampleSource`]
//! (fractured ones are left out), validates every epoch on the non-fractured val samples
//! against the blur-fill baseline, and keeps `config.json`, `metrics.csv`, `last.ckpt`
//! (resumable exactly, like the classifier's), `best.ckpt` (lowest val L1) and
//! `samples/epoch_NNN.png` in the run directory. [`load_inpainter`] gives the trained
//! generator back for residual maps.

pub mod anomaly;
pub mod checkpoint;
pub mod config;
pub mod masks;
pub mod trainer;
pub mod validate;

use std::path::Path;

use burn::tensor::Device;
use fracdet_model::mpr::Inpainter;

pub use anomaly::AnomalyScorer;
pub use checkpoint::{InpainterCheckpoint, InpainterEpochMetrics, InpainterState};
pub use config::{InpainterTrainConfig, light_augment};
pub use trainer::{Critics, InpainterOutcome, normal_indices, train_inpainter};
pub use validate::{InpaintScores, validate_inpainter};

use crate::checkpoint::{BEST_FILE, LAST_FILE};
use crate::error::Result;
use crate::weights::model_from_bytes;

/// Mean losses of one training step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepLosses {
    /// Masked L1 (reconstruction).
    pub l1: f64,
    /// Generator's adversarial loss; 0 when the critics are off.
    pub adv: f64,
    /// Critics' hinge loss; 0 when the critics are off.
    pub d: f64,
}

/// Observes nothing.
pub struct QuietInpainterObserver;

impl crate::TrainObserver<StepLosses, InpainterEpochMetrics> for QuietInpainterObserver {}

/// The trained generator of the inpainter run in `run_dir`, ready for
/// [`fracdet_model::mpr::residual_maps`] on `device`: architecture from `config.json`,
/// weights from `best.ckpt` (or `last.ckpt` before any epoch has finished).
pub fn load_inpainter(
    run_dir: &Path,
    device: &Device,
) -> Result<(Inpainter, InpainterTrainConfig)> {
    let config = InpainterTrainConfig::load(run_dir)?;
    let g = config.generator().init(device)?;
    let best = run_dir.join(BEST_FILE);
    let path = if best.exists() {
        best
    } else {
        run_dir.join(LAST_FILE)
    };
    let ckpt = InpainterCheckpoint::load(&path)?;
    let g = model_from_bytes(g, ckpt.generator, &path)?;
    Ok((g, config))
}
