//! The inpainter alone as a fracture detector: the "residual-only anomaly score" arm of the
//! MPR ablation (issue #5). No detector is trained; where G, which has only seen intact
//! bone, fails to re-draw a patch, the image is called anomalous.
//!
//! Each canvas gets the inpainter's residual maps at every scale the run trained with
//! (the same maps MPR's detector reads), averaged over scales and pooled into cells of
//! [`CELL`] pixels: the cell grid is the heatmap, and the image score is its hottest cell
//! on image content (chosen by the caller, who knows the letterbox).

use std::path::Path;

use burn::tensor::Device;

use crate::error::{Result, RunError};
use crate::inpainter::config::InpainterTrainConfig;
use crate::inpainter::load_inpainter;
use crate::mpr::inpainter_residuals::InpainterResiduals;
use crate::mpr::residuals::ResidualSource;

/// Side of one anomaly cell, pixels: the MPR detector's stride, so the two arms localise
/// on the same grid.
pub const CELL: usize = 16;

/// A trained inpainter that scores canvases by how badly it re-draws them.
pub struct AnomalyScorer {
    residuals: InpainterResiduals,
    config: InpainterTrainConfig,
}

impl AnomalyScorer {
    /// The best generator of the inpainter run in `run_dir`, masking at the scales it
    /// trained with.
    pub fn open_run(run_dir: &Path, device: &Device) -> Result<Self> {
        let (g, config) = load_inpainter(run_dir, device)?;
        if !(config.size as usize).is_multiple_of(CELL) {
            return Err(RunError::Config(format!(
                "the inpainter works at {} px, not a multiple of the {CELL}-px cell",
                config.size
            )));
        }
        let residuals = InpainterResiduals::new(
            g,
            config.scales.clone(),
            device.clone(),
            run_dir.display().to_string(),
        );
        Ok(Self { residuals, config })
    }

    /// Side of the square canvas the inpainter takes.
    pub fn size(&self) -> u32 {
        self.config.size
    }

    /// Cells per side of the grid [`AnomalyScorer::cells`] returns.
    pub fn grid(&self) -> usize {
        self.config.size as usize / CELL
    }

    /// Patch sides the residuals are measured at.
    pub fn scales(&self) -> &[usize] {
        &self.config.scales
    }

    /// For each grey canvas (`size * size` values in [0, 1]), the mean residual
    /// `|x − G(x)|` of every [`CELL`]-pixel cell, averaged over the scales: `grid * grid`
    /// values in [0, 1], row-major.
    pub fn cells(&self, canvases: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let maps = self.residuals.residuals(canvases, self.config.size)?;
        Ok(maps
            .iter()
            .map(|m| cell_means(m, self.config.size as usize, self.scales().len()))
            .collect())
    }
}

/// `maps` (`scales` planes of `side * side`) averaged over the planes and over each
/// [`CELL`]-pixel cell.
fn cell_means(maps: &[f32], side: usize, scales: usize) -> Vec<f32> {
    let grid = side / CELL;
    let mut sums = vec![0.0f64; grid * grid];
    for plane in maps.chunks(side * side).take(scales) {
        for (y, row) in plane.chunks(side).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                sums[(y / CELL) * grid + x / CELL] += f64::from(v);
            }
        }
    }
    let n = (CELL * CELL * scales.max(1)) as f64;
    sums.into_iter().map(|s| (s / n) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_means_average_each_cell_over_scales() {
        let side = 2 * CELL;
        // Plane 0: 1.0 in the top-left cell only; plane 1: 0.5 everywhere.
        let mut maps = vec![0.0f32; 2 * side * side];
        for y in 0..CELL {
            for x in 0..CELL {
                maps[y * side + x] = 1.0;
            }
        }
        for v in &mut maps[side * side..] {
            *v = 0.5;
        }
        let cells = cell_means(&maps, side, 2);
        assert_eq!(cells.len(), 4);
        assert!((cells[0] - 0.75).abs() < 1e-6, "{cells:?}");
        for &c in &cells[1..] {
            assert!((c - 0.25).abs() < 1e-6, "{cells:?}");
        }
    }
}
