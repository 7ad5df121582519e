//! Shared by the MobileNetV2 / EfficientNet-Lite / ImageNet reference tests: the deterministic
//! input formula of `tools/make_fixtures.py` and the comparison of outputs against PyTorch's.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use fracdet_model::import::{ImportSpec, load_weights};
use serde_json::Value;

/// `crates/fracdet-model/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `model` with the fixture checkpoint `file` loaded under `spec`, in inference mode.
pub fn load_fixture<M: Module>(model: M, file: &str, spec: &ImportSpec) -> M {
    let (model, _) = load_weights(model, &fixture(file), spec)
        .unwrap_or_else(|e| panic!("{file}: weights do not load: {e}"));
    model.valid()
}

/// The fixture's JSON document.
pub fn read_json(name: &str) -> Value {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/make_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `value[key]` as a vector of f64, or a panic naming the key.
pub fn floats(value: &Value, key: &str) -> Vec<f64> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("'{key}' is not an array"))
        .iter()
        .map(|v| {
            v.as_f64()
                .unwrap_or_else(|| panic!("'{key}' holds a non-number"))
        })
        .collect()
}

/// `value[key]` as a vector of usize.
pub fn sizes(value: &Value, key: &str) -> Vec<usize> {
    floats(value, key).into_iter().map(|v| v as usize).collect()
}

/// The formula input of `mobile_formula_input` in tools/make_fixtures.py, computed in f64 in
/// the same operation order and rounded to f32:
/// `1.5 sin(0.11 h + 0.07 w + 1.3 c) cos(0.05 (h - w) + 0.4 n) + 0.25 c - 0.25`.
pub fn formula_values(shape: [usize; 4]) -> Vec<f32> {
    let [n, c, h, w] = shape;
    let mut out = Vec::with_capacity(n * c * h * w);
    for ni in 0..n {
        for ci in 0..c {
            for hi in 0..h {
                for wi in 0..w {
                    let (nf, cf, hf, wf) = (ni as f64, ci as f64, hi as f64, wi as f64);
                    let v = 1.5
                        * (0.11 * hf + 0.07 * wf + 1.3 * cf).sin()
                        * (0.05 * (hf - wf) + 0.4 * nf).cos()
                        + 0.25 * cf
                        - 0.25;
                    out.push(v as f32);
                }
            }
        }
    }
    out
}

/// The formula input as a tensor, after checking its sums against the ones PyTorch recorded
/// (so a drift of the formula shows as such, not as a network mismatch).
pub fn formula_input(doc: &Value, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = sizes(doc, "input_shape")
        .try_into()
        .expect("4-D input shape");
    let values = formula_values(shape);
    let sum: f64 = values.iter().map(|&v| v as f64).sum();
    let abs_sum: f64 = values.iter().map(|&v| (v as f64).abs()).sum();
    let want_sum = doc["input_sum"].as_f64().expect("input_sum");
    let want_abs = doc["input_abs_sum"].as_f64().expect("input_abs_sum");
    assert!(
        (sum - want_sum).abs() <= 1e-6 * want_abs && (abs_sum - want_abs).abs() <= 1e-6 * want_abs,
        "formula input differs from PyTorch's: sum {sum} vs {want_sum}, |sum| {abs_sum} vs {want_abs}"
    );
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The gray image `g` repeated into three identical channels: `[B, 1, H, W]` → `[B, 3, H, W]`.
pub fn gray_to_rgb(gray: Tensor<4>) -> Tensor<4> {
    Tensor::cat(vec![gray.clone(), gray.clone(), gray], 1)
}

/// A tensor's values as f64, row-major.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 tensor")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Largest |got - want|; panics if lengths differ or any value is not finite.
pub fn max_abs_diff(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length differs");
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            assert!(g.is_finite(), "non-finite output {g}");
            (g - w).abs()
        })
        .fold(0.0, f64::max)
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.truncate(k);
    idx
}

/// Largest |Δ| between `features` (`[B, C, H', W']`) and PyTorch's `features` in `doc`.
pub fn features_diff(doc: &Value, features: Tensor<4>) -> f64 {
    max_abs_diff(&values(features), &floats(doc, "features"))
}

/// Asserts that `features` (`[B, C, H', W']`) and `logits` (`[B, classes]`) have PyTorch's
/// shapes and lie within 1e-4 of its values; prints the differences under `name`.
pub fn assert_matches_pytorch(name: &str, doc: &Value, features: Tensor<4>, logits: Tensor<2>) {
    assert_eq!(features.dims().to_vec(), sizes(doc, "features_shape"));
    let d_feat = features_diff(doc, features);
    assert_eq!(logits.dims().to_vec(), sizes(doc, "logits_shape"));
    let d_logits = max_abs_diff(&values(logits), &floats(doc, "logits"));
    eprintln!("{name}: max |Δ| features {d_feat:.3e}, logits {d_logits:.3e}");
    assert!(d_feat < 1e-4, "features differ from PyTorch by {d_feat}");
    assert!(d_logits < 1e-4, "logits differ from PyTorch by {d_logits}");
}
