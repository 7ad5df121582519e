//! `fracdet evaluate` and `fracdet compare` end to end on a generated FracAtlas-layout
//! dataset and a tiny model trained here for one epoch: the files exist with finite
//! numbers, thresholds are chosen on val, stored in the model and reused unchanged on
//! test, and the report is self-contained.

#[path = "../../fracdet-eval/tests/chromium/mod.rs"]
mod chromium;
mod common;

use std::path::Path;

use common::{fracdet, show};

const W: u32 = 40;
const H: u32 = 32;

/// Grey W x H image: dark background with a soft blob; fractures add a bright diagonal.
fn image_bytes(i: usize, fractured: bool) -> Vec<u8> {
    common::grey_png(W, H, |x, y| {
        let (x, y) = (x as i32, y as i32);
        let cx = 12 + (i as i32 * 7) % 16;
        let d2 = (x - cx).pow(2) + (y - 16).pow(2);
        if fractured && (x - y - (i as i32 % 5) + 2).abs() <= 1 {
            250
        } else {
            40 + (120 - d2.min(120)) as u8
        }
    })
}

/// labels.csv + images/ with train/val/test splits and body part, hardware and view columns.
fn write_dataset(root: &Path, per_split: [(&str, usize); 3]) {
    std::fs::create_dir_all(root.join("images")).unwrap();
    let mut csv = String::from("image,fractured,split,hand,leg,hardware,frontal,lateral\n");
    let mut k = 0;
    for (split, n) in per_split {
        for i in 0..n {
            let fractured = i % 2 == 0;
            let name = format!("{split}_{i:03}.png");
            std::fs::write(root.join("images").join(&name), image_bytes(k, fractured)).unwrap();
            let hand = u8::from(i % 3 != 0);
            let hardware = u8::from(i % 4 == 1);
            let frontal = u8::from(i % 2 == 1 || i % 5 == 0);
            let lateral = u8::from(i % 2 == 0);
            csv.push_str(&format!(
                "{name},{},{split},{hand},{},{hardware},{frontal},{lateral}\n",
                u8::from(fractured),
                1 - hand
            ));
            k += 1;
        }
    }
    std::fs::write(root.join("labels.csv"), csv).unwrap();
    // Boxes around the middle of the "fracture" line, for every fractured val/test image.
    let mut boxes = String::from("image,x_min,y_min,x_max,y_max\n");
    for (split, n) in per_split.iter().skip(1) {
        for i in (0..*n).step_by(2) {
            boxes.push_str(&format!("{split}_{i:03}.png,8,4,30,26\n"));
        }
    }
    std::fs::write(root.join("boxes.csv"), boxes).unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn finite(v: &serde_json::Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite(), "{what} = {x}");
    x
}

#[test]
fn evaluate_val_stores_thresholds_and_test_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, [("train", 16), ("val", 14), ("test", 12)]);
    let run = tmp.path().join("run");
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let o = fracdet(&[
        "train",
        "classifier",
        "--data",
        data_s,
        "--backbone",
        "resnet18",
        "--size",
        "32",
        "--epochs",
        "1",
        "--batch",
        "8",
        "--no-augment",
        "--out",
        run_s,
    ]);
    assert!(o.status.success(), "{}", show(&o));

    // No stored thresholds yet: a test split must refuse rather than pick its own.
    let early = tmp.path().join("early");
    let o = fracdet(&[
        "evaluate",
        "--model",
        run_s,
        "--data",
        data_s,
        "--split",
        "test",
        "--out",
        early.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("operating_points.json"),
        "{}",
        show(&o)
    );
    assert!(!run.join("operating_points.json").exists());

    let val_out = tmp.path().join("report-val");
    let o = fracdet(&[
        "evaluate",
        "--model",
        run_s,
        "--data",
        data_s,
        "--split",
        "val",
        "--out",
        val_out.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--target-sensitivity",
        "0.8",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stored_bytes =
        std::fs::read(run.join("operating_points.json")).expect("thresholds stored in the model");
    let stored: serde_json::Value = serde_json::from_slice(&stored_bytes).unwrap();
    assert_eq!(stored["split"], "val");
    assert_eq!(stored["points"]["target_sensitivity"], 0.8);
    assert_eq!(stored["points"]["n_validation"], 14);
    // A temperature fitted on the same val predictions is stored beside the thresholds.
    let temperature = finite(&stored["calibration"]["temperature"], "temperature");
    let bias = finite(&stored["calibration"]["bias"], "bias");
    assert!(temperature > 0.0);
    assert_eq!(stored["calibration"]["split"], "val");
    assert_eq!(stored["calibration"]["n"], 14);
    assert!(
        finite(&stored["calibration"]["nll_after"], "nll after")
            <= finite(&stored["calibration"]["nll_before"], "nll before") + 1e-12
    );

    let m = json(&val_out.join("metrics.json"));
    assert_eq!(m["n"], 14);
    assert_eq!(m["n_positive"], 7);
    let auroc = finite(&m["auroc"]["value"], "auroc");
    assert!((0.0..=1.0).contains(&auroc));
    finite(&m["auroc"]["ci"]["lower"], "auroc lower");
    finite(&m["average_precision"]["value"], "AP");
    let brier = finite(&m["calibration"]["brier"]["value"], "brier");
    assert!((0.0..=1.0).contains(&brier));
    finite(&m["calibration"]["ece"]["value"], "ECE");
    // Evaluated on the split it was fitted on: the after figures are in-sample, and say so.
    assert_eq!(m["calibrated"]["in_sample"], true);
    assert_eq!(m["calibrated"]["temperature"]["temperature"], temperature);
    finite(&m["calibrated"]["after"]["ece"]["value"], "ECE after");
    let names: Vec<&str> = m["at_operating_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fixed",
            "target_sensitivity",
            "youden",
            "target_specificity"
        ]
    );
    // The high-specificity point keeps >= 90% specificity on the split it was chosen on.
    let high_spec = &m["at_operating_points"][3]["metrics"];
    assert!(finite(&high_spec["specificity"]["value"], "spec") >= 0.9 - 1e-9);
    // The target point reaches >= 80% sensitivity on the split it was chosen on.
    let target = &m["at_operating_points"][1]["metrics"];
    assert!(finite(&target["sensitivity"]["value"], "sens") >= 0.8 - 1e-9);
    let cm = &target["confusion"];
    let total: u64 = ["tp", "fp", "tn", "fn_"]
        .iter()
        .map(|k| cm[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 14);
    let attrs: Vec<&str> = m["subgroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(attrs, ["body_part", "hardware", "view"]);
    // 7 positives per split: every subgroup is under 20 positives and says so.
    assert!(
        m["subgroups"][0]["groups"][0]["warning"]
            .as_str()
            .unwrap()
            .contains("positive")
    );

    // Localisation from class activation maps on the 7 boxed val images.
    let loc = &m["localisation"];
    assert_eq!(loc["n_images"], 7, "{loc}");
    assert_eq!(loc["n_truth_boxes"], 7);
    assert_eq!(
        loc["iou_threshold"].as_f64().map(|v| (v * 10.0).round()),
        Some(3.0)
    );
    assert!(loc["froc"].is_array() && loc["froc_at"].is_array());
    if let Some(h) = loc["hit_rate"]["value"].as_f64() {
        assert!((0.0..=1.0).contains(&h));
    }
    assert!(
        std::fs::read_to_string(val_out.join("report.html"))
            .unwrap()
            .contains("Localisation")
    );

    let preds = std::fs::read_to_string(val_out.join("predictions.csv")).unwrap();
    let mut lines = preds.lines();
    assert_eq!(
        lines.next().unwrap(),
        "image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden,\
         calibrated_probability"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 14);
    let target_threshold = stored["points"]["at_target_sensitivity"]["threshold"]
        .as_f64()
        .unwrap();
    for r in &rows {
        assert!(r[0].starts_with("images/val_"), "{r:?}");
        let p: f64 = r[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&p));
        // Decisions follow the stored threshold (allowing for the 6-decimal rounding).
        if (p - target_threshold).abs() > 1e-5 {
            assert_eq!(
                r[4] == "1",
                p >= target_threshold,
                "{r:?} vs {target_threshold}"
            );
        }
        // The calibrated column is sigmoid(logit(p) / T + bias) of the raw one.
        let c: f64 = r[6].parse().unwrap();
        let z = (p.clamp(1e-7, 1.0 - 1e-7) / (1.0 - p.clamp(1e-7, 1.0 - 1e-7))).ln();
        let expected = 1.0 / (1.0 + (-z / temperature - bias).exp());
        assert!((c - expected).abs() < 1e-4, "{r:?}: {c} vs {expected}");
    }
    // Same order (a monotone map), so ranks and decisions cannot change.
    let mut by_raw: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r[2].parse().unwrap(), r[6].parse().unwrap()))
        .collect();
    by_raw.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        by_raw.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-6),
        "{by_raw:?}"
    );

    let html = std::fs::read_to_string(val_out.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("Subgroups") && html.contains("AUROC"));
    assert!(html.contains("ECE after calibration") && html.contains("in-sample"));
    for png in [
        "roc.png",
        "pr.png",
        "reliability.png",
        "confusion.png",
        "scores.png",
        "training.png",
        "reliability_calibrated.png",
    ] {
        let bytes = std::fs::read(val_out.join(png)).unwrap_or_else(|_| panic!("{png} missing"));
        assert_eq!(&bytes[..4], b"\x89PNG", "{png}");
    }

    // Test split: the stored thresholds are used unchanged and the file is left alone.
    let test_out = tmp.path().join("report-test");
    let o = fracdet(&[
        "evaluate",
        "--model",
        run_s,
        "--data",
        data_s,
        "--split",
        "test",
        "--out",
        test_out.to_str().unwrap(),
        "--bootstrap",
        "200",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        std::fs::read(run.join("operating_points.json")).unwrap(),
        stored_bytes
    );
    let t = json(&test_out.join("metrics.json"));
    assert_eq!(t["n"], 12);
    // The val temperature, applied unchanged, and not in-sample here.
    assert_eq!(t["calibrated"]["temperature"], stored["calibration"]);
    assert_eq!(t["calibrated"]["in_sample"], false);
    let test_html = std::fs::read_to_string(test_out.join("report.html")).unwrap();
    assert!(test_html.contains("ECE after calibration") && !test_html.contains("in-sample"));
    assert_eq!(t["operating_points"], stored["points"]);
    for (i, name) in ["fixed", "target_sensitivity", "youden"].iter().enumerate() {
        let key = match *name {
            "fixed" => "fixed",
            "target_sensitivity" => "at_target_sensitivity",
            _ => "youden",
        };
        assert_eq!(
            t["at_operating_points"][i]["metrics"]["threshold"],
            stored["points"][key]["threshold"]
        );
    }
    assert_eq!(
        std::fs::read_to_string(test_out.join("predictions.csv"))
            .unwrap()
            .lines()
            .count(),
        13
    );
    assert_self_contained(&std::fs::read_to_string(test_out.join("report.html")).unwrap());
    opens_in_chromium(&test_out.join("report.html"), tmp.path());

    // A test split may not choose thresholds of its own.
    let o = fracdet(&[
        "evaluate",
        "--model",
        run_s,
        "--data",
        data_s,
        "--split",
        "test",
        "--out",
        test_out.to_str().unwrap(),
        "--threshold",
        "0.3",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));

    // The bundle carries the temperature; evaluating it uses it as stored, and `detect`
    // shows calibrated probabilities with the same decisions as the raw scores made.
    let bundle = tmp.path().join("bundle");
    let o = fracdet(&[
        "export",
        "--model",
        run_s,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("probabilities calibrated"));
    let manifest = json(&bundle.join("model.json"));
    assert_eq!(
        manifest["operating_points"]["calibration"],
        stored["calibration"]
    );
    let bundle_out = tmp.path().join("report-bundle");
    let o = fracdet(&[
        "evaluate",
        "--model",
        bundle.to_str().unwrap(),
        "--data",
        data_s,
        "--split",
        "test",
        "--out",
        bundle_out.to_str().unwrap(),
        "--bootstrap",
        "50",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let b = json(&bundle_out.join("metrics.json"));
    assert_eq!(b["calibrated"]["temperature"], stored["calibration"]);
    assert_eq!(b["operating_points"], stored["points"]);
    let test_rows = std::fs::read_to_string(test_out.join("predictions.csv")).unwrap();
    let detect_out = tmp.path().join("detect");
    let test_images: Vec<String> = test_rows
        .lines()
        .skip(1)
        .map(|l| {
            data.join(l.split(',').next().unwrap())
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["detect", "--model", bundle.to_str().unwrap(), "--out"];
    args.push(detect_out.to_str().unwrap());
    args.extend(test_images.iter().map(String::as_str));
    let o = fracdet(&args);
    assert!(o.status.success(), "{}", show(&o));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(detect_out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 12);
    let raw_spec = stored["points"]["at_target_specificity"]["threshold"]
        .as_f64()
        .unwrap();
    let raw_sens = stored["points"]["at_target_sensitivity"]["threshold"]
        .as_f64()
        .unwrap();
    for (line, r) in test_rows.lines().skip(1).zip(&records) {
        let cols: Vec<&str> = line.split(',').collect();
        let (raw, calibrated): (f64, f64) = (cols[2].parse().unwrap(), cols[6].parse().unwrap());
        let p = r["probability"].as_f64().unwrap();
        // f16 weights: close to evaluate's calibrated number, not to the raw one's scale.
        assert!((p - calibrated).abs() < 0.01, "{r}: {p} vs {calibrated}");
        let d = &r["decisions"];
        assert_eq!(d["probability_scale"], "calibrated");
        assert_eq!(d["temperature"], stored["calibration"]["temperature"]);
        let (sens, spec) = (&d["high_sensitivity"], &d["high_specificity"]);
        if (raw - raw_sens).abs() > 1e-3 {
            assert_eq!(sens["positive"], raw >= raw_sens, "{r}");
        }
        if (raw - raw_spec).abs() > 1e-3 {
            assert_eq!(spec["positive"], raw >= raw_spec, "{r}");
        }
        // Thresholds re-stated on the calibrated scale.
        let restated = |t: f64| {
            let z = (t.clamp(1e-7, 1.0 - 1e-7) / (1.0 - t.clamp(1e-7, 1.0 - 1e-7))).ln();
            1.0 / (1.0 + (-z / temperature - bias).exp())
        };
        let shown = sens["threshold"].as_f64().unwrap();
        assert!((shown - restated(raw_sens)).abs() < 1e-9, "{shown}");
    }

    // compare: a report against itself differs by exactly 0; val vs test share no image.
    let cmp = tmp.path().join("cmp");
    let o = fracdet(&[
        "compare",
        test_out.to_str().unwrap(),
        test_out.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--out",
        cmp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let c = json(&cmp.join("comparison.json"));
    assert_eq!(c["n_paired"], 12);
    assert_eq!(c["auroc"]["difference"]["value"], 0.0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("AUROC"));
    let o = fracdet(&[
        "compare",
        val_out.to_str().unwrap(),
        test_out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

/// Every `src=` is a data URI, and no stylesheet or script is loaded from elsewhere.
fn assert_self_contained(html: &str) {
    let mut n_img = 0;
    for (i, _) in html.match_indices("src=\"") {
        let rest = &html[i + 5..];
        assert!(
            rest.starts_with("data:image/png;base64,"),
            "external src: {}",
            &rest[..rest.len().min(60)]
        );
        n_img += 1;
    }
    assert!(n_img >= 5, "only {n_img} images inlined");
    assert!(!html.contains("<link"), "report links an external resource");
    assert!(!html.contains("http://") && !html.contains("https://"));
}

/// The dumped DOM says every <img> decoded and no script error fired (the report's own
/// check script), and Chromium logged no console message. Skips without Chromium.
fn opens_in_chromium(report: &Path, scratch: &Path) {
    let Some(opened) = chromium::open_report(report, scratch) else {
        return;
    };
    let body = &opened.body;
    assert!(
        body.contains("data-images-ok=\"true\""),
        "an image did not decode: {body:?}"
    );
    assert!(body.contains("data-errors=\"0\""), "{body:?}");
    assert!(
        opened.console.is_empty(),
        "console output: {:?}",
        opened.console
    );
}
