//! Training the MPR inpainter (issue #5): a generator that re-draws masked squares of
//! non-fractured radiographs, with masked L1 and a local + global hinge GAN.
//!
//! [`train_inpainter`] trains on the non-fractured samples of a [`crate::SampleSource`]
//! (fractured ones are left out), validates every epoch on the non-fractured val samples
//! against the blur-fill baseline, and keeps `config.json`, `metrics.csv`, `last.ckpt`
//! (resumable exactly, like the classifier's), `best.ckpt` (lowest val L1) and
//! `samples/epoch_NNN.png` in the run directory. [`load_inpainter`] gives the trained
//! generator back for residual maps.

pub mod checkpoint;
pub mod masks;
pub mod trainer;
pub mod validate;

// The run's config, its generator and the anomaly scorer are fracdet-run's (prediction
// needs them); re-exported at their old paths.
pub use fracdet_run::inpainter::{anomaly, config, load_inpainter};

pub use anomaly::AnomalyScorer;
pub use checkpoint::{InpainterCheckpoint, InpainterEpochMetrics, InpainterState};
pub use config::{InpainterTrainConfig, light_augment};
pub use trainer::{Critics, InpainterOutcome, normal_indices, train_inpainter};
pub use validate::{InpaintScores, validate_inpainter};

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
