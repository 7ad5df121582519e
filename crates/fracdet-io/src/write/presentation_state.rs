//! A Grayscale Softcopy Presentation State (PS3.3 A.33.1) drawing fracdet's boxes over the
//! original image: the pixels stay the modality's, a viewer lays the boxes and their
//! labels on top, and the window is the one the original carries (or the one fracdet read
//! it with), so the image looks as it does without the annotations.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use super::derived::{
    check_lo, encode, image_of, in_source_study, new_series, parse_source, put_empty_if_absent,
    sequence, str_of, text, us,
};
use super::findings::{ImageFindings, ModelInfo};
use super::sr_content::{ds, rectangle};
use super::structured_report::ResultOptions;
use super::uid::{new_uid, utc_now};
use crate::radiograph::Window;
use crate::{IoError, Result};

/// Grayscale Softcopy Presentation State Storage.
pub const GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE: &str =
    uids::GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE;

/// Series Description of a GSPS result unless [`ResultOptions`] says otherwise.
pub const DEFAULT_GSPS_SERIES_DESCRIPTION: &str = "fracdet boxes — not for diagnostic use";

/// The one graphic layer the boxes and their labels are on.
const LAYER: &str = "FRACDET";

/// The source attributes of the Modality LUT module, copied so that the window applies to
/// the same modality values it was chosen on.
const MODALITY_LUT: &[dicom_core::Tag] = &[
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
    tags::RESCALE_TYPE,
];

/// The GSPS of `findings` over the image `source` (Part-10 bytes; only the header is read)
/// as Part-10 bytes. `window`: the VOI window to present with, in modality units; `None`
/// takes the source's first Window Center/Width, and without one no VOI is applied.
pub fn presentation_state_bytes(
    source: &[u8],
    name: &Path,
    findings: &ImageFindings,
    window: Option<Window>,
    model: &ModelInfo,
    options: &ResultOptions,
) -> Result<Vec<u8>> {
    check_lo("series description", &options.series_description)?;
    let header = parse_source(source, name)?;
    let src = &*header.header;
    let image = image_of(src, name)?;
    let series = image
        .series_instance_uid
        .clone()
        .ok_or_else(|| IoError::Dicom {
            path: name.to_path_buf(),
            attribute: "SeriesInstanceUID",
            reason: "missing or empty; a presentation state references its image by series"
                .to_string(),
        })?;
    let size = |tag, attribute| {
        src.get(tag)
            .and_then(|e| e.to_int::<u16>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| IoError::Dicom {
                path: name.to_path_buf(),
                attribute,
                reason: "missing or zero; the displayed area is the whole image".to_string(),
            })
    };
    let columns = size(tags::COLUMNS, "Columns")?;
    let rows = size(tags::ROWS, "Rows")?;
    let window = window.or_else(|| source_window(src));
    let inverse = str_of(src, tags::PHOTOMETRIC_INTERPRETATION).as_deref() == Some("MONOCHROME1");

    let mut obj = in_source_study(src, &[tags::LATERALITY]);
    // General Series Laterality is Type 2C: present (empty when unknown), as in the SC.
    put_empty_if_absent(&mut obj, tags::LATERALITY, VR::CS);
    for &tag in MODALITY_LUT {
        if let Some(e) = src.get(tag) {
            obj.put(e.clone());
        }
    }
    if obj.get(tags::RESCALE_SLOPE).is_some() && obj.get(tags::RESCALE_TYPE).is_none() {
        // Required with a rescale; "US": unspecified units.
        obj.put(text(tags::RESCALE_TYPE, VR::LO, "US"));
    }
    drop(header);

    let referenced_image = || {
        sequence(
            tags::REFERENCED_IMAGE_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &image.sop_class_uid),
                text(
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    &image.sop_instance_uid,
                ),
            ])],
        )
    };
    let (date, time) = utc_now();
    let mut elements = vec![
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
        ),
        text(tags::SOP_INSTANCE_UID, VR::UI, &new_uid()),
        text(tags::INSTANCE_CREATION_DATE, VR::DA, &date),
        text(tags::INSTANCE_CREATION_TIME, VR::TM, &time),
        text(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0000"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &image.study_instance_uid),
        // General Series and Presentation Series
        // General Equipment
        text(tags::MANUFACTURER, VR::LO, "fracdet"),
        text(tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION")),
        // Presentation State Identification
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(tags::CONTENT_LABEL, VR::CS, LAYER),
        text(
            tags::CONTENT_DESCRIPTION,
            VR::LO,
            &truncate(
                &format!("fracdet {} boxes: {}", model.name, findings.level.word()),
                64,
            ),
        ),
        text(tags::PRESENTATION_CREATION_DATE, VR::DA, &date),
        text(tags::PRESENTATION_CREATION_TIME, VR::TM, &time),
        DataElement::new(tags::CONTENT_CREATOR_NAME, VR::PN, PrimitiveValue::Empty),
        // Presentation State Relationship
        sequence(
            tags::REFERENCED_SERIES_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                text(tags::SERIES_INSTANCE_UID, VR::UI, &series),
                referenced_image(),
            ])],
        ),
        // Displayed Area: the whole image, scaled to fit, square pixels.
        sequence(
            tags::DISPLAYED_AREA_SELECTION_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                sl_pair(tags::DISPLAYED_AREA_TOP_LEFT_HAND_CORNER, 1, 1),
                sl_pair(
                    tags::DISPLAYED_AREA_BOTTOM_RIGHT_HAND_CORNER,
                    i32::from(columns),
                    i32::from(rows),
                ),
                text(tags::PRESENTATION_SIZE_MODE, VR::CS, "SCALE TO FIT"),
                DataElement::new(
                    tags::PRESENTATION_PIXEL_ASPECT_RATIO,
                    VR::IS,
                    PrimitiveValue::Strs(["1".to_string(), "1".to_string()].into()),
                ),
            ])],
        ),
        // Graphic Layer
        sequence(
            tags::GRAPHIC_LAYER_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                text(tags::GRAPHIC_LAYER, VR::CS, LAYER),
                text(tags::GRAPHIC_LAYER_ORDER, VR::IS, "1"),
                us(
                    tags::GRAPHIC_LAYER_RECOMMENDED_DISPLAY_GRAYSCALE_VALUE,
                    0xFFFF,
                ),
                text(
                    tags::GRAPHIC_LAYER_DESCRIPTION,
                    VR::LO,
                    "fracdet suspected fracture regions",
                ),
            ])],
        ),
        // Softcopy Presentation LUT: MONOCHROME1 shown as its modality shows it.
        text(
            tags::PRESENTATION_LUT_SHAPE,
            VR::CS,
            if inverse { "INVERSE" } else { "IDENTITY" },
        ),
    ];
    if !findings.regions.is_empty() {
        elements.push(annotations(findings, referenced_image(), columns, rows));
    }
    if let Some(w) = window.filter(|w| w.width >= 1.0 && w.center.is_finite()) {
        elements.push(sequence(
            tags::SOFTCOPY_VOILUT_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                referenced_image(),
                text(tags::WINDOW_CENTER, VR::DS, &ds(w.center)),
                text(tags::WINDOW_WIDTH, VR::DS, &ds(w.width)),
            ])],
        ));
    }
    let series = new_series("PR", options.series_number, &options.series_description);
    for e in elements.into_iter().chain(series) {
        obj.put(e);
    }
    encode(obj, name)
}

/// Graphic Annotation Sequence: each box as a closed polyline, and its score as text just
/// inside its top-left corner.
fn annotations(
    findings: &ImageFindings,
    referenced_image: InMemElement,
    columns: u16,
    rows: u16,
) -> InMemElement {
    let (w, h) = (f32::from(columns), f32::from(rows));
    let graphics = findings
        .regions
        .iter()
        .map(|r| {
            let mut clipped = *r;
            clipped.bbox = r.bbox.clipped(w, h);
            let points = rectangle(&clipped);
            InMemDicomObject::from_element_iter([
                text(tags::GRAPHIC_ANNOTATION_UNITS, VR::CS, "PIXEL"),
                us(tags::GRAPHIC_DIMENSIONS, 2),
                us(tags::NUMBER_OF_GRAPHIC_POINTS, (points.len() / 2) as u16),
                DataElement::new(
                    tags::GRAPHIC_DATA,
                    VR::FL,
                    PrimitiveValue::F32(points.into()),
                ),
                text(tags::GRAPHIC_TYPE, VR::CS, "POLYLINE"),
                text(tags::GRAPHIC_FILLED, VR::CS, "N"),
            ])
        })
        .collect();
    let labels = findings
        .regions
        .iter()
        .map(|r| {
            let b = r.bbox.clipped(w, h);
            InMemDicomObject::from_element_iter([
                text(
                    tags::UNFORMATTED_TEXT_VALUE,
                    VR::ST,
                    &format!("fracture? {:.2}", r.score),
                ),
                text(tags::ANCHOR_POINT_ANNOTATION_UNITS, VR::CS, "PIXEL"),
                DataElement::new(
                    tags::ANCHOR_POINT,
                    VR::FL,
                    PrimitiveValue::F32([b.x_min, b.y_min].into()),
                ),
                text(tags::ANCHOR_POINT_VISIBILITY, VR::CS, "N"),
            ])
        })
        .collect();
    sequence(
        tags::GRAPHIC_ANNOTATION_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            referenced_image,
            text(tags::GRAPHIC_LAYER, VR::CS, LAYER),
            sequence(tags::TEXT_OBJECT_SEQUENCE, labels),
            sequence(tags::GRAPHIC_OBJECT_SEQUENCE, graphics),
        ])],
    )
}

/// The source's first Window Center and Width, when both are there and usable.
fn source_window(src: &InMemDicomObject) -> Option<Window> {
    let first = |tag| -> Option<f64> {
        let s = src.get(tag)?.to_str().ok()?;
        s.split('\\').next()?.trim().parse().ok()
    };
    Some(Window {
        center: first(tags::WINDOW_CENTER)?,
        width: first(tags::WINDOW_WIDTH)?,
    })
}

fn sl_pair(tag: dicom_core::Tag, a: i32, b: i32) -> InMemElement {
    DataElement::new(tag, VR::SL, PrimitiveValue::I32([a, b].into()))
}

fn truncate(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}
