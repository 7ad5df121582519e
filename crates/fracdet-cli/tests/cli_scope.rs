//! `fracdet detect` and the applicability check (issue #14): images that are not
//! radiographs get the finding "not_assessed" with a reason in every output, and no
//! probability, overlay or box; `--assess-anyway` scores them and says so everywhere.

mod common;

use std::path::Path;

use common::{fracdet, show};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

fn ct_slice() -> Vec<u8> {
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let pixels: Vec<u16> = (0..64 * 64).map(|i| (i * 37 % 4096) as u16).collect();
    let extra = vec![
        text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        text(tags::MODALITY, VR::CS, "CT"),
    ];
    common::mono16_dicom(64, 64, "1.2.840.10008.5.1.4.1.1.2", pixels, extra)
}

fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(200, 150, |x, y| {
        if (x as i32 - 100).pow(2) + (y as i32 - 70).pow(2) < 1600 {
            image::Rgb([224, 172, 140])
        } else {
            image::Rgb([80, (120 + y / 2) as u8, 230])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::from(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

fn inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/IMG0002316.jpg");
    std::fs::copy(sample, dir.join("radiograph.jpg")).unwrap();
    std::fs::write(dir.join("portrait.jpg"), photo()).unwrap();
    std::fs::write(dir.join("slice.dcm"), ct_slice()).unwrap();
    // A hash of the position: noise with no spatial structure.
    let noise = common::grey_png(160, 120, |px, py| {
        let mut x = (px * 7919 + py * 104_729) ^ 0x1234_5678;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 24) as u8
    });
    std::fs::write(dir.join("noise.png"), noise).unwrap();
}

fn records(out: &Path) -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    v.sort_by(|a, b| a["file"].as_str().cmp(&b["file"].as_str()));
    v
}

#[test]
fn images_that_are_not_radiographs_are_not_assessed_in_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    inputs(&dir);
    let out = tmp.path().join("out");
    let o = fracdet(&[
        "detect",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("3 not assessed"), "{stderr}");
    let rows = records(&out);
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let file = r["file"].as_str().unwrap();
        let expected = match Path::new(file).file_name().unwrap().to_str().unwrap() {
            "radiograph.jpg" => None,
            "portrait.jpg" => Some("colour"),
            "slice.dcm" => Some("modality"),
            "noise.png" => Some("no_structure"),
            other => panic!("unexpected {other}"),
        };
        match expected {
            None => {
                assert!(r["probability"].is_number(), "{r}");
                assert!(r["not_assessed"].is_null(), "{r}");
                assert_ne!(r["finding"], "not_assessed");
            }
            Some(reason) => {
                assert_eq!(r["finding"], "not_assessed", "{r}");
                assert_eq!(r["not_assessed"]["reason"], reason, "{r}");
                assert_eq!(r["not_assessed"]["assessed_anyway"], false);
                assert!(
                    r["probability"].is_null() && r["decisions"].is_null(),
                    "{r}"
                );
                assert!(r["overlay"].is_null() && r["boxes"].is_null(), "{r}");
                let message = r["not_assessed"]["message"].as_str().unwrap();
                let line = stdout.lines().find(|l| l.starts_with(file)).unwrap();
                assert!(
                    line.contains("not_assessed") && line.contains(message),
                    "{line}"
                );
            }
        }
    }
    // One overlay, for the radiograph only.
    assert_eq!(std::fs::read_dir(out.join("overlays")).unwrap().count(), 1);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",not_assessed"));
    let refused: Vec<&str> = csv
        .lines()
        .filter(|l| l.contains(",not_assessed,"))
        .collect();
    assert_eq!(refused.len(), 3, "{csv}");
    assert!(refused.iter().all(|l| !l.ends_with(',')), "{csv}");

    // --assess-anyway: a probability for each, and each out-of-scope one says so.
    let out2 = tmp.path().join("out2");
    let o = fracdet(&[
        "detect",
        dir.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--assess-anyway",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("assessed anyway") && stderr.contains("research only"),
        "{stderr}"
    );
    let rows = records(&out2);
    assert!(
        rows.iter().all(|r| r["probability"].is_number()),
        "{rows:?}"
    );
    let anyway: Vec<_> = rows
        .iter()
        .filter(|r| !r["not_assessed"].is_null())
        .collect();
    assert_eq!(anyway.len(), 3);
    for r in anyway {
        assert_eq!(r["not_assessed"]["assessed_anyway"], true, "{r}");
        assert_ne!(r["finding"], "not_assessed");
    }
    let csv = std::fs::read_to_string(out2.join("results.csv")).unwrap();
    assert_eq!(csv.matches("assessed anyway: ").count(), 3, "{csv}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        stdout.matches("out of scope, assessed anyway").count(),
        3,
        "{stdout}"
    );
}

/// `detect --dicom-out` on a DICOM the check refuses (a CT slice of a study): its one
/// DICOM result is an SR saying "not assessed" and why; no Secondary Capture, no
/// presentation state, no probability anywhere.
#[test]
fn a_refused_dicom_gets_an_sr_saying_not_assessed_and_no_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let pixels: Vec<u16> = (0..64 * 64).map(|i| (i * 37 % 4096) as u16).collect();
    let extra = vec![
        text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4"),
        text(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.1"),
        text(tags::MODALITY, VR::CS, "CT"),
    ];
    let ct = common::mono16_dicom(64, 64, "1.2.840.10008.5.1.4.1.1.2", pixels, extra);
    std::fs::write(dir.join("slice.dcm"), ct).unwrap();
    let out = tmp.path().join("out");
    let o = fracdet(&[
        "detect",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dicom-out",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let rows = records(&out);
    assert_eq!(rows[0]["finding"], "not_assessed", "{}", rows[0]);
    assert!(rows[0]["probability"].is_null(), "{}", rows[0]);
    assert!(rows[0]["dicom"].is_null() && rows[0]["dicom_gsps"].is_null());
    let sr_path = out.join(rows[0]["dicom_sr"].as_str().expect("an SR"));
    let files: Vec<_> = std::fs::read_dir(out.join("dicom")).unwrap().collect();
    assert_eq!(files.len(), 1, "only the SR: {files:?}");
    let sr = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .open_file(&sr_path)
        .unwrap();
    let dump = format!("{:?}", sr.element(tags::CONTENT_SEQUENCE).unwrap());
    assert!(dump.contains("NOT_ASSESSED"), "{dump}");
    assert!(
        dump.contains("modality CT is not projection radiography"),
        "{dump}"
    );
    for absent in ["PROBABILITY", "THRESHOLD", "72704001"] {
        assert!(!dump.contains(absent), "{absent} in a not-assessed SR");
    }
    // No study finding from an image that has none.
    assert!(
        !std::fs::read_to_string(out.join("studies.jsonl"))
            .unwrap_or_default()
            .contains("1.2.3.4\"")
    );
}

#[test]
fn evaluate_counts_and_lists_what_it_did_not_assess() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    for (file, class) in [
        ("IMG0002319.jpg", "fractured"),
        ("IMG0002321.jpg", "fractured"),
        ("IMG0000200.jpg", "normal"),
        ("IMG0000254.jpg", "normal"),
    ] {
        for split in ["train", "val"] {
            let dir = data.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(samples.join(file), dir.join(file)).unwrap();
        }
    }
    std::fs::write(data.join("val/fractured/portrait.jpg"), photo()).unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let report = tmp.path().join("report");
    let o = fracdet(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--split",
        "val",
        "--out",
        report.to_str().unwrap(),
        "--bootstrap",
        "20",
        "--perturb",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("1 image(s) not assessed"), "{stderr}");
    // --perturb: one row per standard perturbation, on the same four assessed images.
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("perturbations.json")).unwrap())
            .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 11, "{rows:?}");
    for r in rows {
        assert_eq!(r["n"], 4, "{r}");
        let auroc = r["auroc"]["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auroc), "{r}");
        let d = r["difference"]["value"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&d), "{r}");
        assert!(stderr.contains(r["name"].as_str().unwrap()), "{stderr}");
    }
    assert!(rows.iter().any(|r| r["perturbation"]["kind"] == "invert"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(m["n"], 4, "the refused image is not in the metrics");
    let refused = m["not_assessed"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{m}");
    assert_eq!(refused[0]["reason"], "colour");
    assert_eq!(refused[0]["label"], true);
    assert!(
        refused[0]["image"]
            .as_str()
            .unwrap()
            .ends_with("portrait.jpg")
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("were not assessed"), "no line in the report");
    let csv = std::fs::read_to_string(report.join("predictions.csv")).unwrap();
    assert!(!csv.contains("portrait"), "{csv}");
}

/// A copy of the default bundle with a typicality check whose threshold is `threshold`
/// (the density itself is a unit Gaussian over MobileNetV2's 1,280 pooled features).
fn bundle_with_typicality(dir: &Path, threshold: f32) {
    bundle_with_typicality_of(dir, threshold, 1280, None);
}

/// As [`bundle_with_typicality`], the density over `dim` features.
fn bundle_with_typicality_of(
    dir: &Path,
    threshold: f32,
    dim: usize,
    region: Option<fracdet_detect::typicality::RegionCheck>,
) {
    use fracdet_detect::Typicality;
    use fracdet_eval::density::FeatureDensity;
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    std::fs::create_dir_all(dir).unwrap();
    for f in ["model.json", "model.safetensors"] {
        std::fs::copy(model.join(f), dir.join(f)).unwrap();
    }
    let t = Typicality {
        density: FeatureDensity {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
            components: Vec::new(),
            variances: Vec::new(),
            residual_variance: 1.0,
            n_fit: 1,
        },
        threshold,
        val_in_scope: 1.0,
        n_val: 1,
        fitted_on: "test".into(),
        region,
    };
    std::fs::write(dir.join("typicality.json"), t.to_json().unwrap()).unwrap();
}

/// `fracdet detect INPUT --model MODEL --out OUT`, which must succeed, and its first record.
fn detect_first(input: &Path, model: &Path, out: &Path) -> serde_json::Value {
    let o = fracdet(&[
        "detect",
        input.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    records(out).swap_remove(0)
}

/// A record of an image that was scored: a probability, and no not-assessed reason.
fn assert_assessed(r: &serde_json::Value) {
    assert!(r["probability"].is_number(), "{r}");
    assert!(r["not_assessed"].is_null(), "{r}");
}

#[test]
fn a_radiograph_unlike_the_training_data_is_not_assessed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/IMG0002316.jpg");
    std::fs::copy(&sample, dir.join("radiograph.jpg")).unwrap();
    for (threshold, atypical) in [(0.0f32, true), (f32::MAX, false)] {
        let model = tmp.path().join(format!("model-{atypical}"));
        bundle_with_typicality(&model, threshold);
        let r = &detect_first(&dir, &model, &tmp.path().join(format!("out-{atypical}")));
        if atypical {
            assert_eq!(r["finding"], "not_assessed", "{r}");
            assert_eq!(r["not_assessed"]["reason"], "atypical", "{r}");
            assert!(r["not_assessed"]["score"].as_f64().unwrap() > 0.0);
            assert!(r["probability"].is_null(), "{r}");
        } else {
            assert_assessed(r);
        }
    }
}

#[test]
fn a_typicality_check_of_another_feature_length_is_refused_at_load() {
    // Silently skipping it would assess every image as in scope.
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    bundle_with_typicality_of(&model, f32::MAX, 512, None);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/IMG0002316.jpg");
    let o = fracdet(&[
        "detect",
        sample.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("512-dimensional") && err.contains("1280"),
        "{err}"
    );
}

#[test]
fn a_radiograph_of_no_known_region_is_not_assessed_with_that_reason() {
    // A probe that cannot tell its two regions apart (no weights: even odds, entropy ln 2)
    // under a limit of 0.1 nats: every image is of no known region, though typical.
    use fracdet_detect::typicality::RegionCheck;
    use fracdet_eval::region_probe::RegionProbe;
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/IMG0002316.jpg");
    for (limit, refused) in [(0.1f32, true), (1.0, false)] {
        let model = tmp.path().join(format!("model-{refused}"));
        let region = RegionCheck {
            probe: RegionProbe {
                regions: vec!["hand".into(), "leg".into()],
                weights: vec![vec![], vec![]],
                bias: vec![0.0, 0.0],
            },
            max_entropy: limit,
        };
        bundle_with_typicality_of(&model, f32::MAX, 1280, Some(region));
        let r = &detect_first(&sample, &model, &tmp.path().join(format!("out-{refused}")));
        if refused {
            assert_eq!(r["finding"], "not_assessed", "{r}");
            assert!(r["probability"].is_null(), "{r}");
            let message = r["not_assessed"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("body region"), "{r}");
        } else {
            assert_assessed(r);
        }
    }
}
