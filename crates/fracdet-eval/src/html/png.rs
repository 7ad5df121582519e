//! PNG thumbnails for the report: 8-bit grey or RGB pixels encoded by the `image` crate's
//! PNG encoder (deflate-compressed, so inlined thumbnails stay small).

use image::ImageEncoder;
use image::codecs::png::PngEncoder;

use crate::error::{EvalError, Result};

/// Pixel layout of [`encode_png`]'s input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PngColor {
    /// One byte per pixel.
    Grey,
    /// Three bytes per pixel, R G B.
    Rgb,
}

impl PngColor {
    fn channels(self) -> usize {
        match self {
            PngColor::Grey => 1,
            PngColor::Rgb => 3,
        }
    }
    fn image_type(self) -> image::ExtendedColorType {
        match self {
            PngColor::Grey => image::ExtendedColorType::L8,
            PngColor::Rgb => image::ExtendedColorType::Rgb8,
        }
    }
}

/// Encodes `pixels` (row-major, `width * height * channels` bytes) as a PNG file.
pub fn encode_png(width: u32, height: u32, color: PngColor, pixels: &[u8]) -> Result<Vec<u8>> {
    let row = width as usize * color.channels();
    // Checked here because the encoder panics on a buffer of the wrong length.
    if width == 0 || height == 0 || pixels.len() != row * height as usize {
        return Err(EvalError::InvalidParameter(format!(
            "PNG of {width}x{height} needs {} bytes, got {}",
            row * height as usize,
            pixels.len()
        )));
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(pixels, width, height, color.image_type())
        .map_err(|e| EvalError::InvalidParameter(format!("PNG of {width}x{height}: {e}")))?;
    Ok(png)
}

/// Grey canvas (`side * side` values in [0, 1]) to a grey PNG; out-of-range values clamp.
pub fn grey_canvas_png(canvas: &[f32], width: u32, height: u32) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = canvas
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    encode_png(width, height, PngColor::Grey, &bytes)
}

/// Grey canvas blended with a heatmap (same size, values in [0, 1]) in a blue-to-red ramp;
/// `alpha` is the heatmap's weight where it is 1.
pub fn heatmap_overlay_png(
    canvas: &[f32],
    heat: &[f32],
    width: u32,
    height: u32,
    alpha: f32,
) -> Result<Vec<u8>> {
    let rgb = overlay_rgb(canvas, Some(heat), alpha)?;
    encode_png(width, height, PngColor::Rgb, &rgb)
}

/// RGB bytes of a grey canvas (values in [0, 1]), optionally blended with a heatmap of
/// the same size in a blue-to-red ramp weighted `alpha * heat`.
pub fn overlay_rgb(canvas: &[f32], heat: Option<&[f32]>, alpha: f32) -> Result<Vec<u8>> {
    if let Some(h) = heat
        && h.len() != canvas.len()
    {
        return Err(EvalError::LengthMismatch {
            what: "heatmap",
            expected: canvas.len(),
            got: h.len(),
        });
    }
    let mut rgb = Vec::with_capacity(canvas.len() * 3);
    for (i, &g) in canvas.iter().enumerate() {
        let g = g.clamp(0.0, 1.0);
        let h = heat.map_or(0.0, |h| {
            if h[i].is_finite() {
                h[i].clamp(0.0, 1.0)
            } else {
                0.0
            }
        });
        // Jet-like ramp: blue (0) -> green (0.5) -> red (1).
        let ramp = [
            (1.5 - (4.0 * h - 3.0).abs()).clamp(0.0, 1.0),
            (1.5 - (4.0 * h - 2.0).abs()).clamp(0.0, 1.0),
            (1.5 - (4.0 * h - 1.0).abs()).clamp(0.0, 1.0),
        ];
        let w = if heat.is_some() {
            alpha.clamp(0.0, 1.0) * h
        } else {
            0.0
        };
        for c in ramp {
            rgb.push((((1.0 - w) * g + w * c) * 255.0).round() as u8);
        }
    }
    Ok(rgb)
}

/// Draws the outline of the box `[x_min, x_max) x [y_min, y_max)` (pixels, clipped to
/// the image) `thickness` pixels wide into RGB bytes of a `width` x `height` image.
pub fn draw_box_outline(
    rgb: &mut [u8],
    width: u32,
    height: u32,
    bbox: [f32; 4],
    color: [u8; 3],
    thickness: u32,
) {
    let (w, h) = (width as i64, height as i64);
    if rgb.len() as i64 != w * h * 3 || bbox.iter().any(|v| !v.is_finite()) {
        return;
    }
    let x0 = (bbox[0].floor() as i64).clamp(0, w - 1);
    let y0 = (bbox[1].floor() as i64).clamp(0, h - 1);
    let x1 = ((bbox[2].ceil() as i64) - 1).clamp(0, w - 1);
    let y1 = ((bbox[3].ceil() as i64) - 1).clamp(0, h - 1);
    let t = i64::from(thickness.max(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            let edge = x - x0 < t || x1 - x < t || y - y0 < t || y1 - y < t;
            if edge {
                let i = ((y * w + x) * 3) as usize;
                rgb[i..i + 3].copy_from_slice(&color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_size() {
        let png = encode_png(3, 2, PngColor::Rgb, &[7; 18]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 3);
        assert!(encode_png(3, 2, PngColor::Grey, &[0; 5]).is_err());
        assert!(encode_png(0, 2, PngColor::Grey, &[]).is_err());
        // Deflate-compressed: a flat 300x300 image is far smaller than its pixels.
        let big = encode_png(300, 300, PngColor::Grey, &vec![9; 90_000]).unwrap();
        assert!(big.len() < 9_000, "{} bytes", big.len());
    }

    #[test]
    fn pixels_survive_a_decode() {
        let rgb: Vec<u8> = (0..18u8).map(|i| i * 13).collect();
        let png = encode_png(3, 2, PngColor::Rgb, &rgb).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.into_raw(), rgb);
        let grey: Vec<u8> = (0..12u8).map(|i| 255 - i * 20).collect();
        let png = encode_png(4, 3, PngColor::Grey, &grey).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(back.into_raw(), grey);
    }

    #[test]
    fn box_outline_and_overlay() {
        let mut rgb = overlay_rgb(&[0.0; 25], None, 0.5).unwrap();
        assert!(rgb.iter().all(|&v| v == 0));
        draw_box_outline(&mut rgb, 5, 5, [1.0, 1.0, 4.0, 4.0], [0, 255, 0], 1);
        let green = |x: usize, y: usize| rgb[(y * 5 + x) * 3 + 1] == 255;
        assert!(green(1, 1) && green(3, 1) && green(1, 3) && green(3, 3) && green(2, 1));
        assert!(!green(2, 2), "inside stays untouched");
        assert!(!green(0, 0) && !green(4, 4), "outside stays untouched");
        let hot = overlay_rgb(&[0.5], Some(&[1.0]), 1.0).unwrap();
        assert!(hot[0] > 100 && hot[2] == 0, "heat 1 is red: {hot:?}");
        assert!(overlay_rgb(&[0.5], Some(&[1.0, 0.0]), 1.0).is_err());
    }
}
