//! PNG and JPEG via the `image` crate: 8- or 16-bit, grey or colour (converted to
//! luminance), alpha dropped.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::radiograph::{Format, Metadata, Photometric, Radiograph};
use crate::read::{ReadOptions, check_pixels};
use crate::{IoError, Result};

/// Rec. 709 luma weights, the same the `image` crate uses for its own grey conversion.
const LUMA: [f64; 3] = [0.2126, 0.7152, 0.0722];

pub(crate) fn read(
    bytes: &[u8],
    name: &Path,
    format: Format,
    options: &ReadOptions,
) -> Result<Radiograph> {
    let (image_format, label) = match format {
        Format::Png => (ImageFormat::Png, "PNG"),
        Format::Jpeg => (ImageFormat::Jpeg, "JPEG"),
        Format::Dicom => {
            return Err(IoError::UnknownFormat {
                path: name.to_path_buf(),
            });
        }
    };
    let corrupt = |e: image::ImageError| IoError::Corrupt {
        path: name.to_path_buf(),
        format: label,
        reason: e.to_string(),
    };

    if format == Format::Jpeg && !jpeg_has_end(bytes) {
        return Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: label,
            reason: "truncated: no end-of-image marker after the last scan".to_string(),
        });
    }

    // Header only: refuse oversize images before the decoder allocates anything. The PNG
    // IHDR is read directly first, so a forged size is refused whatever follows it.
    if let Some((w, h)) = png_ihdr_size(bytes) {
        check_pixels(name, u64::from(w), u64::from(h), options)?;
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), image_format)
        .into_dimensions()
        .map_err(corrupt)?;
    check_pixels(name, u64::from(width), u64::from(height), options)?;

    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // Worst case RGBA16 plus one working copy.
    limits.max_alloc = Some(
        (u64::from(width) * u64::from(height))
            .saturating_mul(16)
            .max(1 << 20),
    );
    reader.limits(limits);
    let image = reader.decode().map_err(corrupt)?;
    to_radiograph(image, name, format)
}

fn to_radiograph(image: DynamicImage, name: &Path, format: Format) -> Result<Radiograph> {
    let (width, height) = (image.width(), image.height());
    // (stored grey per pixel, full scale, bit depth, photometric)
    let (grey, full_scale, bit_depth, photometric): (Vec<f64>, f64, u8, Photometric) = match image {
        DynamicImage::ImageLuma8(b) => (
            b.pixels().map(|p| f64::from(p.0[0])).collect(),
            255.0,
            8,
            Photometric::Monochrome2,
        ),
        DynamicImage::ImageLumaA8(b) => (
            b.pixels().map(|p| f64::from(p.0[0])).collect(),
            255.0,
            8,
            Photometric::Monochrome2,
        ),
        DynamicImage::ImageLuma16(b) => (
            b.pixels().map(|p| f64::from(p.0[0])).collect(),
            65535.0,
            16,
            Photometric::Monochrome2,
        ),
        DynamicImage::ImageLumaA16(b) => (
            b.pixels().map(|p| f64::from(p.0[0])).collect(),
            65535.0,
            16,
            Photometric::Monochrome2,
        ),
        DynamicImage::ImageRgb8(b) => (
            b.pixels().map(|p| luma(p.0.map(f64::from))).collect(),
            255.0,
            8,
            Photometric::Rgb,
        ),
        DynamicImage::ImageRgba8(b) => (
            b.pixels()
                .map(|p| luma([p.0[0], p.0[1], p.0[2]].map(f64::from)))
                .collect(),
            255.0,
            8,
            Photometric::Rgb,
        ),
        DynamicImage::ImageRgb16(b) => (
            b.pixels().map(|p| luma(p.0.map(f64::from))).collect(),
            65535.0,
            16,
            Photometric::Rgb,
        ),
        DynamicImage::ImageRgba16(b) => (
            b.pixels()
                .map(|p| luma([p.0[0], p.0[1], p.0[2]].map(f64::from)))
                .collect(),
            65535.0,
            16,
            Photometric::Rgb,
        ),
        other => {
            return Err(IoError::Unsupported {
                path: name.to_path_buf(),
                what: format!("{format} pixel type {:?}", other.color()),
            });
        }
    };
    let raw_range = grey
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let raw_range = if grey.is_empty() {
        (0.0, 0.0)
    } else {
        raw_range
    };
    let pixels = grey
        .iter()
        .map(|&v| (v / full_scale).clamp(0.0, 1.0) as f32)
        .collect();
    Ok(Radiograph {
        width,
        height,
        pixels,
        meta: Metadata {
            source: name.to_path_buf(),
            format,
            bit_depth,
            photometric,
            window: None,
            pixel_spacing_mm: None,
            body_part: None,
            transfer_syntax: None,
            raw_range,
        },
    })
}

/// Width and height from a PNG's IHDR, which must be the first chunk (PNG spec 5.6).
fn png_ihdr_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |r: std::ops::Range<usize>| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(r)?.try_into().ok()?))
    };
    Some((be(16..20)?, be(20..24)?))
}

/// Whether an end-of-image marker follows the last start-of-scan. The JPEG decoder pads a
/// truncated scan with grey and reports success; a radiograph with its lower half made up
/// must be an error instead. Neither marker can occur inside entropy-coded data (0xFF is
/// stuffed there), and an EXIF thumbnail's own markers come before the main scan.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last = |m: u8| bytes.windows(2).rposition(|w| w == [0xFF, m]);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

/// Luminance of an RGB triple in stored units; exact for grey stored as R = G = B.
fn luma(rgb: [f64; 3]) -> f64 {
    if rgb[0] == rgb[1] && rgb[1] == rgb[2] {
        return rgb[0];
    }
    LUMA[0] * rgb[0] + LUMA[1] * rgb[1] + LUMA[2] * rgb[2]
}
