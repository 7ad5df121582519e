//! Validation of the inpainter: masked-pixel L1 and PSNR of G and of the blur-fill baseline
//! on non-fractured val images, and the per-epoch sample grid.

use burn::tensor::{Device, Tensor, TensorData};
use fracdet_model::mpr::{Inpainter, blur_fill};

use super::config::InpainterTrainConfig;
use super::masks::{Square, paint, validation_square};
use crate::error::{Result, TrainError};
use crate::source::{SampleSource, Skipped, canvas_of, load_batch};
use crate::tensors::tensor_values;

/// PSNR reported for a perfect reconstruction (MSE 0), dB.
const PSNR_CAP: f64 = 100.0;

/// Reconstruction quality on the masked pixels, averaged over (image, scale) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InpaintScores {
    /// Mean absolute error of G.
    pub g_l1: f64,
    /// Mean PSNR of G, dB (peak 1).
    pub g_psnr: f64,
    /// The same for the blur fill.
    pub blur_l1: f64,
    pub blur_psnr: f64,
    /// (image, scale) pairs scored.
    pub count: usize,
}

/// Blur radius of the baseline for a square of side `side`: a Gaussian-like σ of half the
/// side, so the centre of the hole is filled from the ring around it.
pub fn blur_radius(side: usize) -> usize {
    (side / 2).max(1)
}

/// Mean absolute error and PSNR of `pred` against `truth` over `mask > 0.5`.
pub fn masked_l1_psnr(pred: &[f32], truth: &[f32], mask: &[f32]) -> Option<(f64, f64)> {
    let (mut abs, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for ((p, t), m) in pred.iter().zip(truth).zip(mask) {
        if *m > 0.5 {
            let d = (*p - *t) as f64;
            abs += d.abs();
            sq += d * d;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    let mse = sq / n as f64;
    let psnr = if mse > 0.0 {
        (10.0 * (1.0 / mse).log10()).min(PSNR_CAP)
    } else {
        PSNR_CAP
    };
    Some((abs / n as f64, psnr))
}

/// One row of the sample grid: the canvas, the square, and G's composited output.
pub struct SampleRow {
    pub canvas: Vec<f32>,
    pub square: Square,
    pub output: Vec<f32>,
}

/// Score `g` (on a plain device, no autodiff) on val samples `indices` at every scale of
/// `config`, with their fixed validation squares. Returns the scores, the samples that could
/// not be read, and up to `config.sample_rows` rows for the grid (largest scale).
pub fn validate_inpainter(
    g: &Inpainter,
    val: &dyn SampleSource,
    indices: &[usize],
    config: &InpainterTrainConfig,
    device: &Device,
) -> Result<(InpaintScores, Vec<Skipped>, Vec<SampleRow>)> {
    let size = config.size as usize;
    let plane = size * size;
    let mut sums = [0.0f64; 4];
    let mut count = 0usize;
    let mut skipped = Vec::new();
    let mut rows = Vec::new();
    let grid_scale = config.scales.iter().copied().max().unwrap_or(size / 4);
    for chunk in indices.chunks(config.batch_size) {
        let batch = load_batch(val, chunk, |_| None, canvas_of(plane));
        skipped.extend(batch.skipped);
        if batch.items.is_empty() {
            continue;
        }
        let loaded = &batch.indices;
        let n = batch.items.len();
        let images: Vec<f32> = batch.items.concat();
        for &scale in &config.scales {
            let squares: Vec<Square> = batch
                .items
                .iter()
                .zip(loaded)
                .map(|(c, &i)| validation_square(c, size, scale, config.seed, i))
                .collect();
            let mut masks = Vec::with_capacity(n * plane);
            for s in &squares {
                paint(std::slice::from_ref(s), size, &mut masks);
            }
            let x =
                Tensor::<4>::from_data(TensorData::new(images.clone(), [n, 1, size, size]), device);
            let m =
                Tensor::<4>::from_data(TensorData::new(masks.clone(), [n, 1, size, size]), device);
            let out = tensor_values(g.forward(x, m))?;
            for (k, square) in squares.iter().enumerate() {
                let range = k * plane..(k + 1) * plane;
                let (truth, mask, pred) =
                    (&images[range.clone()], &masks[range.clone()], &out[range]);
                let blurred = blur_fill(truth, mask, size, blur_radius(scale));
                if let (Some((gl1, gpsnr)), Some((bl1, bpsnr))) = (
                    masked_l1_psnr(pred, truth, mask),
                    masked_l1_psnr(&blurred, truth, mask),
                ) {
                    sums[0] += gl1;
                    sums[1] += gpsnr;
                    sums[2] += bl1;
                    sums[3] += bpsnr;
                    count += 1;
                }
                if scale == grid_scale && rows.len() < config.sample_rows {
                    rows.push(SampleRow {
                        canvas: truth.to_vec(),
                        square: *square,
                        output: pred.to_vec(),
                    });
                }
            }
        }
    }
    let mean = |s: f64| {
        if count > 0 {
            s / count as f64
        } else {
            f64::NAN
        }
    };
    Ok((
        InpaintScores {
            g_l1: mean(sums[0]),
            g_psnr: mean(sums[1]),
            blur_l1: mean(sums[2]),
            blur_psnr: mean(sums[3]),
            count,
        },
        skipped,
        rows,
    ))
}

/// The sample grid as an 8-bit grey PNG: one row per sample, columns input | masked input
/// (square white) | G's output | residual |x − G(x)| × 4.
pub fn sample_grid_png(rows: &[SampleRow], size: usize) -> Result<Vec<u8>> {
    let cols = 4;
    let (w, h) = (cols * size, rows.len().max(1) * size);
    let mut px = vec![0u8; w * h];
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    for (r, row) in rows.iter().enumerate() {
        let mut mask = Vec::with_capacity(size * size);
        paint(std::slice::from_ref(&row.square), size, &mut mask);
        for y in 0..size {
            for x in 0..size {
                let i = y * size + x;
                let (v, o, m) = (row.canvas[i], row.output[i], mask[i] > 0.5);
                let values = [v, if m { 1.0 } else { v }, o, 4.0 * (v - o).abs()];
                for (c, value) in values.into_iter().enumerate() {
                    px[(r * size + y) * w + c * size + x] = byte(value);
                }
            }
        }
    }
    fracdet_eval::html::encode_png(w as u32, h as u32, fracdet_eval::html::PngColor::Grey, &px)
        .map_err(|e| TrainError::Encode {
            what: "sample grid",
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_and_psnr_on_masked_pixels_only() {
        let truth = [0.5f32, 0.5, 0.5, 0.5];
        let pred = [0.6f32, 0.5, 0.0, 0.4];
        let mask = [1.0f32, 1.0, 0.0, 1.0];
        let (l1, psnr) = masked_l1_psnr(&pred, &truth, &mask).unwrap();
        assert!((l1 - 0.2 / 3.0).abs() < 1e-6);
        let mse = 0.02f64 / 3.0;
        assert!((psnr - 10.0 * (1.0 / mse).log10()).abs() < 1e-4);
        assert_eq!(masked_l1_psnr(&pred, &truth, &[0.0; 4]), None);
        assert_eq!(
            masked_l1_psnr(&truth, &truth, &mask).unwrap(),
            (0.0, PSNR_CAP)
        );
    }
}
