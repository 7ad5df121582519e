//! Checkpoint files and `metrics.csv` of a classifier run. The file formats (and their
//! reading, which prediction needs) live in fracdet-run's `checkpoint`, re-exported here;
//! `metrics.csv`, which only training writes, is made here.

pub use fracdet_run::checkpoint::*;

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// `metrics.csv` for a whole history: rewritten (atomically) every epoch, so it always agrees
/// with `last.ckpt`, including after a resume.
pub fn metrics_csv(history: &[EpochMetrics]) -> String {
    let mut s = String::from(
        "epoch,lr,train_loss,val_loss,val_auroc,seconds,train_images_per_second,skipped,frozen\n",
    );
    for m in history {
        s.push_str(&format!(
            "{},{},{},{},{},{:.3},{:.2},{},{}\n",
            m.epoch,
            m.lr,
            m.train_loss,
            m.val_loss,
            fmt_opt(m.val_auroc),
            m.seconds,
            m.train_images_per_second,
            m.skipped,
            m.frozen
        ));
    }
    s
}
