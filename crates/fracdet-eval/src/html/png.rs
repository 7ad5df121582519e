//! A minimal PNG writer for report thumbnails: 8-bit grey or RGB, zlib "stored" blocks
//! (no compression). Thumbnails are small (<= 256 px), so the size cost is a few tens of
//! kilobytes each, and the report needs no image codec dependency.

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
    fn code(self) -> u8 {
        match self {
            PngColor::Grey => 0,
            PngColor::Rgb => 2,
        }
    }
}

/// Encodes `pixels` (row-major, `width * height * channels` bytes) as a PNG file.
pub fn encode_png(width: u32, height: u32, color: PngColor, pixels: &[u8]) -> Result<Vec<u8>> {
    let row = width as usize * color.channels();
    if width == 0 || height == 0 || pixels.len() != row * height as usize {
        return Err(EvalError::InvalidParameter(format!(
            "PNG of {width}x{height} needs {} bytes, got {}",
            row * height as usize,
            pixels.len()
        )));
    }
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in pixels.chunks(row) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(line);
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, color.code(), 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
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
    fn crc_and_adler_known_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn header_and_size() {
        let png = encode_png(3, 2, PngColor::Rgb, &[7; 18]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 3);
        assert!(encode_png(3, 2, PngColor::Grey, &[0; 5]).is_err());
        assert!(encode_png(0, 2, PngColor::Grey, &[]).is_err());
        // A large image spans several stored blocks.
        let big = encode_png(300, 300, PngColor::Grey, &vec![9; 90_000]).unwrap();
        assert!(big.len() > 90_000);
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
