//! Every plot renders a non-trivial PNG. Set `FRACDET_PLOT_DIR` to keep the files for a
//! visual check; otherwise they go to a temporary directory.

mod common;

use std::path::{Path, PathBuf};

use fracdet_eval::plot::{
    DEFAULT_SIZE, plot_confusion_matrix, plot_pr, plot_reliability, plot_roc,
    plot_score_histograms, plot_training_curves,
};
use fracdet_eval::{
    BootstrapConfig, ConfusionMatrix, TrainingLog, auroc_with_ci, average_precision, calibration,
    choose_operating_points, pr_curve, roc_band, roc_curve,
};

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("FRACDET_PLOT_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, PathBuf::from(d))
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// The file is a PNG of the requested size and not a blank canvas.
fn check_png(path: &Path, size: (u32, u32)) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{path:?}");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), size);
    // A white 800x640 PNG compresses to ~2 kB; text, axes and curves make it far larger.
    assert!(bytes.len() > 10_000, "{path:?} only {} bytes", bytes.len());
}

#[test]
fn renders_every_plot() {
    let (_guard, dir) = out_dir();
    let (l, s) = common::binormal(150, 350, 1.6, 3);
    let cfg = BootstrapConfig {
        n_resamples: 500,
        ..Default::default()
    };
    let ops = choose_operating_points(&l, &s, 0.5, 0.9).unwrap();

    let roc = roc_curve(&l, &s).unwrap().unwrap();
    let band = roc_band(&l, &s, 101, &cfg).unwrap();
    let auc = auroc_with_ci(&l, &s, &cfg).unwrap();
    let marks = [
        ("Fixed", ops.fixed),
        ("Sens >= 0.90", ops.at_target_sensitivity.unwrap()),
        ("Youden", ops.youden.unwrap()),
    ];
    let p = dir.join("roc.png");
    plot_roc(
        &p,
        "ROC curve (test set)",
        &roc,
        band.as_ref(),
        &auc,
        &marks,
        DEFAULT_SIZE,
    )
    .unwrap();
    check_png(&p, DEFAULT_SIZE);

    let pr = pr_curve(&l, &s).unwrap().unwrap();
    let ap = average_precision(&l, &s).unwrap();
    let p = dir.join("pr.png");
    plot_pr(&p, "Precision–recall curve", &pr, &ap, DEFAULT_SIZE).unwrap();
    check_png(&p, DEFAULT_SIZE);

    let cal = calibration(&l, &s).unwrap();
    let p = dir.join("reliability.png");
    plot_reliability(&p, "Reliability diagram", &cal, DEFAULT_SIZE).unwrap();
    check_png(&p, DEFAULT_SIZE);

    let cm = ConfusionMatrix::from_scores(&l, &s, 0.5);
    let p = dir.join("confusion.png");
    plot_confusion_matrix(&p, "Confusion matrix", &cm, 0.5, DEFAULT_SIZE).unwrap();
    check_png(&p, DEFAULT_SIZE);

    let p = dir.join("histogram.png");
    plot_score_histograms(
        &p,
        "Score distribution by class",
        &l,
        &s,
        20,
        Some(0.5),
        DEFAULT_SIZE,
    )
    .unwrap();
    check_png(&p, DEFAULT_SIZE);

    // The header fracdet-train writes (bookkeeping columns must not be plotted).
    let csv = "epoch,lr,train_loss,val_loss,val_auroc,seconds,train_images_per_second,skipped,frozen\n\
               1,0.001,0.69,0.68,0.62,120.1,35.0,0,1\n2,0.001,0.55,0.58,0.71,119.0,35.5,0,1\n\
               3,0.0005,0.47,0.52,0.78,118.2,36.1,1,0\n4,0.0005,0.41,,0.80,118.9,36.0,0,0\n\
               5,0.00025,0.37,0.50,0.83,117.5,36.2,0,0\n";
    let log = TrainingLog::parse(csv).unwrap();
    let size = (1100, 500);
    let p = dir.join("training.png");
    plot_training_curves(&p, "Training curves", &log, size).unwrap();
    check_png(&p, size);
}

#[test]
fn plot_errors_are_typed_not_panics() {
    let (_guard, dir) = out_dir();
    let empty = TrainingLog::parse("epoch,loss\n").unwrap();
    assert!(plot_training_curves(&dir.join("t.png"), "t", &empty, DEFAULT_SIZE).is_err());
    let tiny = dir.join("tiny.png");
    assert!(plot_score_histograms(&tiny, "h", &[true], &[0.5], 10, None, (0, 0)).is_err());
    let missing = dir.join("no/such/dir/x.png");
    assert!(plot_score_histograms(&missing, "h", &[true], &[0.5], 10, None, DEFAULT_SIZE).is_err());
}
