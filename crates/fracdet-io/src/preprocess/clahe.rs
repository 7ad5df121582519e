//! Contrast-limited adaptive histogram equalisation (Zuiderveld, Graphics Gems IV, 1994).
//!
//! Radiographs often hold a faint fracture line inside a bright, low-contrast bone; CLAHE
//! stretches contrast locally while the clip limit stops it from amplifying noise in flat
//! areas.

use serde::{Deserialize, Serialize};

/// CLAHE settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClaheConfig {
    /// Tiles across and down (OpenCV's default grid is 8 x 8).
    pub tiles_x: u32,
    pub tiles_y: u32,
    /// Histogram clip limit as a multiple of the mean bin count (OpenCV's `clipLimit`;
    /// 1 means no enhancement, 2–4 is typical).
    pub clip_limit: f32,
    /// Histogram bins over [0, 1].
    pub bins: u32,
}

impl Default for ClaheConfig {
    fn default() -> Self {
        Self {
            tiles_x: 8,
            tiles_y: 8,
            clip_limit: 2.0,
            bins: 256,
        }
    }
}

/// Apply CLAHE to a grey image (`width * height` values in [0, 1], row-major).
/// Returns a new image of the same size, values in [0, 1]. A buffer whose length does not
/// match `width * height` is returned unchanged.
pub fn clahe(pixels: &[f32], width: u32, height: u32, cfg: &ClaheConfig) -> Vec<f32> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || pixels.len() != w * h {
        return pixels.to_vec();
    }
    let tx = (cfg.tiles_x.max(1) as usize).min(w);
    let ty = (cfg.tiles_y.max(1) as usize).min(h);
    let bins = cfg.bins.clamp(2, 65536) as usize;
    let bin_of = |v: f32| -> usize {
        let v = if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((v * bins as f32) as usize).min(bins - 1)
    };

    // One equalisation lookup table per tile, `bins` values in [0, 1].
    let mut luts = vec![0.0f32; tx * ty * bins];
    let mut hist = vec![0.0f32; bins];
    for j in 0..ty {
        let (y0, y1) = (j * h / ty, (j + 1) * h / ty);
        for i in 0..tx {
            let (x0, x1) = (i * w / tx, (i + 1) * w / tx);
            hist.iter_mut().for_each(|c| *c = 0.0);
            for row in pixels[y0 * w..y1 * w].chunks_exact(w) {
                for &v in &row[x0..x1] {
                    hist[bin_of(v)] += 1.0;
                }
            }
            let total = ((x1 - x0) * (y1 - y0)) as f32;
            let limit = (cfg.clip_limit.max(1.0) * total / bins as f32).max(1.0);
            let mut excess = 0.0;
            for c in hist.iter_mut() {
                if *c > limit {
                    excess += *c - limit;
                    *c = limit;
                }
            }
            // Clipped mass is spread evenly, so the mapping stays monotone and sums to total.
            let share = excess / bins as f32;
            let lut = &mut luts[(j * tx + i) * bins..][..bins];
            let mut cdf = 0.0;
            for (b, c) in hist.iter().enumerate() {
                cdf += c + share;
                lut[b] = (cdf / total).clamp(0.0, 1.0);
            }
        }
    }

    // Bilinear blend of the four nearest tile mappings, tile centres as grid points.
    let grid = |p: usize, n: usize, tiles: usize| -> (usize, usize, f32) {
        let g = ((p as f32 + 0.5) * tiles as f32 / n as f32 - 0.5).clamp(0.0, (tiles - 1) as f32);
        let g0 = g.floor() as usize;
        (g0, (g0 + 1).min(tiles - 1), g - g0 as f32)
    };
    let cols: Vec<_> = (0..w).map(|x| grid(x, w, tx)).collect();
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (j0, j1, fy) = grid(y, h, ty);
        for (x, &(i0, i1, fx)) in cols.iter().enumerate() {
            let b = bin_of(pixels[y * w + x]);
            let at = |j: usize, i: usize| luts[(j * tx + i) * bins + b];
            let top = at(j0, i0) + (at(j0, i1) - at(j0, i0)) * fx;
            let bottom = at(j1, i0) + (at(j1, i1) - at(j1, i0)) * fx;
            out.push((top + (bottom - top) * fy).clamp(0.0, 1.0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard deviation over a square window.
    fn local_std(p: &[f32], w: usize, x0: usize, y0: usize, n: usize) -> f32 {
        let vals: Vec<f32> = (y0..y0 + n)
            .flat_map(|y| (x0..x0 + n).map(move |x| (x, y)))
            .map(|(x, y)| p[y * w + x])
            .collect();
        let m = vals.iter().sum::<f32>() / vals.len() as f32;
        (vals.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / vals.len() as f32).sqrt()
    }

    #[test]
    fn increases_local_contrast_and_stays_in_range() {
        // Two flat regions (dark soft tissue, bright bone) with faint texture in each.
        let (w, h) = (128usize, 128usize);
        let img: Vec<f32> = (0..w * h)
            .map(|k| {
                let (x, y) = (k % w, k / w);
                let base = if x < w / 2 { 0.2 } else { 0.8 };
                base + 0.03 * (((x * 7 + y * 13) % 11) as f32 / 10.0 - 0.5)
            })
            .collect();
        let out = clahe(&img, w as u32, h as u32, &ClaheConfig::default());
        assert_eq!(out.len(), img.len());
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        for &(x, y) in &[(8, 8), (80, 40), (100, 100)] {
            let before = local_std(&img, w, x, y, 16);
            let after = local_std(&out, w, x, y, 16);
            assert!(after > 1.5 * before, "({x},{y}): {before} -> {after}");
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(clahe(&[0.5], 1, 1, &ClaheConfig::default()).len(), 1);
        assert_eq!(
            clahe(&[0.5, 0.2], 3, 3, &ClaheConfig::default()),
            vec![0.5, 0.2]
        );
        assert!(clahe(&[], 0, 0, &ClaheConfig::default()).is_empty());
        let odd = clahe(&[f32::NAN, 2.0, -1.0, 0.5], 2, 2, &ClaheConfig::default());
        assert!(odd.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
