//! SR content items (PS3.3 C.17.3): one builder per value type, so the report's tree reads
//! like the template it follows.

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::derived::{code_item, sequence, text};
use super::findings::Region;

/// A coded concept (value, scheme, meaning).
pub(crate) type Code = (&'static str, &'static str, &'static str);

/// fracdet's own codes, where DICOM and SNOMED have none for what is said.
pub(crate) const PRIVATE_SCHEME: &str = "99FRACDET";

/// A content item: relationship, value type, concept name; the value is added by the caller.
fn item(relationship: &str, value_type: &str, concept: Option<Code>) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    if !relationship.is_empty() {
        obj.put(text(tags::RELATIONSHIP_TYPE, VR::CS, relationship));
    }
    obj.put(text(tags::VALUE_TYPE, VR::CS, value_type));
    if let Some((v, s, m)) = concept {
        obj.put(sequence(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![code_item(v, s, m)],
        ));
    }
    obj
}

/// A CONTAINER with its children; the root has no relationship (`""`).
pub(crate) fn container(
    relationship: &str,
    concept: Code,
    children: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut obj = item(relationship, "CONTAINER", Some(concept));
    obj.put(text(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"));
    if !children.is_empty() {
        obj.put(sequence(tags::CONTENT_SEQUENCE, children));
    }
    obj
}

pub(crate) fn code(relationship: &str, concept: Code, value: Code) -> InMemDicomObject {
    let mut obj = item(relationship, "CODE", Some(concept));
    obj.put(sequence(
        tags::CONCEPT_CODE_SEQUENCE,
        vec![code_item(value.0, value.1, value.2)],
    ));
    obj
}

pub(crate) fn text_item(relationship: &str, concept: Code, value: &str) -> InMemDicomObject {
    let mut obj = item(relationship, "TEXT", Some(concept));
    obj.put(text(tags::TEXT_VALUE, VR::UT, value));
    obj
}

pub(crate) fn uidref(relationship: &str, concept: Code, uid: &str) -> InMemDicomObject {
    let mut obj = item(relationship, "UIDREF", Some(concept));
    obj.put(text(tags::UID, VR::UI, uid));
    obj
}

/// A NUM without units (a probability, a threshold): UCUM "1".
pub(crate) fn num(relationship: &str, concept: Code, value: f64) -> InMemDicomObject {
    num_with_children(relationship, concept, value, Vec::new())
}

pub(crate) fn num_with_children(
    relationship: &str,
    concept: Code,
    value: f64,
    children: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut obj = item(relationship, "NUM", Some(concept));
    let measured = InMemDicomObject::from_element_iter([
        text(tags::NUMERIC_VALUE, VR::DS, &ds(value)),
        sequence(
            tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
            vec![code_item("1", "UCUM", "no units")],
        ),
    ]);
    obj.put(sequence(tags::MEASURED_VALUE_SEQUENCE, vec![measured]));
    if !children.is_empty() {
        obj.put(sequence(tags::CONTENT_SEQUENCE, children));
    }
    obj
}

/// An IMAGE reference to `(sop class, sop instance)`.
pub(crate) fn image(
    relationship: &str,
    concept: Option<Code>,
    class: &str,
    instance: &str,
) -> InMemDicomObject {
    let mut obj = item(relationship, "IMAGE", concept);
    obj.put(sequence(
        tags::REFERENCED_SOP_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class),
            text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance),
        ])],
    ));
    obj
}

/// A box as a closed SCOORD POLYLINE on the image it was SELECTED FROM (image-relative
/// column,row pairs; PS3.3 C.18.6.1.1 puts 0,0 at the top-left corner of the first pixel,
/// as [`Region`] does).
pub(crate) fn region(
    relationship: &str,
    concept: Code,
    r: &Region,
    class: &str,
    instance: &str,
) -> InMemDicomObject {
    let mut obj = item(relationship, "SCOORD", Some(concept));
    obj.put(DataElement::new(
        tags::GRAPHIC_DATA,
        VR::FL,
        PrimitiveValue::F32(rectangle(r).into()),
    ));
    obj.put(text(tags::GRAPHIC_TYPE, VR::CS, "POLYLINE"));
    obj.put(sequence(
        tags::CONTENT_SEQUENCE,
        vec![image("SELECTED FROM", None, class, instance)],
    ));
    obj
}

/// The box's corners, clockwise from the top left, closed (first point repeated).
pub(crate) fn rectangle(r: &Region) -> Vec<f32> {
    let b = &r.bbox;
    vec![
        b.x_min, b.y_min, b.x_max, b.y_min, b.x_max, b.y_max, b.x_min, b.y_max, b.x_min, b.y_min,
    ]
}

/// A DS value: at most 16 characters (PS3.5 6.2), enough digits for a probability.
pub(crate) fn ds(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    for precision in (0..=8).rev() {
        let s = format!("{v:.precision$}");
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.0e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BBox;

    #[test]
    fn ds_values_fit_sixteen_characters() {
        assert_eq!(ds(0.25), "0.25000000");
        assert!(ds(123_456_789.123).len() <= 16);
        assert!(ds(1e300).len() <= 16);
        assert_eq!(ds(f64::NAN), "0.00000000");
    }

    #[test]
    fn a_rectangle_is_closed_and_clockwise() {
        let r = Region {
            bbox: BBox::new(1.0, 2.0, 5.0, 7.0),
            score: 0.5,
        };
        assert_eq!(
            rectangle(&r),
            [1.0, 2.0, 5.0, 2.0, 5.0, 7.0, 1.0, 7.0, 1.0, 2.0]
        );
    }
}
