//! DICOM reading against generated files: LUT semantics, transfer syntaxes, bad input.
//!
//! Expected values come from the formulas of PS3.3 C.11, computed here independently.

use std::path::{Path, PathBuf};

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use fracdet_io::read::{ReadOptions, read_radiograph, read_radiograph_bytes};
use fracdet_io::{Format, IoError, Photometric, Window};

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
const JPEG_2000: &str = "1.2.840.10008.1.2.4.90";
const DX_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.1.1";

fn us(tag: Tag, v: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

fn text(tag: Tag, vr: VR, s: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(s))
}

fn ds_multi(tag: Tag, values: &[&str]) -> InMemElement {
    let strs: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    DataElement::new(tag, VR::DS, PrimitiveValue::Strs(strs.into()))
}

/// A 16-bit-allocated monochrome image: the usual DX layout.
struct Mono {
    rows: u16,
    cols: u16,
    bits_stored: u16,
    signed: bool,
    photometric: &'static str,
    samples: Vec<u16>,
    extra: Vec<InMemElement>,
}

impl Mono {
    fn new(rows: u16, cols: u16, samples: Vec<u16>) -> Self {
        Self {
            rows,
            cols,
            bits_stored: 12,
            signed: false,
            photometric: "MONOCHROME2",
            samples,
            extra: Vec::new(),
        }
    }

    fn with(mut self, e: InMemElement) -> Self {
        self.extra.push(e);
        self
    }

    fn elements(&self) -> Vec<InMemElement> {
        let mut e = vec![
            text(tags::SOP_CLASS_UID, VR::UI, DX_SOP_CLASS),
            text(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.2.1125.7",
            ),
            text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
            text(tags::PATIENT_ID, VR::LO, "SECRET-ID-123"),
            us(tags::SAMPLES_PER_PIXEL, 1),
            text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, self.photometric),
            us(tags::ROWS, self.rows),
            us(tags::COLUMNS, self.cols),
            us(tags::BITS_ALLOCATED, 16),
            us(tags::BITS_STORED, self.bits_stored),
            us(tags::HIGH_BIT, self.bits_stored - 1),
            us(tags::PIXEL_REPRESENTATION, u16::from(self.signed)),
        ];
        e.extend(self.extra.iter().cloned());
        e.push(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(self.samples.clone().into()),
        ));
        e
    }

    fn write(&self, dir: &Path, name: &str, ts: &str) -> PathBuf {
        write_dicom(dir, name, ts, self.elements())
    }
}

fn write_dicom(dir: &Path, name: &str, ts: &str, elements: Vec<InMemElement>) -> PathBuf {
    let path = dir.join(name);
    InMemDicomObject::from_element_iter(elements)
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .expect("meta")
        .write_to_file(&path)
        .expect("write DICOM fixture");
    path
}

/// PS3.3 C.11.2.1.2.1 with ymin 0, ymax 1 — written out again, independently of the crate.
fn linear(c: f64, w: f64, x: f64) -> f32 {
    if x <= c - 0.5 - (w - 1.0) / 2.0 {
        0.0
    } else if x > c - 0.5 + (w - 1.0) / 2.0 {
        1.0
    } else {
        (((x - (c - 0.5)) / (w - 1.0)) + 0.5) as f32
    }
}

fn read(path: &Path) -> fracdet_io::Radiograph {
    read_radiograph(path, &ReadOptions::default()).expect("readable fixture")
}

const RAMP: [u16; 6] = [0, 500, 1000, 2047, 3000, 4095];

#[test]
fn window_from_file_gives_exact_standard_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = Mono::new(2, 3, RAMP.to_vec())
        .with(ds_multi(tags::WINDOW_CENTER, &["1000"]))
        .with(ds_multi(tags::WINDOW_WIDTH, &["1001"]))
        .write(dir.path(), "w.dcm", EXPLICIT_LE);
    let r = read(&path);
    assert_eq!((r.width, r.height), (3, 2));
    assert_eq!(r.meta.format, Format::Dicom);
    assert_eq!(
        r.meta.window,
        Some(Window {
            center: 1000.0,
            width: 1001.0
        })
    );
    for (i, &x) in RAMP.iter().enumerate() {
        let want = linear(1000.0, 1001.0, f64::from(x));
        assert!(
            (r.pixels[i] - want).abs() < 1e-6,
            "pixel {i} stored {x}: got {} want {want}",
            r.pixels[i]
        );
    }
    // Edges at 499.5 and 1499.5: 0 is below (0), 500 just inside ((500 - 999.5) / 1000 + 0.5),
    // 1000 at the centre (0.5 + 0.5 / 1000), 2047 above (1).
    assert_eq!(r.pixels[0], 0.0);
    assert!((r.pixels[1] - 0.0005).abs() < 1e-6);
    assert!((r.pixels[2] - 0.5005).abs() < 1e-6);
    assert_eq!(r.pixels[3], 1.0);
}

#[test]
fn first_of_several_windows_is_used_and_override_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = Mono::new(2, 3, RAMP.to_vec())
        .with(ds_multi(tags::WINDOW_CENTER, &["2048", "1000"]))
        .with(ds_multi(tags::WINDOW_WIDTH, &["4096", "200"]))
        .write(dir.path(), "w2.dcm", EXPLICIT_LE);
    let r = read(&path);
    assert_eq!(r.meta.window.map(|w| w.center), Some(2048.0));
    assert!((r.pixels[3] - linear(2048.0, 4096.0, 2047.0)).abs() < 1e-6);

    let over = Window {
        center: 3000.0,
        width: 11.0,
    };
    let options = ReadOptions {
        window: Some(over),
        ..ReadOptions::default()
    };
    let r = read_radiograph(&path, &options).unwrap();
    assert_eq!(r.meta.window, Some(over));
    assert_eq!(r.pixels[3], 0.0);
    assert!((r.pixels[4] - linear(3000.0, 11.0, 3000.0)).abs() < 1e-6);
    assert_eq!(r.pixels[5], 1.0);
}

#[test]
fn no_window_maps_modality_min_max_to_zero_one() {
    let dir = tempfile::tempdir().unwrap();
    let samples = vec![100, 200, 300, 400, 500, 1100];
    let path = Mono::new(2, 3, samples).write(dir.path(), "nw.dcm", EXPLICIT_LE);
    let r = read(&path);
    assert_eq!(r.meta.raw_range, (100.0, 1100.0));
    assert_eq!(r.pixels[0], 0.0);
    assert_eq!(r.pixels[5], 1.0);
    assert!((r.pixels[1] - 0.1).abs() < 1e-6, "{}", r.pixels[1]);
    assert!((r.pixels[4] - 0.4).abs() < 1e-6, "{}", r.pixels[4]);
}

#[test]
fn monochrome1_is_inverted_so_bone_is_bright() {
    let dir = tempfile::tempdir().unwrap();
    let base = || {
        Mono::new(2, 3, RAMP.to_vec())
            .with(ds_multi(tags::WINDOW_CENTER, &["2048"]))
            .with(ds_multi(tags::WINDOW_WIDTH, &["4096"]))
    };
    let m2 = read(&base().write(dir.path(), "m2.dcm", EXPLICIT_LE));
    let mut m1 = base();
    m1.photometric = "MONOCHROME1";
    let m1 = read(&m1.write(dir.path(), "m1.dcm", EXPLICIT_LE));
    assert_eq!(m1.meta.photometric, Photometric::Monochrome1);
    assert_eq!(m2.meta.photometric, Photometric::Monochrome2);
    // Stored 0 is white in MONOCHROME1.
    assert_eq!(m1.pixels[0], 1.0);
    assert_eq!(m1.pixels[5], 0.0);
    for (a, b) in m1.pixels.iter().zip(&m2.pixels) {
        assert!((a - (1.0 - b)).abs() < 1e-6, "{a} vs 1 - {b}");
    }
}

#[test]
fn negative_slope_with_intercept_4095_reverses_values() {
    let dir = tempfile::tempdir().unwrap();
    let samples = vec![0, 95, 1095, 2095, 3095, 4000];
    let path = Mono::new(2, 3, samples)
        .with(text(tags::RESCALE_INTERCEPT, VR::DS, "4095"))
        .with(text(tags::RESCALE_SLOPE, VR::DS, "-1"))
        .write(dir.path(), "neg.dcm", EXPLICIT_LE);
    let r = read(&path);
    // Modality = 4095 - stored: range 95..4095, and stored 0 is the brightest.
    assert_eq!(r.meta.raw_range, (95.0, 4095.0));
    assert_eq!(r.pixels[0], 1.0);
    assert_eq!(r.pixels[5], 0.0);
    // stored 2095 -> 2000 -> (2000 - 95) / 4000
    assert!(
        (r.pixels[3] - 1905.0 / 4000.0).abs() < 1e-6,
        "{}",
        r.pixels[3]
    );
}

#[test]
fn twelve_bits_stored_ignore_garbage_in_high_bits() {
    let dir = tempfile::tempdir().unwrap();
    let clean = RAMP.to_vec();
    let dirty: Vec<u16> = clean
        .iter()
        .enumerate()
        .map(|(i, &v)| v | ((i as u16 % 16) << 12) | 0x8000)
        .collect();
    let window = |m: Mono| {
        m.with(ds_multi(tags::WINDOW_CENTER, &["2048"]))
            .with(ds_multi(tags::WINDOW_WIDTH, &["4096"]))
    };
    let a = read(&window(Mono::new(2, 3, clean)).write(dir.path(), "clean.dcm", EXPLICIT_LE));
    let b = read(&window(Mono::new(2, 3, dirty)).write(dir.path(), "dirty.dcm", EXPLICIT_LE));
    assert_eq!(b.meta.bit_depth, 12);
    assert_eq!(b.meta.raw_range, (0.0, 4095.0));
    assert_eq!(a.pixels, b.pixels);
}

#[test]
fn signed_pixels_are_sign_extended_from_bits_stored() {
    let dir = tempfile::tempdir().unwrap();
    // 12-bit two's complement: 0x800 = -2048, 0xFFF = -1, 0x7FF = 2047; garbage above bit 11.
    let mut m = Mono::new(1, 4, vec![0xF800, 0x0FFF, 0x07FF, 0x0000]);
    m.signed = true;
    let r = read(&m.write(dir.path(), "signed.dcm", EXPLICIT_LE));
    assert_eq!(r.meta.raw_range, (-2048.0, 2047.0));
    assert_eq!(r.pixels[0], 0.0);
    assert_eq!(r.pixels[2], 1.0);
    assert!((r.pixels[1] - 2047.0 / 4095.0).abs() < 1e-6);
}

#[test]
fn voi_lut_sequence_is_applied_when_no_window() {
    let dir = tempfile::tempdir().unwrap();
    // LUT: 4 entries from input 100, 8-bit output.
    let item = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::LUT_DESCRIPTOR,
            VR::US,
            PrimitiveValue::U16(vec![4u16, 100, 8].into()),
        ),
        DataElement::new(
            tags::LUT_DATA,
            VR::US,
            PrimitiveValue::U16(vec![0u16, 51, 102, 255].into()),
        ),
    ]);
    let seq = DataElement::new(
        tags::VOILUT_SEQUENCE,
        VR::SQ,
        Value::from(dicom_core::value::DataSetSequence::from(vec![item])),
    );
    let path = Mono::new(1, 5, vec![0, 100, 101, 102, 4000])
        .with(seq)
        .write(dir.path(), "voilut.dcm", EXPLICIT_LE);
    let r = read(&path);
    assert_eq!(r.meta.window, None);
    let want = [0.0, 0.0, 0.2, 0.4, 1.0];
    for (got, want) in r.pixels.iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{:?}", r.pixels);
    }
}

#[test]
fn other_uncompressed_syntaxes_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mono::new(2, 3, RAMP.to_vec());
    let reference = read(&m.write(dir.path(), "le.dcm", EXPLICIT_LE));
    for (ts, name) in [
        (IMPLICIT_LE, "implicit.dcm"),
        (EXPLICIT_BE, "be.dcm"),
        (DEFLATED, "deflated.dcm"),
    ] {
        let r = read(&m.write(dir.path(), name, ts));
        assert_eq!(r.pixels, reference.pixels, "{ts}");
        assert_eq!(r.meta.transfer_syntax.as_deref(), Some(ts));
    }
}

#[test]
fn technical_metadata_is_kept_and_patient_data_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = Mono::new(2, 3, RAMP.to_vec())
        .with(ds_multi(tags::IMAGER_PIXEL_SPACING, &["0.143", "0.15"]))
        .with(text(tags::BODY_PART_EXAMINED, VR::CS, "HAND"))
        .write(dir.path(), "meta.dcm", EXPLICIT_LE);
    let r = read(&path);
    assert_eq!(r.meta.pixel_spacing_mm, Some((0.143, 0.15)));
    assert_eq!(r.meta.body_part.as_deref(), Some("HAND"));
    assert_eq!(r.meta.transfer_syntax.as_deref(), Some(EXPLICIT_LE));
    assert_eq!(r.meta.bit_depth, 12);
    let shown = format!("{:?}", r.meta);
    assert!(
        !shown.contains("Doe") && !shown.contains("SECRET"),
        "{shown}"
    );
}

/// An 8-bit gradient with some structure, JPEG-encoded at high quality.
fn jpeg_fixture(w: u32, h: u32) -> (Vec<u8>, Vec<u8>) {
    let grey: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| ((x * 255 / (w - 1) + y * 2) % 256) as u8))
        .collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode(&grey, w, h, image::ExtendedColorType::L8)
        .unwrap();
    (grey, jpeg)
}

fn encapsulated(ts: &str, w: u16, h: u16, fragment: Vec<u8>, dir: &Path, name: &str) -> PathBuf {
    let mut fragment = fragment;
    if fragment.len() % 2 == 1 {
        fragment.push(0);
    }
    let pixel_data: InMemElement = DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(vec![0u32], vec![fragment])),
    );
    let elements = vec![
        text(tags::SOP_CLASS_UID, VR::UI, DX_SOP_CLASS),
        text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1125.8",
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, h),
        us(tags::COLUMNS, w),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::PIXEL_REPRESENTATION, 0),
        ds_multi(tags::WINDOW_CENTER, &["127.5"]),
        ds_multi(tags::WINDOW_WIDTH, &["256"]),
        pixel_data,
    ];
    write_dicom(dir, name, ts, elements)
}

#[test]
fn jpeg_baseline_dicom_decodes_within_jpeg_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64u32, 48u32);
    let (grey, jpeg) = jpeg_fixture(w, h);
    let path = encapsulated(
        JPEG_BASELINE,
        w as u16,
        h as u16,
        jpeg,
        dir.path(),
        "jpeg.dcm",
    );
    let r = read(&path);
    assert_eq!((r.width, r.height), (w, h));
    assert_eq!(r.meta.transfer_syntax.as_deref(), Some(JPEG_BASELINE));
    assert_eq!(r.meta.bit_depth, 8);
    // Window 127.5 / 256 maps stored v to exactly v / 255.
    let mut total = 0.0f64;
    let mut worst = 0.0f64;
    for (got, &want) in r.pixels.iter().zip(&grey) {
        let err = (f64::from(*got) * 255.0 - f64::from(want)).abs();
        total += err;
        worst = worst.max(err);
    }
    let mean = total / grey.len() as f64;
    assert!(mean < 2.0, "mean abs error {mean} grey levels");
    assert!(worst < 40.0, "worst error {worst} grey levels");
}

#[test]
fn jpeg_frame_that_disagrees_with_rows_columns_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, jpeg) = jpeg_fixture(64, 48);
    // Header says 32x48 but the bitstream is 64x48: the codec would overrun its buffer.
    let path = encapsulated(JPEG_BASELINE, 32, 48, jpeg, dir.path(), "liar.dcm");
    let err = read_radiograph(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, IoError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("64x48"), "{err}");
}

#[test]
fn jpeg_2000_is_refused_naming_the_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let dummy = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 0];
    let path = encapsulated(JPEG_2000, 8, 8, dummy, dir.path(), "j2k.dcm");
    let err = read_radiograph(&path, &ReadOptions::default()).unwrap_err();
    match &err {
        IoError::UnsupportedTransferSyntax { uid, name, .. } => {
            assert_eq!(uid, JPEG_2000);
            assert!(name.contains("JPEG 2000"), "{name}");
        }
        other => panic!("wrong error: {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("j2k.dcm") && msg.contains(JPEG_2000), "{msg}");
}

#[test]
fn huge_rows_columns_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    // Rows and Columns are US, so 65535 is the most a header can claim: 4.29 gigapixels.
    let m = Mono::new(65535, 65535, vec![0; 8]);
    let path = m.write(dir.path(), "huge.dcm", EXPLICIT_LE);
    let err = read_radiograph(&path, &ReadOptions::default()).unwrap_err();
    match err {
        IoError::TooLarge {
            width,
            height,
            pixels,
            ..
        } => {
            assert_eq!((width, height), (65535, 65535));
            assert_eq!(pixels, 65535 * 65535);
        }
        other => panic!("wrong error: {other}"),
    }
    // The limit is the caller's: a small image over a small limit is refused too.
    let small = Mono::new(2, 3, RAMP.to_vec()).write(dir.path(), "small.dcm", EXPLICIT_LE);
    let options = ReadOptions {
        max_pixels: 5,
        ..ReadOptions::default()
    };
    assert!(matches!(
        read_radiograph(&small, &options),
        Err(IoError::TooLarge { pixels: 6, .. })
    ));
}

#[test]
fn truncated_and_empty_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = Mono::new(16, 16, (0..256).map(|v| v * 16).collect()).write(
        dir.path(),
        "full.dcm",
        EXPLICIT_LE,
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(read_radiograph_bytes(&bytes, &path, &ReadOptions::default()).is_ok());
    for cut in [
        bytes.len() - 1,
        bytes.len() - 100,
        bytes.len() / 2,
        140,
        131,
    ] {
        let r = read_radiograph_bytes(&bytes[..cut], Path::new("cut.dcm"), &ReadOptions::default());
        assert!(r.is_err(), "cut at {cut} of {} read fine", bytes.len());
    }
    let empty = dir.path().join("empty.dcm");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        read_radiograph(&empty, &ReadOptions::default()),
        Err(IoError::Empty { .. })
    ));
}

#[test]
fn dicom_without_preamble_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = Mono::new(2, 3, RAMP.to_vec()).write(dir.path(), "p.dcm", EXPLICIT_LE);
    let bytes = std::fs::read(&path).unwrap();
    let with = read_radiograph_bytes(&bytes, &path, &ReadOptions::default()).unwrap();
    let without = read_radiograph_bytes(&bytes[128..], &path, &ReadOptions::default()).unwrap();
    assert_eq!(with.pixels, without.pixels);
}

#[test]
fn forged_element_length_is_refused_without_allocating_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = DataElement::new(
        Tag(0x0009, 0x1000),
        VR::OB,
        PrimitiveValue::U8(vec![0xAB; 4].into()),
    );
    let path =
        Mono::new(2, 3, RAMP.to_vec())
            .with(marker)
            .write(dir.path(), "forged.dcm", EXPLICIT_LE);
    let mut bytes = std::fs::read(&path).unwrap();
    // (0009,1000) OB 00 00 <len u32>: make the length claim ~4 GiB in a file of a few hundred bytes.
    let header = [0x09, 0x00, 0x00, 0x10, b'O', b'B', 0, 0, 4, 0, 0, 0];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .expect("element in fixture");
    bytes[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let err = read_radiograph_bytes(&bytes, Path::new("forged.dcm"), &ReadOptions::default())
        .unwrap_err();
    assert!(matches!(err, IoError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("(0009,1000)"), "{err}");
}

/// DICOM RLE (PS3.5 G): one segment per byte plane, most significant first, each PackBits
/// literal runs of at most 128 bytes, padded to even length.
fn rle_frame(samples: &[u16]) -> Vec<u8> {
    let planes: [Vec<u8>; 2] = [
        samples.iter().map(|v| (v >> 8) as u8).collect(),
        samples.iter().map(|v| (v & 0xFF) as u8).collect(),
    ];
    let mut segments = Vec::new();
    for plane in &planes {
        let mut seg = Vec::new();
        for run in plane.chunks(128) {
            seg.push((run.len() - 1) as u8);
            seg.extend_from_slice(run);
        }
        if seg.len() % 2 == 1 {
            seg.push(0x80); // no-op
        }
        segments.push(seg);
    }
    let mut header = [0u32; 16];
    header[0] = segments.len() as u32;
    let mut offset = 64u32;
    for (i, seg) in segments.iter().enumerate() {
        header[i + 1] = offset;
        offset += seg.len() as u32;
    }
    let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
    for seg in segments {
        out.extend(seg);
    }
    out
}

#[test]
fn rle_lossless_reads_like_native() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mono::new(2, 3, RAMP.to_vec());
    let native = read(&m.write(dir.path(), "native.dcm", EXPLICIT_LE));
    let mut elements = m.elements();
    elements.pop(); // native pixel data
    elements.push(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(
            vec![0u32],
            vec![rle_frame(&RAMP)],
        )),
    ));
    let rle = read(&write_dicom(
        dir.path(),
        "rle.dcm",
        "1.2.840.10008.1.2.5",
        elements,
    ));
    assert_eq!(
        rle.meta.transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2.5")
    );
    assert_eq!(rle.meta.raw_range, (0.0, 4095.0));
    assert_eq!(rle.pixels, native.pixels);
}

/// A lossless JPEG (ITU T.81 process 14, selection value 1) of 12-bit grey samples, written
/// here because no Rust encoder does lossless: one Huffman table giving every difference
/// category 0..=16 a 5-bit code.
fn lossless_jpeg(w: u16, h: u16, samples: &[u16]) -> Vec<u8> {
    const P: u32 = 12;
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, len: u32) {
            for i in (0..len).rev() {
                self.acc = (self.acc << 1) | ((value >> i) & 1);
                self.n += 1;
                if self.n == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xFF {
                        self.out.push(0); // byte stuffing
                    }
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }
        fn finish(mut self) -> Vec<u8> {
            while self.n != 0 {
                self.put(1, 1);
            }
            self.out
        }
    }
    let mut bits = Bits {
        out: Vec::new(),
        acc: 0,
        n: 0,
    };
    let (wu, hu) = (usize::from(w), usize::from(h));
    for y in 0..hu {
        for x in 0..wu {
            let at = |x: usize, y: usize| i32::from(samples[y * wu + x]);
            let predicted = match (x, y) {
                (0, 0) => 1 << (P - 1),
                (0, _) => at(0, y - 1),
                _ => at(x - 1, y),
            };
            // Differences are taken modulo 2^16 into -32767..=32768 (H.1.2.1).
            let mut diff = (at(x, y) - predicted).rem_euclid(1 << 16);
            if diff > 32768 {
                diff -= 1 << 16;
            }
            let ssss = if diff == 0 {
                0
            } else {
                32 - diff.unsigned_abs().leading_zeros()
            };
            bits.put(ssss, 5); // code for category k is k, 5 bits
            if ssss > 0 && ssss < 16 {
                let extra = if diff > 0 { diff } else { diff - 1 };
                bits.put((extra as u32) & ((1 << ssss) - 1), ssss);
            }
        }
    }
    let scan = bits.finish();

    let mut out = vec![0xFF, 0xD8];
    // SOF3: precision, height, width, one component (id 1, 1x1 sampling, no quant table).
    out.extend_from_slice(&[0xFF, 0xC3, 0, 11, P as u8]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[1, 1, 0x11, 0]);
    // DHT: DC table 0, seventeen 5-bit codes for categories 0..=16.
    let mut counts = [0u8; 16];
    counts[4] = 17;
    out.extend_from_slice(&[0xFF, 0xC4, 0, (2 + 1 + 16 + 17) as u8, 0x00]);
    out.extend_from_slice(&counts);
    out.extend(0u8..=16);
    // SOS: component 1 with table 0, predictor 1, Se 0, point transform 0.
    out.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0]);
    out.extend(scan);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[test]
fn jpeg_lossless_dicom_reads_exactly_like_native() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (7u16, 5u16);
    let samples: Vec<u16> = (0..35u16).map(|i| (i * 997 + 13) % 4096).collect();
    let m = Mono::new(h, w, samples.clone());
    let native = read(&m.write(dir.path(), "native.dcm", EXPLICIT_LE));
    let mut elements = m.elements();
    elements.pop();
    let mut fragment = lossless_jpeg(w, h, &samples);
    if fragment.len() % 2 == 1 {
        fragment.push(0);
    }
    elements.push(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(vec![0u32], vec![fragment])),
    ));
    let ts = "1.2.840.10008.1.2.4.70";
    let lossless = read(&write_dicom(dir.path(), "ll.dcm", ts, elements));
    assert_eq!(lossless.meta.transfer_syntax.as_deref(), Some(ts));
    assert_eq!(lossless.meta.raw_range, native.meta.raw_range);
    assert_eq!(lossless.pixels, native.pixels);
}
