//! An MPR run's training state and checkpoint files (fracdet-run's `mpr::state`,
//! re-exported) and its metrics.csv, which only training writes.

pub use fracdet_run::mpr::state::*;

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// metrics.csv for a whole history, rewritten every epoch.
pub fn mpr_metrics_csv(history: &[MprEpochMetrics]) -> String {
    let mut s = String::from(
        "epoch,lr,train_loss,val_loss,val_auroc,seconds,train_images_per_second,skipped,\
         train_cell_loss,train_image_loss,val_cell_auroc,val_hit_rate,val_box_recall,\
         train_box_loss,val_ap50,val_box_recall_fp1,val_box_area_ratio\n",
    );
    for m in history {
        let b = m;
        s.push_str(&format!(
            "{},{},{},{},{},{:.3},{:.2},{},{},{},{},{},{},{},{},{},{}\n",
            b.epoch,
            b.lr,
            b.train_loss,
            b.val_loss,
            opt(b.val_auroc),
            b.seconds,
            b.train_images_per_second,
            b.skipped,
            m.train_cell_loss,
            m.train_image_loss,
            opt(m.val_cell_auroc),
            opt(m.val_hit_rate),
            opt(m.val_box_recall),
            m.train_box_loss,
            opt(m.val_ap50),
            opt(m.val_box_recall_fp1),
            opt(m.val_box_area_ratio),
        ));
    }
    s
}
