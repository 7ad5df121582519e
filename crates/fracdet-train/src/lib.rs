//! Training for fracdet models.
//!
//! One engine ([`engine::train`]) drives every model kind: fresh start and exact resume,
//! epoch order, Ctrl-C between steps, validation, best/early stopping, checkpoints and
//! `metrics.csv`. Each kind implements [`engine::TrainKind`] (its step, validation and
//! checkpoint sections): the classifier ([`train_classifier`]), the MPR detector
//! ([`mpr::train_mpr`]) and the MPR inpainter GAN ([`inpainter::train_inpainter`]).
//!
//! [`train_classifier`] trains a [`BinaryClassifier`] on a [`SampleSource`] with AdamW, a
//! linear warm-up + cosine learning-rate schedule, optional head-only warm-up epochs and
//! weighted binary cross-entropy, scores the validation set by AUROC every epoch, stops early
//! on a plateau and keeps `best.ckpt`, `last.ckpt`, `config.json` and `metrics.csv` in the run
//! directory. All randomness is a function of (seed, epoch, sample or step), so a run
//! resumed from `last.ckpt` — written at every epoch end and, when the run is stopped
//! (Ctrl-C), between two steps — continues bit for bit as if it had never stopped.

pub mod checkpoint;
pub mod control;
pub mod dataset_source;
pub mod engine;
pub mod error;
pub mod inpainter;
pub mod loss;
pub mod metrics;
pub mod mpr;
mod optim;
pub mod order;
pub mod schedule;
pub mod source;
mod supervised;
pub mod trainer;

// Run formats and inference are fracdet-run's (detect and the server use them without the
// training code); re-exported at the paths they had here.
use fracdet_run::tensors;
pub use fracdet_run::{atomic, classifier, config, inference, model, weights};

pub use checkpoint::{Checkpoint, EpochMetrics, StopReason, TrainState};
pub use config::{ClassifierConfig, InputSpec};
pub use control::{LogObserver, StopFlag, TrainObserver};
pub use dataset_source::DatasetSource;
pub use engine::{Outcome, Start};
pub use error::{Result, TrainError};
pub use fracdet_run::RunError;
pub use inference::Predictor;
pub use model::BinaryClassifier;
pub use source::{LabelledSource, SampleSource, Skipped};
pub use trainer::{TrainOutcome, balanced_pos_weight, train_classifier};
pub use weights::{load_run_weights, model_from_bytes, model_to_bytes};

/// The device type, re-exported so that callers (the CLI) need no direct burn dependency.
pub use burn::tensor::Device;
