//! Scored images for the unit tests of this module, made without a model.

use std::path::PathBuf;

use fracdet_io::dataset::{Sample, SampleMeta, Split};
use fracdet_io::preprocess::LetterboxTransform;

use super::scoring::ScoredImage;

/// Side of the canvas the test images are "scored" on.
pub const SIDE: u32 = 64;

/// An image `name` scored `score` (also its probability), with no map or boxes, on an
/// identity letterbox (a `SIDE` x `SIDE` original), so canvas pixels are original pixels.
pub fn image(name: &str, label: bool, score: f32) -> ScoredImage {
    ScoredImage {
        sample: Sample {
            image: PathBuf::from(name),
            split: Split::Val,
            label: Some(label),
            boxes: Vec::new(),
            meta: SampleMeta::default(),
        },
        name: name.into(),
        label,
        probability: score,
        score,
        map: None,
        boxes: None,
        transform: LetterboxTransform {
            src_width: SIDE,
            src_height: SIDE,
            size: SIDE,
            scaled_width: SIDE,
            scaled_height: SIDE,
            pad_x: 0,
            pad_y: 0,
        },
    }
}
