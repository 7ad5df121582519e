//! From a [`Radiograph`](crate::Radiograph) at original size to a square network input,
//! keeping the transform so that outputs (boxes, heatmaps) map back to original pixels.

mod clahe;
mod letterbox;
mod normalize;

pub use clahe::{ClaheConfig, clahe};
pub use letterbox::{LetterboxTransform, letterbox, letterbox_pixels};
pub use normalize::{IMAGENET_MEAN, IMAGENET_STD, Normalization, to_chw, to_chw_into};
