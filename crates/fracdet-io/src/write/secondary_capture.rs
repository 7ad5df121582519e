//! DICOM Secondary Capture results: the overlay and boxes burned into a new RGB image that
//! joins the source's study as a new series.
//!
//! What is copied and what is new follows the SC Image IOD (PS3.3 A.8.1): the Patient,
//! Patient Study and General Study modules are copied element for element, so the result
//! files under the same patient and study; the SOP Instance and Series Instance UIDs are
//! new. The source is only read. Patient values never reach an error or a log line: errors
//! name the file and the attribute, never a value.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use image::RgbImage;

use super::derived::{
    check_lo, encode, in_source_study, new_series, parse_source, put_empty_if_absent, sequence,
    study_uid, text, uid_of, us,
};
use super::output::{check_not_source, write_file_atomic};
use super::uid::{new_uid, utc_now};
use crate::read::{
    DEFAULT_MAX_PIXELS, DicomHeader, ReadOptions, max_file_bytes, read_file_bounded,
};
use crate::{IoError, Result};

/// Secondary Capture Image Storage.
pub const SECONDARY_CAPTURE_IMAGE_STORAGE: &str = uids::SECONDARY_CAPTURE_IMAGE_STORAGE;

/// The Series Description a result carries unless [`ScOptions`] says otherwise.
pub const DEFAULT_SERIES_DESCRIPTION: &str = "fracdet result — not for diagnostic use";

/// A Series Number high enough to sort after the acquisition's own series in most viewers.
pub const DEFAULT_SERIES_NUMBER: i32 = 999;

const DERIVATION_DESCRIPTION: &str = concat!(
    "fracdet ",
    env!("CARGO_PKG_VERSION"),
    ": fracture-detection overlay and boxes burned into the source image; not for diagnostic use"
);

/// What a reader of the result needs to know about the image it was derived from: which
/// body part and side, its orientation, and whether its pixels were ever lossy.
const IMAGE_CONTEXT: &[Tag] = &[
    tags::BODY_PART_EXAMINED,
    tags::LATERALITY,
    tags::IMAGE_LATERALITY,
    tags::PATIENT_ORIENTATION,
    tags::LOSSY_IMAGE_COMPRESSION,
    tags::LOSSY_IMAGE_COMPRESSION_RATIO,
    tags::LOSSY_IMAGE_COMPRESSION_METHOD,
];

/// How to write a Secondary Capture result.
#[derive(Debug, Clone)]
pub struct ScOptions {
    /// Series Description (0008,103E): LO, at most 64 characters, no backslash or control
    /// characters.
    pub series_description: String,
    /// Series Number (0020,0011).
    pub series_number: i32,
    /// [`write_secondary_capture`] only: replace an existing file at the output path. The
    /// source itself is never replaced, whatever this says.
    pub overwrite: bool,
}

impl Default for ScOptions {
    fn default() -> Self {
        Self {
            series_description: DEFAULT_SERIES_DESCRIPTION.to_string(),
            series_number: DEFAULT_SERIES_NUMBER,
            overwrite: false,
        }
    }
}

impl ScOptions {
    fn check(&self) -> Result<()> {
        check_lo("series description", &self.series_description)
    }
}

/// Build a Secondary Capture of `overlay` for the DICOM file `source`, as Part-10 bytes.
///
/// Only the source's header is used (its pixel data is not decoded); `overlay` may have any
/// size up to 65535 on a side and [`DEFAULT_MAX_PIXELS`] in all.
pub fn secondary_capture(
    source: &Path,
    overlay: &RgbImage,
    options: &ScOptions,
) -> Result<Vec<u8>> {
    let bytes = read_file_bounded(source, max_file_bytes(&ReadOptions::default()))?;
    secondary_capture_bytes(&bytes, source, overlay, options)
}

/// [`secondary_capture`] for a source already in memory (HTTP uploads); `name` is used in
/// errors.
pub fn secondary_capture_bytes(
    source: &[u8],
    name: &Path,
    overlay: &RgbImage,
    options: &ScOptions,
) -> Result<Vec<u8>> {
    options.check()?;
    let pixels = overlay_pixels(overlay)?;
    let header = parse_source(source, name)?;
    let obj = build(&header, name, overlay, pixels, options)?;
    drop(header);
    encode(obj, name)
}

/// Write a Secondary Capture of `overlay` for `source` to `out`.
///
/// Refused when `out` is the source (same path after resolving links, or the same file),
/// and, unless [`ScOptions::overwrite`], when `out` exists. The file appears whole or not
/// at all: it is written beside `out` under a temporary name, synced, then moved into place.
pub fn write_secondary_capture(
    source: &Path,
    overlay: &RgbImage,
    options: &ScOptions,
    out: &Path,
) -> Result<()> {
    check_not_source(source, out)?;
    if !options.overwrite && out.symlink_metadata().is_ok() {
        return Err(IoError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let bytes = secondary_capture(source, overlay, options)?;
    write_file_atomic(out, &bytes, options.overwrite)?;
    tracing::debug!(path = %out.display(), "wrote DICOM Secondary Capture");
    Ok(())
}

/// The overlay's samples, interleaved RGB (PlanarConfiguration 0), padded to even length.
fn overlay_pixels(overlay: &RgbImage) -> Result<Vec<u8>> {
    let (w, h) = overlay.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || w > 65_535 || h > 65_535 || pixels > DEFAULT_MAX_PIXELS {
        return Err(IoError::InvalidArgument(format!(
            "overlay of {w}x{h}: each side must be 1 to 65535 (DICOM Rows/Columns) and the area at most {DEFAULT_MAX_PIXELS} pixels"
        )));
    }
    // An image::ImageBuffer may own a longer buffer than its pixels need.
    let len = pixels as usize * 3;
    let mut bytes = overlay
        .as_raw()
        .get(..len)
        .ok_or_else(|| IoError::InvalidArgument("overlay buffer shorter than its size".into()))?
        .to_vec();
    // Values have even length (PS3.5 7.1.1); the pad byte follows the last pixel.
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    Ok(bytes)
}

fn build(
    source: &DicomHeader,
    name: &Path,
    overlay: &RgbImage,
    pixels: Vec<u8>,
    options: &ScOptions,
) -> Result<InMemDicomObject> {
    let src = &*source.header;
    let study_uid = study_uid(src, name)?;
    let mut obj = in_source_study(src, IMAGE_CONTEXT);
    put_empty_if_absent(&mut obj, tags::PATIENT_ORIENTATION, VR::CS);
    // Laterality (General Series) is Type 2C: required, possibly empty, when the image does
    // not state Image Laterality; unknown here, so present and empty (dciodvfy checks it).
    if obj.get(tags::LATERALITY).is_none() && obj.get(tags::IMAGE_LATERALITY).is_none() {
        obj.put(DataElement::new(
            tags::LATERALITY,
            VR::CS,
            PrimitiveValue::Empty,
        ));
    }
    // The only lossy syntaxes fracdet decodes; a derived image says its source was lossy
    // (PS3.3 C.7.6.1.1.5) even when the source left that implicit.
    let lossy_method = match source.transfer_syntax.as_str() {
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => Some("ISO_10918_1"),
        _ => None,
    };
    if let Some(method) = lossy_method
        && obj.get(tags::LOSSY_IMAGE_COMPRESSION).is_none()
    {
        obj.put(text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "01"));
        obj.put(text(tags::LOSSY_IMAGE_COMPRESSION_METHOD, VR::CS, method));
    }

    let (date, time) = utc_now();
    let sop_instance_uid = new_uid();
    let elements = [
        // SOP Common
        text(tags::SOP_CLASS_UID, VR::UI, SECONDARY_CAPTURE_IMAGE_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &sop_instance_uid),
        text(tags::INSTANCE_CREATION_DATE, VR::DA, &date),
        text(tags::INSTANCE_CREATION_TIME, VR::TM, &time),
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0000"),
        // General Study
        text(tags::STUDY_INSTANCE_UID, VR::UI, &study_uid),
        // General Series
        // SC Equipment
        text(tags::CONVERSION_TYPE, VR::CS, "WSD"),
        text(
            tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER,
            VR::LO,
            "fracdet",
        ),
        text(
            tags::SECONDARY_CAPTURE_DEVICE_SOFTWARE_VERSIONS,
            VR::LO,
            env!("CARGO_PKG_VERSION"),
        ),
        // General Image and SC Image
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(tags::CONTENT_DATE, VR::DA, &date),
        text(tags::CONTENT_TIME, VR::TM, &time),
        text(tags::DATE_OF_SECONDARY_CAPTURE, VR::DA, &date),
        text(tags::TIME_OF_SECONDARY_CAPTURE, VR::TM, &time),
        DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::Strs(["DERIVED".to_string(), "SECONDARY".to_string()].into()),
        ),
        text(tags::DERIVATION_DESCRIPTION, VR::ST, DERIVATION_DESCRIPTION),
        text(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
        // Image Pixel
        us(tags::SAMPLES_PER_PIXEL, 3),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB"),
        us(tags::PLANAR_CONFIGURATION, 0),
        // Both fit: overlay_pixels checked each side against 65535.
        us(tags::ROWS, overlay.height() as u16),
        us(tags::COLUMNS, overlay.width() as u16),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(pixels.into())),
    ];
    let series = new_series("OT", options.series_number, &options.series_description);
    for e in elements.into_iter().chain(series) {
        obj.put(e);
    }
    if let Some(reference) = source_reference(src) {
        obj.put(reference);
    }
    Ok(obj)
}

/// Source Image Sequence (0008,2112) naming the source image, when it names itself.
fn source_reference(src: &InMemDicomObject) -> Option<InMemElement> {
    let class = uid_of(src, tags::SOP_CLASS_UID)?;
    let instance = uid_of(src, tags::SOP_INSTANCE_UID)?;
    // DCM 121322, CID 7202 "Source Image Purposes of Reference".
    let purpose = InMemDicomObject::from_element_iter([
        text(tags::CODE_VALUE, VR::SH, "121322"),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
        text(
            tags::CODE_MEANING,
            VR::LO,
            "Source image for image processing operation",
        ),
    ]);
    let item = InMemDicomObject::from_element_iter([
        text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &class),
        text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, &instance),
        sequence(tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE, vec![purpose]),
    ]);
    Some(sequence(tags::SOURCE_IMAGE_SEQUENCE, vec![item]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_identifiers_are_valid() {
        use crate::write::derived::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};
        assert!(IMPLEMENTATION_VERSION_NAME.len() <= 16);
        assert!(IMPLEMENTATION_CLASS_UID.len() <= 64);
        assert!(DERIVATION_DESCRIPTION.len() <= 1024);
        assert_eq!(DEFAULT_SERIES_DESCRIPTION.chars().count(), 39);
        ScOptions::default().check().unwrap();
    }

    #[test]
    fn bad_series_description_is_refused() {
        for d in ["a\\b", "tab\there", &"x".repeat(65)] {
            let options = ScOptions {
                series_description: d.to_string(),
                ..ScOptions::default()
            };
            assert!(matches!(options.check(), Err(IoError::InvalidArgument(_))));
        }
    }

    #[test]
    fn odd_overlay_is_padded_and_empty_refused() {
        let img = RgbImage::from_raw(3, 3, (0..27).collect()).unwrap();
        let bytes = overlay_pixels(&img).unwrap();
        assert_eq!(bytes.len(), 28);
        assert_eq!(&bytes[..27], img.as_raw().as_slice());
        assert!(overlay_pixels(&RgbImage::new(0, 5)).is_err());
        assert!(overlay_pixels(&RgbImage::new(65_536, 1)).is_err());
    }
}
