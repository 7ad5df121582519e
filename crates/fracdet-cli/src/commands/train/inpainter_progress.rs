//! The progress display of `train inpainter`: its losses are three (masked L1, adversarial,
//! critic) and its epoch line compares with a blur fill, so it has a display of its own.

use fracdet_train::inpainter::{InpainterEpochMetrics, StepLosses};
use fracdet_train::{Skipped, TrainObserver};

use super::epoch_display::EpochDisplay;

/// Progress bar on stderr (masked L1, adversarial loss, img/s, ETA) and one line per epoch;
/// a plain line a minute when stderr is not a terminal.
pub struct InpainterProgress {
    epoch: EpochDisplay,
    sums: StepLosses,
}

impl InpainterProgress {
    pub fn new() -> Self {
        Self {
            epoch: EpochDisplay::new(),
            sums: StepLosses::default(),
        }
    }

    pub fn finish(&mut self) {
        self.epoch.finish();
    }
}

impl TrainObserver<StepLosses, InpainterEpochMetrics> for InpainterProgress {
    fn epoch_started(&mut self, epoch: u64, epochs: u64, batches: usize) {
        self.sums = StepLosses::default();
        self.epoch.start(epoch, epochs, batches);
    }

    fn step_finished(&mut self, losses: &StepLosses, images: usize) {
        self.sums.l1 += losses.l1;
        self.sums.adv += losses.adv;
        self.sums.d += losses.d;
        let rate = self.epoch.step(images);
        let n = self.epoch.steps as f64;
        self.epoch.show_step(format!(
            "loss_rec {:.4} loss_adv {:.3} loss_d {:.3} {rate:.1} img/s",
            self.sums.l1 / n,
            self.sums.adv / n,
            self.sums.d / n
        ));
    }

    fn validating(&mut self, images: usize) {
        self.epoch.validating(images);
    }

    fn skipped(&mut self, s: &Skipped) {
        self.epoch.skipped(s);
    }

    fn epoch_finished(&mut self, m: &InpainterEpochMetrics, improved: bool) {
        self.finish();
        eprintln!(
            "epoch {:>3}: lr {:.2e} train L1 {:.4} adv {:.3} d {:.3} | val L1 {:.4} PSNR {:.2} dB \
             (blur fill L1 {:.4} PSNR {:.2} dB){} ({:.0}s, {:.1} img/s)",
            m.epoch + 1,
            m.lr_g,
            m.train_l1,
            m.train_adv,
            m.train_d,
            m.val_l1,
            m.val_psnr,
            m.blur_l1,
            m.blur_psnr,
            if improved { " *best*" } else { "" },
            m.seconds,
            m.train_images_per_second
        );
    }
}
