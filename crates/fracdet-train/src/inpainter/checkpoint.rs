//! Inpainter checkpoints (fracdet-run's `inpainter::checkpoint`, re-exported) and the
//! run's `metrics.csv`, which only training writes.

pub use fracdet_run::inpainter::checkpoint::*;

/// `metrics.csv` for a whole history, rewritten (atomically) every epoch.
pub fn inpainter_metrics_csv(history: &[InpainterEpochMetrics]) -> String {
    let mut s = String::from(
        "epoch,lr_g,train_l1,train_adv,train_d,val_l1,val_psnr,blur_l1,blur_psnr,seconds,train_images_per_second,skipped\n",
    );
    for m in history {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{:.3},{:.2},{}\n",
            m.epoch,
            m.lr_g,
            m.train_l1,
            m.train_adv,
            m.train_d,
            m.val_l1,
            m.val_psnr,
            m.blur_l1,
            m.blur_psnr,
            m.seconds,
            m.train_images_per_second,
            m.skipped
        ));
    }
    s
}
