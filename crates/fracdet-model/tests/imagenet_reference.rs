//! The real ImageNet weights against PyTorch: 1000-class logits on a fixed formula input
//! (1×3×224×224), recorded once by tools/make_fixtures.py in fixtures/imagenet_reference.json.
//!
//! Needs `weights/` at the repository root (tools/fetch-weights.sh); without it the test says
//! so on stderr and passes, so offline builds stay green while CI fetches and checks.

mod mobilenet_support;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use fracdet_model::backbone::efficientnet_lite::EfficientNetLiteConfig;
use fracdet_model::backbone::mobilenet_v2::MobileNetV2Config;
use fracdet_model::import::load_weights;
use mobilenet_support::*;
use serde_json::Value;

fn weights(file: &str) -> Option<PathBuf> {
    // crates/fracdet-model -> repository root
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2);
    let path = root.unwrap_or(Path::new(".")).join("weights").join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "NOTICE: {} is absent; skipping this ImageNet reference check \
             (run tools/fetch-weights.sh to enable it)",
            path.display()
        );
        None
    }
}

/// Logits within 1e-4 + 1e-3·|reference| of PyTorch's, and the same top-5 classes in order.
fn check(name: &str, got: Tensor<2>, doc: &Value) {
    let reference = &doc["models"][name];
    let want = floats(reference, "logits");
    assert_eq!(got.dims(), [1, 1000]);
    let got = values(got);
    let d = max_abs_diff(&got, &want);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / (1e-4 + 1e-3 * w.abs()))
        .fold(0.0, f64::max);
    eprintln!("{name}: max |Δ logit| {d:.3e}, worst |Δ| / (1e-4 + 1e-3|ref|) = {worst:.3}");
    assert!(
        worst <= 1.0,
        "{name}: logits differ from PyTorch beyond tolerance ({d})"
    );
    let want_top5: Vec<usize> = sizes(reference, "top5");
    assert_eq!(top_k(&got, 5), want_top5, "{name}: top-5 classes differ");
}

#[test]
fn imagenet_reference() {
    let doc = read_json("imagenet_reference.json");
    let device = Device::flex();
    let x = formula_input(&doc, &device);

    if let Some(path) = weights("mobilenet_v2-b0353104.pth") {
        let cfg = MobileNetV2Config::new().with_num_classes(1000);
        let model = cfg.init(&device).expect("default config");
        let (model, report) =
            load_weights(model, &path, &cfg.import_spec(true)).expect("torchvision weights load");
        assert!(report.missing.is_empty(), "{:?}", report.missing);
        check("mobilenet_v2", model.valid().forward(x.clone()), &doc);
    }
    if let Some(path) = weights("efficientnet-lite0-57934424.pth") {
        let cfg = EfficientNetLiteConfig::new().with_num_classes(1000);
        let model = cfg.init(&device).expect("default config");
        let (model, report) =
            load_weights(model, &path, &cfg.import_spec(true)).expect("Lite0 weights load");
        assert!(report.missing.is_empty(), "{:?}", report.missing);
        check("efficientnet_lite0", model.valid().forward(x), &doc);
    }
}
