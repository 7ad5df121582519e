//! The progress display of `train classifier` and `train mpr`: the mean loss and images
//! per second on the epoch's bar, and one summary line per epoch.

use fracdet_train::{EpochMetrics, Skipped, TrainObserver};

use super::epoch_display::EpochDisplay;

/// Progress bar on stderr (loss, img/s, ETA) and one summary line per epoch.
pub(super) struct Progress {
    epoch: EpochDisplay,
    batch_size: usize,
    loss_sum: f64,
}

impl Progress {
    pub(super) fn new(batch_size: usize) -> Self {
        Self {
            epoch: EpochDisplay::new(),
            batch_size,
            loss_sum: 0.0,
        }
    }

    pub(super) fn finish(&mut self) {
        self.epoch.finish();
    }
}

impl TrainObserver for Progress {
    fn epoch_started(&mut self, epoch: u64, epochs: u64, batches: usize) {
        self.loss_sum = 0.0;
        let bar = self.epoch.start(epoch, epochs, batches);
        bar.set_message(format!("batch {}", self.batch_size));
    }

    fn step_finished(&mut self, loss: &f64, images: usize) {
        self.loss_sum += *loss;
        let rate = self.epoch.step(images);
        let loss = self.loss_sum / self.epoch.steps as f64;
        self.epoch
            .show_step(format!("loss {loss:.4} {rate:.1} img/s"));
    }

    fn validating(&mut self, images: usize) {
        self.epoch.validating(images);
    }

    fn skipped(&mut self, s: &Skipped) {
        self.epoch.skipped(s);
    }

    fn epoch_finished(&mut self, m: &EpochMetrics, improved: bool) {
        self.finish();
        let auroc = m
            .val_auroc
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "-".into());
        eprintln!(
            "epoch {:>3}: lr {:.2e} train_loss {:.4} val_loss {:.4} val_auroc {auroc}{} ({:.0}s, {:.1} img/s{})",
            m.epoch + 1,
            m.lr,
            m.train_loss,
            m.val_loss,
            if improved { " *best*" } else { "" },
            m.seconds,
            m.train_images_per_second,
            if m.frozen { ", backbone frozen" } else { "" }
        );
    }
}
