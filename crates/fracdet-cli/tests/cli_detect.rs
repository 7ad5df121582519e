//! `fracdet detect` and `fracdet export` end to end: the bundled model on the shipped
//! samples; a tiny model trained here, whose `detect` probabilities equal `predict`'s and
//! survive export to an f16 bundle; bad inputs are reported and skipped; outputs never go
//! into an input folder.

mod common;

use std::path::{Path, PathBuf};

use common::{fracdet, show};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files
}

/// README's first command: the bundled model on samples/ gives a row per image, overlays
/// of each image's own size, and the probabilities recorded when the bundle was exported
/// from the full-precision run (f16 weights move them by well under 0.01).
#[test]
fn bundled_model_on_the_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let samples = repo_root().join("samples");
    let o = fracdet(&[
        "detect",
        samples.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let files = sample_files();
    assert!(files.len() >= 4, "samples/ holds {} images", files.len());
    let stdout = String::from_utf8_lossy(&o.stdout);
    let records = jsonl(&out.join("results.jsonl"));
    assert_eq!(records.len(), files.len());
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("models/default/model.json")).unwrap(),
    )
    .unwrap();
    let reference = manifest["reference"].as_array().unwrap();
    for (file, r) in files.iter().zip(&records) {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(stdout.contains(name), "{name} missing from\n{stdout}");
        let p = r["probability"].as_f64().unwrap();
        let expected = reference
            .iter()
            .find(|x| x["file"] == name)
            .unwrap_or_else(|| panic!("{name} not in the bundle's reference"))["probability"]
            .as_f64()
            .unwrap();
        assert!((p - expected).abs() < 0.01, "{name}: {p} vs {expected}");
        assert!(["likely", "possible", "negative"].contains(&r["finding"].as_str().unwrap()));
        let overlay = out.join(r["overlay"].as_str().unwrap());
        let (w, h) = image::image_dimensions(&overlay).unwrap();
        assert_eq!((w, h), image::image_dimensions(file).unwrap(), "{name}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), files.len() + 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("{} image(s)", files.len())));
}

/// A grey 48x40 image with a bright diagonal on odd `i`.
#[test]
fn predict_takes_a_bundle_and_gives_its_uncalibrated_reference_probabilities() {
    let bundle = repo_root().join("models/default");
    let text = std::fs::read_to_string(bundle.join("model.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let o = fracdet(&[
        "predict",
        "--model",
        bundle.to_str().unwrap(),
        "--format",
        "json",
        repo_root().join("samples").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let reference = manifest["reference"].as_array().unwrap();
    assert_eq!(rows.len(), reference.len());
    for r in reference {
        let file = r["file"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|x| x["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not predicted"));
        // The network's own probability (f16 weights against the f32 reference).
        let (got, want) = (
            row["probability"].as_f64().unwrap(),
            r["uncalibrated"].as_f64().unwrap(),
        );
        assert!((got - want).abs() < 0.01, "{file}: {got} vs {want}");
    }
}

#[test]
fn no_shipped_bundle_names_a_path_of_the_machine_that_made_it() {
    let mut bundles = 0;
    for entry in std::fs::read_dir(repo_root().join("models")).unwrap() {
        let manifest = entry.unwrap().path().join("model.json");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let paths = common::absolute_paths(&value);
        assert!(
            paths.is_empty(),
            "absolute paths in {}: {paths:?}",
            manifest.display()
        );
        bundles += 1;
    }
    assert!(
        bundles >= 2,
        "models/default and the box detector: {bundles}"
    );
    // The check itself finds one.
    let planted = serde_json::json!({"a": [{"b": "/home/x/data"}], "c": "C:\\data"});
    assert_eq!(common::absolute_paths(&planted).len(), 2);
}

fn image_bytes(i: usize) -> Vec<u8> {
    common::grey_png(48, 40, |x, y| {
        if i % 2 == 1 && (x as i32 - y as i32 - 4).abs() <= 1 {
            250
        } else {
            (30 + (x * 3 + y * 2 + i as u32 * 17) % 120) as u8
        }
    })
}

fn write_dataset(root: &Path) {
    for (split, n) in [("train", 12), ("val", 10)] {
        for i in 0..n {
            let class = if i % 2 == 1 { "fractured" } else { "normal" };
            let path = root
                .join(split)
                .join(class)
                .join(format!("{split}_{i:02}.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, image_bytes(i)).unwrap();
        }
    }
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
fn detect_matches_predict_and_survives_export() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
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
        "4",
        "--no-augment",
        "--out",
        run_s,
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let val = data.join("val");
    let val_s = val.to_str().unwrap();

    // Without stored thresholds detect still answers, with the finding "unknown".
    let out1 = tmp.path().join("out1");
    let o = fracdet(&[
        "detect",
        val_s,
        "--model",
        run_s,
        "--out",
        out1.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let detected = probabilities_by_file(&jsonl(&out1.join("results.jsonl")));
    assert_eq!(detected.len(), 10);
    let stdout_json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stdout_json.as_array().unwrap().len(), 10);
    assert_eq!(stdout_json[0]["finding"], "unknown");

    let o = fracdet(&["predict", "--model", run_s, val_s, "--format", "json"]);
    assert!(o.status.success(), "{}", show(&o));
    let predicted: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let predicted = probabilities_by_file(predicted.as_array().unwrap());
    assert_eq!(predicted.len(), detected.len());
    for ((fa, pa), (fb, pb)) in detected.iter().zip(&predicted) {
        assert_eq!(fa, fb);
        assert!((pa - pb).abs() < 1e-6, "{fa}: detect {pa} vs predict {pb}");
    }

    // Export needs validation thresholds; then the bundle decides at both stored points.
    let bundle = tmp.path().join("bundle");
    let o = fracdet(&[
        "export",
        "--model",
        run_s,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("operating_points.json"));
    let report = tmp.path().join("report");
    let o = fracdet(&[
        "evaluate",
        "--model",
        run_s,
        "--data",
        data_s,
        "--split",
        "val",
        "--out",
        report.to_str().unwrap(),
        "--bootstrap",
        "50",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let o = fracdet(&[
        "export",
        "--model",
        run_s,
        "--out",
        bundle.to_str().unwrap(),
        "--reference",
        val_s,
    ]);
    assert!(o.status.success(), "{}", show(&o));
    // Evaluating val stored a temperature beside the thresholds: the run now shows
    // calibrated probabilities, in the same order as before, and so must its bundle.
    let out3 = tmp.path().join("out3");
    let o = fracdet(&[
        "detect",
        val_s,
        "--model",
        run_s,
        "--out",
        out3.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let calibrated = probabilities_by_file(&jsonl(&out3.join("results.jsonl")));
    let mut pairs: Vec<(f64, f64)> = detected
        .iter()
        .zip(&calibrated)
        .map(|((_, raw), (_, cal))| (*raw, *cal))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        pairs.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-6),
        "calibration reordered images: {pairs:?}"
    );
    let detected = calibrated;
    let out2 = tmp.path().join("out2");
    let o = fracdet(&[
        "detect",
        val_s,
        "--model",
        bundle.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let records = jsonl(&out2.join("results.jsonl"));
    for ((file, p), r) in detected.iter().zip(probabilities_by_file(&records)) {
        assert_eq!(file, &r.0);
        assert!(
            (p - r.1).abs() < 0.01,
            "{file}: run {p} vs f16 bundle {}",
            r.1
        );
    }
    for r in &records {
        let d = &r["decisions"];
        assert!(d["high_sensitivity"]["threshold"].as_f64().is_some(), "{r}");
        assert!(d["high_specificity"]["threshold"].as_f64().is_some(), "{r}");
        assert_ne!(r["finding"], "unknown");
    }
}

#[test]
fn bad_inputs_are_skipped_and_outputs_stay_out_of_input_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(&sample_files()[0], inputs.join("good.jpg")).unwrap();
    let bytes = std::fs::read(&sample_files()[1]).unwrap();
    std::fs::write(inputs.join("truncated.jpg"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(inputs.join("empty.dcm"), b"").unwrap();
    let before: Vec<_> = std::fs::read_dir(&inputs).unwrap().collect();

    let out = tmp.path().join("out");
    let o = fracdet(&[
        "detect",
        inputs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let records = jsonl(&out.join("results.jsonl"));
    assert_eq!(records.len(), 3);
    let good: Vec<_> = records.iter().filter(|r| r["error"].is_null()).collect();
    assert_eq!(good.len(), 1, "{records:?}");
    assert!(good[0]["file"].as_str().unwrap().ends_with("good.jpg"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("truncated.jpg") && stderr.contains("empty.dcm"),
        "{stderr}"
    );
    assert!(stderr.contains("2 failed"), "{stderr}");

    // The input folder as output is refused (a usage error) before anything is written.
    let o = fracdet(&[
        "detect",
        inputs.to_str().unwrap(),
        "--out",
        inputs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds input files"));
    assert_eq!(std::fs::read_dir(&inputs).unwrap().count(), before.len());

    // A second run into the same folder is refused: the first run's results stay whole.
    let again = |extra: &[&str]| {
        let mut args = vec![
            "detect",
            tmp.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        fracdet(&args)
    };
    let o = again(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--replace"),
        "{}",
        show(&o)
    );
    assert_eq!(jsonl(&out.join("results.jsonl")).len(), 3);

    // With --replace it runs, over a folder that contains the first run's output, and does
    // not read the overlays as radiographs.
    let o = again(&["--replace"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(jsonl(&out.join("results.jsonl")).len(), 3);
}

/// A 64x48 MONOCHROME2 DX image with patient and study attributes.
fn write_dicom(path: &Path) {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    // A ramp with a bright "bone" band: a bare ramp has no edges and is (rightly) not
    // assessed as a radiograph.
    let pixels: Vec<u16> = (0..64 * 48u32)
        .map(|i| {
            let bone = if (20..40).contains(&(i % 64)) {
                1200
            } else {
                0
            };
            ((i % 64) * 40 + (i / 64) * 20 + bone) as u16
        })
        .collect();
    let extra = vec![
        text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.3",
        ),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.1",
        ),
        text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.2",
        ),
        text(tags::MODALITY, VR::CS, "DX"),
        text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
        text(tags::PATIENT_ID, VR::LO, "SECRET-ID-123"),
    ];
    let dcm = common::mono16_dicom(64, 48, "1.2.840.10008.5.1.4.1.1.1.1", pixels, extra);
    std::fs::write(path, dcm).unwrap();
}

/// `--dicom-out`: a Secondary Capture in a new series of the same study, the input's bytes
/// unchanged, and no patient value on stdout or stderr.
#[test]
fn dicom_input_gives_a_secondary_capture() {
    use dicom_dictionary_std::tags;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let dcm = input.join("study1.dcm");
    write_dicom(&dcm);
    let before = std::fs::read(&dcm).unwrap();
    let out = tmp.path().join("out");
    // --assess-anyway: the generated DICOM is unlike the default model's training images
    // (its typicality check would not assess it); this test is about the DICOM result.
    let o = fracdet(&[
        "detect",
        dcm.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dicom-out",
        "--format",
        "json",
        "--assess-anyway",
        "-vv",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    for stream in [&o.stdout, &o.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains("Doe") && !text.contains("SECRET"),
            "patient data leaked: {text}"
        );
    }
    assert_eq!(
        std::fs::read(&dcm).unwrap(),
        before,
        "the input was modified"
    );
    let records = jsonl(&out.join("results.jsonl"));
    let sc_path = out.join(records[0]["dicom"].as_str().expect("a DICOM result"));
    let sc = dicom_object::open_file(&sc_path).unwrap();
    let get = |tag| {
        sc.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    assert_eq!(get(tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.7");
    assert_eq!(
        get(tags::STUDY_INSTANCE_UID),
        "1.2.826.0.1.3680043.2.1125.1"
    );
    assert_ne!(
        get(tags::SERIES_INSTANCE_UID),
        "1.2.826.0.1.3680043.2.1125.2"
    );
    assert_ne!(get(tags::SOP_INSTANCE_UID), "1.2.826.0.1.3680043.2.1125.3");
    assert_eq!(get(tags::PATIENT_ID), "SECRET-ID-123");
    assert_eq!(
        get(tags::SERIES_DESCRIPTION),
        "fracdet result — not for diagnostic use"
    );
    assert_eq!(sc.element(tags::ROWS).unwrap().to_int::<u16>().unwrap(), 48);
    assert_eq!(
        sc.element(tags::COLUMNS).unwrap().to_int::<u16>().unwrap(),
        64
    );
    assert_eq!(get(tags::PHOTOMETRIC_INTERPRETATION), "RGB");
    // The SR and the GSPS: same study, each referencing the input image.
    for (key, class) in [
        ("dicom_sr", "1.2.840.10008.5.1.4.1.1.88.33"),
        ("dicom_gsps", "1.2.840.10008.5.1.4.1.1.11.1"),
    ] {
        let path = out.join(records[0][key].as_str().expect("a DICOM result"));
        let obj = dicom_object::open_file(&path).unwrap();
        let get = |tag| {
            obj.element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('\0')
                .to_string()
        };
        assert_eq!(get(tags::SOP_CLASS_UID), class);
        assert_eq!(
            get(tags::STUDY_INSTANCE_UID),
            "1.2.826.0.1.3680043.2.1125.1"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes
                .windows(28)
                .any(|w| w == b"1.2.826.0.1.3680043.2.1125.3"),
            "{key} does not reference the input's SOP Instance UID"
        );
        // Debian's dciodvfy finds no error (skipped where it is not installed).
        if let Ok(o) = std::process::Command::new("dciodvfy").arg(&path).output() {
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("Error")).collect();
            assert!(errors.is_empty(), "{key}: {errors:#?}");
        } else {
            eprintln!("NOTICE: dciodvfy not installed; {key} IOD check skipped");
        }
    }
    // The study it belongs to, in studies.csv, decided by this image.
    let studies = std::fs::read_to_string(out.join("studies.csv")).unwrap();
    let rows: Vec<&str> = studies.lines().collect();
    assert_eq!(rows.len(), 2, "{studies}");
    assert!(
        rows[1].starts_with("1.2.826.0.1.3680043.2.1125.1,1,") && rows[1].ends_with("study1.dcm,"),
        "{studies}"
    );
    assert_eq!(
        records[0]["study_instance_uid"],
        "1.2.826.0.1.3680043.2.1125.1"
    );
    // PNG and JPEG inputs get no DICOM result.
    let png_out = tmp.path().join("png-out");
    let o = fracdet(&[
        "detect",
        sample_files()[0].to_str().unwrap(),
        "--out",
        png_out.to_str().unwrap(),
        "--dicom-out",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(jsonl(&png_out.join("results.jsonl"))[0]["dicom"].is_null());
}

/// Two images of one study with `--dicom-out`: studies.csv names the study once, decided
/// by its more suspicious image, and the study's own SR has a measurement group for each.
#[test]
fn a_two_image_study_gets_one_study_finding_and_its_own_sr() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let study = "1.2.826.0.1.3680043.2.1125.50";
    for i in 1..=2u32 {
        let pixels: Vec<u16> = (0..64 * 48u32)
            .map(|p| {
                let bone = if (10 * i..20 + 10 * i).contains(&(p % 64)) {
                    1200
                } else {
                    0
                };
                ((p % 64) * 40 + (p / 64) * 20 + bone) as u16
            })
            .collect();
        let extra = vec![
            text(tags::SOP_INSTANCE_UID, VR::UI, &format!("{study}.{i}")),
            text(tags::STUDY_INSTANCE_UID, VR::UI, study),
            text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{study}.0")),
            text(tags::MODALITY, VR::CS, "DX"),
        ];
        let dcm = common::mono16_dicom(64, 48, "1.2.840.10008.5.1.4.1.1.1.1", pixels, extra);
        std::fs::write(input.join(format!("view{i}.dcm")), dcm).unwrap();
    }
    let out = tmp.path().join("out");
    let o = fracdet(&[
        "detect",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dicom-out",
        "--assess-anyway",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let records = jsonl(&out.join("results.jsonl"));
    let top = records
        .iter()
        .max_by(|a, b| {
            let p = |r: &serde_json::Value| r["probability"].as_f64().unwrap();
            p(a).total_cmp(&p(b))
        })
        .unwrap();
    let studies = jsonl(&out.join("studies.jsonl"));
    assert_eq!(studies.len(), 1, "{studies:?}");
    assert_eq!(studies[0]["study_instance_uid"], study);
    assert_eq!(studies[0]["images"], 2);
    // The more suspicious image decides (both levels may be equal; then probability).
    if records[0]["finding"] == records[1]["finding"] {
        assert_eq!(studies[0]["decided_by"], top["file"]);
    }
    let sr_path = out.join(studies[0]["dicom_sr"].as_str().expect("a study SR"));
    let sr = dicom_object::open_file(&sr_path).unwrap();
    let bytes = std::fs::read(&sr_path).unwrap();
    let groups = bytes
        .windows(17)
        .filter(|w| w == b"Measurement Group")
        .count();
    assert_eq!(groups, 2, "one measurement group per image");
    assert_eq!(
        sr.element(tags::STUDY_INSTANCE_UID)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0'),
        study
    );
    if let Ok(o) = std::process::Command::new("dciodvfy")
        .arg(&sr_path)
        .output()
    {
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("Error")).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    } else {
        eprintln!("NOTICE: dciodvfy not installed; study SR IOD check skipped");
    }
}
