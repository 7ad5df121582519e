//! EfficientNet-Lite against PyTorch: a tiny random-weight, 1-channel network
//! (fixtures/efficientnet_lite_tiny.*, written by tools/make_fixtures.py from a module with the
//! key layout of `efficientnet-lite0-57934424.pth` and TensorFlow "SAME" padding). The input is
//! 44×37, so stride-2 layers see even and odd sizes and the asymmetric padding is exercised.

mod mobilenet_support;

use burn::module::Module;
use burn::tensor::Device;
use fracdet_model::backbone::efficientnet_lite::{EfficientNetLite, EfficientNetLiteConfig};
use fracdet_model::import::load_weights;
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
    let (model, _) = load_weights(
        model,
        &fixture("efficientnet_lite_tiny.pth"),
        &cfg.import_spec(load_head),
    )
    .expect("tiny EfficientNet-Lite weights load");
    model.valid()
}

#[test]
fn tiny_efficientnet_lite_matches_pytorch() {
    let device = Device::flex();
    let doc = read_json("efficientnet_lite_tiny.json");
    let model = load(&tiny_config(), true, &device);
    let x = formula_input(&doc, &device);

    let features = model.forward_features(x.clone());
    assert_eq!(features.dims().to_vec(), sizes(&doc, "features_shape"));
    let d_feat = max_abs_diff(&values(features), &floats(&doc, "features"));

    let logits = model.forward(x);
    assert_eq!(logits.dims().to_vec(), sizes(&doc, "logits_shape"));
    let d_logits = max_abs_diff(&values(logits), &floats(&doc, "logits"));

    eprintln!("EfficientNet-Lite tiny: max |Δ| features {d_feat:.3e}, logits {d_logits:.3e}");
    assert!(d_feat < 1e-4, "features differ from PyTorch by {d_feat}");
    assert!(d_logits < 1e-4, "logits differ from PyTorch by {d_logits}");
}

#[test]
fn fresh_head_keeps_pretrained_features() {
    let device = Device::flex();
    let doc = read_json("efficientnet_lite_tiny.json");
    let model = load(&tiny_config().with_num_classes(1), false, &device);
    let x = formula_input(&doc, &device);
    let d = max_abs_diff(
        &values(model.forward_features(x.clone())),
        &floats(&doc, "features"),
    );
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
    let d = max_abs_diff(
        &values(model.forward_features(x)),
        &floats(&doc, "features"),
    );
    assert!(
        d > 1e-2,
        "symmetric stem padding unexpectedly matched ({d})"
    );
}
