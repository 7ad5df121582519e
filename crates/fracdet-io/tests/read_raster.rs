//! PNG and JPEG reading against generated files.

use std::path::{Path, PathBuf};

use fracdet_io::read::{ReadOptions, read_radiograph, read_radiograph_bytes};
use fracdet_io::{Format, IoError, Photometric};
use image::{GrayImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};

fn read(path: &Path) -> fracdet_io::Radiograph {
    read_radiograph(path, &ReadOptions::default()).expect("readable fixture")
}

fn grey_values(w: u32, h: u32) -> Vec<u8> {
    (0..w * h).map(|i| (i * 37 % 256) as u8).collect()
}

fn save_grey(dir: &Path, name: &str, w: u32, h: u32) -> (PathBuf, Vec<u8>) {
    let v = grey_values(w, h);
    let path = dir.join(name);
    GrayImage::from_raw(w, h, v.clone())
        .unwrap()
        .save(&path)
        .unwrap();
    (path, v)
}

#[test]
fn png_8bit_grey_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = save_grey(dir.path(), "g.png", 7, 5);
    let r = read(&path);
    assert_eq!((r.width, r.height), (7, 5));
    assert_eq!(r.meta.format, Format::Png);
    assert_eq!(r.meta.bit_depth, 8);
    assert_eq!(r.meta.photometric, Photometric::Monochrome2);
    assert_eq!(r.meta.window, None);
    for (got, &want) in r.pixels.iter().zip(&v) {
        assert_eq!(*got, f32::from(want) / 255.0);
    }
    let lo = f64::from(*v.iter().min().unwrap());
    let hi = f64::from(*v.iter().max().unwrap());
    assert_eq!(r.meta.raw_range, (lo, hi));
}

#[test]
fn png_16bit_keeps_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let v: Vec<u16> = vec![0, 1, 4095, 32768, 65534, 65535];
    let path = dir.path().join("g16.png");
    ImageBuffer::<Luma<u16>, _>::from_raw(3, 2, v.clone())
        .unwrap()
        .save(&path)
        .unwrap();
    let r = read(&path);
    assert_eq!(r.meta.bit_depth, 16);
    assert_eq!(r.meta.raw_range, (0.0, 65535.0));
    for (got, &want) in r.pixels.iter().zip(&v) {
        assert_eq!(*got, (f64::from(want) / 65535.0) as f32);
    }
    // 1/65535 survives: 16-bit data is not squeezed through 8 bits.
    assert!(r.pixels[1] > 0.0);
}

#[test]
fn alpha_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ga.png");
    let v = [10u8, 0, 200, 255, 90, 128];
    ImageBuffer::<LumaA<u8>, _>::from_raw(3, 1, v.to_vec())
        .unwrap()
        .save(&path)
        .unwrap();
    let r = read(&path);
    assert_eq!(r.pixels, vec![10.0 / 255.0, 200.0 / 255.0, 90.0 / 255.0]);

    let path = dir.path().join("rgba.png");
    let v = [50u8, 50, 50, 0, 250, 250, 250, 17];
    ImageBuffer::<Rgba<u8>, _>::from_raw(2, 1, v.to_vec())
        .unwrap()
        .save(&path)
        .unwrap();
    let r = read(&path);
    assert_eq!(r.pixels, vec![50.0 / 255.0, 250.0 / 255.0]);
    assert_eq!(r.meta.photometric, Photometric::Rgb);
}

#[test]
fn rgb_stored_grey_equals_the_grey_file() {
    let dir = tempfile::tempdir().unwrap();
    let (grey_path, v) = save_grey(dir.path(), "g.png", 6, 4);
    let rgb: Vec<u8> = v.iter().flat_map(|&g| [g, g, g]).collect();
    let rgb_path = dir.path().join("rgb.png");
    ImageBuffer::<Rgb<u8>, _>::from_raw(6, 4, rgb)
        .unwrap()
        .save(&rgb_path)
        .unwrap();
    let a = read(&grey_path);
    let b = read(&rgb_path);
    assert_eq!(b.meta.photometric, Photometric::Rgb);
    assert_eq!(a.pixels, b.pixels);
}

#[test]
fn colour_becomes_rec709_luminance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("red.png");
    ImageBuffer::<Rgb<u8>, _>::from_raw(1, 1, vec![255, 0, 0])
        .unwrap()
        .save(&path)
        .unwrap();
    let r = read(&path);
    assert!((r.pixels[0] - 0.2126).abs() < 1e-6, "{}", r.pixels[0]);
}

#[test]
fn one_by_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = save_grey(dir.path(), "1.png", 1, 1);
    let r = read(&path);
    assert_eq!((r.width, r.height), (1, 1));
    assert_eq!(r.pixels, vec![f32::from(v[0]) / 255.0]);
}

#[test]
fn jpeg_grey_is_close() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (32u32, 32u32);
    let v: Vec<u8> = (0..w * h).map(|i| ((i % w) * 8) as u8).collect();
    let path = dir.path().join("g.jpg");
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
        .encode(&v, w, h, image::ExtendedColorType::L8)
        .unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let r = read(&path);
    assert_eq!(r.meta.format, Format::Jpeg);
    assert_eq!(r.meta.bit_depth, 8);
    let mean: f64 = r
        .pixels
        .iter()
        .zip(&v)
        .map(|(g, &w)| (f64::from(*g) * 255.0 - f64::from(w)).abs())
        .sum::<f64>()
        / v.len() as f64;
    assert!(mean < 2.0, "mean abs error {mean}");
}

#[test]
fn format_is_sniffed_not_taken_from_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let (png, _) = save_grey(dir.path(), "g.png", 2, 2);
    let misnamed = dir.path().join("really_a_png.dcm");
    std::fs::copy(&png, &misnamed).unwrap();
    assert_eq!(read(&misnamed).meta.format, Format::Png);

    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"hello, not an image").unwrap();
    assert!(matches!(
        read_radiograph(&text, &ReadOptions::default()),
        Err(IoError::UnknownFormat { .. })
    ));
    let missing = dir.path().join("missing.png");
    assert!(matches!(
        read_radiograph(&missing, &ReadOptions::default()),
        Err(IoError::Io { .. })
    ));
}

#[test]
fn zero_byte_file_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero.png");
    std::fs::write(&path, b"").unwrap();
    let err = read_radiograph(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, IoError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("zero.png"));
}

/// CRC-32 (ISO-HDLC), the checksum of PNG chunks.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
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

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

#[test]
fn crc32_matches_the_png_spec_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    // IEND's CRC as found in every PNG.
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}

#[test]
fn png_header_claiming_100000_squared_is_refused_without_decoding() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, deflate, adaptive, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IEND", &[]));
    let err =
        read_radiograph_bytes(&png, Path::new("bomb.png"), &ReadOptions::default()).unwrap_err();
    match err {
        IoError::TooLarge {
            width,
            height,
            pixels,
            limit,
            ..
        } => {
            assert_eq!((width, height), (100_000, 100_000));
            assert_eq!(pixels, 10_000_000_000);
            assert_eq!(limit, fracdet_io::read::DEFAULT_MAX_PIXELS);
        }
        other => panic!("wrong error: {other}"),
    }
}
