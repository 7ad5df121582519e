//! A little fuzzing: random bytes behind each magic, truncations and byte flips of valid
//! files. The reader must answer every one with a value, never a panic, and a truncated
//! file must be an error.

use std::path::Path;

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use fracdet_io::read::{ReadOptions, read_radiograph_bytes};
use image::GrayImage;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn png() -> Vec<u8> {
    let img = GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 6 + y) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg() -> Vec<u8> {
    let v: Vec<u8> = (0..40 * 30).map(|i| (i % 251) as u8).collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(&v, 40, 30, image::ExtendedColorType::L8)
        .unwrap();
    out
}

fn dicom() -> Vec<u8> {
    let samples: Vec<u16> = (0..40 * 30).map(|i| (i * 3 % 4096) as u16).collect();
    let pixels = DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(samples.into()),
    );
    dicom_with(pixels, 16, "1.2.840.10008.1.2.1")
}

/// JPEG baseline DICOM: exercises the codec path, where a bitstream/header mismatch
/// could make the codec overrun its output buffer.
fn dicom_jpeg() -> Vec<u8> {
    let mut fragment = jpeg();
    if fragment.len() % 2 == 1 {
        fragment.push(0);
    }
    let pixels = DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(vec![0u32], vec![fragment])),
    );
    dicom_with(pixels, 8, "1.2.840.10008.1.2.4.50")
}

fn dicom_with(pixels: InMemElement, bits: u16, ts: &str) -> Vec<u8> {
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.1.1"),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ),
        us(tags::ROWS, 30),
        us(tags::COLUMNS, 40),
        us(tags::BITS_ALLOCATED, bits),
        us(tags::BITS_STORED, bits.min(12)),
        us(tags::HIGH_BIT, bits.min(12) - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        pixels,
    ]);
    let mut out = Vec::new();
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .unwrap()
        .write_all(&mut out)
        .unwrap();
    out
}

fn read(bytes: &[u8]) -> fracdet_io::Result<fracdet_io::Radiograph> {
    read_radiograph_bytes(bytes, Path::new("fuzz"), &ReadOptions::default())
}

#[test]
fn valid_fixtures_read() {
    for (name, bytes) in [
        ("png", png()),
        ("jpeg", jpeg()),
        ("dicom", dicom()),
        ("dicom-jpeg", dicom_jpeg()),
    ] {
        let r = read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((r.width, r.height), (40, 30), "{name}");
    }
}

#[test]
fn truncations_at_every_tenth_are_errors() {
    for (name, bytes) in [
        ("png", png()),
        ("jpeg", jpeg()),
        ("dicom", dicom()),
        ("dicom-jpeg", dicom_jpeg()),
    ] {
        for tenth in 0..10 {
            let cut = bytes.len() * tenth / 10;
            let result = read(&bytes[..cut]);
            assert!(
                result.is_err(),
                "{name} cut to {cut} of {} bytes read as an image",
                bytes.len()
            );
        }
    }
}

#[test]
fn random_bytes_behind_each_magic_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut preamble = vec![0u8; 128];
    preamble.extend_from_slice(b"DICM");
    let magics: [&[u8]; 5] = [
        b"\x89PNG\r\n\x1a\n",
        &[0xFF, 0xD8, 0xFF],
        &preamble,
        b"DICM",
        b"",
    ];
    for magic in magics {
        for _ in 0..200 {
            let len = rng.below(600);
            let mut bytes = magic.to_vec();
            bytes.extend((0..len).map(|_| rng.next() as u8));
            let _ = read(&bytes);
        }
    }
}

#[test]
fn byte_flips_in_valid_files_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for bytes in [png(), jpeg(), dicom(), dicom_jpeg()] {
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            if let Ok(r) = read(&b) {
                assert_eq!(r.pixels.len(), (r.width * r.height) as usize);
                assert!(r.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
