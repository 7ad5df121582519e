//! Full-size networks take exactly torchvision's state_dict (key names and shapes, from
//! tests/fixtures/layouts.json written by tools/make_fixtures.py) after their import specs,
//! with the 1000-class ImageNet head skipped and the fresh 1-logit head kept.

mod import_fixtures;

use std::path::Path;
use std::str::FromStr;

use burn::tensor::DType;
use burn_store::burn_pack::{Bytes, Tensor as PackTensor};
use fracdet_model::BackboneKind;
use fracdet_model::import::apply_tensors;
use import_fixtures::*;

fn torchvision_zeros(arch: &str) -> Vec<PackTensor> {
    let layouts = {
        let text = std::fs::read_to_string(fixture("layouts.json")).expect("layouts.json");
        serde_json::from_str::<serde_json::Value>(&text).expect("parses")
    };
    layouts[arch]
        .as_array()
        .expect("arch listed")
        .iter()
        .map(|entry| {
            let name = entry[0].as_str().expect("name").to_string();
            let shape: Vec<usize> = entry[1]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim") as usize)
                .collect();
            let n = shape.iter().product();
            PackTensor::new(
                name,
                DType::F32,
                shape,
                None,
                Bytes::from_elems(vec![0.0f32; n]),
            )
        })
        .collect()
}

fn check(arch: &str, in_channels: usize) {
    let kind = BackboneKind::from_str(arch).expect("kind");
    let model = kind.init(in_channels, &device()).expect("init");
    let tensors = torchvision_zeros(arch);
    let n_file = tensors.len();
    let (_, report) = apply_tensors(model, tensors, &kind.import_spec(false), Path::new(arch))
        .unwrap_or_else(|e| panic!("{arch}: {e}"));
    let head = if arch.starts_with("resnet") {
        "fc"
    } else {
        "classifier"
    };
    let mut missing = report.missing.clone();
    missing.sort();
    assert_eq!(
        missing,
        vec![format!("{head}.bias"), format!("{head}.weight")]
    );
    let counters = report
        .skipped
        .iter()
        .filter(|k| k.ends_with("num_batches_tracked"))
        .count();
    assert_eq!(report.skipped.len(), counters + 2, "{:?}", report.skipped);
    assert_eq!(report.applied.len(), n_file - report.skipped.len());
    if in_channels == 1 {
        let stem = if arch.starts_with("resnet") {
            "conv1.weight"
        } else {
            "features.conv0.weight"
        };
        assert_eq!(report.adapted_stems, vec![stem.to_string()]);
    } else {
        assert!(report.adapted_stems.is_empty());
    }
}

#[test]
fn resnet18_takes_torchvision_layout() {
    check("resnet18", 3);
}

#[test]
fn resnet18_gray_takes_torchvision_layout() {
    check("resnet18", 1);
}

#[test]
fn resnet34_takes_torchvision_layout() {
    check("resnet34", 3);
}

#[test]
fn resnet50_takes_torchvision_layout() {
    check("resnet50", 3);
}

#[test]
fn densenet121_takes_torchvision_layout() {
    check("densenet121", 3);
}

#[test]
fn densenet169_gray_takes_torchvision_layout() {
    check("densenet169", 1);
}
