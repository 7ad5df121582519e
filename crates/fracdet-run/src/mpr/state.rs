//! An MPR run's training state and checkpoint files (its metrics.csv is fracdet-train's).
//!
//! Checkpoints are the classifier's [`ModelCheckpoint`] (`checkpoint.rs`: magic line, then
//! the state as JSON, the model and the optimizer state as burnpacks, each length-prefixed)
//! with an MPR state in the JSON section; the magic differs so that neither loop mistakes
//! the other's checkpoint for its own.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointState, EpochMetrics, ModelCheckpoint, StopReason};
use crate::exact;

const MAGIC: &[u8] = b"FRACDET-MPR-CKPT 1\n";

/// One row of an MPR run's metrics.csv: the classifier's columns, then the detector's.
///
/// Floats are stored as decimal strings (see [`crate::exact`]): serde_json's default float
/// parser can be one ulp off, and a resumed run's history must equal the uninterrupted
/// run's bit for bit (a NaN loss also survives, which JSON numbers cannot hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MprEpochMetrics {
    /// 0-based epoch index.
    pub epoch: u64,
    /// Learning rate of the epoch's last step.
    #[serde(with = "exact::float")]
    pub lr: f64,
    /// Mean total loss over the epoch's training batches, and its cell and image terms.
    #[serde(with = "exact::float")]
    pub train_loss: f64,
    #[serde(with = "exact::float")]
    pub train_cell_loss: f64,
    #[serde(with = "exact::float")]
    pub train_image_loss: f64,
    /// The box head's term (0 without it, and in rows written before it).
    #[serde(default, with = "exact::float")]
    pub train_box_loss: f64,
    #[serde(with = "exact::float")]
    pub val_loss: f64,
    /// Image AUROC on validation.
    #[serde(with = "exact::opt_float")]
    pub val_auroc: Option<f64>,
    /// AUROC of all cells of validation images with cell targets, pooled.
    #[serde(with = "exact::opt_float")]
    pub val_cell_auroc: Option<f64>,
    /// Fraction of validation images with boxes whose highest cell lies in a box.
    #[serde(with = "exact::opt_float")]
    pub val_hit_rate: Option<f64>,
    /// Fraction of validation boxes found (IoU >= 0.3) by a region of cells at or above
    /// the run's region threshold.
    #[serde(with = "exact::opt_float")]
    pub val_box_recall: Option<f64>,
    /// Box head only: AP at IoU 0.5 of the drawn boxes, their recall at IoU 0.3 with at
    /// most one false-positive box per image, and the median drawn / true box area.
    #[serde(default, with = "exact::opt_float")]
    pub val_ap50: Option<f64>,
    #[serde(default, with = "exact::opt_float")]
    pub val_box_recall_fp1: Option<f64>,
    #[serde(default, with = "exact::opt_float")]
    pub val_box_area_ratio: Option<f64>,
    /// Wall-clock seconds of the epoch (training and validation).
    #[serde(with = "exact::float")]
    pub seconds: f64,
    #[serde(with = "exact::float")]
    pub train_images_per_second: f64,
    /// Images skipped because they could not be used (training and validation).
    pub skipped: u64,
}

impl MprEpochMetrics {
    /// The classifier's view of the row, for fracdet-train's `TrainObserver::epoch_finished`.
    pub fn base(&self) -> EpochMetrics {
        EpochMetrics {
            epoch: self.epoch,
            lr: self.lr,
            train_loss: self.train_loss,
            val_loss: self.val_loss,
            val_auroc: self.val_auroc,
            seconds: self.seconds,
            train_images_per_second: self.train_images_per_second,
            skipped: self.skipped,
            frozen: false,
        }
    }
}

/// Progress through an epoch stopped between two steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MprPartial {
    pub batches_done: u64,
    /// Sums of per-batch mean losses × images, and images, so far. Stored as decimal
    /// strings: serde_json's default float parser can be one ulp off, and a resumed
    /// epoch's mean must equal the uninterrupted one bit for bit.
    #[serde(with = "exact::float")]
    pub loss_sum: f64,
    #[serde(with = "exact::float")]
    pub cell_loss_sum: f64,
    #[serde(with = "exact::float")]
    pub image_loss_sum: f64,
    #[serde(default, with = "exact::float")]
    pub box_loss_sum: f64,
    pub loss_images: u64,
    pub skipped: u64,
    pub train_seconds: f64,
    pub seconds: f64,
}

/// Everything besides weights and optimizer moments needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MprState {
    /// Epochs completed; the next epoch to run.
    pub epoch: u64,
    pub global_step: u64,
    pub seed: u64,
    /// Loss weights in use (computed at the start unless the config fixes them).
    pub image_pos_weight: f32,
    pub cell_pos_weight: f32,
    /// Best validation image AUROC and its epoch.
    #[serde(with = "exact::opt_float")]
    pub best_auroc: Option<f64>,
    pub best_epoch: Option<u64>,
    pub epochs_without_improvement: u64,
    pub history: Vec<MprEpochMetrics>,
    pub finished: Option<StopReason>,
    pub partial: Option<MprPartial>,
}

impl CheckpointState for MprState {
    const MAGIC: &'static [u8] = MAGIC;
    const KIND: &'static str = "not an MPR checkpoint";
}

/// An MPR checkpoint in memory.
pub type MprCheckpoint = ModelCheckpoint<MprState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let state = MprState {
            epoch: 1,
            global_step: 4,
            seed: 2,
            image_pos_weight: 3.0,
            cell_pos_weight: 120.5,
            best_auroc: Some(0.6),
            best_epoch: Some(0),
            epochs_without_improvement: 0,
            history: vec![],
            finished: None,
            partial: Some(MprPartial {
                image_loss_sum: 0.1 + 0.2,
                ..MprPartial::default()
            }),
        };
        let ck = MprCheckpoint {
            state: state.clone(),
            model: vec![9, 8],
            optimizer: vec![7],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("last.ckpt");
        ck.save(&p).unwrap();
        let back = MprCheckpoint::load(&p).unwrap();
        assert_eq!(back.state, state);
        assert_eq!((back.model, back.optimizer), (vec![9, 8], vec![7]));
        let bytes = ck.to_bytes().unwrap();
        assert!(MprCheckpoint::from_bytes(&bytes[..bytes.len() - 1], &p).is_err());
        // A classifier checkpoint is not an MPR one.
        assert!(crate::Checkpoint::from_bytes(&bytes, &p).is_err());
    }
}
