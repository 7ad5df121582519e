//! EfficientNet-Lite against PyTorch: a tiny random-weight, 1-channel network
//! (fixtures/efficientnet_lite_tiny.*, written by tools/make_fixtures.py from a module with the
//! key layout of `efficientnet-lite0-57934424.pth` and TensorFlow "SAME" padding). The input is
//! 44×37, so stride-2 layers see even and odd sizes and the asymmetric padding is exercised.

mod mobilenet_support;

use burn::tensor::Device;
use fracdet_model::backbone::efficientnet_lite::{EfficientNetLite, EfficientNetLiteConfig};
use mobilenet_support::*;

/// The `EFF_TINY` variant of tools/make_fixtures.py.
fn tiny_config() -> EfficientNetLiteConfig {
    EfficientNetLiteConfig::new()
        .with_in_channels(1)
        .with_num_classes(5)
        .with_stem_channels(8)
        .with_head_channels(48)
        .with_stages(vec![
            [1, 3, 1, 1, 8],
            [2, 3, 2, 4, 8],
            [2, 5, 2, 4, 16],
            [2, 3, 2, 4, 16],
            [2, 5, 1, 4, 24],
            [2, 5, 2, 4, 32],
            [1, 3, 1, 4, 40],
        ])
}

fn load(cfg: &EfficientNetLiteConfig, load_head: bool, device: &Device) -> EfficientNetLite {
    let model = cfg.init(device).expect("valid config");
    load_fixture(
        model,
        "efficientnet_lite_tiny.pth",
        &cfg.import_spec(load_head),
    )
}

#[test]
fn tiny_efficientnet_lite_matches_pytorch() {
    let device = Device::flex();
    let doc = read_json("efficientnet_lite_tiny.json");
    let model = load(&tiny_config(), true, &device);
    let x = formula_input(&doc, &device);

    let features = model.forward_features(x.clone());
    assert_matches_pytorch("EfficientNet-Lite tiny", &doc, features, model.forward(x));
}

#[test]
fn fresh_head_keeps_pretrained_features() {
    let device = Device::flex();
    let doc = read_json("efficientnet_lite_tiny.json");
    let model = load(&tiny_config().with_num_classes(1), false, &device);
    let x = formula_input(&doc, &device);
    let d = features_diff(&doc, model.forward_features(x.clone()));
    assert!(d < 1e-4, "features differ from PyTorch by {d}");
    assert_eq!(model.forward(x).dims(), [2, 1]);
}

#[test]
fn symmetric_padding_would_not_match() {
    // Guards the reason for TF-SAME padding: the same weights with PyTorch-style symmetric
    // padding give different numbers, so the fixture really tests the padding rule.
    use burn::nn::PaddingConfig2d;
    let device = Device::flex();
    let doc = read_json("efficientnet_lite_tiny.json");
    let mut model = load(&tiny_config(), true, &device);
    model.stem.conv.padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
    let x = formula_input(&doc, &device);
    let d = features_diff(&doc, model.forward_features(x));
    assert!(
        d > 1e-2,
        "symmetric stem padding unexpectedly matched ({d})"
    );
}
