//! Weighted binary cross-entropy on logits.
//!
//! burn's `BinaryCrossEntropyLoss` has no positive-class weight, so this is written out with
//! `log_sigmoid`, which is stable for large |logit| where `log(sigmoid(x))` would give -inf.

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;

/// Mean over the batch of `-(w * y * log σ(x) + (1 - y) * log(1 - σ(x)))`, the same as
/// PyTorch's `BCEWithLogitsLoss(pos_weight = w)`.
///
/// `logits`: `[B]`; `targets`: `[B]` with values in {0, 1}; returns a `[1]` tensor.
pub fn weighted_bce_with_logits(
    logits: Tensor<1>,
    targets: Tensor<1>,
    pos_weight: f32,
) -> Tensor<1> {
    // log(1 - σ(x)) = log σ(-x)
    let log_p = log_sigmoid(logits.clone());
    let log_not_p = log_sigmoid(logits.neg());
    let negatives = targets.clone().neg().add_scalar(1.0);
    let per_sample = targets.mul(log_p).mul_scalar(pos_weight) + negatives.mul(log_not_p);
    per_sample.mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn reference(logits: &[f32], targets: &[f32], w: f32) -> f32 {
        let mut sum = 0.0f64;
        for (&x, &y) in logits.iter().zip(targets) {
            let p = 1.0 / (1.0 + (-(x as f64)).exp());
            sum -= w as f64 * y as f64 * p.ln() + (1.0 - y as f64) * (1.0 - p).ln();
        }
        (sum / logits.len() as f64) as f32
    }

    #[test]
    fn matches_the_formula_and_weights_positives() {
        let device = Device::flex();
        let x = [-2.0f32, -0.5, 0.0, 0.7, 3.0];
        let y = [0.0f32, 1.0, 1.0, 0.0, 1.0];
        for w in [1.0f32, 3.5] {
            let got: f32 = weighted_bce_with_logits(
                Tensor::from_floats(x, &device),
                Tensor::from_floats(y, &device),
                w,
            )
            .into_scalar();
            assert!((got - reference(&x, &y, w)).abs() < 1e-5, "w={w}: {got}");
        }
    }

    #[test]
    fn finite_for_extreme_logits() {
        let device = Device::flex();
        let got: f32 = weighted_bce_with_logits(
            Tensor::from_floats([-200.0f32, 200.0], &device),
            Tensor::from_floats([1.0f32, 0.0], &device),
            2.0,
        )
        .into_scalar();
        // Both samples are confidently wrong: loss ≈ (2 * 200 + 200) / 2.
        assert!((got - 300.0).abs() < 1e-2, "{got}");
    }
}
