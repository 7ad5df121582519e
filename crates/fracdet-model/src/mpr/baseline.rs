//! The blur-fill baseline the inpainter must beat: masked pixels filled from a heavy blur of
//! the unmasked surroundings (normalised convolution).
//!
//! `fill = blur(x · (1 − m)) / blur(1 − m)`: a weighted mean of the known pixels near each
//! masked one. The blur is three passes of a separable box filter (close to a Gaussian of
//! σ ≈ radius), computed with running sums, so its cost does not grow with the radius.

/// Fill the masked pixels of a `size`² canvas (row-major, `mask` 1 = fill) from a blur of
/// radius `radius` over the unmasked ones; unmasked pixels come back unchanged. A masked
/// pixel with no unmasked pixel within reach gets the mean of all unmasked pixels (0 when
/// there are none). Slices shorter than `size * size` are returned as they are.
pub fn blur_fill(image: &[f32], mask: &[f32], size: usize, radius: usize) -> Vec<f32> {
    let n = size * size;
    if image.len() < n || mask.len() < n {
        return image.to_vec();
    }
    let keep: Vec<f32> = mask[..n]
        .iter()
        .map(|&m| if m > 0.5 { 0.0 } else { 1.0 })
        .collect();
    let mut num: Vec<f32> = image[..n].iter().zip(&keep).map(|(x, k)| x * k).collect();
    let mut den = keep.clone();
    for _ in 0..3 {
        box_blur(&mut num, size, radius);
        box_blur(&mut den, size, radius);
    }
    let known = keep.iter().sum::<f32>();
    let mean = if known > 0.0 {
        num_mean(image, &keep) / known
    } else {
        0.0
    };
    let mut out = image[..n].to_vec();
    for (i, o) in out.iter_mut().enumerate() {
        if keep[i] == 0.0 {
            *o = if den[i] > 1e-6 { num[i] / den[i] } else { mean };
        }
    }
    out
}

fn num_mean(image: &[f32], keep: &[f32]) -> f32 {
    image.iter().zip(keep).map(|(x, k)| x * k).sum()
}

/// In-place box blur of side `2r + 1`, rows then columns, zero outside the canvas (the
/// normalised convolution divides the same zeros out of numerator and denominator).
fn box_blur(v: &mut [f32], size: usize, r: usize) {
    let mut line = vec![0.0f32; size];
    let mut prefix = vec![0.0f64; size + 1];
    let mut pass = |get: &dyn Fn(usize) -> usize, v: &mut [f32]| {
        for (k, slot) in line.iter_mut().enumerate() {
            *slot = v[get(k)];
        }
        for k in 0..size {
            prefix[k + 1] = prefix[k] + line[k] as f64;
        }
        for k in 0..size {
            let lo = k.saturating_sub(r);
            let hi = (k + r + 1).min(size);
            v[get(k)] = ((prefix[hi] - prefix[lo]) / (2 * r + 1) as f64) as f32;
        }
    };
    for row in 0..size {
        pass(&|k| row * size + k, v);
    }
    for col in 0..size {
        pass(&|k| k * size + col, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_a_flat_image_exactly() {
        let size = 32;
        let image = vec![0.3f32; size * size];
        let mut mask = vec![0.0; size * size];
        for y in 8..16 {
            for x in 8..16 {
                mask[y * size + x] = 1.0;
            }
        }
        let mut masked = image.clone();
        for (p, m) in masked.iter_mut().zip(&mask) {
            if *m > 0.5 {
                *p = 0.9;
            }
        }
        let out = blur_fill(&masked, &mask, size, 8);
        for (i, v) in out.iter().enumerate() {
            assert!((v - 0.3).abs() < 1e-5, "{i}: {v}");
        }
    }

    #[test]
    fn a_linear_ramp_is_filled_between_its_neighbours_and_the_rest_kept() {
        let size = 64;
        let image: Vec<f32> = (0..size * size)
            .map(|i| (i % size) as f32 / size as f32)
            .collect();
        let mut mask = vec![0.0; size * size];
        for y in 24..40 {
            for x in 24..40 {
                mask[y * size + x] = 1.0;
            }
        }
        let out = blur_fill(&image, &mask, size, 8);
        // Symmetric surroundings: the centre column is filled with about its own value.
        let c = 32 * size + 32;
        assert!(
            (out[c] - image[c]).abs() < 0.03,
            "{} vs {}",
            out[c],
            image[c]
        );
    }
}
