//! A full MetricsReport serialises to JSON without NaN and round-trips.

mod common;

use fracdet_eval::localisation::{DEFAULT_IOU, LocalisationCase, ScoredBox, localisation_metrics};
use fracdet_eval::{BootstrapConfig, MetricsReport, choose_operating_points, subgroup_analysis};
use fracdet_io::BBox;
use serde_json::Value;

fn assert_close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{path}: {x} vs {y}"
            );
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                assert_close(v, w, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn full_report_round_trips_without_nan() {
    let (val_l, val_s) = common::binormal(80, 120, 1.5, 1);
    let (l, s) = common::binormal(70, 130, 1.5, 2);
    let ops = choose_operating_points(&val_l, &val_s, 0.5, 0.9).unwrap();
    let cfg = BootstrapConfig {
        n_resamples: 1000,
        ..Default::default()
    };
    let mut report = MetricsReport::compute(&l, &s, &ops, &cfg).unwrap();
    // fixed, target sensitivity, Youden, target specificity.
    assert_eq!(report.at_operating_points.len(), 4);
    let body: Vec<&str> = (0..l.len())
        .map(|i| ["wrist", "ankle", "hand"][i % 3])
        .collect();
    // A group with a single class, to exercise undefined metrics inside the JSON.
    let hardware: Vec<&str> = (0..l.len())
        .map(|i| if l[i] || i % 2 == 0 { "no" } else { "yes" })
        .collect();
    report
        .subgroups
        .push(subgroup_analysis("body_part", &l, &s, &body, 0.5, &cfg).unwrap());
    report
        .subgroups
        .push(subgroup_analysis("hardware", &l, &s, &hardware, 0.5, &cfg).unwrap());
    let cases = vec![LocalisationCase {
        truth: vec![BBox::new(0.0, 0.0, 10.0, 10.0)],
        peak: Some((3.0, 3.0)),
        predicted: vec![ScoredBox {
            bbox: BBox::new(1.0, 1.0, 10.0, 10.0),
            score: 0.9,
        }],
    }];
    report.localisation = Some(localisation_metrics(&cases, DEFAULT_IOU, 0.95).unwrap());

    let json = report.to_json().unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    // serde_json's default float parser (no `float_roundtrip`) may be off by one ulp, so
    // compare structures with a relative tolerance.
    let back: MetricsReport = serde_json::from_str(&json).unwrap();
    let (a, b): (Value, Value) = (
        serde_json::from_str(&json).unwrap(),
        serde_json::from_str(&back.to_json().unwrap()).unwrap(),
    );
    assert_close(&a, &b, "");
    assert_eq!(back.subgroups.len(), 2);
    assert_eq!(
        back.at_operating_points[1].metrics.confusion,
        report.at_operating_points[1].metrics.confusion
    );
    // The single-class group reports sensitivity as undefined with a reason, not NaN.
    let yes = &report.subgroups[1].groups[1];
    assert_eq!(yes.group, "yes");
    assert_eq!(yes.metrics.sensitivity.value, None);
    assert!(json.contains("no positive samples"));
    let auc = report.auroc.value.unwrap();
    assert!(auc > 0.75 && auc < 0.95, "{auc}");
}

#[test]
fn report_on_empty_data_is_defined() {
    let ops = choose_operating_points(&[], &[], 0.5, 0.9).unwrap();
    let report = MetricsReport::compute(&[], &[], &ops, &BootstrapConfig::default()).unwrap();
    let json = report.to_json().unwrap();
    assert!(!json.contains("NaN"));
    assert_eq!(report.auroc.value, None);
    assert_eq!(report.calibration.ece.value, None);
}
