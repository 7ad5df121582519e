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
    if heat.len() != canvas.len() {
        return Err(EvalError::LengthMismatch {
            what: "heatmap",
            expected: canvas.len(),
            got: heat.len(),
        });
    }
    let mut rgb = Vec::with_capacity(canvas.len() * 3);
    for (&g, &h) in canvas.iter().zip(heat) {
        let (g, h) = (
            g.clamp(0.0, 1.0),
            if h.is_finite() {
                h.clamp(0.0, 1.0)
            } else {
                0.0
            },
        );
        // Jet-like ramp: blue (0) -> green (0.5) -> red (1).
        let ramp = [
            (1.5 - (4.0 * h - 3.0).abs()).clamp(0.0, 1.0),
            (1.5 - (4.0 * h - 2.0).abs()).clamp(0.0, 1.0),
            (1.5 - (4.0 * h - 1.0).abs()).clamp(0.0, 1.0),
        ];
        let w = alpha.clamp(0.0, 1.0) * h;
        for c in ramp {
            rgb.push((((1.0 - w) * g + w * c) * 255.0).round() as u8);
        }
    }
    encode_png(width, height, PngColor::Rgb, &rgb)
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
}
