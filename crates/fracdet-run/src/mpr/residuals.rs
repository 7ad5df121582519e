//! Where the detector's residual channels come from.
//!
//! The inpainter's residual maps `|x − G(x)|` cost 9 inpainter passes per scale and image,
//! far too many to repeat every training step on a CPU, so a run computes them once per
//! image on the un-augmented canvas (fracdet-train's `MprData::compute_residuals`),
//! keeps them as bytes, and moves them with the image under augmentation.

use crate::error::Result;

/// Residual maps for grey canvases.
///
/// `Send` too: a model that holds one is shared across the server's worker threads.
pub trait ResidualSource: Send + Sync {
    /// Patch sides of the maps, one map (channel) per entry; empty for no residuals.
    fn scales(&self) -> &[usize];

    /// For each `size * size` grey canvas (values in [0, 1]), its `scales().len()` maps
    /// concatenated, each `size * size` values in [0, 1], row-major.
    fn residuals(&self, canvases: &[Vec<f32>], size: u32) -> Result<Vec<Vec<f32>>>;

    /// What produced the maps (e.g. the inpainter's run directory), stored beside cached
    /// maps so that a cache made by another source is not reused.
    fn describe(&self) -> String;
}

/// No residual channels: the "detector without residuals" ablation.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResiduals;

impl ResidualSource for NoResiduals {
    fn scales(&self) -> &[usize] {
        &[]
    }

    fn residuals(&self, canvases: &[Vec<f32>], _size: u32) -> Result<Vec<Vec<f32>>> {
        Ok(vec![Vec::new(); canvases.len()])
    }

    fn describe(&self) -> String {
        "none".to_string()
    }
}
