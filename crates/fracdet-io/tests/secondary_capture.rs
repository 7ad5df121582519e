//! DICOM Secondary Capture results against generated sources: what dicom-rs reads back,
//! what fracdet's own reader sees, and that the source is never touched.

use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject};
use fracdet_io::read::{ReadOptions, read_radiograph};
use fracdet_io::write::{
    DEFAULT_SERIES_DESCRIPTION, SECONDARY_CAPTURE_IMAGE_STORAGE, ScOptions, secondary_capture,
    secondary_capture_bytes, write_secondary_capture,
};
use fracdet_io::{IoError, Photometric};
use image::{Rgb, RgbImage};

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const DX_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.1.1";
const STUDY_UID: &str = "1.2.826.0.1.3680043.2.1125.1";
const SERIES_UID: &str = "1.2.826.0.1.3680043.2.1125.2";
const SOP_UID: &str = "1.2.826.0.1.3680043.2.1125.3";
const PATIENT_NAME: &str = "Doe^Jane";
const PATIENT_ID: &str = "SECRET-ID-123";
const ACCESSION: &str = "ACC-98765";

fn text(tag: Tag, vr: VR, s: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(s))
}

fn us(tag: Tag, v: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

/// A 4x3 MONOCHROME2 DX image with a patient, a study, a series and an instance; `extra`
/// replaces or adds elements, `without` removes them.
fn source_elements(extra: Vec<InMemElement>, without: &[Tag]) -> InMemDicomObject {
    let mut obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, DX_SOP_CLASS),
        text(tags::SOP_INSTANCE_UID, VR::UI, SOP_UID),
        text(tags::STUDY_DATE, VR::DA, "20240315"),
        text(tags::ACCESSION_NUMBER, VR::SH, ACCESSION),
        text(tags::MODALITY, VR::CS, "DX"),
        text(tags::PATIENT_NAME, VR::PN, PATIENT_NAME),
        text(tags::PATIENT_ID, VR::LO, PATIENT_ID),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19800101"),
        text(tags::PATIENT_SEX, VR::CS, "F"),
        text(tags::PATIENT_AGE, VR::AS, "044Y"),
        text(tags::BODY_PART_EXAMINED, VR::CS, "HAND"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, STUDY_UID),
        text(tags::SERIES_INSTANCE_UID, VR::UI, SERIES_UID),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, 3),
        us(tags::COLUMNS, 4),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16((0..12u16).map(|i| i * 300).collect()),
        ),
    ]);
    for e in extra {
        obj.put(e);
    }
    for &tag in without {
        obj.remove_element(tag);
    }
    obj
}

fn write_source(dir: &Path, name: &str, ts: &str, obj: InMemDicomObject) -> PathBuf {
    let path = dir.join(name);
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .expect("meta")
        .write_to_file(&path)
        .expect("write DICOM fixture");
    path
}

fn source(dir: &Path) -> PathBuf {
    write_source(
        dir,
        "source.dcm",
        EXPLICIT_LE,
        source_elements(Vec::new(), &[]),
    )
}

/// 40x30 with a different colour in every pixel: red follows x, green y, blue both.
fn overlay() -> RgbImage {
    RgbImage::from_fn(40, 30, |x, y| {
        Rgb([(x * 6) as u8, (y * 8) as u8, (x + y * 40) as u8])
    })
}

fn str_of(obj: &DefaultDicomObject, tag: Tag) -> String {
    obj.element(tag)
        .unwrap_or_else(|_| panic!("{tag} present"))
        .to_str()
        .expect("text")
        .trim_end_matches(['\0', ' '])
        .to_string()
}

fn u16_of(obj: &DefaultDicomObject, tag: Tag) -> u16 {
    obj.element(tag).unwrap().to_int::<u16>().unwrap()
}

fn assert_new_uid(uid: &str) {
    assert!(uid.len() <= 64, "{uid}");
    assert!(uid.starts_with("2.25."), "{uid}");
    assert!(
        uid.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "{uid}"
    );
    let n = &uid[5..];
    assert!(!n.is_empty() && (n == "0" || !n.starts_with('0')), "{uid}");
}

#[test]
fn result_joins_the_study_as_a_new_series_and_the_source_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let before = std::fs::read(&src).unwrap();
    let out = dir.path().join("result.dcm");
    let img = overlay();
    write_secondary_capture(&src, &img, &ScOptions::default(), &out).unwrap();

    // (c) the source's bytes are unchanged.
    assert_eq!(std::fs::read(&src).unwrap(), before);

    // (a) dicom-rs reads it back with the expected identity.
    let sc = dicom_object::open_file(&out).expect("readable by dicom-rs");
    assert_eq!(
        str_of(&sc, tags::SOP_CLASS_UID),
        SECONDARY_CAPTURE_IMAGE_STORAGE
    );
    assert_eq!(SECONDARY_CAPTURE_IMAGE_STORAGE, "1.2.840.10008.5.1.4.1.1.7");
    let sop = str_of(&sc, tags::SOP_INSTANCE_UID);
    let series = str_of(&sc, tags::SERIES_INSTANCE_UID);
    assert_new_uid(&sop);
    assert_new_uid(&series);
    assert_ne!(sop, SOP_UID);
    assert_ne!(series, SERIES_UID);
    assert_ne!(sop, series);
    assert_eq!(str_of(&sc, tags::STUDY_INSTANCE_UID), STUDY_UID);
    assert_eq!(str_of(&sc, tags::PATIENT_NAME), PATIENT_NAME);
    assert_eq!(str_of(&sc, tags::PATIENT_ID), PATIENT_ID);
    assert_eq!(str_of(&sc, tags::PATIENT_BIRTH_DATE), "19800101");
    assert_eq!(str_of(&sc, tags::PATIENT_SEX), "F");
    assert_eq!(str_of(&sc, tags::PATIENT_AGE), "044Y");
    assert_eq!(str_of(&sc, tags::STUDY_DATE), "20240315");
    assert_eq!(str_of(&sc, tags::ACCESSION_NUMBER), ACCESSION);
    assert_eq!(str_of(&sc, tags::BODY_PART_EXAMINED), "HAND");
    assert_eq!(
        str_of(&sc, tags::SERIES_DESCRIPTION),
        "fracdet result — not for diagnostic use"
    );
    assert_eq!(
        DEFAULT_SERIES_DESCRIPTION,
        str_of(&sc, tags::SERIES_DESCRIPTION)
    );
    assert_eq!(str_of(&sc, tags::SPECIFIC_CHARACTER_SET), "ISO_IR 192");
    assert_eq!(str_of(&sc, tags::MODALITY), "OT");
    assert_eq!(str_of(&sc, tags::CONVERSION_TYPE), "WSD");
    assert_eq!(str_of(&sc, tags::BURNED_IN_ANNOTATION), "YES");
    assert_eq!(str_of(&sc, tags::SERIES_NUMBER), "999");
    assert_eq!(str_of(&sc, tags::INSTANCE_NUMBER), "1");
    // The multi-value string has odd length, so the last value carries the pad space.
    let image_type: Vec<&str> = sc
        .element(tags::IMAGE_TYPE)
        .unwrap()
        .strings()
        .unwrap()
        .iter()
        .map(|s| s.trim_end())
        .collect();
    assert_eq!(image_type, ["DERIVED", "SECONDARY"]);
    assert!(str_of(&sc, tags::DERIVATION_DESCRIPTION).contains("fracdet"));
    assert_eq!(str_of(&sc, tags::CONTENT_DATE).len(), 8);

    // The derivation points at the source image.
    let items = sc
        .element(tags::SOURCE_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .expect("a sequence");
    assert_eq!(items.len(), 1);
    let item_str = |tag| {
        items[0]
            .element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    assert_eq!(item_str(tags::REFERENCED_SOP_CLASS_UID), DX_SOP_CLASS);
    assert_eq!(item_str(tags::REFERENCED_SOP_INSTANCE_UID), SOP_UID);

    // File meta agrees with the data set.
    let meta = sc.meta();
    assert_eq!(
        meta.media_storage_sop_class_uid().trim_end_matches('\0'),
        SECONDARY_CAPTURE_IMAGE_STORAGE
    );
    assert_eq!(
        meta.media_storage_sop_instance_uid().trim_end_matches('\0'),
        sop
    );
    assert_eq!(meta.transfer_syntax().trim_end_matches('\0'), EXPLICIT_LE);

    // Image pixel module and the pixels themselves.
    assert_eq!(u16_of(&sc, tags::ROWS), 30);
    assert_eq!(u16_of(&sc, tags::COLUMNS), 40);
    assert_eq!(u16_of(&sc, tags::SAMPLES_PER_PIXEL), 3);
    assert_eq!(u16_of(&sc, tags::PLANAR_CONFIGURATION), 0);
    assert_eq!(u16_of(&sc, tags::BITS_ALLOCATED), 8);
    assert_eq!(u16_of(&sc, tags::BITS_STORED), 8);
    assert_eq!(u16_of(&sc, tags::HIGH_BIT), 7);
    assert_eq!(u16_of(&sc, tags::PIXEL_REPRESENTATION), 0);
    assert_eq!(str_of(&sc, tags::PHOTOMETRIC_INTERPRETATION), "RGB");
    let pixel_data = sc.element(tags::PIXEL_DATA).unwrap();
    assert_eq!(pixel_data.vr(), VR::OB);
    assert_eq!(&*pixel_data.to_bytes().unwrap(), img.as_raw().as_slice());

    // (b) fracdet's own reader takes it as an RGB radiograph and sees the overlay's luminance.
    let r = read_radiograph(&out, &ReadOptions::default()).expect("fracdet reads its result");
    assert_eq!((r.width, r.height), (40, 30));
    assert_eq!(r.meta.photometric, Photometric::Rgb);
    for (i, p) in img.pixels().enumerate() {
        let [red, green, blue] = p.0.map(f64::from);
        let want = (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255.0;
        assert!(
            (f64::from(r.pixels[i]) - want).abs() < 1e-5,
            "pixel {i}: {} vs {want}",
            r.pixels[i]
        );
    }

    // Nothing else was left in the folder (no temporary file).
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["result.dcm", "source.dcm"]);
}

#[test]
fn writing_onto_the_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let before = std::fs::read(&src).unwrap();
    let overwrite = ScOptions {
        overwrite: true,
        ..ScOptions::default()
    };
    let mut aliases = vec![src.clone(), dir.path().join(".").join("source.dcm")];
    #[cfg(unix)]
    {
        let link = dir.path().join("link.dcm");
        std::os::unix::fs::symlink(&src, &link).unwrap();
        aliases.push(link);
        let hard = dir.path().join("hard.dcm");
        std::fs::hard_link(&src, &hard).unwrap();
        aliases.push(hard);
    }
    for out in &aliases {
        for options in [&ScOptions::default(), &overwrite] {
            let err = write_secondary_capture(&src, &overlay(), options, out).unwrap_err();
            assert!(
                matches!(err, IoError::OutputIsSource { .. }),
                "{}: {err}",
                out.display()
            );
        }
    }
    assert_eq!(std::fs::read(&src).unwrap(), before);
}

#[test]
fn an_existing_output_is_kept_unless_overwrite_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let out = dir.path().join("result.dcm");
    std::fs::write(&out, b"keep me").unwrap();
    let err = write_secondary_capture(&src, &overlay(), &ScOptions::default(), &out).unwrap_err();
    assert!(matches!(err, IoError::OutputExists { .. }), "{err}");
    assert!(err.to_string().contains("result.dcm"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    let options = ScOptions {
        overwrite: true,
        series_description: "custom".to_string(),
        series_number: 7,
    };
    write_secondary_capture(&src, &overlay(), &options, &out).unwrap();
    let sc = dicom_object::open_file(&out).unwrap();
    assert_eq!(str_of(&sc, tags::SERIES_DESCRIPTION), "custom");
    assert_eq!(str_of(&sc, tags::SERIES_NUMBER), "7");

    // A folder that does not exist is an I/O error naming it.
    let missing = dir.path().join("no-such-dir").join("r.dcm");
    let err =
        write_secondary_capture(&src, &overlay(), &ScOptions::default(), &missing).unwrap_err();
    assert!(matches!(err, IoError::Io { .. }), "{err}");
}

#[test]
fn every_result_gets_new_uids() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let read = |bytes: Vec<u8>| {
        dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(bytes.as_slice())
            .expect("readable")
    };
    let a = read(secondary_capture(&src, &overlay(), &ScOptions::default()).unwrap());
    let b = read(secondary_capture(&src, &overlay(), &ScOptions::default()).unwrap());
    assert_ne!(
        str_of(&a, tags::SOP_INSTANCE_UID),
        str_of(&b, tags::SOP_INSTANCE_UID)
    );
    assert_ne!(
        str_of(&a, tags::SERIES_INSTANCE_UID),
        str_of(&b, tags::SERIES_INSTANCE_UID)
    );
    assert_eq!(
        str_of(&a, tags::STUDY_INSTANCE_UID),
        str_of(&b, tags::STUDY_INSTANCE_UID)
    );
}

#[test]
fn non_dicom_sources_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("image.png");
    overlay().save(&png).unwrap();
    let err = secondary_capture(&png, &overlay(), &ScOptions::default()).unwrap_err();
    assert!(
        matches!(err, IoError::NotDicom { found: "PNG", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("image.png"), "{err}");

    let name = Path::new("x");
    let err =
        secondary_capture_bytes(b"hello", name, &overlay(), &ScOptions::default()).unwrap_err();
    assert!(matches!(err, IoError::UnknownFormat { .. }), "{err}");
    let err = secondary_capture_bytes(b"", name, &overlay(), &ScOptions::default()).unwrap_err();
    assert!(matches!(err, IoError::Empty { .. }), "{err}");

    // Every truncation of a real source is an error, never a panic.
    let bytes = std::fs::read(source(dir.path())).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        let _ = secondary_capture_bytes(&bytes[..cut], name, &overlay(), &ScOptions::default());
    }

    // A bad overlay or option is an argument error.
    let err = secondary_capture_bytes(&bytes, name, &RgbImage::new(0, 0), &ScOptions::default())
        .unwrap_err();
    assert!(matches!(err, IoError::InvalidArgument(_)), "{err}");
}

#[test]
fn text_in_another_character_set_and_nested_sequences_survive_as_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let other_id = InMemDicomObject::from_element_iter([
        text(tags::PATIENT_ID, VR::LO, "ALT-1"),
        text(tags::ISSUER_OF_PATIENT_ID, VR::LO, "Hôpital Général"),
    ]);
    let obj = source_elements(
        vec![
            text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
            text(tags::PATIENT_NAME, VR::PN, "Müller^Jürgen"),
            DataElement::new(
                tags::OTHER_PATIENT_I_DS_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![other_id], Length::UNDEFINED),
            ),
        ],
        &[],
    );
    // Implicit VR, Latin-1: every element header and text value changes size on the way.
    let src = write_source(dir.path(), "latin1.dcm", IMPLICIT_LE, obj);
    let raw = std::fs::read(&src).unwrap();
    assert!(
        raw.windows(6).any(|w| w == b"M\xFCller"),
        "fixture is Latin-1"
    );

    let bytes = secondary_capture(&src, &overlay(), &ScOptions::default()).unwrap();
    assert!(
        bytes.windows(7).any(|w| w == "Müller".as_bytes()),
        "result is UTF-8"
    );
    let sc = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .from_reader(bytes.as_slice())
        .unwrap();
    assert_eq!(str_of(&sc, tags::PATIENT_NAME), "Müller^Jürgen");
    let items = sc
        .element(tags::OTHER_PATIENT_I_DS_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(items.len(), 1);
    let issuer = items[0].element(tags::ISSUER_OF_PATIENT_ID).unwrap();
    assert_eq!(issuer.to_str().unwrap().trim_end(), "Hôpital Général");
    // The pixels after the sequence are still where they should be.
    assert_eq!(
        &*sc.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap(),
        overlay().as_raw().as_slice()
    );
}

#[test]
fn a_source_without_a_study_is_refused_and_errors_quote_no_patient_values() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_source(
        dir.path(),
        "nostudy.dcm",
        EXPLICIT_LE,
        source_elements(Vec::new(), &[tags::STUDY_INSTANCE_UID]),
    );
    let err = secondary_capture(&src, &overlay(), &ScOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::Dicom {
                attribute: "StudyInstanceUID",
                ..
            }
        ),
        "{err}"
    );
    let message = format!("{err} {err:?}");
    for secret in [
        PATIENT_NAME,
        "Doe",
        PATIENT_ID,
        ACCESSION,
        SOP_UID,
        SERIES_UID,
    ] {
        assert!(!message.contains(secret), "{message}");
    }
}

#[test]
fn missing_patient_attributes_are_written_empty() {
    let dir = tempfile::tempdir().unwrap();
    let src = write_source(
        dir.path(),
        "anon.dcm",
        EXPLICIT_LE,
        source_elements(
            Vec::new(),
            &[
                tags::PATIENT_NAME,
                tags::PATIENT_ID,
                tags::PATIENT_BIRTH_DATE,
                tags::PATIENT_SEX,
                tags::SOP_INSTANCE_UID,
            ],
        ),
    );
    let bytes = secondary_capture(&src, &overlay(), &ScOptions::default()).unwrap();
    let sc = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .from_reader(bytes.as_slice())
        .unwrap();
    for tag in [
        tags::PATIENT_NAME,
        tags::PATIENT_ID,
        tags::PATIENT_BIRTH_DATE,
        tags::PATIENT_SEX,
        tags::REFERRING_PHYSICIAN_NAME,
        tags::STUDY_ID,
    ] {
        assert_eq!(str_of(&sc, tag), "", "{tag}");
    }
    // No source SOP Instance UID, so nothing to reference.
    assert!(sc.element(tags::SOURCE_IMAGE_SEQUENCE).is_err());
    assert_eq!(str_of(&sc, tags::STUDY_INSTANCE_UID), STUDY_UID);
}

/// Debian's dicom3tools `dciodvfy` validates the result against the Secondary Capture
/// IOD: no errors (warnings about DICOMDIR fields are not errors). Skips, saying so, where
/// dciodvfy is not installed (`.ci/run` installs it).
#[test]
fn dciodvfy_finds_no_error_in_the_result() {
    let Ok(probe) = std::process::Command::new("dciodvfy").arg("-h").output() else {
        eprintln!("NOTICE: dciodvfy not installed (Debian dicom3tools); IOD check skipped");
        return;
    };
    let _ = probe;
    let dir = tempfile::tempdir().unwrap();
    // With and without the source stating laterality: both must validate.
    let sources = [
        source(dir.path()),
        write_source(
            dir.path(),
            "lateral.dcm",
            EXPLICIT_LE,
            source_elements(vec![text(tags::LATERALITY, VR::CS, "L")], &[]),
        ),
    ];
    for (i, src) in sources.iter().enumerate() {
        let out = dir.path().join(format!("result-{i}.dcm"));
        write_secondary_capture(src, &overlay(), &ScOptions::default(), &out).unwrap();
        let o = std::process::Command::new("dciodvfy")
            .arg(&out)
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("Error")).collect();
        assert!(
            errors.is_empty(),
            "{}: {errors:#?}\n{report}",
            src.display()
        );
        assert!(
            report.contains("SCImage"),
            "dciodvfy did not recognise the IOD: {report}"
        );
    }
}
