//! Residual maps: every patch of an image masked once and re-drawn "as healthy".
//!
//! At patch side `p` the canvas is cut into a grid of `p`×`p` cells (the last row and column
//! clipped at the border). Cell `(i, j)` belongs to phase `3 · (i mod 3) + (j mod 3)`, so the
//! 9 phases partition the cells, and two cells of one phase are at least two cells apart in
//! each direction they differ in: no two masked squares of a pass touch, not even at a
//! corner, and each is re-drawn from at least `p` pixels of unmasked context on every side
//! (the image border aside). Covering every cell at every scale takes 9 inpainter passes per
//! scale, batched into one forward per image chunk; the residual `|x − G(x)|` inside the
//! masked squares of the 9 passes adds up to one full-size map per scale.

use burn::tensor::{Device, Tensor, TensorData, s};

use super::inpainter::Inpainter;
use crate::ModelError;

/// Passes per scale: the 3×3 phase pattern.
pub const PHASES: usize = 9;

/// Images of one inpainter forward in [`residual_maps`] at most (passes × images), which
/// bounds memory: about 4 MB of activations per 256² pass.
pub const MAX_PASSES_PER_FORWARD: usize = 36;

/// A square of the grid, half-open pixel ranges `[y0, y1) × [x0, x1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    pub y0: usize,
    pub x0: usize,
    pub y1: usize,
    pub x1: usize,
}

/// The squares masked in pass `phase` (0..9) at patch side `patch` on a `size`² canvas.
/// Empty when the grid has too few cells for that phase, or for `patch == 0` or a phase ≥ 9.
pub fn phase_patches(size: usize, patch: usize, phase: usize) -> Vec<Patch> {
    if patch == 0 || phase >= PHASES {
        return Vec::new();
    }
    let cells = size.div_ceil(patch);
    let (a, b) = (phase / 3, phase % 3);
    let mut out = Vec::new();
    for i in (a..cells).step_by(3) {
        for j in (b..cells).step_by(3) {
            out.push(Patch {
                y0: i * patch,
                x0: j * patch,
                y1: ((i + 1) * patch).min(size),
                x1: ((j + 1) * patch).min(size),
            });
        }
    }
    out
}

/// The mask of pass `phase` at patch side `patch`: `size * size` values, row-major, 1 inside
/// the pass's squares and 0 elsewhere.
pub fn phase_mask(size: usize, patch: usize, phase: usize) -> Vec<f32> {
    let mut mask = vec![0.0f32; size * size];
    for p in phase_patches(size, patch, phase) {
        for y in p.y0..p.y1 {
            mask[y * size + p.x0..y * size + p.x1].fill(1.0);
        }
    }
    mask
}

/// The 9 masks of one scale, in phase order.
pub fn phase_masks(size: usize, patch: usize) -> Vec<Vec<f32>> {
    (0..PHASES).map(|ph| phase_mask(size, patch, ph)).collect()
}

/// Refuse shapes and scales [`residual_maps`] cannot serve.
pub fn check_residual_input(dims: [usize; 4], scales: &[usize]) -> Result<(), ModelError> {
    let [_, c, h, w] = dims;
    if c != 1 || h != w || h == 0 || h % Inpainter::ALIGN != 0 {
        return Err(ModelError::Config(format!(
            "residual maps need grey square images [N, 1, S, S] with S a multiple of {}, got {dims:?}",
            Inpainter::ALIGN
        )));
    }
    if scales.is_empty() || scales.iter().any(|&s| s == 0 || s > h) {
        return Err(ModelError::Config(format!(
            "residual-map scales must be 1..={h} pixels, got {scales:?}"
        )));
    }
    Ok(())
}

/// All masks of all scales as one `[S * 9, 1, size, size]` tensor (scale-major).
pub fn mask_tensor(size: usize, scales: &[usize], device: &Device) -> Tensor<4> {
    let mut data = Vec::with_capacity(scales.len() * PHASES * size * size);
    for &s in scales {
        for m in phase_masks(size, s) {
            data.extend(m);
        }
    }
    Tensor::from_data(
        TensorData::new(data, [scales.len() * PHASES, 1, size, size]),
        device,
    )
}

/// Per-scale residual maps `|x − G(x)|`, each pixel measured in the one pass that masked it.
///
/// - `g`: the inpainter, for inference (`g.valid()` on a plain device);
/// - `images`: `[N, 1, S, S]` grey canvases in [0, 1], `S` a multiple of 8;
/// - `scales`: patch sides in pixels, e.g. `[32, 64]`;
/// - returns `[N, scales.len(), S, S]`, channel `k` the map at `scales[k]`.
///
/// Runs `9 · scales.len()` inpainter passes per image, batched (at most
/// [`MAX_PASSES_PER_FORWARD`] per forward, whole images at a time).
pub fn residual_maps(
    g: &Inpainter,
    images: Tensor<4>,
    scales: &[usize],
) -> Result<Tensor<4>, ModelError> {
    let dims = images.dims();
    check_residual_input(dims, scales)?;
    let size = dims[2];
    let masks = mask_tensor(size, scales, &images.device());
    Ok(residual_maps_with_masks(g, images, masks, scales.len()))
}

/// [`residual_maps`] with the masks of [`mask_tensor`] built once by the caller (for
/// repeated calls at one size). Shapes are not checked here.
pub fn residual_maps_with_masks(
    g: &Inpainter,
    images: Tensor<4>,
    masks: Tensor<4>,
    n_scales: usize,
) -> Tensor<4> {
    let [n, _, size, _] = images.dims();
    let passes = n_scales * PHASES;
    let chunk = (MAX_PASSES_PER_FORWARD / passes).max(1);
    let mut out = Vec::with_capacity(n.div_ceil(chunk));
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let k = end - start;
        let x = images.clone().slice(s![start..end]);
        // [k, 1, S, S] -> [k * passes, 1, S, S], each image repeated once per pass.
        let x = x
            .reshape([k, 1, 1, size, size])
            .repeat_dim(1, passes)
            .reshape([k * passes, 1, size, size]);
        let m = masks
            .clone()
            .reshape([1, passes, 1, size, size])
            .repeat_dim(0, k)
            .reshape([k * passes, 1, size, size]);
        let y = g.forward(x.clone(), m.clone());
        let r = (x - y).abs() * m;
        out.push(
            r.reshape([k, n_scales, PHASES, size, size])
                .sum_dim(2)
                .reshape([k, n_scales, size, size]),
        );
        start = end;
    }
    Tensor::cat(out, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_phases_tile_every_pixel_exactly_once() {
        for (size, patch) in [(256, 32), (256, 64), (64, 24), (40, 16), (16, 32), (9, 1)] {
            let mut count = vec![0u32; size * size];
            for ph in 0..PHASES {
                for (c, m) in count.iter_mut().zip(phase_mask(size, patch, ph)) {
                    *c += m as u32;
                }
            }
            assert!(
                count.iter().all(|&c| c == 1),
                "size {size} patch {patch}: counts {:?}",
                count.iter().filter(|&&c| c != 1).count()
            );
        }
    }

    #[test]
    fn squares_of_one_pass_do_not_touch() {
        for (size, patch) in [(256, 32), (256, 64), (100, 7)] {
            for ph in 0..PHASES {
                let ps = phase_patches(size, patch, ph);
                for (i, a) in ps.iter().enumerate() {
                    for b in &ps[i + 1..] {
                        // Gap along the separating axis: at least one cell (`patch` pixels).
                        let gap_y = b.y0.saturating_sub(a.y1).max(a.y0.saturating_sub(b.y1));
                        let gap_x = b.x0.saturating_sub(a.x1).max(a.x0.saturating_sub(b.x1));
                        assert!(
                            gap_y >= patch || gap_x >= patch,
                            "{a:?} and {b:?} touch (size {size}, patch {patch}, phase {ph})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn degenerate_requests_give_no_squares() {
        assert!(phase_patches(64, 0, 0).is_empty());
        assert!(phase_patches(64, 8, 9).is_empty());
        assert!(phase_patches(64, 64, 1).is_empty());
        assert_eq!(phase_patches(64, 64, 0).len(), 1);
    }
}
