//! From a [`Radiograph`](crate::Radiograph) at original size to a square network input,
//! keeping the transform so that outputs (boxes, heatmaps) map back to original pixels.

mod letterbox;

pub use letterbox::{LetterboxTransform, letterbox};
