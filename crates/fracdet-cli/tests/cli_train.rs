//! `fracdet train classifier` and `fracdet predict` end to end on a tiny generated dataset.

mod common;

use std::path::Path;

use common::{fracdet, show};

/// 32x32 grey image; fractured ones carry a bright diagonal line.
fn write_image(path: &Path, seed: u32, fractured: bool) {
    common::write_grey_png(path, 32, 32, |x, y| {
        if fractured && (x as i32 - y as i32 - (seed % 3) as i32).abs() <= 1 {
            250
        } else {
            ((x * 3 + y * 5 + seed * 17) % 90) as u8 + 20
        }
    });
}

/// ROOT/<split>/<class>/ with `n` images per class and split.
fn write_dataset(root: &Path, n: u32) {
    for split in ["train", "val"] {
        for (class, fractured) in [("fractured", true), ("not fractured", false)] {
            for i in 0..n {
                write_image(
                    &root.join(split).join(class).join(format!("{i}.png")),
                    i,
                    fractured,
                );
            }
        }
    }
}

#[test]
fn train_then_predict_then_resume_finished_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 4);
    // A corrupt training image is reported and skipped.
    std::fs::write(
        data.join("train/fractured/broken.png"),
        b"\x89PNG\r\n\x1a\nbroken",
    )
    .unwrap();
    let run = tmp.path().join("runs/tiny");
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let out = fracdet(&[
        "train",
        "classifier",
        "--data",
        data_s,
        "--backbone",
        "resnet18",
        "--size",
        "32",
        "--epochs",
        "2",
        "--batch",
        "4",
        "--out",
        run_s,
        "--seed",
        "3",
        "--lr",
        "0.001",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("broken.png"),
        "skipped file named: {stderr}"
    );
    for f in ["config.json", "metrics.csv", "last.ckpt", "best.ckpt"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["backbone"], "resnet18");
    assert_eq!(config["input"]["size"], 32);
    assert_eq!(config["input"]["channels"], 3);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
    assert!(metrics.starts_with("epoch,lr,train_loss,val_loss,val_auroc,seconds"));

    // predict: two good images and one unreadable file -> probabilities, exit 1.
    let bad = tmp.path().join("bad.png");
    std::fs::write(&bad, b"not an image").unwrap();
    let good = data.join("val/fractured/0.png");
    let out = fracdet(&[
        "predict",
        "--model",
        run_s,
        "--format",
        "json",
        good.to_str().unwrap(),
        data.join("val/not fractured").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1 + 4 + 1);
    for row in &rows[..5] {
        let p = row["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{row}");
    }
    assert!(rows[5]["probability"].is_null() && rows[5]["error"].is_string());

    // All readable -> exit 0; csv has a header and a row per image.
    let out = fracdet(&[
        "predict",
        "--model",
        run_s,
        "--format",
        "csv",
        good.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.starts_with("file,probability,error"));

    // Resuming a finished run changes nothing and succeeds.
    let before = std::fs::read(run.join("last.ckpt")).unwrap();
    let out = fracdet(&["train", "classifier", "--resume", run_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(run.join("last.ckpt")).unwrap(), before);

    // --epochs with --resume: the run's own count is accepted; another one is refused with
    // a one-line reason, never ignored, and the run is left as it was.
    let out = fracdet(&["train", "classifier", "--resume", run_s, "--epochs", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // (A backtrace may follow when RUST_BACKTRACE asks for one.)
    let reason = stderr.lines().next().unwrap_or_default();
    assert!(
        reason.starts_with("error: --epochs 3: ") && reason.contains("planned for 2 epoch(s)"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("finished"));
    assert_eq!(std::fs::read(run.join("last.ckpt")).unwrap(), before);
    let out = fracdet(&["train", "classifier", "--resume", run_s, "--epochs", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Any other training flag with --resume is refused as a usage error (exit 2), never
    // silently replaced by the saved configuration; the run is left as it was.
    for (kind, flag, value) in [
        ("classifier", "--lr", "0.1"),
        ("classifier", "--size", "64"),
        ("mpr", "--box-head", ""),
        ("mpr", "--train-crop", "32"),
        ("inpainter", "--adv-weight", "0.5"),
    ] {
        let mut args = vec!["train", kind, "--resume", run_s, flag];
        if !value.is_empty() {
            args.push(value);
        }
        let out = fracdet(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{kind} {flag}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }
    assert_eq!(std::fs::read(run.join("last.ckpt")).unwrap(), before);

    // A second fresh run into the same directory is refused.
    let out = fracdet(&[
        "train",
        "classifier",
        "--data",
        data_s,
        "--backbone",
        "resnet18",
        "--size",
        "32",
        "--out",
        run_s,
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        fracdet(&["train", "classifier", "--backbone", "resnet18"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(fracdet(&["predict", "x.png"]).status.code(), Some(2));
}

#[test]
fn acquisition_augment_is_recorded_in_the_run_and_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 4);
    let run = tmp.path().join("run");
    let o = fracdet(&[
        "train",
        "classifier",
        "--data",
        data.to_str().unwrap(),
        "--backbone",
        "resnet18",
        "--size",
        "32",
        "--epochs",
        "1",
        "--batch",
        "4",
        "--acquisition-augment",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let a = &config["augment"]["acquisition"];
    assert!(a["noise_prob"].as_f64().unwrap() > 0.0, "{config}");
    assert!(a["jpeg_quality"].is_array(), "{config}");
    assert!(run.join("best.ckpt").exists());
    // Without augmentation there is nothing to add it to: a usage error.
    let o = fracdet(&[
        "train",
        "classifier",
        "--data",
        data.to_str().unwrap(),
        "--backbone",
        "resnet18",
        "--no-augment",
        "--acquisition-augment",
        "--out",
        tmp.path().join("run2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
