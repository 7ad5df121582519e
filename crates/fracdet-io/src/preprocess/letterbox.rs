//! Aspect-preserving resize onto a square canvas.

use image::{ImageBuffer, Luma, imageops::FilterType};
use serde::{Deserialize, Serialize};

use crate::{BBox, IoError, Radiograph, Result};

/// Maps original pixel coordinates to working (square canvas) coordinates and back:
/// `working_x = original_x * scale_x + pad_x` (same for y).
///
/// Coordinates are continuous: pixel `i` spans `[i, i + 1)`, so the whole original image
/// `[0, src_width] x [0, src_height]` maps exactly onto the content rectangle
/// `[pad_x, pad_x + scaled_width] x [pad_y, pad_y + scaled_height]`. The two axis scales
/// differ slightly because the scaled size is rounded to whole pixels; using them (rather
/// than one nominal scale) keeps the mapping exact with respect to the resampled pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LetterboxTransform {
    pub src_width: u32,
    pub src_height: u32,
    /// Side of the square working canvas, pixels.
    pub size: u32,
    /// Size of the resized image inside the canvas, pixels.
    pub scaled_width: u32,
    pub scaled_height: u32,
    /// Offset of the resized image inside the canvas, whole pixels.
    pub pad_x: u32,
    pub pad_y: u32,
}

impl LetterboxTransform {
    /// The transform that fits a `src_width` x `src_height` image into a `size` square.
    pub fn new(src_width: u32, src_height: u32, size: u32) -> Self {
        let longest = src_width.max(src_height).max(1) as f64;
        let fit = |side: u32| -> u32 {
            if side == 0 {
                0
            } else {
                ((side as f64 * size as f64 / longest).round() as u32).clamp(1, size.max(1))
            }
        };
        let scaled_width = fit(src_width).min(size);
        let scaled_height = fit(src_height).min(size);
        Self {
            src_width,
            src_height,
            size,
            scaled_width,
            scaled_height,
            pad_x: (size - scaled_width) / 2,
            pad_y: (size - scaled_height) / 2,
        }
    }

    /// Working pixels per original pixel along x (1 for a degenerate empty image).
    pub fn scale_x(&self) -> f32 {
        if self.src_width == 0 || self.scaled_width == 0 {
            1.0
        } else {
            (self.scaled_width as f64 / self.src_width as f64) as f32
        }
    }

    /// Working pixels per original pixel along y.
    pub fn scale_y(&self) -> f32 {
        if self.src_height == 0 || self.scaled_height == 0 {
            1.0
        } else {
            (self.scaled_height as f64 / self.src_height as f64) as f32
        }
    }

    /// Original pixel coordinates -> working canvas coordinates.
    pub fn to_working(&self, x: f32, y: f32) -> (f32, f32) {
        (
            x * self.scale_x() + self.pad_x as f32,
            y * self.scale_y() + self.pad_y as f32,
        )
    }

    /// Working canvas coordinates -> original pixel coordinates (may fall outside the
    /// original image when the point lies in the padding).
    pub fn to_original(&self, x: f32, y: f32) -> (f32, f32) {
        (
            (x - self.pad_x as f32) / self.scale_x(),
            (y - self.pad_y as f32) / self.scale_y(),
        )
    }

    pub fn bbox_to_working(&self, b: &BBox) -> BBox {
        let (x0, y0) = self.to_working(b.x_min, b.y_min);
        let (x1, y1) = self.to_working(b.x_max, b.y_max);
        BBox::new(x0, y0, x1, y1)
    }

    /// Working box -> original box, clipped to the original image (boxes predicted in the
    /// padding shrink to the image edge).
    pub fn bbox_to_original(&self, b: &BBox) -> BBox {
        let (x0, y0) = self.to_original(b.x_min, b.y_min);
        let (x1, y1) = self.to_original(b.x_max, b.y_max);
        BBox::new(x0, y0, x1, y1).clipped(self.src_width as f32, self.src_height as f32)
    }

    /// Working box -> original box without clipping (exact inverse of
    /// [`bbox_to_working`](Self::bbox_to_working)).
    pub fn bbox_to_original_unclipped(&self, b: &BBox) -> BBox {
        let (x0, y0) = self.to_original(b.x_min, b.y_min);
        let (x1, y1) = self.to_original(b.x_max, b.y_max);
        BBox::new(x0, y0, x1, y1)
    }

    /// Resample a heatmap that covers the whole working canvas (`hm_width` x `hm_height`
    /// values, row-major; any resolution, e.g. a stride-32 feature map) onto the original
    /// pixel grid: returns `src_width * src_height` values, row-major, sampled bilinearly
    /// at each original pixel centre (edge values extend outwards).
    pub fn heatmap_to_original(
        &self,
        heatmap: &[f32],
        hm_width: u32,
        hm_height: u32,
    ) -> Result<Vec<f32>> {
        let (hw, hh) = (hm_width as usize, hm_height as usize);
        if hw == 0 || hh == 0 || heatmap.len() != hw * hh {
            return Err(IoError::InvalidArgument(format!(
                "heatmap has {} values, expected {hm_width} x {hm_height}",
                heatmap.len()
            )));
        }
        if self.size == 0 {
            return Err(IoError::InvalidArgument("transform has size 0".into()));
        }
        // Heatmap cells per working pixel.
        let fx = hw as f32 / self.size as f32;
        let fy = hh as f32 / self.size as f32;
        let (sw, sh) = (self.src_width as usize, self.src_height as usize);
        let mut out = Vec::with_capacity(sw * sh);
        // Precompute column taps once: every row uses the same ones.
        let cols: Vec<(usize, usize, f32)> = (0..sw)
            .map(|x| {
                let (wx, _) = self.to_working(x as f32 + 0.5, 0.0);
                taps(wx * fx - 0.5, hw)
            })
            .collect();
        for y in 0..sh {
            let (_, wy) = self.to_working(0.0, y as f32 + 0.5);
            let (y0, y1, ty) = taps(wy * fy - 0.5, hh);
            let (r0, r1) = (&heatmap[y0 * hw..][..hw], &heatmap[y1 * hw..][..hw]);
            for &(x0, x1, tx) in &cols {
                let top = r0[x0] + (r0[x1] - r0[x0]) * tx;
                let bottom = r1[x0] + (r1[x1] - r1[x0]) * tx;
                out.push(top + (bottom - top) * ty);
            }
        }
        Ok(out)
    }
}

/// Bilinear taps for continuous index `u` (pixel centres at integers) on `n` samples,
/// clamped to the edge.
fn taps(u: f32, n: usize) -> (usize, usize, f32) {
    let last = (n - 1) as f32;
    let u = u.clamp(0.0, last);
    let i0 = u.floor() as usize;
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, u - i0 as f32)
}

/// Resize `image` to fit a `size` x `size` canvas without distorting it, centred, padded
/// with 0 (black). Returns the canvas (row-major, `size * size`) and the transform.
///
/// Resampling uses a triangle filter whose support widens with the downscale factor, so
/// shrinking averages over the whole source footprint (no aliasing of fine trabecular
/// texture); enlarging is plain bilinear.
pub fn letterbox(image: &Radiograph, size: u32) -> (Vec<f32>, LetterboxTransform) {
    letterbox_pixels(&image.pixels, image.width, image.height, size)
}

/// [`letterbox`] on a bare row-major grey buffer. A buffer whose length does not match
/// `width * height` is treated as empty (all-black canvas).
pub fn letterbox_pixels(
    pixels: &[f32],
    width: u32,
    height: u32,
    size: u32,
) -> (Vec<f32>, LetterboxTransform) {
    let t = LetterboxTransform::new(width, height, size);
    let side = size as usize;
    let mut canvas = vec![0.0f32; side * side];
    if t.scaled_width == 0
        || t.scaled_height == 0
        || pixels.len() != width as usize * height as usize
    {
        return (canvas, t);
    }
    let Some(src) = ImageBuffer::<Luma<f32>, &[f32]>::from_raw(width, height, pixels) else {
        return (canvas, t);
    };
    let resized =
        image::imageops::resize(&src, t.scaled_width, t.scaled_height, FilterType::Triangle);
    let rw = t.scaled_width as usize;
    for (row, chunk) in resized.as_raw().chunks_exact(rw).enumerate() {
        let start = (row + t.pad_y as usize) * side + t.pad_x as usize;
        canvas[start..start + rw].copy_from_slice(chunk);
    }
    (canvas, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: u32, height: u32, f: impl Fn(u32, u32) -> f32) -> Vec<f32> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect()
    }

    #[test]
    fn geometry_of_a_portrait_image() {
        let t = LetterboxTransform::new(842, 1024, 224);
        assert_eq!((t.scaled_width, t.scaled_height), (184, 224));
        assert_eq!((t.pad_x, t.pad_y), (20, 0));
        let l = LetterboxTransform::new(1000, 10, 224);
        assert_eq!(
            (l.scaled_width, l.scaled_height, l.pad_x, l.pad_y),
            (224, 2, 0, 111)
        );
    }

    #[test]
    fn points_and_boxes_round_trip() {
        for &(w, h, s) in &[
            (842, 1024, 224),
            (1024, 700, 384),
            (37, 53, 512),
            (3000, 2999, 224),
        ] {
            let t = LetterboxTransform::new(w, h, s);
            for k in 0..50 {
                let x = (k as f32 * 17.3) % w as f32;
                let y = (k as f32 * 29.1) % h as f32;
                let (wx, wy) = t.to_working(x, y);
                assert!(wx >= 0.0 && wx <= s as f32 && wy >= 0.0 && wy <= s as f32);
                let (ox, oy) = t.to_original(wx, wy);
                assert!(
                    (ox - x).abs() < 1e-3 && (oy - y).abs() < 1e-3,
                    "{x},{y} -> {ox},{oy}"
                );
            }
            let b = BBox::new(
                w as f32 * 0.1,
                h as f32 * 0.2,
                w as f32 * 0.7,
                h as f32 * 0.9,
            );
            let back = t.bbox_to_original(&t.bbox_to_working(&b));
            for (a, z) in b.corners().iter().zip(back.corners()) {
                assert!((a.0 - z.0).abs() < 1e-3 && (a.1 - z.1).abs() < 1e-3);
            }
            // The whole image maps onto the content rectangle exactly.
            let full = t.bbox_to_working(&BBox::new(0.0, 0.0, w as f32, h as f32));
            assert!((full.x_min - t.pad_x as f32).abs() < 1e-3);
            assert!((full.x_max - (t.pad_x + t.scaled_width) as f32).abs() < 1e-3);
            assert!((full.y_max - (t.pad_y + t.scaled_height) as f32).abs() < 1e-3);
        }
    }

    #[test]
    fn content_lands_where_the_transform_says() {
        // A bright square at original [300, 500) x [400, 600) in an 842 x 1024 image.
        let (w, h) = (842, 1024);
        let px = grey(w, h, |x, y| {
            if (300..500).contains(&x) && (400..600).contains(&y) {
                1.0
            } else {
                0.1
            }
        });
        let (canvas, t) = letterbox_pixels(&px, w, h, 224);
        assert_eq!(canvas.len(), 224 * 224);
        let want = t.bbox_to_working(&BBox::new(300.0, 400.0, 500.0, 600.0));
        // Pixels whose centre is well inside the mapped box are bright, well outside are not.
        for y in 0..224 {
            for x in 0..224 {
                let v = canvas[y * 224 + x];
                let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = cx > want.x_min + 1.0
                    && cx < want.x_max - 1.0
                    && cy > want.y_min + 1.0
                    && cy < want.y_max - 1.0;
                let outside = cx < want.x_min - 1.0
                    || cx > want.x_max + 1.0
                    || cy < want.y_min - 1.0
                    || cy > want.y_max + 1.0;
                if inside {
                    assert!((v - 1.0).abs() < 1e-4, "({x},{y}) = {v}");
                }
                if outside {
                    let in_content =
                        x >= t.pad_x as usize && x < (t.pad_x + t.scaled_width) as usize;
                    let expect = if in_content { 0.1 } else { 0.0 };
                    assert!((v - expect).abs() < 1e-4, "({x},{y}) = {v}, want {expect}");
                }
            }
        }
        // Downscaling averages: a 1-pixel checkerboard becomes flat grey, not aliased stripes.
        let checker = grey(448, 448, |x, y| ((x + y) % 2) as f32);
        let (small, _) = letterbox_pixels(&checker, 448, 448, 224);
        assert!(small.iter().all(|v| (v - 0.5).abs() < 0.02));
    }

    #[test]
    fn heatmap_maps_back_onto_original_grid() {
        let t = LetterboxTransform::new(300, 150, 64);
        // A heatmap whose value is the working x coordinate of each cell centre, at
        // stride 4 (16 x 16 cells over the 64 canvas).
        let hm: Vec<f32> = (0..16 * 16)
            .map(|k| ((k % 16) as f32 + 0.5) * 4.0)
            .collect();
        let back = t.heatmap_to_original(&hm, 16, 16).unwrap();
        assert_eq!(back.len(), 300 * 150);
        for y in [0usize, 70, 149] {
            for x in [20usize, 150, 280] {
                let (wx, _) = t.to_working(x as f32 + 0.5, y as f32 + 0.5);
                assert!(
                    (back[y * 300 + x] - wx).abs() < 1e-3,
                    "x={x}: {} vs {wx}",
                    back[y * 300 + x]
                );
            }
        }
        assert!(t.heatmap_to_original(&hm, 15, 16).is_err());
    }

    #[test]
    fn degenerate_images_do_not_panic() {
        let (c, t) = letterbox_pixels(&[], 0, 0, 32);
        assert_eq!(c.len(), 32 * 32);
        assert!(t.to_original(5.0, 5.0).0.is_finite());
        let (c, _) = letterbox_pixels(&[0.5; 3], 2, 2, 8);
        assert!(c.iter().all(|&v| v == 0.0));
        let (c, t) = letterbox_pixels(&[0.7], 1, 1, 4);
        assert_eq!((t.scaled_width, t.pad_x), (4, 0));
        assert!(c.iter().all(|&v| (v - 0.7).abs() < 1e-6));
    }
}
