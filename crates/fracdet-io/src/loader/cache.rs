//! Decoded, letterboxed images kept in memory so each file is decoded once per run.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::BBox;
use crate::preprocess::LetterboxTransform;

/// How cached canvases are stored. `U8` quarters the memory (FracAtlas train at 224²:
/// 136 MB as f32, 34 MB as u8) at a quantisation step of 1/255, below what 8-bit
/// sources hold anyway; use `F32` for 16-bit DICOM where that step matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CachePrecision {
    #[default]
    U8,
    F32,
}

#[derive(Debug, Clone)]
pub(crate) enum Pixels {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

/// One preprocessed sample at working size.
#[derive(Debug, Clone)]
pub struct CachedImage {
    pub(crate) pixels: Pixels,
    /// Original -> working mapping of this image.
    pub transform: LetterboxTransform,
    /// The sample's boxes in working coordinates.
    pub boxes: Vec<BBox>,
}

impl CachedImage {
    pub(crate) fn new(
        canvas: Vec<f32>,
        transform: LetterboxTransform,
        boxes: Vec<BBox>,
        p: CachePrecision,
    ) -> Arc<Self> {
        let pixels = match p {
            CachePrecision::F32 => Pixels::F32(canvas),
            CachePrecision::U8 => Pixels::U8(
                canvas
                    .iter()
                    .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                    .collect(),
            ),
        };
        Arc::new(Self {
            pixels,
            transform,
            boxes,
        })
    }

    /// The canvas as `size * size` grey values in [0, 1], row-major.
    pub fn canvas(&self) -> Vec<f32> {
        match &self.pixels {
            Pixels::F32(v) => v.clone(),
            Pixels::U8(v) => v.iter().map(|&b| b as f32 * (1.0 / 255.0)).collect(),
        }
    }

    /// The letterboxed content rectangle in working pixels.
    pub fn content(&self) -> BBox {
        let t = &self.transform;
        BBox::new(
            t.pad_x as f32,
            t.pad_y as f32,
            (t.pad_x + t.scaled_width) as f32,
            (t.pad_y + t.scaled_height) as f32,
        )
    }
}
