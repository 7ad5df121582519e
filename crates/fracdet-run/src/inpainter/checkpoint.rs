//! Inpainter checkpoints: one file holds everything a run needs to continue exactly.
//!
//! Layout, like the classifier's [`crate::checkpoint`]: the magic line
//! `FRACDET-INPAINTER-CKPT 1\n` (`FRACDET-MPR-CKPT 1\n` in files from before each kind had
//! its own, still read), then five sections, each a little-endian `u64` length followed by
//! that many bytes: the training state (JSON), the generator and the critics (burnpacks,
//! which keep parameter ids and the spectral-norm vectors), and the generator's and the
//! critics' optimizer states (burnpacks; empty in `best.ckpt`, which is for inference).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{StopReason, container};
use crate::error::Result;
use crate::exact;

const MAGIC: &[u8] = b"FRACDET-INPAINTER-CKPT 1\n";
/// What inpainter checkpoints began with before each kind had a magic of its own (the MPR
/// detector's): still read, never written.
const LEGACY_MAGIC: &[u8] = b"FRACDET-MPR-CKPT 1\n";
/// The sections after the state, in file order.
const SECTIONS: [&str; 4] = [
    "generator",
    "critics",
    "generator optimizer",
    "critic optimizer",
];

/// One row of an inpainter run's `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InpainterEpochMetrics {
    /// 0-based epoch index.
    pub epoch: u64,
    /// Generator learning rate of the epoch's last step.
    #[serde(with = "exact::float")]
    pub lr_g: f64,
    /// Mean masked L1 of the training steps (the reconstruction loss).
    #[serde(with = "exact::float")]
    pub train_l1: f64,
    /// Mean adversarial generator loss (hinge: −critic score); 0 when the critics are off.
    #[serde(with = "exact::float")]
    pub train_adv: f64,
    /// Mean critic hinge loss (local + global); 0 when the critics are off.
    #[serde(with = "exact::float")]
    pub train_d: f64,
    /// Mean absolute error of G on the masked pixels of the non-fractured val images.
    #[serde(with = "exact::float")]
    pub val_l1: f64,
    /// Mean PSNR (dB, peak 1) of G on the same masked pixels.
    #[serde(with = "exact::float")]
    pub val_psnr: f64,
    /// The blur-fill baseline on the same masks.
    #[serde(with = "exact::float")]
    pub blur_l1: f64,
    #[serde(with = "exact::float")]
    pub blur_psnr: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    #[serde(with = "exact::float")]
    pub seconds: f64,
    #[serde(with = "exact::float")]
    pub train_images_per_second: f64,
    /// Images skipped because they could not be read.
    pub skipped: u64,
}

/// Everything besides weights and optimizer moments needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InpainterState {
    /// Epochs completed; the next epoch to run.
    pub epoch: u64,
    /// Optimiser steps taken: the schedule position.
    pub global_step: u64,
    pub seed: u64,
    /// Lowest validation L1 so far, and its epoch (`best.ckpt`).
    #[serde(with = "exact::opt_float")]
    pub best_val_l1: Option<f64>,
    pub best_epoch: Option<u64>,
    /// Epochs since the best one (absent in runs from before the engine).
    #[serde(default)]
    pub epochs_without_improvement: u64,
    pub history: Vec<InpainterEpochMetrics>,
    /// Set once the run has done all its epochs.
    pub finished: Option<StopReason>,
    /// Set when the run was stopped inside epoch `epoch`: where to pick it up.
    pub partial: Option<InpainterPartial>,
}

/// Progress through an epoch that was stopped between two steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InpainterPartial {
    /// Training batches of the epoch already done; the next one to run.
    pub batches_done: u64,
    /// Sums of per-step mean losses × images, and images, so far (decimal strings, so that
    /// a resumed epoch's means equal the uninterrupted one's bit for bit).
    #[serde(with = "exact::float")]
    pub l1_sum: f64,
    #[serde(with = "exact::float")]
    pub adv_sum: f64,
    #[serde(with = "exact::float")]
    pub d_sum: f64,
    pub images: u64,
    pub skipped: u64,
    /// Seconds in training steps, and wall-clock seconds of the epoch, so far.
    pub train_seconds: f64,
    pub seconds: f64,
}

/// An inpainter checkpoint in memory.
pub struct InpainterCheckpoint {
    pub state: InpainterState,
    pub generator: Vec<u8>,
    pub critics: Vec<u8>,
    pub optim_g: Vec<u8>,
    pub optim_d: Vec<u8>,
}

impl InpainterCheckpoint {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let blobs: [&[u8]; 4] = [&self.generator, &self.critics, &self.optim_g, &self.optim_d];
        container::encode(MAGIC, &self.state, &blobs)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let magic = if bytes.starts_with(LEGACY_MAGIC) {
            LEGACY_MAGIC
        } else {
            MAGIC
        };
        let (state, [generator, critics, optim_g, optim_d]) = container::decode(
            bytes,
            path,
            magic,
            "not a fracdet inpainter checkpoint",
            SECTIONS,
        )?;
        Ok(Self {
            state,
            generator,
            critics,
            optim_g,
            optim_d,
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

    #[test]
    fn reads_states_written_before_the_engine() {
        // Plain numbers and no epochs_without_improvement, as the inpainter loop wrote them.
        let old = r#"{"epoch":1,"global_step":3,"seed":5,"best_val_l1":0.05,"best_epoch":0,
            "history":[{"epoch":0,"lr_g":0.01,"train_l1":0.1,"train_adv":-0.2,"train_d":1.9,
              "val_l1":0.05,"val_psnr":25.0,"blur_l1":0.06,"blur_psnr":24.0,"seconds":1.0,
              "train_images_per_second":9.0,"skipped":0}],
            "finished":null,
            "partial":{"batches_done":1,"l1_sum":0.4,"adv_sum":-0.8,"d_sum":7.6,"images":4,
              "skipped":0,"train_seconds":0.2,"seconds":0.3}}"#;
        let state: InpainterState = serde_json::from_str(old).unwrap();
        assert_eq!(state.best_val_l1, Some(0.05));
        assert_eq!(state.epochs_without_improvement, 0);
        assert_eq!(state.history[0].train_adv, -0.2);
        assert_eq!(state.partial.unwrap().d_sum, 7.6);
    }

    #[test]
    fn round_trip_and_truncation_is_an_error() {
        let p = Path::new("x.ckpt");
        let ckpt = InpainterCheckpoint {
            state: InpainterState {
                epoch: 1,
                global_step: 5,
                seed: 2,
                best_val_l1: Some(0.1),
                best_epoch: Some(0),
                epochs_without_improvement: 0,
                history: vec![],
                finished: None,
                partial: Some(InpainterPartial::default()),
            },
            generator: vec![1, 2],
            critics: vec![3],
            optim_g: vec![],
            optim_d: vec![4, 5, 6],
        };
        let bytes = ckpt.to_bytes().unwrap();
        let back = InpainterCheckpoint::from_bytes(&bytes, p).unwrap();
        assert_eq!(back.state, ckpt.state);
        assert_eq!(
            (back.generator, back.critics, back.optim_g, back.optim_d),
            (vec![1, 2], vec![3], vec![], vec![4, 5, 6])
        );
        for cut in [0, 3, MAGIC.len() + 5, bytes.len() - 1] {
            assert!(
                InpainterCheckpoint::from_bytes(&bytes[..cut], p).is_err(),
                "cut {cut}"
            );
        }

        // Its own magic, not the MPR detector's; files with the old shared one still read.
        assert!(bytes.starts_with(b"FRACDET-INPAINTER-CKPT 1\n"));
        let legacy = [LEGACY_MAGIC, &bytes[MAGIC.len()..]].concat();
        let old = InpainterCheckpoint::from_bytes(&legacy, p).unwrap();
        assert_eq!(old.state, ckpt.state);
        let classifier = [b"FRACDET-CKPT 1\n".as_slice(), &bytes[MAGIC.len()..]].concat();
        let err = InpainterCheckpoint::from_bytes(&classifier, p)
            .err()
            .expect("a classifier magic is refused")
            .to_string();
        assert!(err.contains("not a fracdet inpainter checkpoint"), "{err}");
    }
}
