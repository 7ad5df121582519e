//! The grid detector's pretrained import: torchvision MobileNetV2 weights (the tiny fixture
//! of tools/make_fixtures.py) into a trunk whose stem takes image + residual channels.

mod mobilenet_support;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use fracdet_model::backbone::mobilenet_v2::MobileNetV2Config;
use fracdet_model::grid_detector::GridDetectorConfig;
use fracdet_model::import::load_weights;
use mobilenet_support::fixture;

/// The `MB_TINY` variant of tools/make_fixtures.py.
fn tiny_backbone() -> MobileNetV2Config {
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

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn pretrained_stem_takes_image_and_residual_channels() {
    let device = Device::flex();
    let scale = 0.25;
    let cfg = GridDetectorConfig::new()
        .with_backbone(tiny_backbone())
        .with_in_channels(3)
        .with_head_channels(8)
        .with_residual_stem_scale(scale);
    let (detector, report) = cfg
        .init_pretrained(&fixture("mobilenet_v2_tiny.pth"), &device)
        .expect("the tiny MobileNetV2 checkpoint loads");
    assert_eq!(report.adapted_stems, vec!["stem.conv.weight".to_string()]);
    let detector = detector.valid();

    // The reference: the whole 1-channel MobileNetV2 with the same file.
    let mono_cfg = tiny_backbone().with_in_channels(1);
    let (mono, _) = load_weights(
        mono_cfg.init(&device).unwrap(),
        &fixture("mobilenet_v2_tiny.pth"),
        &mono_cfg.import_spec(true),
    )
    .unwrap();
    let mono = mono.valid();

    // Stem kernel: channel 0 the summed RGB kernel, residual channels `scale` times it.
    let w = detector.stem.conv.weight.val();
    let [o, c, kh, kw] = w.dims();
    assert_eq!(c, 3);
    let summed = values(mono.stem.conv.weight.val());
    let got = values(w);
    let plane = kh * kw;
    for oi in 0..o {
        for ci in 0..c {
            let factor = if ci == 0 { 1.0 } else { scale as f32 };
            let k = &got[(oi * c + ci) * plane..][..plane];
            let want: Vec<f32> = summed[oi * plane..][..plane]
                .iter()
                .map(|v| v * factor)
                .collect();
            assert!(max_abs_diff(k, &want) < 1e-6, "filter {oi} channel {ci}");
        }
    }
    assert!(summed.iter().any(|v| v.abs() > 1e-3), "kernel is not empty");

    // With zero residual channels the trunk is the pretrained network's first blocks.
    let (n, size) = (2, 48);
    let grey: Vec<f32> = (0..n * size * size)
        .map(|i| ((i as f32) * 0.37).sin() * 0.8)
        .collect();
    let mut stacked = Vec::with_capacity(n * 3 * size * size);
    for img in grey.chunks(size * size) {
        stacked.extend_from_slice(img);
        stacked.extend(std::iter::repeat_n(0.0f32, 2 * size * size));
    }
    let x1 = Tensor::<4>::from_data(TensorData::new(grey, [n, 1, size, size]), &device);
    let x3 = Tensor::<4>::from_data(TensorData::new(stacked, [n, 3, size, size]), &device);
    let mut want = mono.stem.forward(x1);
    for block in mono.blocks.iter().take(cfg.trunk_len()) {
        want = block.forward(want);
    }
    let features = detector.features(x3.clone());
    assert_eq!(features.dims(), want.dims());
    assert_eq!(features.dims()[2], cfg.grid_side(size));
    let d = max_abs_diff(&values(features), &values(want));
    assert!(d < 1e-4, "trunk differs from the pretrained blocks by {d}");

    let (cells, image) = detector.forward(x3);
    assert_eq!(cells.dims(), [n, 3, 3]);
    assert_eq!(image.dims(), [n]);
}

#[test]
fn a_wrong_checkpoint_is_an_error_not_a_panic() {
    let device = Device::flex();
    let cfg = GridDetectorConfig::new()
        .with_backbone(tiny_backbone())
        .with_in_channels(2);
    let err = cfg
        .init_pretrained(&fixture("resnet18_small.pth"), &device)
        .expect_err("a ResNet checkpoint must not load");
    assert!(!err.mismatch_problems().is_empty(), "{err}");
}
