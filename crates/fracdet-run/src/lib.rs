//! fracdet's run formats and inference: what reading a trained run and scoring images
//! with it needs, and nothing that trains.
//!
//! A run directory holds a `config.json` ([`config`], [`mpr::config`],
//! [`inpainter::config`]) and checkpoints ([`checkpoint`], [`mpr::state`],
//! [`inpainter::checkpoint`]); [`load_run_weights`], [`Predictor`], [`mpr::MprPredictor`]
//! and [`inpainter::AnomalyScorer`] turn one into a network in inference mode.
//!
//! Why a crate of its own: fracdet-detect and fracdet-server (which depends on detect)
//! must not link the training code — data flows one way — yet they read the same files
//! training writes. fracdet-train depends on this crate and re-exports it at its old paths,
//! so each format is defined once, below both.

pub mod alloc;
pub mod atomic;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod error;
pub mod exact;
pub mod inference;
pub mod inpainter;
pub mod model;
pub mod mpr;
pub mod run_config;
pub mod tensors;
pub mod weights;

pub use checkpoint::{Checkpoint, EpochMetrics, StopReason, TrainState};
pub use config::{ClassifierConfig, InputSpec};
pub use error::{Result, RunError};
pub use inference::Predictor;
pub use model::BinaryClassifier;
pub use run_config::{RunConfig, RunKind};
pub use weights::{load_run_weights, model_from_bytes, model_to_bytes};

/// The device type, re-exported so that callers need no direct burn dependency.
pub use burn::tensor::Device;
