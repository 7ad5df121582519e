//! PNG and JPEG via the `image` crate: 8- or 16-bit, grey or colour (converted to
//! luminance), alpha dropped.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::dicom::jpeg_frame_header;
use super::jpeg_scan;
use super::png_scan::{self, PngProblem};
use crate::radiograph::{Format, Metadata, Photometric, Radiograph};
use crate::read::{ReadOptions, check_decoded, check_pixels};
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
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => IoError::OverBudget {
            path: name.to_path_buf(),
            what: format!("decoding this {label} image ({e})"),
            limit: options.max_decoded_bytes,
            option: "max_decoded_bytes",
        },
        e => IoError::Corrupt {
            path: name.to_path_buf(),
            format: label,
            reason: e.to_string(),
        },
    };

    // Header only: refuse oversize images before anything allocates for pixels. The PNG
    // IHDR and the JPEG frame header are read directly first, so a forged size is refused
    // whatever follows it (the JPEG walk below allocates per block).
    let declared = match format {
        Format::Png => png_ihdr_size(bytes),
        _ => jpeg_frame_header(bytes).map(|f| (u32::from(f.width), u32::from(f.height))),
    };
    if let Some((w, h)) = declared {
        check_pixels(name, u64::from(w), u64::from(h), options)?;
    }
    // Then prove the file holds what it declares: the decoders make up missing data.
    let incomplete = |reason: String| IoError::Corrupt {
        path: name.to_path_buf(),
        format: label,
        reason,
    };
    match format {
        Format::Png => png_scan::check(bytes, options.max_metadata_bytes).map_err(|p| match p {
            PngProblem::MetadataTooLarge(kind) => IoError::OverBudget {
                path: name.to_path_buf(),
                what: format!("a compressed {kind} chunk inflates past the limit"),
                limit: options.max_metadata_bytes,
                option: "max_metadata_bytes",
            },
            PngProblem::Corrupt(reason) => incomplete(reason),
        })?,
        _ => jpeg_scan::check_complete(bytes).map_err(incomplete)?,
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = Limits::default();
    // Bounds every allocation of the decoder, not only the output buffer.
    limits.max_alloc = Some(options.max_decoded_bytes);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_pixels(name, u64::from(width), u64::from(height), options)?;
    check_decoded(
        name,
        || format!("a {width}x{height} {label} image"),
        decoder.total_bytes(),
        options,
    )?;
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    to_radiograph(image, name, format)
}

fn to_radiograph(image: DynamicImage, name: &Path, format: Format) -> Result<Radiograph> {
    let (width, height) = (image.width(), image.height());
    let chroma = chroma(&image);
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
            modality: None,
            chroma,
        },
    })
}

/// [`Metadata::chroma`](crate::Metadata::chroma) of a colour image; `None` for grey ones.
fn chroma(image: &DynamicImage) -> Option<f32> {
    fn spread<T: Copy + Into<f64>>(pixels: impl Iterator<Item = [T; 3]>, full: f64) -> f32 {
        let (mut sum, mut n) = (0.0f64, 0u64);
        for [r, g, b] in pixels {
            let (r, g, b) = (r.into(), g.into(), b.into());
            sum += r.max(g).max(b) - r.min(g).min(b);
            n += 1;
        }
        if n == 0 {
            0.0
        } else {
            (sum / n as f64 / full) as f32
        }
    }
    Some(match image {
        DynamicImage::ImageRgb8(b) => spread(b.pixels().map(|p| p.0), 255.0),
        DynamicImage::ImageRgba8(b) => spread(b.pixels().map(|p| [p.0[0], p.0[1], p.0[2]]), 255.0),
        DynamicImage::ImageRgb16(b) => spread(b.pixels().map(|p| p.0), 65535.0),
        DynamicImage::ImageRgba16(b) => {
            spread(b.pixels().map(|p| [p.0[0], p.0[1], p.0[2]]), 65535.0)
        }
        _ => return None,
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

/// Luminance of an RGB triple in stored units; exact for grey stored as R = G = B.
fn luma(rgb: [f64; 3]) -> f64 {
    if rgb[0] == rgb[1] && rgb[1] == rgb[2] {
        return rgb[0];
    }
    LUMA[0] * rgb[0] + LUMA[1] * rgb[1] + LUMA[2] * rgb[2]
}
