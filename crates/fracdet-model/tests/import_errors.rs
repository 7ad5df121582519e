//! The import's failure modes: each must be a typed error that names what is wrong.

mod import_fixtures;

use std::path::Path;
use std::str::FromStr;

use burn::tensor::DType;
use burn_store::burn_pack::{Bytes, Tensor as PackTensor};
use burn_store::{ModuleStore, PytorchStore};
use fracdet_model::backbone::resnet::ResNetConfig;
use fracdet_model::import::{ImportSpec, apply_tensors, load_weights, sum_rgb_kernel};
use fracdet_model::{BackboneKind, ModelError};
use import_fixtures::*;

fn resnet18_small() -> ResNetConfig {
    ResNetConfig::new([2, 2, 2, 2], false)
        .with_widths([4, 8, 16, 32])
        .with_stem_width(8)
}

fn zeros(name: &str, shape: &[usize]) -> PackTensor {
    let n = shape.iter().product();
    PackTensor::new(
        name.to_string(),
        DType::F32,
        shape.to_vec(),
        None,
        Bytes::from_elems(vec![0.0f32; n]),
    )
}

#[test]
fn wrong_architecture_lists_missing_unexpected_and_mis_shaped() {
    // ResNet-18-style file into a one-Bottleneck-per-stage network.
    let cfg = ResNetConfig::new([1, 1, 1, 1], true)
        .with_widths([4, 8, 16, 32])
        .with_stem_width(8);
    let model = cfg.init(&device()).expect("init");
    let err = load_weights(
        model,
        &fixture("resnet18_small.pth"),
        &cfg.import_spec(true),
    )
    .expect_err("a ResNet-18 file cannot fit a Bottleneck network");
    let text = err.to_string();
    let ModelError::WeightMismatch {
        missing,
        unexpected,
        mis_shaped,
        ..
    } = err
    else {
        panic!("expected WeightMismatch, got {text}");
    };
    for key in [
        "layer1.0.conv3.weight",
        "layer1.0.bn3.weight",
        "layer1.0.bn3.running_var",
    ] {
        assert!(
            missing.contains(&key.to_string()),
            "{key} not in {missing:?}"
        );
    }
    assert!(
        unexpected.contains(&"layer1.1.conv1.weight".to_string()),
        "{unexpected:?}"
    );
    assert!(
        mis_shaped
            .iter()
            .any(|m| m == "layer1.0.conv1.weight: network [4, 8, 1, 1], file [4, 8, 3, 3]"),
        "{mis_shaped:?}"
    );
    assert!(text.contains("missing layer1.0.conv3.weight"), "{text}");
    assert!(text.contains("unexpected layer1.1.conv1.weight"), "{text}");
}

#[test]
fn each_kind_of_damage_is_named() {
    let mut store = PytorchStore::from_file(fixture("resnet18_small.pth"));
    let mut tensors: Vec<PackTensor> = store
        .get_all_tensors()
        .expect("fixture reads")
        .values()
        .cloned()
        .collect();
    tensors.retain(|t| t.name != "bn1.running_mean");
    for t in &mut tensors {
        if t.name == "fc.bias" {
            t.name = "fc.bias_renamed".to_string();
        }
    }
    tensors.retain(|t| t.name != "layer1.0.conv1.weight");
    tensors.push(zeros("layer1.0.conv1.weight", &[4, 8, 3, 1]));

    let cfg = resnet18_small();
    let err = apply_tensors(
        cfg.init(&device()).expect("init"),
        tensors,
        &cfg.import_spec(true),
        Path::new("damaged"),
    )
    .expect_err("damaged weights");
    match err {
        ModelError::WeightMismatch {
            missing,
            unexpected,
            mis_shaped,
            other,
            ..
        } => {
            assert_eq!(missing, vec!["bn1.running_mean", "fc.bias"]);
            assert_eq!(unexpected, vec!["fc.bias_renamed"]);
            assert_eq!(
                mis_shaped,
                vec!["layer1.0.conv1.weight: network [4, 8, 3, 3], file [4, 8, 3, 1]"]
            );
            assert!(other.is_empty(), "{other:?}");
        }
        other => panic!("expected WeightMismatch, got {other}"),
    }
}

#[test]
fn allow_partial_keeps_initial_values_and_reports_them() {
    let mut store = PytorchStore::from_file(fixture("resnet18_small.pth"));
    let tensors: Vec<PackTensor> = store
        .get_all_tensors()
        .expect("fixture reads")
        .values()
        .filter(|t| t.name != "bn1.running_var")
        .cloned()
        .collect();
    let cfg = resnet18_small();
    let (_, report) = apply_tensors(
        cfg.init(&device()).expect("init"),
        tensors,
        &cfg.import_spec(true).with_allow_partial(true),
        Path::new("partial"),
    )
    .expect("partial import allowed");
    assert_eq!(report.missing, vec!["bn1.running_var"]);
}

#[test]
fn two_keys_remapped_onto_one_is_an_error() {
    let tensors = vec![zeros("a.weight", &[1]), zeros("b.weight", &[1])];
    let cfg = resnet18_small();
    let spec = ImportSpec::default()
        .with_remap(r"^[ab]\.", "fc.")
        .with_allow_partial(true);
    let err = apply_tensors(
        cfg.init(&device()).expect("init"),
        tensors,
        &spec,
        Path::new("dup"),
    )
    .expect_err("collision");
    assert!(
        err.to_string().contains("both remap to 'fc.weight'"),
        "{err}"
    );
}

#[test]
fn not_a_checkpoint_is_a_format_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.pth");
    std::fs::write(&path, b"these are not weights, just some text in a file").expect("write");
    let cfg = resnet18_small();
    let err = load_weights(
        cfg.init(&device()).expect("init"),
        &path,
        &cfg.import_spec(true),
    )
    .expect_err("garbage");
    assert!(matches!(err, ModelError::WeightFormat { .. }), "{err}");
}

#[test]
fn missing_file_is_an_io_error() {
    let cfg = resnet18_small();
    let err = load_weights(
        cfg.init(&device()).expect("init"),
        Path::new("/nonexistent/weights.pth"),
        &cfg.import_spec(true),
    )
    .expect_err("no file");
    assert!(matches!(err, ModelError::Io { .. }), "{err}");
}

#[test]
fn bad_pattern_is_a_config_error_not_a_panic() {
    let cfg = resnet18_small();
    let spec = ImportSpec::default().with_skip("(unclosed");
    let err = load_weights(
        cfg.init(&device()).expect("init"),
        &fixture("resnet18_small.pth"),
        &spec,
    )
    .expect_err("bad regex");
    assert!(matches!(err, ModelError::Config(_)), "{err}");
}

#[test]
fn invalid_configs_are_refused() {
    let device = device();
    assert!(matches!(
        resnet18_small().with_in_channels(2).init(&device),
        Err(ModelError::Config(_))
    ));
    assert!(matches!(
        resnet18_small().with_widths([4, 0, 16, 32]).init(&device),
        Err(ModelError::Config(_))
    ));
}

#[test]
fn backbone_names_parse() {
    for kind in BackboneKind::ALL {
        assert_eq!(BackboneKind::from_str(kind.name()).expect("own name"), kind);
    }
    assert_eq!(
        BackboneKind::from_str("ResNet-50").expect("forgiving"),
        BackboneKind::Resnet50
    );
    assert_eq!(
        BackboneKind::from_str("efficientnet-lite0").expect("forgiving"),
        BackboneKind::EfficientnetLite0
    );
    let err = BackboneKind::from_str("vgg16").expect_err("unknown");
    assert!(matches!(err, ModelError::UnknownBackbone(..)));
    let text = err.to_string();
    assert!(
        text.contains("vgg16") && text.contains("densenet169") && text.contains("mobilenet_v2"),
        "{text}"
    );
}

#[test]
fn rgb_kernel_sums_over_input_channels() {
    // [O=2, C=3, 1, 2]: out[o][k] = sum_c data[o][c][k]
    let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
    assert_eq!(
        sum_rgb_kernel([2, 3, 1, 2], &data),
        Some(vec![
            0.0 + 2.0 + 4.0,
            1.0 + 3.0 + 5.0,
            6.0 + 8.0 + 10.0,
            7.0 + 9.0 + 11.0
        ])
    );
    assert_eq!(sum_rgb_kernel([2, 3, 1, 2], &data[..11]), None);
    assert_eq!(sum_rgb_kernel([2, 1, 1, 2], &data[..4]), None);
}
