//! The engine's view of a run's progress: what every model kind keeps between two steps.
//! Each kind stores it in its own checkpoint state (field names differ between kinds and
//! stay as older runs wrote them); [`TrainKind::state`](super::TrainKind::state) and
//! [`TrainKind::restore`](super::TrainKind::restore) convert.

use crate::checkpoint::StopReason;

/// Progress of a run, as the engine updates it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState<R> {
    /// Epochs completed; the next epoch to run.
    pub epoch: u64,
    /// Optimiser steps taken: the schedule position.
    pub global_step: u64,
    /// Seed of the run; all randomness derives from it, the epoch and the batch or sample.
    pub seed: u64,
    /// Best validation selection score so far (higher is better) and its epoch.
    pub best_score: Option<f64>,
    pub best_epoch: Option<u64>,
    pub epochs_without_improvement: u64,
    /// One metrics.csv row per completed epoch.
    pub history: Vec<R>,
    /// Set once the run is over (completed or early-stopped).
    pub finished: Option<StopReason>,
    /// Set when the run was stopped inside epoch `epoch`: where to pick it up.
    pub partial: Option<Partial>,
}

impl<R> RunState<R> {
    /// A run before its first step.
    pub fn new(seed: u64) -> Self {
        Self {
            epoch: 0,
            global_step: 0,
            seed,
            best_score: None,
            best_epoch: None,
            epochs_without_improvement: 0,
            history: Vec::new(),
            finished: None,
            partial: None,
        }
    }
}

/// Progress through an epoch stopped between two steps, or running.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial {
    /// Training batches of the epoch already done; the next one to run.
    pub batches_done: u64,
    /// Per kind-defined loss term: the sum of per-batch means x images, so far.
    pub sums: Vec<f64>,
    /// Images that took part in training steps, so far.
    pub images: u64,
    /// Images left out (training, then validation), so far.
    pub skipped: u64,
    /// Seconds spent in training steps, and wall-clock seconds of the epoch, so far.
    pub train_seconds: f64,
    pub seconds: f64,
}

impl Partial {
    /// Sum number `i` (0 when the kind has fewer).
    pub fn sum(&self, i: usize) -> f64 {
        self.sums.get(i).copied().unwrap_or(0.0)
    }
}
