//! Training-time versions of what differs between hospitals' acquisitions: sensor noise,
//! blur, JPEG re-compression and inverted rendering, drawn per sample and applied inside the letterboxed
//! content (padding stays black, as at inference). Off unless asked for
//! ([`super::AugmentConfig::acquisition`]), so existing recipes draw the same numbers.
//!
//! The pixel work is [`crate::perturb`]'s, the evaluation-time table: one implementation
//! of each change, trained on here and measured there.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::uniform;
use crate::perturb::Perturbation;
use crate::{BBox, Metadata, Radiograph};

/// How often, and how strongly, each change is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AcquisitionConfig {
    pub noise_prob: f32,
    /// Noise sigma drawn uniformly from [0, `noise_sigma_max`] (values in [0, 1]).
    pub noise_sigma_max: f32,
    pub blur_prob: f32,
    /// Blur sigma drawn uniformly up to this, in canvas pixels.
    pub blur_sigma_max_px: f32,
    pub jpeg_prob: f32,
    /// JPEG quality drawn uniformly from this range.
    pub jpeg_quality: (u8, u8),
    /// Inverted grey levels (a MONOCHROME1 image exported without its inversion). Absent
    /// from older configs, which read as 0 and draw exactly the numbers they drew before.
    #[serde(default)]
    pub invert_prob: f32,
}

impl Default for AcquisitionConfig {
    /// Past the strengths of `fracdet evaluate --perturb` (noise sigma 0.03, JPEG 40), so
    /// the model sees them in training.
    fn default() -> Self {
        Self {
            noise_prob: 0.5,
            noise_sigma_max: 0.05,
            blur_prob: 0.3,
            blur_sigma_max_px: 1.5,
            jpeg_prob: 0.3,
            jpeg_quality: (30, 90),
            invert_prob: 0.2,
        }
    }
}

/// The changes drawn for one sample, in the order they apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Acquisition {
    pub steps: Vec<Perturbation>,
    pub seed: u64,
}

impl AcquisitionConfig {
    /// Draws a fixed number of values whatever is chosen, so later draws do not shift.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Acquisition {
        let (n, sigma) = (rng.random::<f32>(), uniform(rng, 0.0, self.noise_sigma_max));
        let (b, blur) = (
            rng.random::<f32>(),
            uniform(rng, 0.1, self.blur_sigma_max_px),
        );
        let (j, q) = (
            rng.random::<f32>(),
            uniform(
                rng,
                f32::from(self.jpeg_quality.0),
                f32::from(self.jpeg_quality.1),
            ),
        );
        let seed = rng.random::<u64>();
        // Drawn only when asked for, so that older recipes' streams stay as they were.
        let invert = self.invert_prob > 0.0 && rng.random::<f32>() < self.invert_prob;
        let mut steps = Vec::new();
        // The rendering first: every later change acts on what the file would hold.
        if invert {
            steps.push(Perturbation::Invert);
        }
        // Blur before noise (optics, then the detector), JPEG last (the archive).
        if b < self.blur_prob {
            steps.push(Perturbation::Blur {
                sigma_fraction: blur,
            });
        }
        if n < self.noise_prob {
            steps.push(Perturbation::Noise { sigma });
        }
        if j < self.jpeg_prob {
            steps.push(Perturbation::Jpeg {
                quality: q.round().clamp(1.0, 100.0) as u8,
            });
        }
        Acquisition { steps, seed }
    }
}

/// Applies `a` to the `content` rectangle of a `size` canvas. A blur's `sigma_fraction`
/// holds canvas pixels here and is turned into the fraction `Perturbation` expects.
pub fn apply_acquisition(canvas: &mut [f32], size: u32, content: BBox, a: &Acquisition) {
    let s = size as usize;
    if a.steps.is_empty() || canvas.len() != s * s {
        return;
    }
    let x0 = (content.x_min.max(0.0).round() as usize).min(s);
    let x1 = (content.x_max.max(0.0).round() as usize).min(s);
    let y0 = (content.y_min.max(0.0).round() as usize).min(s);
    let y1 = (content.y_max.max(0.0).round() as usize).min(s);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut crop = Radiograph {
        width: w as u32,
        height: h as u32,
        pixels: (y0..y1)
            .flat_map(|y| canvas[y * s + x0..y * s + x1].iter().copied())
            .collect(),
        meta: Metadata::in_memory("augment"),
    };
    for step in &a.steps {
        let step = match *step {
            Perturbation::Blur { sigma_fraction } => Perturbation::Blur {
                sigma_fraction: sigma_fraction / w.max(h) as f32,
            },
            other => other,
        };
        crop = step.apply(&crop, a.seed);
    }
    for (row, y) in (y0..y1).enumerate() {
        canvas[y * s + x0..y * s + x1].copy_from_slice(&crop.pixels[row * w..(row + 1) * w]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn changes_only_the_content_and_repeats_for_a_seed() {
        let size = 64u32;
        let canvas: Vec<f32> = (0..64 * 64)
            .map(|i| {
                if (8..56).contains(&(i / 64)) {
                    0.5 + ((i % 7) as f32) * 0.03
                } else {
                    0.0
                }
            })
            .collect();
        let content = BBox {
            x_min: 0.0,
            y_min: 8.0,
            x_max: 64.0,
            y_max: 56.0,
        };
        let cfg = AcquisitionConfig {
            noise_prob: 1.0,
            blur_prob: 1.0,
            jpeg_prob: 1.0,
            invert_prob: 0.0,
            ..AcquisitionConfig::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = cfg.sample(&mut rng);
        assert_eq!(a.steps.len(), 3);
        let mut out = canvas.clone();
        apply_acquisition(&mut out, size, content, &a);
        assert!(
            out[..8 * 64].iter().all(|&v| v == 0.0),
            "padding stays black"
        );
        assert!(
            out[56 * 64..].iter().all(|&v| v == 0.0),
            "padding stays black"
        );
        assert_ne!(out[8 * 64..56 * 64], canvas[8 * 64..56 * 64]);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        let mut again = canvas.clone();
        apply_acquisition(&mut again, size, content, &a);
        assert_eq!(again, out);
        // Nothing drawn: nothing changes.
        let off = AcquisitionConfig {
            noise_prob: 0.0,
            blur_prob: 0.0,
            jpeg_prob: 0.0,
            ..cfg
        };
        let none = off.sample(&mut rng);
        let mut same = canvas.clone();
        apply_acquisition(&mut same, size, content, &none);
        assert_eq!(same, canvas);
    }

    #[test]
    fn inversion_is_drawn_first_and_older_configs_draw_as_before() {
        let mut cfg = AcquisitionConfig::default();
        assert!(cfg.invert_prob > 0.0);
        cfg.invert_prob = 1.0;
        let a = cfg.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5));
        assert_eq!(a.steps.first(), Some(&Perturbation::Invert));

        // A config saved before inversion existed reads with it off, and its stream of
        // draws (what a resumed run replays) is the one it had: seven numbers per sample.
        let mut json = serde_json::to_value(AcquisitionConfig::default()).unwrap();
        json.as_object_mut().unwrap().remove("invert_prob");
        let old: AcquisitionConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old.invert_prob, 0.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let drawn = old.sample(&mut rng);
        assert!(!drawn.steps.contains(&Perturbation::Invert));
        let mut reference = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..6 {
            let _: f32 = reference.random();
        }
        let _: u64 = reference.random();
        assert_eq!(rng.random::<u64>(), reference.random::<u64>());
    }
}
