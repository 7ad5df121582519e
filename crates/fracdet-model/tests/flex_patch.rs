//! The change fracdet carries in burn-flex (vendor/burn-flex.patch): the in-place
//! `mask_fill` that ReLU/ReLU6 backward runs on every activation. Checked against the value
//! computed element by element here, on the in-place path (a fresh, unique, contiguous
//! tensor), on shared storage (out-of-place) and on a transposed view, and through the
//! backward pass of ReLU6 that uses it.

use burn::tensor::activation::relu6;
use burn::tensor::{Bool, Device, Distribution, Tensor, TensorData};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// A deterministic mask with runs and isolated elements, so that vector lanes see mixed
/// masks as well as full and empty ones.
fn mask_bits(n: usize) -> Vec<bool> {
    let mut x = 0x2545_f491_u32;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (i / 37).is_multiple_of(3) || x.is_multiple_of(5)
        })
        .collect()
}

#[test]
fn mask_fill_matches_the_elementwise_rule_on_every_path() {
    let device = Device::flex();
    // Odd sizes: a remainder after every vector width.
    let (rows, cols) = (67usize, 131usize);
    let n = rows * cols;
    let data: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let bits = mask_bits(n);
    let want: Vec<f32> = data
        .iter()
        .zip(&bits)
        .map(|(&v, &m)| if m { -2.5 } else { v })
        .collect();
    let tensor = || Tensor::<2>::from_data(TensorData::new(data.clone(), [rows, cols]), &device);
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(bits.clone(), [rows, cols]), &device);

    // In place: the tensor is unique and contiguous.
    assert_eq!(values(tensor().mask_fill(mask.clone(), -2.5)), want);
    // Out of place: the storage is shared with a clone still alive.
    let shared = tensor();
    let keep = shared.clone();
    assert_eq!(values(shared.mask_fill(mask.clone(), -2.5)), want);
    assert_eq!(values(keep), data, "the clone must not change");
    // A transposed view with a transposed mask: the same elements.
    let t = tensor().transpose();
    let got = values(t.mask_fill(mask.clone().transpose(), -2.5).transpose());
    assert_eq!(got, want);
}

#[test]
fn relu6_backward_passes_gradient_only_inside_the_linear_range() {
    let device = Device::flex().autodiff();
    let x =
        Tensor::<2>::random([33, 129], Distribution::Uniform(-3.0, 9.0), &device).require_grad();
    let inputs = values(x.clone());
    let grads = relu6(x.clone()).sum().backward();
    let g = values(x.grad(&grads).unwrap());
    for (v, d) in inputs.iter().zip(&g) {
        let inside = *v > 0.0 && *v < 6.0;
        assert_eq!(*d, if inside { 1.0 } else { 0.0 }, "x = {v}");
    }
}
