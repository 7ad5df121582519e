//! Stopping a run from outside (Ctrl-C) and watching it (progress bars, logs, tests).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::checkpoint::EpochMetrics;
use crate::source::Skipped;

/// Shared "please stop" flag: set by a signal handler or a test, polled between steps.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Callbacks from the training engine. Every method has an empty default.
///
/// `L` is what a step reports (the classifier's and the MPR detector's mean loss, the
/// inpainter's [`StepLosses`](crate::inpainter::StepLosses)); `R` is the kind's row of
/// `metrics.csv` ([`EpochMetrics`], [`MprEpochMetrics`](crate::mpr::MprEpochMetrics),
/// [`InpainterEpochMetrics`](crate::inpainter::InpainterEpochMetrics)).
pub trait TrainObserver<L = f64, R = EpochMetrics> {
    /// An epoch starts with `batches` training batches of up to `batch_size` images.
    fn epoch_started(&mut self, _epoch: u64, _epochs: u64, _batches: usize) {}
    /// A training step finished: its losses and images in the batch.
    fn step_finished(&mut self, _losses: &L, _images: usize) {}
    /// Validation started, with `images` to score.
    fn validating(&mut self, _images: usize) {}
    /// An image could not be used and was left out.
    fn skipped(&mut self, _sample: &Skipped) {}
    /// The epoch's row of `metrics.csv`, after its checkpoint is on disk.
    fn epoch_finished(&mut self, _metrics: &R, _improved: bool) {}
}

/// Logs through `tracing`; for callers that want no progress display. Every kind's row
/// is logged by its [`std::fmt::Debug`] form.
pub struct LogObserver;

impl<L, R: std::fmt::Debug> TrainObserver<L, R> for LogObserver {
    fn skipped(&mut self, s: &Skipped) {
        tracing::warn!("skipped {}: {}", s.name, s.reason);
    }
    fn epoch_finished(&mut self, m: &R, improved: bool) {
        tracing::info!("{m:?}{}", if improved { " (best)" } else { "" });
    }
}
