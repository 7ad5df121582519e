//! Augmentation of an image together with its residual maps.
//!
//! The residual maps are computed once on the un-augmented canvas, so every geometric
//! change must move them exactly as it moves the image: one affine warp (fracdet-io's flip,
//! rotation, scale, shift) is drawn per sample and applied to the image, each residual map
//! and the boxes. Photometric changes (brightness, contrast, gamma) touch the image only:
//! they alter what the inpainter would see a little, but the residual measures structure
//! that the inpainter cannot re-draw, which a global intensity change does not create.
//! Random erasing is refused by the config: it would blank the image but not its maps.

use fracdet_io::BBox;
use fracdet_io::augment::{AugmentConfig, apply_photometric, warp_affine};
use rand::Rng;

/// One sample's canvases after augmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Stacked {
    /// `size * size` grey values in [0, 1].
    pub image: Vec<f32>,
    /// The residual maps, `n * size * size` values, in the input order.
    pub residuals: Vec<f32>,
    /// Boxes that stay visible, canvas pixels.
    pub boxes: Vec<BBox>,
}

/// Augment `image` and its `residuals` (`k * size * size` values, `k >= 0`) with one draw of
/// `cfg` from `rng`; `content` is the letterboxed image rectangle (photometric changes stay
/// inside it, so padding stays black). Inputs of the wrong length come back unchanged.
pub fn augment_stack<R: Rng + ?Sized>(
    image: &[f32],
    residuals: &[f32],
    size: u32,
    content: BBox,
    boxes: &[BBox],
    cfg: &AugmentConfig,
    rng: &mut R,
) -> Stacked {
    let plane = size as usize * size as usize;
    if image.len() != plane || plane == 0 || !residuals.len().is_multiple_of(plane) {
        return Stacked {
            image: image.to_vec(),
            residuals: residuals.to_vec(),
            boxes: boxes.to_vec(),
        };
    }
    // Same draw order as fracdet-io's `augment`: photometric, then affine.
    let photo = cfg.sample_photometric(rng);
    let affine = cfg.sample_affine(size, rng);
    let mut img = image.to_vec();
    apply_photometric(&mut img, size, content, &photo);
    let image = warp_affine(&img, size, &affine);
    let mut warped = Vec::with_capacity(residuals.len());
    for map in residuals.chunks_exact(plane) {
        warped.extend(warp_affine(map, size, &affine));
    }
    let boxes = boxes
        .iter()
        .filter_map(|b| affine.map_bbox(b, size as f32, cfg.min_box_visible))
        .collect();
    Stacked {
        image,
        residuals: warped,
        boxes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn residuals_move_with_the_image_but_keep_their_values() {
        let size = 32u32;
        let s = size as usize;
        // A bright square in the image at the same place as a hot square in the map.
        let mark = |v: f32| {
            (0..s * s)
                .map(|i| {
                    let (x, y) = (i % s, i / s);
                    if (6..12).contains(&x) && (8..14).contains(&y) {
                        v
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<f32>>()
        };
        let image = mark(0.5);
        let residuals = [mark(0.8), mark(0.2)].concat();
        let cfg = AugmentConfig {
            hflip_prob: 1.0,
            rotate_deg: 0.0,
            scale_range: (1.0, 1.0),
            translate_frac: 0.0,
            brightness: 0.3,
            contrast: 0.0,
            gamma_range: (1.0, 1.0),
            ..AugmentConfig::default()
        };
        let content = BBox::new(0.0, 0.0, 32.0, 32.0);
        let b = [BBox::new(6.0, 8.0, 12.0, 14.0)];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let out = augment_stack(&image, &residuals, size, content, &b, &cfg, &mut rng);
        // Flipped: the square now spans x 20..26.
        let at = |v: &[f32], x: usize, y: usize| v[y * s + x];
        assert_eq!(at(&out.residuals, 22, 10), 0.8);
        assert_eq!(at(&out.residuals[s * s..], 22, 10), 0.2);
        assert_eq!(at(&out.residuals, 8, 10), 0.0);
        // The image got the brightness shift as well, the maps did not.
        assert!((at(&out.image, 22, 10) - 0.5).abs() > 1e-3);
        assert!(at(&out.image, 22, 10) > 0.0 && at(&out.image, 8, 10) != 0.5);
        assert_eq!(out.boxes.len(), 1);
        let fb = out.boxes[0];
        assert!((fb.x_min - 20.0).abs() < 1e-4 && (fb.x_max - 26.0).abs() < 1e-4);
        // A wrong length comes back as it was.
        let same = augment_stack(&image, &[0.0; 5], size, content, &b, &cfg, &mut rng);
        assert_eq!(same.image, image);
    }
}
