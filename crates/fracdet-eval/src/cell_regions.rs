//! From a grid of cell probabilities over the square model canvas (the MPR detector's
//! output) to what localisation is scored on: the peak cell, boxes around 4-connected
//! regions of cells at or above an absolute probability threshold, and a heatmap at the
//! original resolution.
//!
//! Unlike a class activation map, a cell grid is a probability in its own right, so regions
//! use an absolute threshold rather than a fraction of the map's maximum. Boxes come out in
//! canvas pixels ([`cell_regions`]) or, through the letterbox, in original pixels
//! ([`boxes_to_original`]).

use fracdet_io::BBox;
use fracdet_io::preprocess::LetterboxTransform;

use crate::error::{EvalError, Result};
use crate::localisation::ScoredBox;

/// A `width` x `height` grid of cell values (row-major) that tiles a square canvas of side
/// `canvas` pixels.
#[derive(Debug, Clone, Copy)]
pub struct CellGrid<'a> {
    pub values: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub canvas: u32,
}

impl<'a> CellGrid<'a> {
    /// Check that `values` holds `width * height` finite-or-not values and the sizes are
    /// positive.
    pub fn new(values: &'a [f32], width: usize, height: usize, canvas: u32) -> Result<Self> {
        if width == 0 || height == 0 || canvas == 0 || values.len() != width * height {
            return Err(EvalError::InvalidParameter(format!(
                "cell grid of {} values is not {width} x {height} over a {canvas} px canvas",
                values.len()
            )));
        }
        Ok(Self {
            values,
            width,
            height,
            canvas,
        })
    }

    /// Canvas pixels per cell along x and y.
    pub fn cell_size(&self) -> (f32, f32) {
        (
            self.canvas as f32 / self.width as f32,
            self.canvas as f32 / self.height as f32,
        )
    }

    /// Canvas rectangle of cells `x0..=x1`, `y0..=y1`.
    pub fn cells_box(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> BBox {
        let (cw, ch) = self.cell_size();
        BBox::new(
            x0 as f32 * cw,
            y0 as f32 * ch,
            (x1 + 1) as f32 * cw,
            (y1 + 1) as f32 * ch,
        )
    }

    /// Centre of the highest cell, canvas pixels; `None` when every value is NaN.
    pub fn peak(&self) -> Option<(f32, f32)> {
        let i = self
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)?;
        let (cw, ch) = self.cell_size();
        Some((
            ((i % self.width) as f32 + 0.5) * cw,
            ((i / self.width) as f32 + 0.5) * ch,
        ))
    }
}

/// Boxes (canvas pixels) around each 4-connected region of cells with value `>= threshold`,
/// scored by the region's highest cell, highest first (ties in scan order).
pub fn cell_regions(grid: &CellGrid, threshold: f32) -> Vec<ScoredBox> {
    let mut out: Vec<ScoredBox> = hot_regions(grid.values, grid.width, grid.height, threshold)
        .into_iter()
        .map(|(x0, y0, x1, y1, top)| ScoredBox {
            bbox: grid.cells_box(x0, y0, x1, y1),
            score: top,
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// The 4-connected regions of a `width` x `height` row-major map whose cells are
/// `>= threshold`, in scan order of their first cell: `(x_min, y_min, x_max, y_max, peak
/// value)` in cells, inclusive. Shared by the cell-grid boxes here and the CAM boxes of
/// fracdet-detect.
pub fn hot_regions(
    values: &[f32],
    width: usize,
    height: usize,
    threshold: f32,
) -> Vec<(usize, usize, usize, usize, f32)> {
    let (w, h) = (width, height);
    let n = (w * h).min(values.len());
    let hot = |i: usize| values[i] >= threshold;
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    for start in 0..n {
        if seen[start] || !hot(start) {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let (mut x0, mut y0, mut x1, mut y1, mut top) = (w, h, 0, 0, f32::NEG_INFINITY);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            top = top.max(values[i]);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h && i + w < n).then(|| i + w),
            ];
            for j in neighbours.into_iter().flatten() {
                if !seen[j] && hot(j) {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        out.push((x0, y0, x1, y1, top));
    }
    out
}

/// Canvas boxes to original pixels through the letterbox `t` (clipped to the image, so a
/// region reaching into the padding ends at the image edge); boxes left empty are dropped.
pub fn boxes_to_original(boxes: &[ScoredBox], t: &LetterboxTransform) -> Vec<ScoredBox> {
    boxes
        .iter()
        .map(|b| ScoredBox {
            bbox: t.bbox_to_original(&b.bbox),
            score: b.score,
        })
        .filter(|b| b.bbox.area() > 0.0)
        .collect()
}

/// The grid as a heatmap on the original `src_width` x `src_height` pixel grid (row-major),
/// bilinear between cell centres.
pub fn heatmap_to_original(grid: &CellGrid, t: &LetterboxTransform) -> Result<Vec<f32>> {
    if t.size != grid.canvas {
        return Err(EvalError::InvalidParameter(format!(
            "grid covers a {} px canvas, the letterbox makes {} px",
            grid.canvas, t.size
        )));
    }
    t.heatmap_to_original(grid.values, grid.width as u32, grid.height as u32)
        .map_err(|e| EvalError::InvalidParameter(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_peak_and_original_boxes() {
        // 4x3 cells over a 64 px canvas (16 x 21.33 px cells).
        #[rustfmt::skip]
        let v = [
            0.9, 0.6, 0.1, 0.0,
            0.2, 0.1, 0.0, 0.7,
            0.0, 0.0, 0.1, 0.8,
        ];
        let g = CellGrid::new(&v, 4, 3, 64).unwrap();
        let r = cell_regions(&g, 0.5);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].score, 0.9);
        assert_eq!(r[0].bbox, BBox::new(0.0, 0.0, 32.0, 64.0 / 3.0));
        assert_eq!(r[1].score, 0.8);
        assert_eq!(r[1].bbox, BBox::new(48.0, 64.0 / 3.0, 64.0, 64.0));
        assert_eq!(g.peak(), Some((8.0, 32.0 / 3.0)));
        assert!(cell_regions(&g, 0.95).is_empty());

        // A 200 x 100 image letterboxed to 64: scale 0.32, 16 px of padding above and below.
        let t = LetterboxTransform::new(200, 100, 64);
        let back = boxes_to_original(&r, &t);
        assert_eq!(back.len(), 2);
        let b = back[0].bbox;
        // Canvas x 0..32 -> original 0..100; canvas y 0..21.3 -> original 0..16.7 (clipped).
        assert!((b.x_max - 100.0).abs() < 1e-3 && b.y_min == 0.0, "{b:?}");
        assert!((b.y_max - (64.0 / 3.0 - 16.0) / 0.32).abs() < 1e-3, "{b:?}");
        // The second region's bottom edge lies in the padding: clipped at the image edge.
        assert!((back[1].bbox.y_max - 100.0).abs() < 1e-3);

        let hm = heatmap_to_original(&g, &t).unwrap();
        assert_eq!(hm.len(), 200 * 100);
        assert!(hm.iter().all(|v| (0.0..=0.9).contains(v)));
        assert!(heatmap_to_original(&g, &LetterboxTransform::new(200, 100, 32)).is_err());
        assert!(CellGrid::new(&v, 5, 3, 64).is_err());
    }
}
