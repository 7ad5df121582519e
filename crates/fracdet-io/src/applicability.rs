//! Is this image a projection radiograph at all? Model-free checks made before any model
//! sees it, so that a photograph, a document scan, a blank or saturated frame, noise, or a
//! CT/MR/US slice gets "not assessed" with a reason instead of a fracture probability.
//!
//! Why here and model-free: these answers do not depend on which model runs, cost a few
//! milliseconds on a 256-px thumbnail, and must hold for every model kind. Whether an image
//! is *typical of a model's training data* (region, density on the model's own features)
//! is a separate, per-model question that belongs with the model.
//!
//! The thresholds sit well outside what FracAtlas's train and val images show (see
//! [`Thresholds::default`] for the measured margins), so a real radiograph is not refused
//! for being unusual, only for being something else.

use serde::Serialize;

use crate::Radiograph;

/// Why an image is not assessed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotAssessed {
    /// A DICOM whose modality is not projection radiography (CT, MR, US, …).
    Modality { modality: String },
    /// Stored in colour with colour in it: a photograph or a screenshot, not a radiograph.
    Colour { chroma: f32 },
    /// (Nearly) one flat value: nothing to read.
    Blank { std: f32 },
    /// Mostly clipped to white or black.
    Saturated { clipped_fraction: f32 },
    /// Mostly white with dark marks: a document or a scan of one.
    Document { white_fraction: f32 },
    /// No spatial structure (neighbouring pixels unrelated: noise) or no edges at all (a
    /// smooth gradient).
    NoStructure {
        neighbour_correlation: f32,
        edge_ratio: f32,
    },
    /// A radiograph, but unlike the images the model was trained on: its features' density
    /// score is beyond the threshold set on validation (the model's own check, made after
    /// the forward pass; see fracdet-detect's `typicality`).
    Atypical { score: f32, threshold: f32 },
    /// A radiograph typical enough overall, but of no body region the model was trained on:
    /// its region probe's entropy is beyond the threshold set on validation.
    UnknownRegion { entropy: f32, limit: f32 },
}

impl NotAssessed {
    /// One line for tables and logs (no patient data: only measured numbers).
    pub fn describe(&self) -> String {
        match self {
            Self::Modality { modality } => {
                format!("modality {modality} is not projection radiography")
            }
            Self::Colour { chroma } => {
                format!("a colour image (chroma {chroma:.3}), not a radiograph")
            }
            Self::Blank { std } => format!("blank image (contrast {std:.4})"),
            Self::Saturated { clipped_fraction } => format!(
                "{:.0} % of the image is clipped to white or black",
                clipped_fraction * 100.0
            ),
            Self::Document { white_fraction } => format!(
                "looks like a document ({:.0} % white)",
                white_fraction * 100.0
            ),
            Self::NoStructure {
                neighbour_correlation,
                edge_ratio,
            } => format!(
                "no anatomy-like structure (neighbour correlation {neighbour_correlation:.2}, \
                 edge ratio {edge_ratio:.3})"
            ),
            Self::Atypical { score, threshold } => format!(
                "unlike the model's training images (typicality {score:.2} > {threshold:.2}, \
                 the limit set on validation)"
            ),
            Self::UnknownRegion { entropy, limit } => format!(
                "a body region the model was not trained on (region uncertainty {entropy:.2} > \
                 {limit:.2}, the limit set on validation)"
            ),
        }
    }
}

/// DICOM modalities that are projection radiographs (PS3.3 C.7.3.1.1.1): computed and
/// digital radiography, radiofluoroscopy, digital X-ray, and the old "RG"/"PX" codes.
pub const RADIOGRAPHY_MODALITIES: &[&str] = &["CR", "DX", "RF", "RG", "PX", "DR"];

/// Image statistics the checks use, on a thumbnail of at most [`THUMBNAIL`] px a side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ImageStats {
    pub std: f32,
    /// Share of thumbnail pixels ≥ 0.98 or ≤ 0.02.
    pub clipped_fraction: f32,
    /// Share of thumbnail pixels ≥ 0.9.
    pub white_fraction: f32,
    /// Pearson correlation of horizontally and vertically adjacent thumbnail pixels.
    pub neighbour_correlation: f32,
    /// Mean absolute Laplacian over the standard deviation: 0 for a linear gradient.
    pub edge_ratio: f32,
}

/// Longest thumbnail side the statistics are taken on.
pub const THUMBNAIL: u32 = 256;

/// Where each check draws its line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub max_chroma: f32,
    pub min_std: f32,
    pub max_clipped_fraction: f32,
    pub max_white_fraction: f32,
    pub min_neighbour_correlation: f32,
    pub min_edge_ratio: f32,
}

impl Default for Thresholds {
    /// Measured on all 3,198 FracAtlas images (train + val) with the `applicability_stats`
    /// example, each line beyond every one of them: chroma 0 (all stored grey); contrast
    /// (std) ≥ 0.049; clipped share ≤ 0.80 (black borders); white share ≤ 0.21;
    /// neighbour correlation ≥ 0.75; edge ratio ≥ 0.031. None is refused.
    fn default() -> Self {
        Self {
            max_chroma: 0.06,
            min_std: 0.02,
            max_clipped_fraction: 0.95,
            max_white_fraction: 0.6,
            min_neighbour_correlation: 0.5,
            min_edge_ratio: 0.015,
        }
    }
}

/// Statistics of `image` (see [`ImageStats`]).
pub fn image_stats(image: &Radiograph) -> ImageStats {
    let (w, h, t) = thumbnail(image);
    let n = t.len().max(1) as f64;
    let mean = t.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = t
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    let clipped = t.iter().filter(|&&v| !(0.02..0.98).contains(&v)).count() as f64 / n;
    let white = t.iter().filter(|&&v| v >= 0.9).count() as f64 / n;
    // Adjacent pairs, both directions: covariance over the variance.
    let (mut cov, mut pairs) = (0.0f64, 0u64);
    let mut laplacian = (0.0f64, 0u64);
    let at = |x: usize, y: usize| f64::from(t[y * w + x]) - mean;
    for y in 0..h {
        for x in 0..w {
            if x + 1 < w {
                cov += at(x, y) * at(x + 1, y);
                pairs += 1;
            }
            if y + 1 < h {
                cov += at(x, y) * at(x, y + 1);
                pairs += 1;
            }
            if x > 0 && y > 0 && x + 1 < w && y + 1 < h {
                let l = 4.0 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
                laplacian.0 += l.abs();
                laplacian.1 += 1;
            }
        }
    }
    let correlation = if var > 0.0 && pairs > 0 {
        cov / pairs as f64 / var
    } else {
        1.0
    };
    let edge = if std > 0.0 && laplacian.1 > 0 {
        laplacian.0 / laplacian.1 as f64 / std
    } else {
        0.0
    };
    ImageStats {
        std: std as f32,
        clipped_fraction: clipped as f32,
        white_fraction: white as f32,
        neighbour_correlation: correlation as f32,
        edge_ratio: edge as f32,
    }
}

/// `Ok` when `image` may be a projection radiograph; otherwise the first reason it is not.
pub fn check(image: &Radiograph, limits: &Thresholds) -> Result<ImageStats, NotAssessed> {
    if let Some(m) = &image.meta.modality {
        let m = m.trim().to_ascii_uppercase();
        if !RADIOGRAPHY_MODALITIES.contains(&m.as_str()) {
            return Err(NotAssessed::Modality { modality: m });
        }
    }
    if let Some(chroma) = image.meta.chroma
        && chroma > limits.max_chroma
    {
        return Err(NotAssessed::Colour { chroma });
    }
    let s = image_stats(image);
    if s.std < limits.min_std {
        return Err(NotAssessed::Blank { std: s.std });
    }
    if s.clipped_fraction > limits.max_clipped_fraction {
        return Err(NotAssessed::Saturated {
            clipped_fraction: s.clipped_fraction,
        });
    }
    if s.white_fraction > limits.max_white_fraction {
        return Err(NotAssessed::Document {
            white_fraction: s.white_fraction,
        });
    }
    if s.neighbour_correlation < limits.min_neighbour_correlation
        || s.edge_ratio < limits.min_edge_ratio
    {
        return Err(NotAssessed::NoStructure {
            neighbour_correlation: s.neighbour_correlation,
            edge_ratio: s.edge_ratio,
        });
    }
    Ok(s)
}

/// Box-averaged thumbnail, longest side at most [`THUMBNAIL`]: (width, height, values).
fn thumbnail(image: &Radiograph) -> (usize, usize, Vec<f32>) {
    let (w, h) = (image.width as usize, image.height as usize);
    if w == 0 || h == 0 || image.pixels.len() != w * h {
        return (0, 0, Vec::new());
    }
    let step = w.max(h).div_ceil(THUMBNAIL as usize).max(1);
    let (tw, th) = (w.div_ceil(step), h.div_ceil(step));
    let mut out = Vec::with_capacity(tw * th);
    for ty in 0..th {
        for tx in 0..tw {
            let (mut sum, mut n) = (0.0f32, 0u32);
            for y in ty * step..((ty + 1) * step).min(h) {
                let row = &image.pixels[y * w..(y + 1) * w];
                for &v in &row[tx * step..((tx + 1) * step).min(w)] {
                    sum += v;
                    n += 1;
                }
            }
            out.push(sum / n.max(1) as f32);
        }
    }
    (tw, th, out)
}
