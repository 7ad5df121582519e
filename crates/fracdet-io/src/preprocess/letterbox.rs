//! Aspect-preserving resize onto a square canvas.

use serde::{Deserialize, Serialize};

use crate::Radiograph;

/// Maps original pixel coordinates to working (square canvas) coordinates and back:
/// `working = original * scale + pad`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LetterboxTransform {
    pub src_width: u32,
    pub src_height: u32,
    pub size: u32,
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

/// Resize `image` to fit a `size` x `size` canvas without distorting it, centred, padded
/// with 0 (black). Returns the canvas (row-major, `size * size`) and the transform.
pub fn letterbox(image: &Radiograph, size: u32) -> (Vec<f32>, LetterboxTransform) {
    let _ = (image, size);
    todo!("issue #2")
}
