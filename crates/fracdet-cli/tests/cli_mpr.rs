//! MPR grid-detector runs in `predict`, `evaluate` and `detect`, end to end on a generated
//! FracAtlas-layout dataset with fracture boxes and a tiny detector (no residual channels)
//! trained here: predict and detect agree, evaluate scores localisation from the cell grid
//! and stores logit thresholds, detect boxes lie in original pixels inside the image and its
//! heatmap is the grid of cell probabilities.

mod common;

use std::path::Path;
use std::process::Output;

use common::{fracdet, show};
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_train::Device;

/// Wider than tall, so the 64 px canvas has letterbox padding above and below.
const W: u32 = 48;
const H: u32 = 36;

/// Crack origin of image `i` (positives only).
fn crack(i: usize) -> (u32, u32) {
    (6 + (i as u32 * 7) % 26, 4 + (i as u32 * 5) % 18)
}

/// labels.csv, boxes.csv and images/: even images have a bright diagonal crack and its box.
fn write_dataset(root: &Path) {
    let mut labels = String::from("image,fractured,split\n");
    let mut boxes = String::from("image,x_min,y_min,x_max,y_max\n");
    let mut k = 0;
    for (split, n) in [("train", 12), ("val", 10)] {
        for i in 0..n {
            let positive = i % 2 == 0;
            let (cx, cy) = crack(k);
            let name = format!("{split}_{i:02}.png");
            common::write_grey_png(&root.join("images").join(&name), W, H, |x, y| {
                let d2 = (x as i32 - 24).pow(2) + (y as i32 - 18).pow(2);
                let on_crack = x >= cx
                    && x < cx + 10
                    && (y as i32 - cy as i32 - (x as i32 - cx as i32)).abs() <= 1;
                if positive && on_crack {
                    250
                } else {
                    40 + (150 - d2.min(150)) as u8 / 2
                }
            });
            labels.push_str(&format!("{name},{},{split}\n", u8::from(positive)));
            if positive {
                boxes.push_str(&format!(
                    "{name},{},{},{},{}\n",
                    cx.saturating_sub(1),
                    cy.saturating_sub(2),
                    cx + 11,
                    cy + 12
                ));
            }
            k += 1;
        }
    }
    std::fs::write(root.join("labels.csv"), labels).unwrap();
    std::fs::write(root.join("boxes.csv"), boxes).unwrap();
}

/// A tiny detector without residual channels, 2 epochs on 64² canvases, plus `extra` flags.
fn train_tiny(data: &str, run: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "mpr",
        "--data",
        data,
        "--no-residuals",
        "--size",
        "64",
        "--epochs",
        "2",
        "--batch",
        "4",
        "--warmup-epochs",
        "0",
        "--lr",
        "2e-3",
        "--out",
        run,
    ];
    args.extend_from_slice(extra);
    fracdet(&args)
}

/// `fracdet evaluate` of `run` on `data` into `out` (100 bootstrap resamples), plus `extra`.
fn evaluate(run: &str, data: &str, out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "evaluate",
        "--model",
        run,
        "--data",
        data,
        "--out",
        out,
        "--bootstrap",
        "100",
    ];
    args.extend_from_slice(extra);
    fracdet(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn probabilities_by_file(records: &[serde_json::Value]) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = records
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["probability"].as_f64().unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn mpr_run_in_predict_evaluate_and_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
    let run = tmp.path().join("run");
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let o = train_tiny(data_s, run_s, &["--no-augment"]);
    assert!(o.status.success(), "{}", show(&o));

    // evaluate on val: thresholds chosen and stored (on the logit), localisation from cells.
    let report = tmp.path().join("report");
    let o = evaluate(run_s, data_s, &report, &["--split", "val"]);
    assert!(o.status.success(), "{}", show(&o));
    let m = json(&report.join("metrics.json"));
    assert_eq!(m["n"], 10);
    assert_eq!(m["n_positive"], 5);
    let auroc = m["auroc"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auroc), "{auroc}");
    // The fixed point is probability 0.5, i.e. logit 0.
    assert_eq!(m["operating_points"]["fixed"]["threshold"], 0.0);
    let brier = m["calibration"]["brier"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&brier), "{brier}");
    let loc = &m["localisation"];
    assert_eq!(loc["n_images"], 5, "{loc}");
    assert_eq!(loc["n_truth_boxes"], 5, "{loc}");
    assert!(loc["froc"].is_array(), "{loc}");
    let hit = loc["hit_rate"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&hit), "{hit}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("cell probabilities") && html.contains("image logit"));
    let preds = std::fs::read_to_string(report.join("predictions.csv")).unwrap();
    // The logit the decisions use, then the probability after the val temperature.
    assert!(
        preds
            .lines()
            .next()
            .unwrap()
            .ends_with(",logit,calibrated_probability"),
        "{preds}"
    );
    assert_eq!(preds.lines().count(), 11);
    let stored = json(&run.join("operating_points.json"));
    let target = stored["points"]["at_target_sensitivity"]["threshold"]
        .as_f64()
        .unwrap();
    for row in preds.lines().skip(1) {
        let cols: Vec<&str> = row.split(',').collect();
        let logit: f64 = cols[6].parse().unwrap();
        if (logit - target).abs() > 1e-6 {
            assert_eq!(cols[4] == "1", logit >= target, "{row} vs {target}");
        }
    }

    // Boxes at another region threshold: `calibrated` undoes the cell W-BCE weight w.
    let report2 = tmp.path().join("report2");
    let eval_with =
        |threshold: &str| evaluate(run_s, data_s, &report2, &["--region-threshold", threshold]);
    let o = eval_with("calibrated");
    assert!(o.status.success(), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let used: f32 = stderr
        .split("boxes from cells with probability >= ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(used > 0.5 && used < 1.0, "w / (1 + w) for w > 1: {used}");
    let o = eval_with("1.5");
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be a probability"));

    // predict and detect: the same probability per image.
    let images = data.join("images");
    let images_s = images.to_str().unwrap();
    let o = fracdet(&["predict", "--model", run_s, images_s, "--format", "json"]);
    assert!(o.status.success(), "{}", show(&o));
    let predicted: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let predicted = probabilities_by_file(predicted.as_array().unwrap());
    assert_eq!(predicted.len(), 22);
    let out = tmp.path().join("out");
    let o = fracdet(&[
        "detect",
        images_s,
        "--model",
        run_s,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // detect shows the calibrated probability (evaluate stored a temperature) and keeps
    // the network's own beside it: that one is predict's.
    assert!(
        records
            .iter()
            .all(|r| r["decisions"]["probability_scale"] == "calibrated")
    );
    let model_probabilities: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({"file": r["file"], "probability": r["uncalibrated_probability"]})
        })
        .collect();
    let detected = probabilities_by_file(&model_probabilities);
    assert_eq!(detected.len(), predicted.len());
    for ((fa, pa), (fb, pb)) in detected.iter().zip(&predicted) {
        assert_eq!(fa, fb);
        assert!((pa - pb).abs() < 1e-6, "{fa}: detect {pa} vs predict {pb}");
    }
    assert!(records.iter().all(|r| r["finding"] != "unknown"));

    // The detector itself: cell-probability heatmaps, boxes in original pixels on the image,
    // decisions on the stored logit thresholds.
    let device = Device::flex();
    let detector = fracdet_detect::Detector::open(&run, &device).unwrap();
    assert_eq!(detector.input_size(), 64);
    let mut flagged = 0;
    for (file, p) in &predicted {
        let image = read_radiograph(Path::new(file), &ReadOptions::default()).unwrap();
        let d = detector.detect(&image, &device).unwrap();
        assert!((f64::from(d.model_probability) - p).abs() < 1e-6, "{file}");
        assert_eq!((d.width, d.height), (W, H));
        let h = d
            .heatmap
            .as_ref()
            .expect("an MPR run always has its cell grid");
        assert_eq!(h.meaning, "cell_probability");
        assert_eq!((h.width, h.height, h.values.len()), (4, 4, 16));
        assert!(h.values.iter().all(|v| (0.0..=1.0).contains(v)));
        // 48x36 -> 64x48 content with 8 px of padding above and below.
        assert_eq!(h.transform.pad_y, 8);
        assert_eq!(h.to_original().unwrap().len(), (W * H) as usize);
        if d.decisions.flagged(d.probability) {
            flagged += 1;
            assert!(!d.boxes.is_empty(), "{file}: flagged without a box");
        } else {
            assert!(d.boxes.is_empty(), "{file}: box on a negative image");
        }
        for b in &d.boxes {
            let bb = b.bbox;
            assert!(
                bb.x_min >= 0.0
                    && bb.y_min >= 0.0
                    && bb.x_max <= W as f32
                    && bb.y_max <= H as f32
                    && bb.area() > 0.0,
                "{file}: {bb:?}"
            );
            assert!((0.0..=1.0).contains(&b.score));
        }
        let hs = d.decisions.high_sensitivity.expect("stored by evaluate");
        assert!((0.0..=1.0).contains(&hs.threshold), "{hs:?}");
    }
    assert!(flagged > 0, "the high-sensitivity point flags some image");
}

/// The box-head detector (regressed boxes, image head, training crops) end to end: val
/// box metrics per epoch and in evaluate, export to a bundle with no path of this
/// machine in it, and the bundle in evaluate and detect scoring as the run does.
#[test]
fn box_head_detector_exports_to_a_bundle_that_evaluate_and_detect_take() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
    let run = tmp.path().join("run");
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let o = train_tiny(
        data_s,
        run_s,
        &[
            "--stride",
            "8",
            "--box-head",
            "--image-head",
            "--train-crop",
            "48",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(2).expect("two epochs").split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    let box_loss: f64 = col("train_box_loss").parse().unwrap();
    assert!(
        box_loss > 0.0 && box_loss < 2.0,
        "GIoU loss in (0, 2): {box_loss}"
    );
    let ap: f64 = col("val_ap50").parse().expect("val AP50 measured");
    assert!((0.0..=1.0).contains(&ap));

    let report = tmp.path().join("report");
    let o = evaluate(run_s, data_s, &report, &["--split", "val"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("boxes: AP50"));
    let m = json(&report.join("metrics.json"));
    let d = &m["detection"];
    assert_eq!(d["n_images"], 10, "every image counts: {d}");
    assert_eq!(d["n_truth_boxes"], 5);
    assert!(d["recall"].as_array().unwrap().len() == 2);
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("Boxes as detections") && html.contains("orange outlines"));
    // The drawing threshold is chosen on val within the false-positive budget, stored with
    // the run, and the drawn-box metrics use it.
    let stored = json(&run.join("operating_points.json"));
    let drawn_at = stored["points"]["box_threshold"].clone();
    if drawn_at.is_object() {
        assert!(
            drawn_at["fp_per_image"].as_f64().unwrap() <= 0.5 + 1e-9,
            "{drawn_at}"
        );
        let as_f32 = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
        assert_eq!(as_f32(&d["drawn_at"]), as_f32(&drawn_at["score"]));
    } else {
        eprintln!("NOTICE: the tiny run's top box is a false positive; no box threshold to check");
    }

    let bundle = tmp.path().join("bundle");
    let o = fracdet(&[
        "export",
        "--model",
        run_s,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let manifest = json(&bundle.join("model.json"));
    assert_eq!(manifest["kind"], "mpr");
    assert_eq!(manifest["mpr"]["config"]["box_head"], true);
    assert_eq!(
        manifest["operating_points"]["points"]["box_threshold"],
        drawn_at
    );
    let paths = common::absolute_paths(&manifest);
    assert!(paths.is_empty(), "absolute paths in the bundle: {paths:?}");

    // The bundle evaluates as the run does (f16 weights: AUROC within a few hundredths).
    let from_bundle = tmp.path().join("report-bundle");
    let o = evaluate(
        bundle.to_str().unwrap(),
        data_s,
        &from_bundle,
        &["--split", "val"],
    );
    assert!(o.status.success(), "{}", show(&o));
    let mb = json(&from_bundle.join("metrics.json"));
    let (a, b) = (
        m["auroc"]["value"].as_f64().unwrap(),
        mb["auroc"]["value"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 0.05, "run {a} vs bundle {b}");
    assert!(mb["detection"]["ap50"].is_number() || mb["detection"]["ap50"].is_null());

    // detect with the bundle scores as the run does and draws boxes inside the image on
    // every flagged image.
    let device = Device::flex();
    let detector = fracdet_detect::Detector::open(&bundle, &device).unwrap();
    let from_run = fracdet_detect::Detector::open(&run, &device).unwrap();
    let mut flagged = 0;
    for i in 0..10 {
        let file = data.join("images").join(format!("val_{i:02}.png"));
        let image = read_radiograph(&file, &ReadOptions::default()).unwrap();
        let d = detector.detect(&image, &device).unwrap();
        let r = from_run.detect(&image, &device).unwrap();
        assert!(
            (d.model_probability - r.model_probability).abs() < 0.02,
            "{}: bundle {} vs run {}",
            file.display(),
            d.model_probability,
            r.model_probability
        );
        // The run's own weights decide exactly at the thresholds chosen on these images
        // (the bundle's f16 weights may move a score across a threshold that close).
        if r.decisions.flagged(r.probability) {
            flagged += 1;
            assert!(
                !r.boxes.is_empty(),
                "{}: flagged without a box",
                file.display()
            );
        }
        for b in d.boxes.iter().chain(&r.boxes) {
            let bb = b.bbox;
            assert!(
                bb.x_min >= 0.0
                    && bb.y_min >= 0.0
                    && bb.x_max <= W as f32
                    && bb.y_max <= H as f32
                    && bb.area() > 0.0,
                "{bb:?}"
            );
        }
    }
    assert!(flagged > 0, "the high-sensitivity point flags some image");
}

/// The residual-only ablation arm: an inpainter run trained from the CLI on the normal
/// images, then scored by `evaluate` with no detector. Its score is the mean residual of
/// the hottest cell, thresholds are stored on it, and the bright cracks (never seen by the
/// inpainter, which trains on normal images only) must be harder to re-draw than the
/// smooth normal images.
#[test]
fn inpainter_run_alone_is_a_residual_anomaly_scorer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
    let run = tmp.path().join("inpainter");
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let o = fracdet(&[
        "train",
        "inpainter",
        "--data",
        data_s,
        "--size",
        "64",
        "--scales",
        "16",
        "--epochs",
        "12",
        "--batch",
        "3",
        "--lr",
        "3e-3",
        "--width",
        "8",
        "--no-augment",
        "--out",
        run_s,
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 13, "{metrics}");
    assert!(run.join("best.ckpt").exists() && run.join("samples").is_dir());

    let report = tmp.path().join("report");
    let o = evaluate(run_s, data_s, &report, &[]);
    assert!(o.status.success(), "{}", show(&o));
    let m = json(&report.join("metrics.json"));
    assert_eq!(
        (m["n"].as_u64(), m["n_positive"].as_u64()),
        (Some(10), Some(5))
    );
    let auroc = m["auroc"]["value"].as_f64().unwrap();
    assert!(
        auroc >= 0.8,
        "cracks should stand out in the residuals: AUROC {auroc}"
    );
    let loc = &m["localisation"];
    assert_eq!(loc["n_images"], 5, "{loc}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    let o = evaluate(
        run_s,
        data_s,
        &tmp.path().join("r2"),
        &["--region-threshold", "0.9"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MPR detector runs only"));
    // detect refuses the inpainter alone: its score is not a fracture probability.
    let o = fracdet(&[
        "detect",
        data.join("images").to_str().unwrap(),
        "--model",
        run_s,
        "--out",
        tmp.path().join("det").to_str().unwrap(),
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is an MPR inpainter run"),
        "{}",
        show(&o)
    );
    assert!(
        html.contains("not a probability") && html.contains("mean residual per 16-pixel cell"),
        "the report says what the score is"
    );
    // Scores are mean residuals of one cell: in [0, 1], and the stored target-sensitivity
    // threshold is one of them.
    let preds = std::fs::read_to_string(report.join("predictions.csv")).unwrap();
    let scores: Vec<f64> = preds
        .lines()
        .skip(1)
        .map(|r| r.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores.len(), 10);
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");
    let stored = json(&run.join("operating_points.json"));
    let target = stored["points"]["at_target_sensitivity"]["threshold"]
        .as_f64()
        .unwrap();
    assert!(
        scores.iter().any(|s| (s - target).abs() < 1e-5),
        "{target} vs {scores:?}"
    );
}
