//! The one in-memory radiograph type every reader produces.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A radiograph as the rest of fracdet sees it: grey, f32 in [0, 1], bone bright,
/// at the file's original size, row-major.
#[derive(Debug, Clone)]
pub struct Radiograph {
    pub width: u32,
    pub height: u32,
    /// `width * height` values in [0, 1], row-major.
    pub pixels: Vec<f32>,
    pub meta: Metadata,
}

/// What the reader saw in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub source: PathBuf,
    pub format: Format,
    /// Bits per sample as stored (8 or 16 for PNG/JPEG, BitsStored for DICOM).
    pub bit_depth: u8,
    pub photometric: Photometric,
    /// The intensity window applied (DICOM only; `None` for PNG/JPEG).
    pub window: Option<Window>,
    /// (row, column) spacing in millimetres, when the file says.
    pub pixel_spacing_mm: Option<(f64, f64)>,
    /// DICOM Body Part Examined, when present.
    pub body_part: Option<String>,
    /// DICOM transfer syntax UID, when DICOM.
    pub transfer_syntax: Option<String>,
    /// Minimum and maximum of the stored values after the modality LUT, before windowing.
    pub raw_range: (f64, f64),
    /// DICOM Modality (0008,0060), e.g. "CR", "DX", "CT", when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// How coloured a PNG/JPEG stored in colour was: the mean over pixels of
    /// (max − min of R, G, B) on a 0–1 scale, before the conversion to grey. About 0 for a
    /// radiograph saved as RGB, well above for a photograph; `None` when stored grey (and
    /// for DICOM, which says what it is in its modality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chroma: Option<f32>,
}

impl Metadata {
    /// What a grey 8-bit image made in memory (not read from a file) carries: no window,
    /// spacing or DICOM attributes.
    pub fn in_memory(source: &str) -> Self {
        Self {
            source: source.into(),
            format: Format::Png,
            bit_depth: 8,
            photometric: Photometric::Monochrome2,
            window: None,
            pixel_spacing_mm: None,
            body_part: None,
            transfer_syntax: None,
            raw_range: (0.0, 1.0),
            modality: None,
            chroma: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Png,
    Jpeg,
    Dicom,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Dicom => "DICOM",
        })
    }
}

/// How stored values relate to brightness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Photometric {
    /// Low values dark (the usual; also PNG/JPEG grey).
    Monochrome2,
    /// Low values bright; fracdet inverts it so bone is bright.
    Monochrome1,
    /// Colour stored; converted to luminance.
    Rgb,
}

/// A linear VOI window (DICOM PS3.3 C.11.2.1.2), in modality units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

impl Radiograph {
    pub fn get(&self, x: u32, y: u32) -> f32 {
        self.pixels[(y as usize) * (self.width as usize) + x as usize]
    }

    /// Minimum and maximum pixel value (0, 0 for an empty image).
    pub fn value_range(&self) -> (f32, f32) {
        let mut lo = f32::INFINITY;
        let mut hi = f32::NEG_INFINITY;
        for &v in &self.pixels {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// Write as an 8-bit grey PNG (value * 255, rounded), whatever the file extension:
    /// for previews and debugging, not for round trips (16-bit data loses precision).
    pub fn write_png(&self, path: &Path) -> crate::Result<()> {
        let expected = (self.width as usize) * (self.height as usize);
        if self.pixels.len() != expected {
            return Err(crate::IoError::InvalidArgument(format!(
                "{}x{} image holds {} values",
                self.width,
                self.height,
                self.pixels.len()
            )));
        }
        let bytes: Vec<u8> = self
            .pixels
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        image::save_buffer_with_format(
            path,
            &bytes,
            self.width,
            self.height,
            image::ExtendedColorType::L8,
            image::ImageFormat::Png,
        )
        .map_err(|e| {
            let source = match e {
                image::ImageError::IoError(io) => io,
                other => std::io::Error::other(other),
            };
            crate::IoError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}
