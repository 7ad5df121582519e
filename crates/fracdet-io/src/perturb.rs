//! Fixed, deterministic changes of the kind that differ between hospitals — display curve,
//! noise, blur, resolution, JPEG re-compression, borders with burned-in text, an inverted
//! rendering, tighter crops and small rotations — applied to a whole radiograph at its
//! original size. `fracdet evaluate --perturb` scores validation under each and reports
//! the AUROC drop with a paired CI: how far the model's ranking survives another site's
//! acquisition. (Training-time augmentation is `crate::augment`; these are its test.)

use image::imageops::FilterType;
use image::{ImageBuffer, Luma};
use serde::Serialize;

use crate::Radiograph;

/// One perturbation and its strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Perturbation {
    /// Display curve v ↦ v^gamma.
    Gamma { gamma: f32 },
    /// Additive Gaussian noise of this standard deviation (values in [0, 1]).
    Noise { sigma: f32 },
    /// Gaussian blur, sigma as a fraction of the long side.
    Blur { sigma_fraction: f32 },
    /// Down-sampled by this factor and back (detail lost, size kept).
    Downsample { factor: f32 },
    /// Re-encoded as 8-bit JPEG at this quality.
    Jpeg { quality: u8 },
    /// A black frame of this fraction of each side, with a white text-like block in a
    /// corner (burned-in annotations).
    BorderAndText { fraction: f32 },
    /// Inverted grey levels (a MONOCHROME1 image rendered without its inversion).
    Invert,
    /// The central share of each side kept.
    Crop { keep: f32 },
    /// Rotated about the centre, degrees.
    Rotate { degrees: f32 },
}

impl Perturbation {
    /// The table `evaluate --perturb` runs: each at a strength another site plausibly shows.
    pub const STANDARD: [Perturbation; 11] = [
        Perturbation::Gamma { gamma: 0.7 },
        Perturbation::Gamma { gamma: 1.4 },
        Perturbation::Noise { sigma: 0.03 },
        Perturbation::Blur {
            sigma_fraction: 0.002,
        },
        Perturbation::Downsample { factor: 0.5 },
        Perturbation::Jpeg { quality: 40 },
        Perturbation::BorderAndText { fraction: 0.06 },
        Perturbation::Invert,
        Perturbation::Crop { keep: 0.85 },
        Perturbation::Rotate { degrees: 10.0 },
        Perturbation::Rotate { degrees: -10.0 },
    ];

    /// Short name for tables, e.g. `gamma 0.7`.
    pub fn name(&self) -> String {
        match self {
            Self::Gamma { gamma } => format!("gamma {gamma}"),
            Self::Noise { sigma } => format!("noise sigma {sigma}"),
            Self::Blur { sigma_fraction } => format!("blur sigma {sigma_fraction} x side"),
            Self::Downsample { factor } => format!("down-sampled x{factor}"),
            Self::Jpeg { quality } => format!("JPEG quality {quality}"),
            Self::BorderAndText { fraction } => format!("border {fraction} + text"),
            Self::Invert => "inverted".to_string(),
            Self::Crop { keep } => format!("crop to {keep}"),
            Self::Rotate { degrees } => format!("rotated {degrees} deg"),
        }
    }

    /// `image` perturbed; `seed` makes the noise repeatable per image.
    pub fn apply(&self, image: &Radiograph, seed: u64) -> Radiograph {
        let (w, h) = (image.width, image.height);
        let mut out = image.clone();
        match *self {
            Self::Gamma { gamma } => out.pixels.iter_mut().for_each(|v| *v = v.powf(gamma)),
            Self::Noise { sigma } => {
                let mut rng = SplitMix(seed ^ 0xA076_1D64_78BD_642F);
                for v in &mut out.pixels {
                    *v = (*v + sigma * rng.normal()).clamp(0.0, 1.0);
                }
            }
            Self::Blur { sigma_fraction } => {
                let sigma = sigma_fraction * w.max(h) as f32;
                out.pixels = image::imageops::blur(&buffer(image), sigma.max(0.1)).into_raw();
            }
            Self::Downsample { factor } => {
                let sw = ((w as f32 * factor).round() as u32).max(1);
                let sh = ((h as f32 * factor).round() as u32).max(1);
                let small = image::imageops::resize(&buffer(image), sw, sh, FilterType::Triangle);
                out.pixels = image::imageops::resize(&small, w, h, FilterType::Triangle).into_raw();
            }
            Self::Jpeg { quality } => out.pixels = jpeg_round_trip(image, quality),
            Self::BorderAndText { fraction } => border_and_text(&mut out, fraction),
            Self::Invert => out.pixels.iter_mut().for_each(|v| *v = 1.0 - *v),
            Self::Crop { keep } => {
                let cw = ((w as f32 * keep).round() as u32).clamp(1, w);
                let ch = ((h as f32 * keep).round() as u32).clamp(1, h);
                let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
                out.width = cw;
                out.height = ch;
                out.pixels = (y0..y0 + ch)
                    .flat_map(|y| (x0..x0 + cw).map(move |x| (x, y)))
                    .map(|(x, y)| image.get(x, y))
                    .collect();
            }
            Self::Rotate { degrees } => out.pixels = rotate(image, degrees),
        }
        out
    }
}

fn buffer(image: &Radiograph) -> ImageBuffer<Luma<f32>, Vec<f32>> {
    ImageBuffer::from_raw(image.width, image.height, image.pixels.clone())
        .unwrap_or_else(|| ImageBuffer::new(image.width, image.height))
}

fn jpeg_round_trip(image: &Radiograph, quality: u8) -> Vec<f32> {
    let grey: Vec<u8> = image
        .pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let mut bytes = Vec::new();
    let encoded = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality).encode(
        &grey,
        image.width,
        image.height,
        image::ExtendedColorType::L8,
    );
    let decoded = encoded
        .ok()
        .and_then(|()| image::load_from_memory(&bytes).ok())
        .map(|d| d.to_luma8());
    match decoded {
        Some(g) if g.dimensions() == (image.width, image.height) => g
            .into_raw()
            .into_iter()
            .map(|v| f32::from(v) / 255.0)
            .collect(),
        // The encoder takes any 8-bit grey image up to 65535 a side; keep the image as is
        // rather than fail an evaluation on one that is larger.
        _ => image.pixels.clone(),
    }
}

fn border_and_text(out: &mut Radiograph, fraction: f32) {
    let (w, h) = (out.width as usize, out.height as usize);
    let bx = ((w as f32 * fraction) as usize).max(1);
    let by = ((h as f32 * fraction) as usize).max(1);
    for y in 0..h {
        for x in 0..w {
            if x < bx || y < by || x >= w - bx.min(w) || y >= h - by.min(h) {
                out.pixels[y * w + x] = 0.0;
            }
        }
    }
    // A block of white "letters" in the top-left corner, inside the frame.
    let (tw, th) = (w / 4, h / 20);
    for y in by..(by + th).min(h) {
        for x in bx..(bx + tw).min(w) {
            let stroke = !(x / 3).is_multiple_of(3) && ((y - by) * 5 / th.max(1)).is_multiple_of(2);
            if stroke {
                out.pixels[y * w + x] = 1.0;
            }
        }
    }
}

/// Bilinear rotation about the centre; outside the source is black.
fn rotate(image: &Radiograph, degrees: f32) -> Vec<f32> {
    let (w, h) = (image.width as f32, image.height as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
    let mut out = Vec::with_capacity(image.pixels.len());
    for y in 0..image.height {
        for x in 0..image.width {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let (sx, sy) = (c * dx + s * dy + cx, -s * dx + c * dy + cy);
            out.push(bilinear(image, sx, sy));
        }
    }
    out
}

fn bilinear(image: &Radiograph, x: f32, y: f32) -> f32 {
    let (w, h) = (image.width as f32, image.height as f32);
    if x < 0.0 || y < 0.0 || x > w - 1.0 || y > h - 1.0 {
        return 0.0;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = (
        (x0 + 1).min(image.width - 1),
        (y0 + 1).min(image.height - 1),
    );
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = image.get(x0, y0) * (1.0 - fx) + image.get(x1, y0) * fx;
    let bottom = image.get(x0, y1) * (1.0 - fx) + image.get(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// A small deterministic generator (SplitMix64) with Box–Muller normals.
struct SplitMix(u64);

impl SplitMix {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn normal(&mut self) -> f32 {
        let (u, v) = (self.next_f32(), self.next_f32());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;

    fn image(w: u32, h: u32) -> Radiograph {
        Radiograph {
            width: w,
            height: h,
            pixels: (0..w * h)
                .map(|i| ((i % w) as f32 / w as f32) * 0.5 + ((i / w) % 7) as f32 * 0.05)
                .collect(),
            meta: Metadata::in_memory("t"),
        }
    }

    #[test]
    fn every_standard_perturbation_changes_the_image_and_stays_in_range() {
        let src = image(120, 90);
        for p in Perturbation::STANDARD {
            let out = p.apply(&src, 7);
            assert_eq!(
                out.pixels.len(),
                (out.width * out.height) as usize,
                "{}",
                p.name()
            );
            assert!(
                out.pixels.iter().all(|v| (0.0..=1.0).contains(v)),
                "{}",
                p.name()
            );
            let same_size = (out.width, out.height) == (src.width, src.height);
            assert!(
                !same_size || out.pixels != src.pixels,
                "{} changed nothing",
                p.name()
            );
            // Deterministic for a seed.
            assert_eq!(p.apply(&src, 7).pixels, out.pixels, "{}", p.name());
        }
    }

    #[test]
    fn the_simple_ones_do_what_they_say() {
        let src = image(40, 30);
        let inv = Perturbation::Invert.apply(&src, 0);
        assert!((inv.get(3, 4) - (1.0 - src.get(3, 4))).abs() < 1e-6);
        let g = Perturbation::Gamma { gamma: 2.0 }.apply(&src, 0);
        assert!((g.get(10, 2) - src.get(10, 2).powi(2)).abs() < 1e-6);
        let c = Perturbation::Crop { keep: 0.5 }.apply(&src, 0);
        assert_eq!((c.width, c.height), (20, 15));
        assert_eq!(c.get(0, 0), src.get(10, 7));
        let r = Perturbation::Rotate { degrees: 0.0 }.apply(&src, 0);
        assert!(
            r.pixels
                .iter()
                .zip(&src.pixels)
                .all(|(a, b)| (a - b).abs() < 1e-5)
        );
        let b = Perturbation::BorderAndText { fraction: 0.1 }.apply(&src, 0);
        assert_eq!(b.get(0, 0), 0.0);
        assert_eq!(b.get(39, 29), 0.0);
    }
}
