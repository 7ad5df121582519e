//! `fracdet inspect` end to end: good PNG and DICOM files are shown, a corrupt one is named
//! on stderr without stopping the others, and the exit code follows the contract
//! (0 ok, 1 some input failed, 2 usage error).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fracdet(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fracdet"))
        .arg("inspect")
        .args(args)
        .output()
        .expect("run fracdet")
}

/// A 4x3 8-bit grey PNG.
fn png_bytes() -> Vec<u8> {
    common::grey_png(4, 3, |x, y| (x * 60 + y * 10) as u8)
}

/// Explicit VR little-endian element; OB/OW/SQ/UN/UT use the long length form.
fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut out = group.to_le_bytes().to_vec();
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
    out
}

fn ui(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

fn text(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(b' ');
    }
    v
}

/// A 3x2 MONOCHROME2 DICOM, 12 bits in 16, with a patient name that must never be printed.
fn dicom_bytes() -> Vec<u8> {
    let mut meta = Vec::new();
    meta.extend(element(0x0002, 0x0001, b"OB", &[0, 1]));
    meta.extend(element(
        0x0002,
        0x0002,
        b"UI",
        &ui("1.2.840.10008.5.1.4.1.1.1.1"),
    ));
    meta.extend(element(
        0x0002,
        0x0003,
        b"UI",
        &ui("1.2.826.0.1.3680043.2.1125.9"),
    ));
    meta.extend(element(0x0002, 0x0010, b"UI", &ui("1.2.840.10008.1.2.1")));
    meta.extend(element(
        0x0002,
        0x0012,
        b"UI",
        &ui("1.2.826.0.1.3680043.2.1125.1"),
    ));
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    out.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    out.extend(meta);
    out.extend(element(0x0010, 0x0010, b"PN", &text("Doe^Jane")));
    out.extend(element(0x0010, 0x0020, b"LO", &text("SECRET-ID-123")));
    out.extend(element(0x0018, 0x0015, b"CS", &text("HAND")));
    out.extend(element(0x0028, 0x0002, b"US", &1u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0004, b"CS", &text("MONOCHROME2")));
    out.extend(element(0x0028, 0x0010, b"US", &2u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0011, b"US", &3u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0100, b"US", &16u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0101, b"US", &12u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0102, b"US", &11u16.to_le_bytes()));
    out.extend(element(0x0028, 0x0103, b"US", &0u16.to_le_bytes()));
    let pixels: Vec<u8> = [0u16, 800, 1600, 2400, 3200, 4000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    out.extend(element(0x7FE0, 0x0010, b"OW", &pixels));
    out
}

fn fixtures(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let png = dir.join("good.png");
    let dcm = dir.join("good.dcm");
    let bad = dir.join("broken.png");
    std::fs::write(&png, png_bytes()).unwrap();
    std::fs::write(&dcm, dicom_bytes()).unwrap();
    let mut truncated = png_bytes();
    truncated.truncate(40);
    std::fs::write(&bad, truncated).unwrap();
    (png, dcm, bad)
}

#[test]
fn good_files_are_shown_and_the_corrupt_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (png, dcm, bad) = fixtures(dir.path());
    let out = fracdet(&[png.as_os_str(), bad.as_os_str(), dcm.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(
        stdout.contains("good.png") && stdout.contains("4x3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("good.dcm") && stdout.contains("3x2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MONOCHROME2") && stdout.contains("HAND"),
        "{stdout}"
    );
    assert!(stdout.contains("1.2.840.10008.1.2.1"), "{stdout}");
    assert!(!stdout.contains("broken.png"), "{stdout}");
    for secret in ["Doe", "SECRET"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
}

#[test]
fn all_good_exits_zero_and_json_has_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (png, dcm, _) = fixtures(dir.path());
    let out = fracdet(&[
        png.as_os_str(),
        dcm.as_os_str(),
        "--json".as_ref(),
        "--window".as_ref(),
        "2000,4001".as_ref(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["format"], "PNG");
    assert_eq!(items[0]["width"], 4);
    assert_eq!(items[1]["format"], "DICOM");
    assert_eq!(items[1]["bit_depth"], 12);
    assert_eq!(items[1]["window"]["center"], 2000.0);
    assert_eq!(items[1]["raw_range"][1], 4000.0);
}

#[test]
fn preview_is_written_and_never_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (png, dcm, _) = fixtures(dir.path());
    let before = std::fs::read(&png).unwrap();

    // OUT is the input itself.
    let out = fracdet(&[png.as_os_str(), "--preview".as_ref(), png.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&png).unwrap(), before);

    let single = dir.path().join("one.png");
    let out = fracdet(&[
        dcm.as_os_str(),
        "--preview".as_ref(),
        single.as_os_str(),
        "--size".as_ref(),
        "32".as_ref(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&single).unwrap();
    assert!(written.starts_with(b"\x89PNG"));
    // IHDR width and height: the --size canvas.
    assert_eq!(&written[16..24], &[0, 0, 0, 32, 0, 0, 0, 32]);

    let many = dir.path().join("previews");
    let out = fracdet(&[
        png.as_os_str(),
        dcm.as_os_str(),
        "--preview".as_ref(),
        many.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both inputs are named "good": the second preview gets a suffix instead of replacing.
    assert!(many.join("good.png").is_file());
    assert!(many.join("good-2.png").is_file());
}

#[test]
fn usage_errors_exit_two() {
    let out = fracdet(&[]);
    assert_eq!(out.status.code(), Some(2));
    let out = fracdet(&["x.png".as_ref(), "--window".as_ref(), "abc".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let out = fracdet(&["x.png".as_ref(), "--size".as_ref(), "0".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
}
