//! Issue #16, readers: hostile inputs that once cost gigabytes or were scored with pixels
//! the file does not contain. Each must be a cheap, named error.

mod common;

use std::path::Path;

use common::*;
use fracdet_io::read::{ReadOptions, read_radiograph_bytes};

fn read(bytes: &[u8]) -> fracdet_io::Result<fracdet_io::Radiograph> {
    read_radiograph_bytes(bytes, Path::new("hostile"), &ReadOptions::default())
}

fn error_text(bytes: &[u8]) -> String {
    match read(bytes) {
        Ok(r) => panic!("read as a {}x{} image", r.width, r.height),
        Err(e) => e.to_string(),
    }
}

// Item 1: memory bombs.

#[test]
fn deflated_dicom_with_a_forged_length_is_refused_naming_the_element() {
    let bytes = deflated_forged_length();
    assert!(bytes.len() < 1024, "fixture is {} bytes", bytes.len());
    // Refused by the pre-scan of the inflated data set, not by the parser after it
    // zero-filled a 4 GiB buffer (which named the element too).
    let err = error_text(&bytes);
    assert!(
        err.contains("element (0009,1000) claims 4294967280 bytes"),
        "{err}"
    );
    assert!(err.contains("hostile"), "{err}");
}

#[test]
fn deflated_dicom_inflating_past_the_budget_is_refused() {
    let bytes = deflated_bomb(64 << 20);
    let options = ReadOptions {
        max_decoded_bytes: 16 << 20,
        ..ReadOptions::default()
    };
    let err = read_radiograph_bytes(&bytes, Path::new("bomb.dcm"), &options).unwrap_err();
    assert!(
        matches!(err, fracdet_io::IoError::OverBudget { .. }),
        "{err}"
    );
    // Within the budget the same file is fine: a limit, not a ban on deflate.
    let small = deflated_bomb(1 << 20);
    let r = read_radiograph_bytes(&small, Path::new("ok.dcm"), &options).unwrap();
    assert_eq!((r.width, r.height), (2, 2));
}

#[test]
fn png_with_an_iccp_zlib_bomb_is_refused() {
    let bytes = png_iccp_bomb(64 << 20);
    let err = error_text(&bytes);
    assert!(err.contains("iCCP"), "{err}");
    assert!(err.contains("max_metadata_bytes"), "{err}");
}

#[test]
fn deflated_dicom_within_budget_still_reads() {
    let r = read(&dicom(40, 30, DEFLATED, vec![private_marker()])).unwrap();
    assert_eq!((r.width, r.height), (40, 30));
}

// Item 2: pixels the file does not contain.

#[test]
fn jpeg_cut_in_half_with_an_end_marker_is_refused() {
    let full = jpeg(256, 192);
    assert!(read(&full).is_ok());
    for fraction in [0.5, 0.9, 0.99] {
        let cut = jpeg_cut_with_eoi(&full, fraction);
        let err = error_text(&cut);
        assert!(
            err.contains("ends before the last block"),
            "{fraction}: {err}"
        );
    }
    let rgb = jpeg_rgb(120, 90);
    assert!(read(&rgb).is_ok());
    let err = error_text(&jpeg_cut_with_eoi(&rgb, 0.6));
    assert!(err.contains("ends before the last block"), "{err}");
}

#[test]
fn jpeg_with_a_raised_frame_height_is_refused() {
    let full = jpeg(819, 64);
    let err = error_text(&jpeg_with_height(&full, 54016));
    assert!(err.contains("ends before the last block"), "{err}");
    // One more MCU row is already too many.
    let err = error_text(&jpeg_with_height(&full, 72));
    assert!(err.contains("ends before the last block"), "{err}");
}

/// png 0.18 refuses these too; the pre-scan makes it independent of the decoder version.
#[test]
fn png_with_rows_missing_from_its_idat_is_refused() {
    for fraction in [0.3, 0.8, 0.97] {
        let err = error_text(&png_short_idat(200, 150, fraction));
        assert!(err.contains("IDAT"), "{fraction}: {err}");
        let err = error_text(&png_fewer_rows(200, 150, fraction));
        assert!(err.contains("truncated IDAT"), "{fraction}: {err}");
    }
    let err = error_text(&png_with_height(&png(200, 150), 151));
    assert!(err.contains("truncated IDAT"), "{err}");
}

#[test]
fn dicom_jpeg_with_a_cut_bitstream_is_refused() {
    let full = jpeg(64, 48);
    assert!(read(&dicom_jpeg(64, 48, full.clone())).is_ok());
    let err = error_text(&dicom_jpeg(64, 48, jpeg_cut_with_eoi(&full, 0.5)));
    assert!(err.contains("ends before the last block"), "{err}");
}

#[test]
fn dicom_native_pixel_data_shorter_than_the_frame_is_refused() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    let short = DataElement::new(
        dicom_dictionary_std::tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(samples16(40, 29).into()),
    );
    let err = error_text(&dicom_with(40, 30, 16, short, vec![], EXPLICIT_LE));
    assert!(err.contains("corrupt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// Item 7: no decoder panic (caught or not) for an RLE run longer than its data.

#[test]
fn rle_run_longer_than_its_data_is_an_error_not_a_panic() {
    let good = dicom_rle(40, 30, rle_frame(&samples16(40, 30)));
    assert!(read(&good).is_ok());
    let err = error_text(&rle_overlong_run(40, 30));
    assert!(err.contains("RLE segment 2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The committed progressive and restart-marker JPEGs (tests/fuzz_corpus, made by cjpeg):
/// the completeness walk accepts them whole and refuses each cut inside its last scan.
#[test]
fn progressive_and_restart_jpegs_read_whole_and_are_refused_cut() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("jpg") {
            continue;
        }
        let full = std::fs::read(&path).unwrap();
        let r = read(&full).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(r.width > 0 && r.height > 0);
        for fraction in [0.3, 0.7] {
            let err = error_text(&jpeg_cut_with_eoi(&full, fraction));
            assert!(
                err.contains("ends before the last block") || err.contains("restart marker"),
                "{} cut at {fraction}: {err}",
                path.display()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}
