//! The MPR inpainter's run files and its trained generator: the run's `config.json`
//! ([`config`]), its checkpoints ([`checkpoint`]), [`load_inpainter`] for residual maps,
//! and the inpainter alone as an anomaly scorer ([`anomaly`]).

pub mod anomaly;
pub mod checkpoint;
pub mod config;

use std::path::Path;

use burn::tensor::Device;
use fracdet_model::mpr::Inpainter;

pub use anomaly::AnomalyScorer;
pub use checkpoint::{InpainterCheckpoint, InpainterEpochMetrics, InpainterState};
pub use config::{InpainterTrainConfig, light_augment};

use crate::error::Result;
use crate::weights::model_from_bytes;

/// The trained generator of the inpainter run in `run_dir`, ready for
/// [`fracdet_model::mpr::residual_maps`] on `device`: architecture from `config.json`,
/// weights from `best.ckpt` (or `last.ckpt` before any epoch has finished).
pub fn load_inpainter(
    run_dir: &Path,
    device: &Device,
) -> Result<(Inpainter, InpainterTrainConfig)> {
    let config = InpainterTrainConfig::load(run_dir)?;
    let g = config.generator().init(device)?;
    let path = crate::checkpoint::prediction_checkpoint(run_dir);
    let ckpt = InpainterCheckpoint::load(&path)?;
    let g = model_from_bytes(g, ckpt.generator, &path)?;
    Ok((g, config))
}
