//! Checkpoint files: one file per checkpoint so it is replaced atomically as a whole.
//!
//! Layout: the magic line `FRACDET-CKPT 1\n`, then three sections, each a little-endian `u64`
//! length followed by that many bytes: the training state as JSON, the model as a burnpack
//! (burn's native format, which keeps parameter ids, so the optimizer state — keyed by those
//! ids — reattaches to the right tensors), and the optimizer state as a burnpack (empty in
//! `best.ckpt`, which is for prediction only). The framing is `container`'s, shared with
//! the MPR and inpainter checkpoints. Floats in the state are decimal strings
//! ([`crate::exact`]), so that a resumed run continues bit for bit; plain JSON numbers, as
//! runs before the engine wrote them, are read too. `metrics.csv` is written by
//! fracdet-train alone.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::exact;

pub(crate) mod container;

const MAGIC: &[u8] = b"FRACDET-CKPT 1\n";
/// The checkpoint to resume from: written at the end of every epoch.
pub const LAST_FILE: &str = "last.ckpt";
/// The weights with the best validation AUROC so far.
pub const BEST_FILE: &str = "best.ckpt";

/// The checkpoint prediction reads from a run directory: `best.ckpt`, or `last.ckpt` when
/// no epoch has finished with a validation score yet.
pub fn prediction_checkpoint(run_dir: &Path) -> PathBuf {
    let best = run_dir.join(BEST_FILE);
    if best.exists() {
        best
    } else {
        run_dir.join(LAST_FILE)
    }
}
pub const METRICS_FILE: &str = "metrics.csv";

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 0-based epoch index.
    pub epoch: u64,
    /// Learning rate of the epoch's last step.
    #[serde(with = "exact::float")]
    pub lr: f64,
    /// Mean weighted BCE over the epoch's training batches.
    #[serde(with = "exact::float")]
    pub train_loss: f64,
    #[serde(with = "exact::float")]
    pub val_loss: f64,
    /// `None` when the validation set lacks a class.
    #[serde(with = "exact::opt_float")]
    pub val_auroc: Option<f64>,
    /// Wall-clock seconds of the epoch (training and validation).
    #[serde(with = "exact::float")]
    pub seconds: f64,
    /// Training images per second.
    #[serde(with = "exact::float")]
    pub train_images_per_second: f64,
    /// Images skipped because they could not be read (training and validation).
    pub skipped: u64,
    /// Whether the backbone was frozen in this epoch.
    pub frozen: bool,
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    Completed,
    EarlyStopped,
    Interrupted,
}

/// Everything besides weights and optimizer moments needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed; the next epoch to run.
    pub epoch: u64,
    /// Optimiser steps taken: the schedule position.
    pub global_step: u64,
    /// Seed of the run; all randomness derives from it and the epoch.
    pub seed: u64,
    /// Positive-class weight in use.
    pub pos_weight: f32,
    #[serde(with = "exact::opt_float")]
    pub best_auroc: Option<f64>,
    pub best_epoch: Option<u64>,
    pub epochs_without_improvement: u64,
    pub history: Vec<EpochMetrics>,
    /// Set once the run is over (completed or early-stopped): resuming does nothing more.
    pub finished: Option<StopReason>,
    /// Set when the run was stopped inside epoch `epoch`: where to pick it up.
    #[serde(default)]
    pub partial: Option<PartialEpoch>,
}

/// Progress through an epoch that was stopped between two steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// Training batches of the epoch already done; the next one to run.
    pub batches_done: u64,
    /// Sum of per-batch mean loss x images, and images, so far.
    #[serde(with = "exact::float")]
    pub loss_sum: f64,
    pub loss_images: u64,
    pub skipped: u64,
    /// Seconds spent in training steps, and wall-clock seconds of the epoch, so far.
    pub train_seconds: f64,
    pub seconds: f64,
}

/// A training state a [`ModelCheckpoint`] can carry. The magic line tells the kinds apart,
/// so that no loop mistakes another's checkpoint for its own.
pub trait CheckpointState: Serialize + DeserializeOwned {
    /// The file's first line.
    const MAGIC: &'static [u8];
    /// What a file with another magic is not, for the error.
    const KIND: &'static str;
}

impl CheckpointState for TrainState {
    const MAGIC: &'static [u8] = MAGIC;
    const KIND: &'static str = "not a fracdet checkpoint";
}

/// A one-model checkpoint as bytes in memory: the state, the model and its optimizer.
pub struct ModelCheckpoint<S> {
    pub state: S,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

/// The classifier's checkpoint.
pub type Checkpoint = ModelCheckpoint<TrainState>;

impl<S: CheckpointState> ModelCheckpoint<S> {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        container::encode(S::MAGIC, &self.state, &[&self.model, &self.optimizer])
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let (state, [model, optimizer]) =
            container::decode(bytes, path, S::MAGIC, S::KIND, ["model", "optimizer"])?;
        Ok(Self {
            state,
            model,
            optimizer,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        container::save(path, &self.to_bytes()?)
    }

    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&container::read(path)?, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            state: TrainState {
                epoch: 2,
                global_step: 10,
                seed: 3,
                pos_weight: 1.5,
                best_auroc: Some(0.75),
                best_epoch: Some(1),
                epochs_without_improvement: 0,
                history: vec![],
                finished: None,
                partial: None,
            },
            model: vec![1, 2, 3],
            optimizer: vec![],
        }
    }

    #[test]
    fn reads_states_written_before_the_engine() {
        // Plain JSON numbers (and NaN as null), as the classifier loop wrote them.
        let old = r#"{"epoch":1,"global_step":4,"seed":7,"pos_weight":1.5,
            "best_auroc":0.75,"best_epoch":0,"epochs_without_improvement":0,
            "history":[{"epoch":0,"lr":0.01,"train_loss":0.6875,"val_loss":null,
              "val_auroc":0.75,"seconds":1.5,"train_images_per_second":10.0,
              "skipped":0,"frozen":true}],
            "finished":null,
            "partial":{"batches_done":2,"loss_sum":5.5,"loss_images":8,"skipped":0,
              "train_seconds":0.5,"seconds":0.7}}"#;
        let state: TrainState = serde_json::from_str(old).unwrap();
        assert_eq!(state.best_auroc, Some(0.75));
        assert_eq!(state.history[0].train_loss, 0.6875);
        assert!(state.history[0].val_loss.is_nan());
        assert_eq!(state.partial.unwrap().loss_sum, 5.5);
    }

    #[test]
    fn round_trip_and_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(LAST_FILE);
        sample().save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back.state, sample().state);
        assert_eq!(back.model, vec![1, 2, 3]);
        let bytes = sample().to_bytes().unwrap();
        for cut in [0, 5, MAGIC.len() + 3, bytes.len() - 1] {
            assert!(
                Checkpoint::from_bytes(&bytes[..cut], &p).is_err(),
                "cut at {cut}"
            );
        }
    }
}
