//! ResNet import against fixtures from tools/make_fixtures.py: torchvision key layout,
//! random weights and BatchNorm statistics, outputs of a float64 reference in eval mode.

mod import_fixtures;

use burn::module::Module;
use fracdet_model::ModelError;
use fracdet_model::backbone::resnet::{ResNet, ResNetConfig};
use fracdet_model::import::{WeightFileFormat, load_weights};
use import_fixtures::*;

fn small_config(name: &str) -> ResNetConfig {
    let cfg = &expected(name)["config"];
    let arr4 = |k: &str| -> [usize; 4] { dims(cfg, k) };
    ResNetConfig::new(arr4("layers"), cfg["bottleneck"].as_bool().expect("bool"))
        .with_widths(arr4("widths"))
        .with_stem_width(cfg["stem"].as_u64().expect("stem") as usize)
}

fn load(cfg: &ResNetConfig, file: &str, load_head: bool) -> Result<ResNet, ModelError> {
    let device = device();
    let model = cfg.init(&device)?;
    let (model, _) = load_weights(model, &fixture(file), &cfg.import_spec(load_head))?;
    Ok(model.valid())
}

fn check_outputs(name: &str, file: &str) {
    let cfg = small_config(name);
    let model = load(&cfg, file, true).unwrap_or_else(|e| panic!("{file}: {e}"));
    let exp = expected(name);
    let x = fixture_input(dims(&exp, "input_shape"), &device());
    let features = model.forward_features(x);
    let logits = model.forward_head(features.clone());
    let out = &exp["outputs"];
    assert_eq!(features.dims(), dims::<4>(out, "features_shape"));
    assert_close(
        &format!("{file} features"),
        &values(features),
        &floats(out, "features"),
    );
    assert_close(
        &format!("{file} logits"),
        &values(logits),
        &floats(out, "logits"),
    );
}

#[test]
fn resnet18_zip_pth_matches_reference() {
    check_outputs("resnet18_small", "resnet18_small.pth");
}

#[test]
fn resnet18_legacy_pth_matches_reference() {
    check_outputs("resnet18_small", "resnet18_small_legacy.pth");
}

#[test]
fn resnet18_safetensors_matches_reference() {
    check_outputs("resnet18_small", "resnet18_small.safetensors");
}

#[test]
fn resnet50_bottleneck_matches_reference() {
    check_outputs("resnet50_small", "resnet50_small.pth");
}

#[test]
fn forward_agrees_with_features_then_head() {
    let cfg = small_config("resnet18_small");
    let model = load(&cfg, "resnet18_small.pth", true).expect("loads");
    let x = fixture_input([2, 3, 64, 64], &device());
    let direct = values(model.forward(x.clone()));
    let split = values(model.forward_head(model.forward_features(x)));
    assert_eq!(direct, split);
}

#[test]
fn grayscale_stem_sums_rgb_kernel() {
    // A 1-channel network given gray g must equal the RGB network on (g, g, g).
    let cfg = small_config("resnet18_small").with_in_channels(1);
    let device = device();
    let (model, report) = load_weights(
        cfg.init(&device).expect("init"),
        &fixture("resnet18_small.pth"),
        &cfg.import_spec(true),
    )
    .expect("gray import");
    assert_eq!(report.adapted_stems, vec!["conv1.weight".to_string()]);
    assert_eq!(report.format, Some(WeightFileFormat::Pytorch));
    let model = model.valid();
    let exp = expected("resnet18_small");
    let out = &exp["outputs"];
    let g = fixture_input(dims(out, "gray_input_shape"), &device);
    let features = model.forward_features(g);
    assert_close(
        "gray features",
        &values(features.clone()),
        &floats(out, "gray_features"),
    );
    assert_close(
        "gray logits",
        &values(model.forward_head(features)),
        &floats(out, "gray_logits"),
    );
}

#[test]
fn fresh_head_is_kept_when_the_file_head_is_skipped() {
    // Stand-in for ImageNet weights: the file's 1-logit fc does not fit a 3-logit head.
    let cfg = small_config("resnet18_small").with_num_outputs(3);
    let device = device();
    let (model, report) = load_weights(
        cfg.init(&device).expect("init"),
        &fixture("resnet18_small.pth"),
        &cfg.import_spec(false),
    )
    .expect("backbone-only import");
    assert_eq!(
        report
            .skipped
            .iter()
            .filter(|k| k.starts_with("fc."))
            .count(),
        2
    );
    let mut missing = report.missing.clone();
    missing.sort();
    assert_eq!(
        missing,
        vec!["fc.bias".to_string(), "fc.weight".to_string()]
    );
    let model = model.valid();
    let exp = expected("resnet18_small");
    let features = model.forward_features(fixture_input([2, 3, 64, 64], &device));
    assert_close(
        "features",
        &values(features.clone()),
        &floats(&exp["outputs"], "features"),
    );
    assert_eq!(model.forward_head(features).dims(), [2, 3]);

    // Asking for the file's head too must name the mis-shaped head tensors.
    let err = load_weights(
        cfg.init(&device).expect("init"),
        &fixture("resnet18_small.pth"),
        &cfg.import_spec(true),
    )
    .expect_err("head shapes differ");
    match err {
        ModelError::WeightMismatch {
            mis_shaped,
            missing,
            unexpected,
            ..
        } => {
            assert!(
                missing.is_empty() && unexpected.is_empty(),
                "{missing:?} {unexpected:?}"
            );
            assert_eq!(mis_shaped.len(), 2, "{mis_shaped:?}");
            assert!(
                mis_shaped
                    .iter()
                    .any(|m| m.starts_with("fc.weight: network [32, 3], file [32, 1]")),
                "{mis_shaped:?}"
            );
            assert!(
                mis_shaped.iter().any(|m| m.starts_with("fc.bias")),
                "{mis_shaped:?}"
            );
        }
        other => panic!("expected WeightMismatch, got {other}"),
    }
}

#[test]
fn classifier_enum_loads_the_same_keys() {
    // The Classifier's variant name must not appear in parameter paths.
    let cfg = small_config("resnet18_small");
    let device = device();
    let model = fracdet_model::Classifier::ResNet(cfg.init(&device).expect("init"));
    let (model, _) = load_weights(
        model,
        &fixture("resnet18_small.pth"),
        &cfg.import_spec(true),
    )
    .expect("loads through the enum");
    let model = model.valid();
    let exp = expected("resnet18_small");
    let x = fixture_input([2, 3, 64, 64], &device);
    let (features, logits) = model.forward_with_features(x.clone());
    assert_eq!(logits.dims(), [2, 1]);
    assert_close(
        "classifier logits",
        &values(logits),
        &floats(&exp["outputs"], "logits"),
    );
    assert_close(
        "classifier features",
        &values(features),
        &floats(&exp["outputs"], "features"),
    );
    assert_close(
        "classifier forward",
        &values(model.forward(x)),
        &floats(&exp["outputs"], "logits"),
    );
}
