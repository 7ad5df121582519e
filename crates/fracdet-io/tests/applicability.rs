//! The model-free applicability check (issue #14, item 1, first part): every generated
//! out-of-scope input is refused with its reason, and the bundled FracAtlas samples and
//! radiograph-like DICOMs pass.

mod common;

use std::path::Path;

use common::*;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use fracdet_io::applicability::{NotAssessed, Thresholds, check};
use fracdet_io::{Radiograph, ReadOptions, read_radiograph, read_radiograph_bytes};

fn read(bytes: &[u8], name: &str) -> Radiograph {
    read_radiograph_bytes(bytes, Path::new(name), &ReadOptions::default()).unwrap()
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn grey_png(w: u32, h: u32, mut f: impl FnMut(u32, u32) -> u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]));
    encode(img.into(), image::ImageFormat::Png)
}

/// A bone-like synthetic radiograph: dark background, a bright smooth shaft with a cortex.
fn radiograph_like(w: u32, h: u32) -> Vec<u8> {
    grey_png(w, h, |x, y| {
        let dx = (x as f32 - w as f32 / 2.0) / (w as f32 / 8.0);
        let shaft = (1.0 - dx * dx).max(0.0);
        let cortex = if (0.6..1.0).contains(&dx.abs()) {
            0.25
        } else {
            0.0
        };
        let soft = 0.15 + 0.05 * ((y as f32) / 17.0).sin();
        ((soft + 0.5 * shaft + cortex).min(1.0) * 255.0) as u8
    })
}

/// Generated inputs that are not radiographs, each with the reason it must get.
fn out_of_scope() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut rng = Rng(0x5EED);
    let noise = grey_png(400, 300, |_, _| (rng.next() >> 56) as u8);
    let gradient = grey_png(512, 384, |x, y| ((x + y) * 255 / (512 + 384)) as u8);
    let radial = grey_png(400, 400, |x, y| {
        let r = ((x as f32 - 200.0).powi(2) + (y as f32 - 200.0).powi(2)).sqrt();
        (255.0 * (1.0 - r / 283.0)).max(0.0) as u8
    });
    // Photograph-like: smooth colour fields (sky, skin, foliage) with soft shapes.
    let photo = image::RgbImage::from_fn(480, 360, |x, y| {
        let (fx, fy) = (x as f32 / 480.0, y as f32 / 360.0);
        let face = ((fx - 0.5).powi(2) + (fy - 0.45).powi(2)).sqrt() < 0.2;
        if face {
            image::Rgb([224, 172, 140])
        } else if fy < 0.6 {
            image::Rgb([(90.0 + 80.0 * fy) as u8, (150.0 + 60.0 * fy) as u8, 235])
        } else {
            image::Rgb([60, (120.0 + 60.0 * fx) as u8, 50])
        }
    });
    let photo = encode(photo.into(), image::ImageFormat::Jpeg);
    // Text on white: black strokes in lines, as a scanned letter.
    let text = grey_png(600, 800, |x, y| {
        let in_line = (y % 24) < 12 && (60..540).contains(&x) && (40..760).contains(&y);
        let stroke = (x / 3 + y / 5) % 7 == 0 || x % 11 == 0;
        if in_line && stroke { 20 } else { 250 }
    });
    let blank = grey_png(300, 300, |_, _| 128);
    let white = grey_png(300, 300, |x, y| if x < 40 && y < 40 { 100 } else { 255 });
    let modality = |m: &str| {
        let extra = vec![DataElement::new(
            tags::MODALITY,
            VR::CS,
            PrimitiveValue::from(m),
        )];
        dicom(64, 64, EXPLICIT_LE, extra)
    };
    vec![
        ("noise.png", noise, "no_structure"),
        ("gradient.png", gradient, "no_structure"),
        ("radial.png", radial, "no_structure"),
        ("photo.jpg", photo, "colour"),
        ("letter.png", text, "document"),
        ("blank.png", blank, "blank"),
        ("overexposed.png", white, "saturated"),
        ("ct.dcm", modality("CT"), "modality"),
        ("mr.dcm", modality("MR"), "modality"),
        ("us.dcm", modality("US"), "modality"),
    ]
}

#[test]
fn every_generated_out_of_scope_input_is_refused_with_its_reason() {
    for (name, bytes, reason) in out_of_scope() {
        let image = read(&bytes, name);
        let refused = check(&image, &Thresholds::default())
            .err()
            .unwrap_or_else(|| panic!("{name} was taken for a radiograph"));
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["reason"], reason, "{name}: {}", refused.describe());
        assert!(!refused.describe().is_empty());
    }
}

#[test]
fn radiographs_pass() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let mut n = 0;
    for entry in std::fs::read_dir(&samples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jpg") {
            let image = read_radiograph(&path, &ReadOptions::default()).unwrap();
            if let Err(why) = check(&image, &Thresholds::default()) {
                panic!("{}: {}", path.display(), why.describe());
            }
            n += 1;
        }
    }
    assert_eq!(n, 6, "the six bundled FracAtlas samples");
    // A synthetic bone, as PNG and as an RGB JPEG of a grey image (chroma ~0).
    let png = radiograph_like(320, 480);
    assert!(check(&read(&png, "bone.png"), &Thresholds::default()).is_ok());
    let grey = image::load_from_memory(&png).unwrap().to_rgb8();
    let rgb = encode(grey.into(), image::ImageFormat::Jpeg);
    let image = read(&rgb, "bone-rgb.jpg");
    assert!(
        image.meta.chroma.is_some_and(|c| c < 0.01),
        "{:?}",
        image.meta.chroma
    );
    assert!(check(&image, &Thresholds::default()).is_ok());
    // Radiography modalities, any case, pass the modality check.
    for m in ["CR", "DX", "dx", "RF"] {
        let extra = vec![DataElement::new(
            tags::MODALITY,
            VR::CS,
            PrimitiveValue::from(m),
        )];
        let image = read(&dicom(64, 64, EXPLICIT_LE, extra), "cr.dcm");
        assert!(
            !matches!(
                check(&image, &Thresholds::default()),
                Err(NotAssessed::Modality { .. })
            ),
            "{m}"
        );
    }
}
