//! The SR and GSPS results against generated sources: what dicom-rs reads back (the
//! finding, probability, operating point, model, each box on the right image, the window)
//! and what Debian's dciodvfy says of them (no errors).

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject};
use fracdet_io::write::{
    COMPREHENSIVE_SR_STORAGE, FindingLevel, GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    ImageFindings, ModelInfo, OperatingPointUsed, Region, ReportImage, ResultOptions,
    not_assessed_report_bytes, presentation_state_bytes, source_header_bytes, source_image,
    structured_report_bytes,
};
use fracdet_io::{BBox, IoError, Window};

const DX_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.1.1";
const STUDY_UID: &str = "1.2.826.0.1.3680043.2.1125.1";
const SERIES_UID: &str = "1.2.826.0.1.3680043.2.1125.2";

fn text(tag: Tag, vr: VR, s: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(s))
}

fn us(tag: Tag, v: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

/// Part-10 bytes of a 40x30 MONOCHROME2 DX image `sop` in the test study, with `extra`.
fn source(sop: &str, study: &str, extra: Vec<InMemElement>) -> Vec<u8> {
    let mut obj = InMemDicomObject::from_element_iter([
        text(tags::SOP_CLASS_UID, VR::UI, DX_SOP_CLASS),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study),
        text(tags::SERIES_INSTANCE_UID, VR::UI, SERIES_UID),
        text(tags::MODALITY, VR::CS, "DX"),
        text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
        text(tags::PATIENT_ID, VR::LO, "SECRET-ID-123"),
        text(tags::ACCESSION_NUMBER, VR::SH, "ACC-98765"),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, 30),
        us(tags::COLUMNS, 40),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16((0..1200u16).collect()),
        ),
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

fn findings(level: FindingLevel, probability: f32, boxes: &[[f32; 4]]) -> ImageFindings {
    ImageFindings {
        level,
        probability,
        operating_point: Some(OperatingPointUsed {
            name: "high specificity".into(),
            threshold: 0.444,
        }),
        regions: boxes
            .iter()
            .map(|b| Region {
                bbox: BBox::new(b[0], b[1], b[2], b[3]),
                score: 0.75,
            })
            .collect(),
        out_of_scope: None,
    }
}

fn model() -> ModelInfo {
    ModelInfo {
        name: "mobilenet_v2-test".into(),
        version: "0.1.0".into(),
    }
}

fn options() -> ResultOptions {
    ResultOptions {
        series_description: "fracdet test".into(),
        series_number: 998,
    }
}

fn read(bytes: &[u8]) -> DefaultDicomObject {
    dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .from_reader(bytes)
        .expect("dicom-rs reads the result")
}

fn str_in(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.element(tag)
        .unwrap_or_else(|_| panic!("{tag} present"))
        .to_str()
        .unwrap()
        .trim_end_matches(['\0', ' '])
        .to_string()
}

/// Every content item of the SR tree, depth first, with its depth.
fn walk<'a>(
    item: &'a InMemDicomObject,
    depth: usize,
    out: &mut Vec<(usize, &'a InMemDicomObject)>,
) {
    out.push((depth, item));
    if let Ok(seq) = item.element(tags::CONTENT_SEQUENCE)
        && let Some(children) = seq.items()
    {
        for c in children {
            walk(c, depth + 1, out);
        }
    }
}

fn concept(item: &InMemDicomObject) -> String {
    item.element(tags::CONCEPT_NAME_CODE_SEQUENCE)
        .ok()
        .and_then(|e| e.items().map(|i| str_in(&i[0], tags::CODE_MEANING)))
        .unwrap_or_default()
}

fn referenced_sop(item: &InMemDicomObject) -> String {
    let seq = item.element(tags::REFERENCED_SOP_SEQUENCE).unwrap();
    str_in(&seq.items().unwrap()[0], tags::REFERENCED_SOP_INSTANCE_UID)
}

#[test]
fn the_sr_says_what_was_found_and_where() {
    let a = source("1.2.3.1", STUDY_UID, Vec::new());
    let b = source("1.2.3.2", STUDY_UID, Vec::new());
    let fa = findings(FindingLevel::Possible, 0.31, &[]);
    let fb = findings(
        FindingLevel::Likely,
        0.83,
        &[[2.0, 3.0, 12.5, 20.0], [20.0, 1.0, 30.0, 9.0]],
    );
    let images = [
        ReportImage {
            source: &a,
            name: Path::new("a.dcm"),
            findings: &fa,
        },
        ReportImage {
            source: &b,
            name: Path::new("b.dcm"),
            findings: &fb,
        },
    ];
    let sr = read(&structured_report_bytes(&images, &model(), &options()).unwrap());
    assert_eq!(str_in(&sr, tags::SOP_CLASS_UID), COMPREHENSIVE_SR_STORAGE);
    assert_eq!(str_in(&sr, tags::MODALITY), "SR");
    assert_eq!(str_in(&sr, tags::STUDY_INSTANCE_UID), STUDY_UID);
    assert_ne!(str_in(&sr, tags::SERIES_INSTANCE_UID), SERIES_UID);
    assert_eq!(str_in(&sr, tags::PATIENT_ID), "SECRET-ID-123");
    assert_eq!(str_in(&sr, tags::SERIES_NUMBER), "998");
    assert_eq!(str_in(&sr, tags::VERIFICATION_FLAG), "UNVERIFIED");

    let mut items = Vec::new();
    walk(&sr, 0, &mut items);
    let with = |meaning: &str| -> Vec<&InMemDicomObject> {
        items
            .iter()
            .filter(|(_, i)| concept(i) == meaning)
            .map(|(_, i)| *i)
            .collect()
    };
    // One measurement group per image, in order, each naming its image.
    let groups = with("Measurement Group");
    assert_eq!(groups.len(), 2);
    let probabilities: Vec<String> = with("Fracture probability")
        .iter()
        .map(|i| {
            let m = i.element(tags::MEASURED_VALUE_SEQUENCE).unwrap();
            str_in(&m.items().unwrap()[0], tags::NUMERIC_VALUE)
        })
        .collect();
    // Two groups and the study's own.
    assert_eq!(probabilities.len(), 3);
    assert!(probabilities[0].starts_with("0.31"), "{probabilities:?}");
    assert!(probabilities[1].starts_with("0.83"), "{probabilities:?}");
    // The study finding is the likely image's, and it is named.
    assert!(probabilities[2].starts_with("0.83"), "{probabilities:?}");
    let decider = with("Deciding image");
    assert_eq!(decider.len(), 1);
    assert_eq!(referenced_sop(decider[0]), "1.2.3.2");
    let study = with("Study fracture suspicion");
    let value = study[0].element(tags::CONCEPT_CODE_SEQUENCE).unwrap();
    assert_eq!(
        str_in(&value.items().unwrap()[0], tags::CODE_MEANING),
        "Likely fracture"
    );
    // Model, version and operating point.
    let texts = |meaning| -> Vec<String> {
        with(meaning)
            .iter()
            .map(|i| str_in(i, tags::TEXT_VALUE))
            .collect()
    };
    assert_eq!(
        texts("Algorithm Name"),
        ["mobilenet_v2-test", "mobilenet_v2-test"]
    );
    assert_eq!(texts("Algorithm Version"), ["0.1.0", "0.1.0"]);
    assert_eq!(
        texts("Operating point"),
        ["high specificity", "high specificity"]
    );
    // Each box: an SCOORD closed polyline on image b, with the box's corners.
    let regions = with("Image Region");
    assert_eq!(regions.len(), 2);
    let data = regions[0]
        .element(tags::GRAPHIC_DATA)
        .unwrap()
        .to_multi_float32()
        .unwrap();
    assert_eq!(data, [2.0, 3.0, 12.5, 3.0, 12.5, 20.0, 2.0, 20.0, 2.0, 3.0]);
    for r in &regions {
        assert_eq!(str_in(r, tags::VALUE_TYPE), "SCOORD");
        let from = r.element(tags::CONTENT_SEQUENCE).unwrap();
        let from = &from.items().unwrap()[0];
        assert_eq!(str_in(from, tags::RELATIONSHIP_TYPE), "SELECTED FROM");
        assert_eq!(referenced_sop(from), "1.2.3.2");
    }
    // Fracture (SNOMED) is stated for both flagged images.
    assert_eq!(with("Finding").len(), 2);
}

#[test]
fn the_gsps_draws_the_boxes_over_the_original_with_its_window() {
    let src = source(
        "1.2.3.9",
        STUDY_UID,
        vec![
            text(tags::WINDOW_CENTER, VR::DS, "600\\900"),
            text(tags::WINDOW_WIDTH, VR::DS, "1200\\400"),
            text(tags::RESCALE_INTERCEPT, VR::DS, "-10"),
            text(tags::RESCALE_SLOPE, VR::DS, "2"),
        ],
    );
    let f = findings(
        FindingLevel::Likely,
        0.83,
        &[[2.0, 3.0, 12.5, 20.0], [35.0, 25.0, 50.0, 40.0]],
    );
    let bytes =
        presentation_state_bytes(&src, Path::new("s.dcm"), &f, None, &model(), &options()).unwrap();
    let pr = read(&bytes);
    assert_eq!(
        str_in(&pr, tags::SOP_CLASS_UID),
        GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE
    );
    assert_eq!(str_in(&pr, tags::MODALITY), "PR");
    assert_eq!(str_in(&pr, tags::STUDY_INSTANCE_UID), STUDY_UID);
    assert_eq!(str_in(&pr, tags::RESCALE_SLOPE), "2");
    assert_eq!(str_in(&pr, tags::PRESENTATION_LUT_SHAPE), "IDENTITY");
    // The file's first window.
    let voi = pr.element(tags::SOFTCOPY_VOILUT_SEQUENCE).unwrap();
    let voi = &voi.items().unwrap()[0];
    assert_eq!(
        str_in(voi, tags::WINDOW_CENTER).parse::<f64>().unwrap(),
        600.0
    );
    assert_eq!(
        str_in(voi, tags::WINDOW_WIDTH).parse::<f64>().unwrap(),
        1200.0
    );
    // The referenced series and image.
    let series = pr.element(tags::REFERENCED_SERIES_SEQUENCE).unwrap();
    let series = &series.items().unwrap()[0];
    assert_eq!(str_in(series, tags::SERIES_INSTANCE_UID), SERIES_UID);
    let image = series.element(tags::REFERENCED_IMAGE_SEQUENCE).unwrap();
    assert_eq!(
        str_in(
            &image.items().unwrap()[0],
            tags::REFERENCED_SOP_INSTANCE_UID
        ),
        "1.2.3.9"
    );
    // Two closed polylines; the second, which ran past the image, is clipped to it.
    let ann = pr.element(tags::GRAPHIC_ANNOTATION_SEQUENCE).unwrap();
    let ann = &ann.items().unwrap()[0];
    assert_eq!(str_in(ann, tags::GRAPHIC_LAYER), "FRACDET");
    let objects = ann.element(tags::GRAPHIC_OBJECT_SEQUENCE).unwrap();
    let objects = objects.items().unwrap();
    assert_eq!(objects.len(), 2);
    let second = objects[1]
        .element(tags::GRAPHIC_DATA)
        .unwrap()
        .to_multi_float32()
        .unwrap();
    assert_eq!(
        second,
        [35.0, 25.0, 40.0, 25.0, 40.0, 30.0, 35.0, 30.0, 35.0, 25.0]
    );
    let labels = ann.element(tags::TEXT_OBJECT_SEQUENCE).unwrap();
    assert_eq!(
        str_in(&labels.items().unwrap()[0], tags::UNFORMATTED_TEXT_VALUE),
        "fracture? 0.75"
    );

    // A window given by the caller wins; a MONOCHROME1 source is presented inverted.
    let mono1 = source(
        "1.2.3.10",
        STUDY_UID,
        vec![text(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME1",
        )],
    );
    let w = Window {
        center: 100.5,
        width: 50.0,
    };
    let pr = read(
        &presentation_state_bytes(
            &mono1,
            Path::new("m.dcm"),
            &f,
            Some(w),
            &model(),
            &options(),
        )
        .unwrap(),
    );
    assert_eq!(str_in(&pr, tags::PRESENTATION_LUT_SHAPE), "INVERSE");
    let voi = pr.element(tags::SOFTCOPY_VOILUT_SEQUENCE).unwrap();
    assert_eq!(
        str_in(&voi.items().unwrap()[0], tags::WINDOW_CENTER)
            .parse::<f64>()
            .unwrap(),
        100.5
    );
}

#[test]
fn bad_inputs_are_clear_errors_without_patient_values() {
    let a = source("1.2.3.1", STUDY_UID, Vec::new());
    let other = source("1.2.3.2", "1.2.3.999", Vec::new());
    let f = findings(FindingLevel::Negative, 0.1, &[]);
    let err = structured_report_bytes(&[], &model(), &options()).unwrap_err();
    assert!(matches!(err, IoError::InvalidArgument(_)), "{err}");
    let two_studies = [
        ReportImage {
            source: &a,
            name: Path::new("a.dcm"),
            findings: &f,
        },
        ReportImage {
            source: &other,
            name: Path::new("b.dcm"),
            findings: &f,
        },
    ];
    let err = structured_report_bytes(&two_studies, &model(), &options()).unwrap_err();
    assert!(err.to_string().contains("another study"), "{err}");
    let bad = findings(FindingLevel::Negative, 1.5, &[]);
    let one = [ReportImage {
        source: &a,
        name: Path::new("a.dcm"),
        findings: &bad,
    }];
    assert!(structured_report_bytes(&one, &model(), &options()).is_err());
    let png = [ReportImage {
        source: b"\x89PNG\r\n\x1a\n",
        name: Path::new("x.png"),
        findings: &f,
    }];
    assert!(structured_report_bytes(&png, &model(), &options()).is_err());
    // Every truncation is an error or a result, never a panic.
    for cut in (0..a.len()).step_by(11) {
        let _ = presentation_state_bytes(
            &a[..cut],
            Path::new("a.dcm"),
            &f,
            None,
            &model(),
            &options(),
        );
    }
    // No series: a GSPS cannot reference its image.
    let mut obj = read(&a).into_inner();
    obj.remove_element(tags::SERIES_INSTANCE_UID);
    let mut no_series = Vec::new();
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap()
        .write_all(&mut no_series)
        .unwrap();
    let err = presentation_state_bytes(
        &no_series,
        Path::new("n.dcm"),
        &f,
        None,
        &model(),
        &options(),
    )
    .unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(message.contains("SeriesInstanceUID"), "{message}");
    for secret in ["Doe", "SECRET", "ACC-98765"] {
        assert!(!message.contains(secret), "{message}");
    }
    let image = source_image(&a, Path::new("a.dcm")).unwrap();
    assert_eq!(image.sop_instance_uid, "1.2.3.1");
    assert_eq!(image.study_instance_uid, STUDY_UID);
}

/// An image the scope check refused gets an SR in its study that says "not assessed" and
/// why, and nothing a reader could take for a finding: no fracture code, probability,
/// operating point, threshold or box.
#[test]
fn an_image_not_assessed_gets_an_sr_saying_so_and_no_finding() {
    let src = source("1.2.3.7", STUDY_UID, Vec::new());
    let reason = "unlike the images the model was trained on (typicality 9.1 > 2.3)";
    let sr = read(
        &not_assessed_report_bytes(&src, Path::new("s.dcm"), reason, &model(), &options()).unwrap(),
    );
    assert_eq!(str_in(&sr, tags::SOP_CLASS_UID), COMPREHENSIVE_SR_STORAGE);
    assert_eq!(str_in(&sr, tags::STUDY_INSTANCE_UID), STUDY_UID);
    assert_eq!(str_in(&sr, tags::PATIENT_ID), "SECRET-ID-123");
    let mut items = Vec::new();
    walk(&sr, 0, &mut items);
    let concepts: Vec<String> = items.iter().map(|(_, i)| concept(i)).collect();
    let value_of = |name: &str| {
        items
            .iter()
            .find(|(_, i)| concept(i) == name)
            .map(|(_, i)| *i)
            .unwrap_or_else(|| panic!("no {name} in {concepts:?}"))
    };
    let level = value_of("Fracture suspicion");
    let level = level.element(tags::CONCEPT_CODE_SEQUENCE).unwrap();
    assert_eq!(
        str_in(&level.items().unwrap()[0], tags::CODE_MEANING),
        "Not assessed: outside the model's scope"
    );
    assert_eq!(
        str_in(value_of("Reason not assessed"), tags::TEXT_VALUE),
        reason
    );
    assert_eq!(referenced_sop(value_of("Source")), "1.2.3.7");
    for absent in [
        "Finding",
        "Fracture probability",
        "Operating point",
        "Decision threshold",
        "Region score",
        "Study fracture suspicion",
    ] {
        assert!(
            !concepts.iter().any(|c| c == absent),
            "{absent} in {concepts:?}"
        );
    }
    assert!(
        items
            .iter()
            .all(|(_, i)| i.element(tags::GRAPHIC_DATA).is_err()),
        "a box in a not-assessed SR"
    );
}

/// dciodvfy (Debian dicom3tools) validates the SR and the GSPS against their IODs: no
/// errors. Skips, saying so, where it is not installed (`.ci/run` installs it).
#[test]
fn dciodvfy_finds_no_error_in_the_sr_and_the_gsps() {
    if std::process::Command::new("dciodvfy")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("NOTICE: dciodvfy not installed (Debian dicom3tools); SR/GSPS IOD check skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source(
        "1.2.3.1",
        STUDY_UID,
        vec![
            text(tags::WINDOW_CENTER, VR::DS, "600"),
            text(tags::WINDOW_WIDTH, VR::DS, "1200"),
        ],
    );
    let boxed = findings(FindingLevel::Likely, 0.83, &[[2.0, 3.0, 12.5, 20.0]]);
    let negative = ImageFindings {
        operating_point: None,
        out_of_scope: Some("unlike the training images".into()),
        ..findings(FindingLevel::Negative, 0.05, &[])
    };
    let mut files: Vec<(PathBuf, &str)> = Vec::new();
    for (i, f) in [&boxed, &negative].into_iter().enumerate() {
        let images = [ReportImage {
            source: &src,
            name: Path::new("s.dcm"),
            findings: f,
        }];
        let sr = dir.path().join(format!("sr-{i}.dcm"));
        std::fs::write(
            &sr,
            structured_report_bytes(&images, &model(), &options()).unwrap(),
        )
        .unwrap();
        files.push((sr, "ComprehensiveSR"));
        let pr = dir.path().join(format!("pr-{i}.dcm"));
        let bytes =
            presentation_state_bytes(&src, Path::new("s.dcm"), f, None, &model(), &options())
                .unwrap();
        std::fs::write(&pr, bytes).unwrap();
        files.push((pr, "GrayscaleSoftcopyPresentationState"));
    }
    let refused = dir.path().join("sr-not-assessed.dcm");
    let bytes = not_assessed_report_bytes(
        &src,
        Path::new("s.dcm"),
        "not a radiograph: a colour photograph",
        &model(),
        &options(),
    )
    .unwrap();
    std::fs::write(&refused, bytes).unwrap();
    files.push((refused, "ComprehensiveSR"));
    for (path, iod) in files {
        let o = std::process::Command::new("dciodvfy")
            .arg(&path)
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("Error")).collect();
        if std::env::var_os("FRACDET_SHOW_DCIODVFY").is_some() {
            eprintln!("{}:\n{report}", path.display());
        }
        assert!(
            errors.is_empty(),
            "{}: {errors:#?}\n{report}",
            path.display()
        );
        assert!(
            report.contains(iod),
            "{}: dciodvfy did not recognise {iod}: {report}",
            path.display()
        );
    }
}

/// The header copy the DICOM node keeps per analysed instance: the same image to every
/// writer, without its pixels, and an SR of a study written from copies alone reads back
/// with both images and the study finding (dciodvfy checks that SR in the node's test).
#[test]
fn a_study_sr_can_be_written_from_header_copies() {
    let a = source("1.2.3.1", STUDY_UID, Vec::new());
    let b = source("1.2.3.2", STUDY_UID, Vec::new());
    let name = Path::new("s.dcm");
    let (ca, cb) = (
        source_header_bytes(&a, name).unwrap(),
        source_header_bytes(&b, name).unwrap(),
    );
    assert_eq!(
        source_image(&ca, name).unwrap(),
        source_image(&a, name).unwrap()
    );
    assert!(ca.len() + 2000 < a.len(), "{} vs {}", ca.len(), a.len());
    assert!(read(&ca).element(tags::PIXEL_DATA).is_err());
    assert_eq!(str_in(&read(&ca), tags::PATIENT_ID), "SECRET-ID-123");
    let low = findings(FindingLevel::Negative, 0.1, &[]);
    let high = findings(FindingLevel::Likely, 0.9, &[[2.0, 3.0, 12.5, 20.0]]);
    let images = [
        ReportImage {
            source: &ca,
            name,
            findings: &low,
        },
        ReportImage {
            source: &cb,
            name,
            findings: &high,
        },
    ];
    let sr = read(&structured_report_bytes(&images, &model(), &options()).unwrap());
    let text = format!("{:?}", sr);
    assert!(text.contains("1.2.3.1") && text.contains("1.2.3.2"));
    assert!(text.contains("DECIDING_IMAGE"), "no study finding");
    assert!(source_header_bytes(b"not dicom at all", name).is_err());
}
