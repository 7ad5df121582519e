//! What `train mpr` shows while it works: the residual maps being computed (or found in
//! the run's cache) before training, then the classifier's progress display plus the
//! detector's cell and box metrics under each epoch's line.

use std::path::Path;

use anyhow::Context;
use fracdet_train::Device;
use fracdet_train::mpr::inpainter_residuals::residual_source_for;
use fracdet_train::mpr::{MprConfig, MprData, MprEpochMetrics};
use fracdet_train::{Skipped, TrainObserver};

use super::Progress;

/// The inpainter's residual maps of both splits, from `residuals-<split>.bin` in the run
/// folder when an earlier start computed them; a line every 30 s while computing.
pub fn residual_maps(
    config: &MprConfig,
    run_dir: &Path,
    train: &mut MprData,
    val: &mut MprData,
    device: &Device,
) -> anyhow::Result<()> {
    let source =
        residual_source_for(config, device).with_context(|| "cannot set up the residual maps")?;
    if !config.residual_scales.is_empty() {
        std::fs::create_dir_all(run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        for (name, split) in [("train", train), ("val", val)] {
            let cache = run_dir.join(format!("residuals-{name}.bin"));
            let mut last = std::time::Instant::now();
            let reused =
                split.load_or_compute(&cache, source.as_ref(), 8, &mut |done, total| {
                    if last.elapsed().as_secs() >= 30 || done == total {
                        last = std::time::Instant::now();
                        eprintln!("residual maps ({name}): {done}/{total}");
                    }
                })?;
            if reused {
                eprintln!("residual maps ({name}): from {}", cache.display());
            }
        }
    }
    Ok(())
}

/// The classifier's progress display, plus a line of detector metrics per epoch.
pub struct MprProgress(pub Progress);

impl TrainObserver<f64, MprEpochMetrics> for MprProgress {
    fn epoch_started(&mut self, epoch: u64, epochs: u64, batches: usize) {
        self.0.epoch_started(epoch, epochs, batches);
    }
    fn step_finished(&mut self, loss: &f64, images: usize) {
        self.0.step_finished(loss, images);
    }
    fn validating(&mut self, images: usize) {
        self.0.validating(images);
    }
    fn skipped(&mut self, s: &Skipped) {
        self.0.skipped(s);
    }
    fn epoch_finished(&mut self, m: &MprEpochMetrics, improved: bool) {
        self.0.epoch_finished(&m.base(), improved);
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
        eprintln!(
            "           cell_loss {:.4} image_loss {:.4} val_cell_auroc {} val_hit_rate {} val_box_recall {}",
            m.train_cell_loss,
            m.train_image_loss,
            f(m.val_cell_auroc),
            f(m.val_hit_rate),
            f(m.val_box_recall)
        );
        if m.val_ap50.is_some() || m.train_box_loss != 0.0 {
            eprintln!(
                "           box_loss {:.4} val_ap50 {} val_box_recall@1fp {} val_box_area_ratio {}",
                m.train_box_loss,
                f(m.val_ap50),
                f(m.val_box_recall_fp1),
                f(m.val_box_area_ratio)
            );
        }
    }
}
