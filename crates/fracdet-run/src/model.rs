//! What the training loop needs from a network.

use burn::module::{Module, ParamGroup};
use burn::tensor::Tensor;

/// A binary image classifier: one logit per image.
pub trait BinaryClassifier: Module + 'static {
    /// `images`: `[B, C, H, W]`, normalised as the run's `InputSpec` says.
    /// Returns the fracture logit per image, `[B]`.
    fn logits(&self, images: Tensor<4>) -> Tensor<1>;

    /// Parameters frozen during the head-only warm-up epochs (the backbone); `None` when the
    /// network has no such split, in which case freezing is refused.
    fn backbone_params(&self) -> Option<ParamGroup>;
}
