//! Training-time augmentation on the square working canvas, moving boxes with the pixels.
//!
//! Order: photometric (inside the letterboxed content only, so padding stays black) ->
//! one combined affine warp (flip, rotation, scale, translation; bilinear, black fill) ->
//! optional random erasing. All randomness comes from the caller's RNG, so a per-sample
//! seeded RNG makes augmentation reproducible.

mod acquisition;
mod affine;
mod photometric;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::BBox;

pub use acquisition::{Acquisition, AcquisitionConfig, apply_acquisition};
pub use affine::{Affine, warp_affine};
pub use photometric::{Photometric, apply_photometric};

/// Augmentation settings. `Default` is a mild recipe suited to radiographs: left/right flips
/// are anatomically plausible, vertical flips are not, so there are none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Probability of a horizontal flip.
    pub hflip_prob: f32,
    /// Rotation drawn uniformly from ±`rotate_deg` degrees.
    pub rotate_deg: f32,
    /// Isotropic scale drawn uniformly from this range.
    pub scale_range: (f32, f32),
    /// Translation in each axis drawn uniformly from ±`translate_frac` x canvas side.
    pub translate_frac: f32,
    /// Additive brightness drawn from ±`brightness` (pixel values are in [0, 1]).
    pub brightness: f32,
    /// Contrast factor (about 0.5) drawn from 1 ± `contrast`.
    pub contrast: f32,
    /// Gamma drawn log-uniformly from this range.
    pub gamma_range: (f32, f32),
    /// Random erasing (cutout), off by default.
    pub erasing: Option<ErasingConfig>,
    /// Noise, blur and JPEG re-compression as other sites' images show them; off by
    /// default (and in runs configured before it existed).
    #[serde(default)]
    pub acquisition: Option<AcquisitionConfig>,
    /// A box is kept when at least this fraction of its transformed area stays on the
    /// canvas; otherwise it is dropped (the fracture left the picture).
    pub min_box_visible: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            hflip_prob: 0.5,
            rotate_deg: 10.0,
            scale_range: (0.9, 1.1),
            translate_frac: 0.05,
            brightness: 0.1,
            contrast: 0.15,
            gamma_range: (0.8, 1.25),
            erasing: None,
            acquisition: None,
            min_box_visible: 0.4,
        }
    }
}

/// Random erasing (Zhong et al., 2020): one rectangle filled with a random grey level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErasingConfig {
    pub prob: f32,
    /// Erased area as a fraction of the canvas.
    pub area_range: (f32, f32),
    /// Width / height of the erased rectangle, drawn log-uniformly.
    pub aspect_range: (f32, f32),
}

impl Default for ErasingConfig {
    fn default() -> Self {
        Self {
            prob: 0.25,
            area_range: (0.02, 0.1),
            aspect_range: (0.3, 3.3),
        }
    }
}

/// Uniform draw from [lo, hi]; never panics (an empty or inverted range gives `lo`).
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    let u: f32 = rng.random();
    if hi > lo { lo + (hi - lo) * u } else { lo }
}

fn log_uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    if lo > 0.0 && hi > lo {
        uniform(rng, lo.ln(), hi.ln()).exp()
    } else if lo > 0.0 {
        lo
    } else {
        1.0
    }
}

impl AugmentConfig {
    /// Draw the geometric transform for a `size` canvas.
    pub fn sample_affine<R: Rng + ?Sized>(&self, size: u32, rng: &mut R) -> Affine {
        let flip = rng.random::<f32>() < self.hflip_prob;
        let angle = uniform(rng, -self.rotate_deg, self.rotate_deg).to_radians();
        let scale = uniform(rng, self.scale_range.0, self.scale_range.1);
        let t = self.translate_frac * size as f32;
        let (tx, ty) = (uniform(rng, -t, t), uniform(rng, -t, t));
        Affine::about_centre(size, flip, angle, scale, tx, ty)
    }

    /// Draw the photometric change.
    pub fn sample_photometric<R: Rng + ?Sized>(&self, rng: &mut R) -> Photometric {
        Photometric {
            brightness: uniform(rng, -self.brightness, self.brightness),
            contrast: uniform(rng, 1.0 - self.contrast, 1.0 + self.contrast).max(0.0),
            gamma: log_uniform(rng, self.gamma_range.0, self.gamma_range.1),
        }
    }
}

/// Augment one `size` x `size` grey canvas (values in [0, 1], row-major) and its boxes
/// (working pixels). `content` is the letterboxed image rectangle, where photometric
/// changes apply; pass the whole canvas if there is no padding. Returns the new canvas
/// and the boxes that stay visible.
pub fn augment<R: Rng + ?Sized>(
    canvas: &[f32],
    size: u32,
    content: BBox,
    boxes: &[BBox],
    cfg: &AugmentConfig,
    rng: &mut R,
) -> (Vec<f32>, Vec<BBox>) {
    let s = size as usize;
    if canvas.len() != s * s {
        return (canvas.to_vec(), boxes.to_vec());
    }
    // Draw everything first, in a fixed order, so results do not depend on branches taken.
    let photo = cfg.sample_photometric(rng);
    let affine = cfg.sample_affine(size, rng);
    let erase = cfg.erasing.and_then(|e| sample_erasing(&e, size, rng));
    // Drawn last, and only when configured: recipes without it draw what they always did.
    let acquisition = cfg.acquisition.map(|a| a.sample(rng));

    let mut img = canvas.to_vec();
    apply_photometric(&mut img, size, content, &photo);
    if let Some(a) = &acquisition {
        apply_acquisition(&mut img, size, content, a);
    }
    let mut img = warp_affine(&img, size, &affine);
    let boxes = boxes
        .iter()
        .filter_map(|b| affine.map_bbox(b, size as f32, cfg.min_box_visible))
        .collect();
    if let Some((x0, y0, x1, y1, v)) = erase {
        for row in img[y0 * s..y1 * s].chunks_exact_mut(s) {
            row[x0..x1].iter_mut().for_each(|p| *p = v);
        }
    }
    (img, boxes)
}

/// (x0, y0, x1, y1, fill) of an erased rectangle, in whole pixels, or `None`.
fn sample_erasing<R: Rng + ?Sized>(
    e: &ErasingConfig,
    size: u32,
    rng: &mut R,
) -> Option<(usize, usize, usize, usize, f32)> {
    let hit = rng.random::<f32>() < e.prob;
    let area = uniform(rng, e.area_range.0, e.area_range.1) * (size * size) as f32;
    let aspect = log_uniform(rng, e.aspect_range.0, e.aspect_range.1);
    let (fx, fy, fill) = (
        rng.random::<f32>(),
        rng.random::<f32>(),
        rng.random::<f32>(),
    );
    let s = size as usize;
    let w = ((area * aspect).sqrt().round() as usize).clamp(1, s.max(1));
    let h = ((area / aspect).sqrt().round() as usize).clamp(1, s.max(1));
    if !hit || s == 0 {
        return None;
    }
    let x0 = ((s - w) as f32 * fx) as usize;
    let y0 = ((s - h) as f32 * fy) as usize;
    Some((x0, y0, (x0 + w).min(s), (y0 + h).min(s), fill))
}

#[cfg(test)]
mod tests;
