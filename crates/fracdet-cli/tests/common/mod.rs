//! Helpers shared by the CLI end-to-end tests: running the binary and writing small grey
//! PNG fixtures.
// Each test binary compiles its own copy of this module and uses only some of it.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Output};

use image::{GrayImage, ImageFormat};

/// Runs the `fracdet` binary built for these tests with `args`.
pub fn fracdet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fracdet"))
        .args(args)
        .output()
        .expect("run fracdet")
}

/// Status, stdout and stderr of a finished run, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// PNG file bytes of an 8-bit grey `width` x `height` image, `pixel(x, y)` per pixel.
pub fn grey_png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let img = GrayImage::from_fn(width, height, |x, y| image::Luma([pixel(x, y)]));
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png)
        .expect("encode PNG");
    bytes.into_inner()
}

/// Writes [`grey_png`] to `path`, creating its parent folders.
pub fn write_grey_png(path: &Path, width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) {
    std::fs::create_dir_all(path.parent().expect("file path has a parent")).unwrap();
    std::fs::write(path, grey_png(width, height, pixel)).unwrap();
}

/// A 16-bit (12 stored) MONOCHROME2 DICOM file, explicit VR little endian: `cols` x `rows`
/// `pixels` of SOP class `sop_class`, with `extra` elements (modality, patient, UIDs …).
pub fn mono16_dicom(
    cols: u16,
    rows: u16,
    sop_class: &str,
    pixels: Vec<u16>,
    extra: Vec<dicom_object::mem::InMemElement>,
) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let mut obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, sop_class),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
    ]);
    for e in extra {
        obj.put(e);
    }
    let mut out = Vec::new();
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap()
        .write_all(&mut out)
        .unwrap();
    out
}

/// Strings in `v` (recursively) that look like absolute paths (Unix or Windows): what a
/// bundle must never carry from the machine it was made on.
#[allow(dead_code)]
pub fn absolute_paths(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) if s.starts_with('/') || s.get(1..3) == Some(":\\") => {
                out.push(s.clone())
            }
            serde_json::Value::Array(a) => stack.extend(a),
            serde_json::Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    out
}
