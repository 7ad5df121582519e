//! Shared by the fixture tests: paths, the fixed input of tools/make_fixtures.py, comparisons.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};

/// `crates/fracdet-model/tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// The fixture's JSON (config, expected outputs).
pub fn expected(name: &str) -> serde_json::Value {
    let path = fixture(&format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/make_fixtures.py)", path.display()));
    serde_json::from_str(&text).expect("fixture JSON parses")
}

/// A float array from the fixture JSON.
pub fn floats(v: &serde_json::Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no array '{key}'"))
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// A shape from the fixture JSON.
pub fn dims<const D: usize>(v: &serde_json::Value, key: &str) -> [usize; D] {
    let dims: Vec<usize> = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no shape '{key}'"))
        .iter()
        .map(|x| x.as_u64().expect("dimension") as usize)
        .collect();
    dims.try_into().expect("shape rank")
}

/// tools/make_fixtures.py's `fixture_input`: `x.flat[i] = ((i * 7919) % 1000) / 500 - 1` in f32.
pub fn fixture_input(shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i as u64 * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub fn device() -> Device {
    Device::flex()
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Largest absolute difference; panics on a length mismatch (a shape bug, not a tolerance one).
pub fn max_abs_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "output sizes differ");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// The tolerance every fixture comparison uses (max abs diff).
pub const TOL: f32 = 1e-4;

pub fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    let diff = max_abs_diff(got, want);
    eprintln!("{what}: max abs diff {diff:e}");
    assert!(
        diff <= TOL,
        "{what}: max abs diff {diff:e} > {TOL:e} (first values got {:?}, want {:?})",
        &got[..got.len().min(4)],
        &want[..want.len().min(4)]
    );
}
