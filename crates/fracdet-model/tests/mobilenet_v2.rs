//! MobileNetV2 against PyTorch: a tiny random-weight network (fixtures/mobilenet_v2_tiny.*,
//! written by tools/make_fixtures.py from a module with torchvision's exact key layout, saved
//! in PyTorch's legacy non-zip format like the real ImageNet checkpoint).

mod mobilenet_support;

use burn::tensor::Device;
use fracdet_model::ModelError;
use fracdet_model::backbone::mobilenet_v2::{MobileNetV2, MobileNetV2Config};
use fracdet_model::import::load_weights;
use mobilenet_support::*;

/// The `MB_TINY` variant of tools/make_fixtures.py.
fn tiny_config() -> MobileNetV2Config {
    MobileNetV2Config::new()
        .with_width_mult(0.25)
        .with_round_nearest(4)
        .with_last_channel(48)
        .with_num_classes(5)
        .with_inverted_residual_setting(vec![
            [1, 16, 1, 1],
            [6, 24, 2, 2],
            [6, 32, 3, 2],
            [4, 64, 2, 2],
            [4, 96, 2, 1],
            [4, 160, 2, 2],
            [4, 320, 1, 1],
        ])
}

fn load(cfg: &MobileNetV2Config, load_head: bool, device: &Device) -> MobileNetV2 {
    let model = cfg.init(device).expect("valid config");
    load_fixture(model, "mobilenet_v2_tiny.pth", &cfg.import_spec(load_head))
}

#[test]
fn tiny_mobilenet_v2_matches_pytorch() {
    let device = Device::flex();
    let doc = read_json("mobilenet_v2_tiny.json");
    let model = load(&tiny_config(), true, &device);
    let x = formula_input(&doc, &device);

    let features = model.forward_features(x.clone());
    assert_matches_pytorch("MobileNetV2 tiny", &doc, features, model.forward(x));
}

#[test]
fn fresh_head_keeps_pretrained_features() {
    let device = Device::flex();
    let doc = read_json("mobilenet_v2_tiny.json");
    let model = load(&tiny_config().with_num_classes(1), false, &device);
    let x = formula_input(&doc, &device);
    let d = features_diff(&doc, model.forward_features(x.clone()));
    assert!(d < 1e-4, "features differ from PyTorch by {d}");
    assert_eq!(model.forward(x).dims(), [2, 1]);
}

#[test]
fn grayscale_stem_sees_gray_as_rgb() {
    let device = Device::flex();
    let rgb = load(&tiny_config(), true, &device);
    let gray = load(&tiny_config().with_in_channels(1), true, &device);
    let doc = read_json("efficientnet_lite_tiny.json"); // its input is 1-channel
    let g = formula_input(&doc, &device);
    let want = values(rgb.forward(gray_to_rgb(g.clone())));
    let got = values(gray.forward(g));
    let d = max_abs_diff(&got, &want);
    assert!(
        d < 1e-4,
        "1-channel network differs from the RGB one on (g, g, g) by {d}"
    );
}

#[test]
fn wrong_checkpoint_lists_the_mismatch() {
    let device = Device::flex();
    let cfg = tiny_config();
    let model = cfg.init(&device).expect("valid config");
    let err = load_weights(
        model,
        &fixture("efficientnet_lite_tiny.pth"),
        &cfg.import_spec(true),
    )
    .expect_err("an EfficientNet checkpoint must not load into MobileNetV2");
    assert!(matches!(err, ModelError::WeightMismatch { .. }), "{err}");
    let problems = err.mismatch_problems();
    assert!(
        problems.iter().any(|p| p.contains("stem.conv.weight")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("_blocks.0._depthwise_conv")),
        "{problems:?}"
    );
}
