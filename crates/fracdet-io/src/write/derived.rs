//! What every result object fracdet writes shares: it joins the source's study (Patient,
//! Patient Study and General Study modules copied element for element), is parsed from the
//! source without trusting it, and is encoded as Part-10 bytes with fracdet's file meta.
//!
//! Used by the Secondary Capture, Structured Report and Presentation State writers, so
//! the three agree on who the patient is and which study they belong to.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::uid::new_uid;
use crate::radiograph::Format;
use crate::read::{DicomHeader, read_dicom_header, sniff};
use crate::{IoError, Result};

/// Identifies fracdet as the writer in the file meta group (PS3.10 7.1); fixed, made once
/// from a random UUID like [`super::new_uid`].
pub(crate) const IMPLEMENTATION_CLASS_UID: &str = "2.25.171189469035348676997906456294465988032";
/// SH, at most 16 characters.
pub(crate) const IMPLEMENTATION_VERSION_NAME: &str = concat!("FRACDET_", env!("CARGO_PKG_VERSION"));

/// Patient (C.7.1.1) and Patient Study (C.7.2.2) module attributes, copied verbatim.
const PATIENT: &[Tag] = &[
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE,
    tags::TYPE_OF_PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_BIRTH_TIME,
    tags::PATIENT_BIRTH_DATE_IN_ALTERNATIVE_CALENDAR,
    tags::PATIENT_DEATH_DATE_IN_ALTERNATIVE_CALENDAR,
    tags::PATIENT_ALTERNATIVE_CALENDAR,
    tags::PATIENT_SEX,
    tags::QUALITY_CONTROL_SUBJECT,
    tags::REFERENCED_PATIENT_SEQUENCE,
    tags::REFERENCED_PATIENT_PHOTO_SEQUENCE,
    // Other Patient IDs (0010,1000): retired, still common.
    Tag(0x0010, 0x1000),
    tags::OTHER_PATIENT_I_DS_SEQUENCE,
    tags::OTHER_PATIENT_NAMES,
    // Ethnic Group (0010,2160): retired, still common.
    Tag(0x0010, 0x2160),
    tags::ETHNIC_GROUP_CODE_SEQUENCE,
    tags::ETHNIC_GROUPS,
    tags::PATIENT_COMMENTS,
    tags::PATIENT_SPECIES_DESCRIPTION,
    tags::PATIENT_SPECIES_CODE_SEQUENCE,
    tags::PATIENT_BREED_DESCRIPTION,
    tags::PATIENT_BREED_CODE_SEQUENCE,
    tags::BREED_REGISTRATION_SEQUENCE,
    tags::RESPONSIBLE_PERSON,
    tags::RESPONSIBLE_PERSON_ROLE,
    tags::RESPONSIBLE_ORGANIZATION,
    tags::PATIENT_IDENTITY_REMOVED,
    tags::DEIDENTIFICATION_METHOD,
    tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
    tags::SOURCE_PATIENT_GROUP_IDENTIFICATION_SEQUENCE,
    tags::GROUP_OF_PATIENTS_IDENTIFICATION_SEQUENCE,
    // Patient Study
    tags::ADMITTING_DIAGNOSES_DESCRIPTION,
    tags::ADMITTING_DIAGNOSES_CODE_SEQUENCE,
    tags::PATIENT_AGE,
    tags::PATIENT_SIZE,
    tags::PATIENT_WEIGHT,
    tags::PATIENT_BODY_MASS_INDEX,
    tags::MEDICAL_ALERTS,
    tags::ALLERGIES,
    tags::SMOKING_STATUS,
    tags::PREGNANCY_STATUS,
    tags::LAST_MENSTRUAL_DATE,
    tags::PATIENT_STATE,
    tags::OCCUPATION,
    tags::ADDITIONAL_PATIENT_HISTORY,
    tags::ADMISSION_ID,
    tags::ISSUER_OF_ADMISSION_ID_SEQUENCE,
];

/// General Study module (C.7.2.1) attributes besides the Study Instance UID, copied verbatim.
const STUDY: &[Tag] = &[
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::REFERRING_PHYSICIAN_IDENTIFICATION_SEQUENCE,
    tags::CONSULTING_PHYSICIAN_NAME,
    tags::CONSULTING_PHYSICIAN_IDENTIFICATION_SEQUENCE,
    tags::STUDY_ID,
    tags::ACCESSION_NUMBER,
    tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
    tags::STUDY_DESCRIPTION,
    tags::PHYSICIANS_OF_RECORD,
    tags::PHYSICIANS_OF_RECORD_IDENTIFICATION_SEQUENCE,
    tags::NAME_OF_PHYSICIANS_READING_STUDY,
    tags::PHYSICIANS_READING_STUDY_IDENTIFICATION_SEQUENCE,
    tags::REQUESTING_SERVICE_CODE_SEQUENCE,
    tags::REFERENCED_STUDY_SEQUENCE,
    tags::PROCEDURE_CODE_SEQUENCE,
    tags::REASON_FOR_PERFORMED_PROCEDURE_CODE_SEQUENCE,
];

/// Type 2 attributes of the modules above: present, and empty when the source lacks them.
const TYPE_2: &[(Tag, VR)] = &[
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
];

/// The source image a result is derived from, as the result names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceImage {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_instance_uid: String,
    pub series_instance_uid: Option<String>,
}

/// The source's header, parsed without trusting it: empty, non-DICOM and truncated input are
/// errors naming `name`, and a parser panic is [`IoError::Corrupt`] without its message
/// (which could quote a value).
pub(crate) fn parse_source(source: &[u8], name: &Path) -> Result<DicomHeader> {
    if source.is_empty() {
        return Err(IoError::Empty {
            path: name.to_path_buf(),
        });
    }
    let not_dicom = |found| IoError::NotDicom {
        path: name.to_path_buf(),
        found,
    };
    match sniff(source) {
        Some(Format::Dicom) => {}
        Some(Format::Png) => return Err(not_dicom("PNG")),
        Some(Format::Jpeg) => return Err(not_dicom("JPEG")),
        None => {
            return Err(IoError::UnknownFormat {
                path: name.to_path_buf(),
            });
        }
    }
    catch_unwind(AssertUnwindSafe(|| read_dicom_header(source, name, false))).unwrap_or_else(|_| {
        Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: "DICOM",
            reason: "the DICOM parser panicked".to_string(),
        })
    })
}

/// Which image `source` is, from its header: what every result must reference.
pub fn source_image(source: &[u8], name: &Path) -> Result<SourceImage> {
    let header = parse_source(source, name)?;
    image_of(&header.header, name)
}

pub(crate) fn image_of(src: &InMemDicomObject, name: &Path) -> Result<SourceImage> {
    let missing = |attribute: &'static str| IoError::Dicom {
        path: name.to_path_buf(),
        attribute,
        reason: "missing or empty; a result must reference its source image".to_string(),
    };
    Ok(SourceImage {
        sop_class_uid: uid_of(src, tags::SOP_CLASS_UID).ok_or_else(|| missing("SOPClassUID"))?,
        sop_instance_uid: uid_of(src, tags::SOP_INSTANCE_UID)
            .ok_or_else(|| missing("SOPInstanceUID"))?,
        study_instance_uid: study_uid(src, name)?,
        series_instance_uid: uid_of(src, tags::SERIES_INSTANCE_UID),
    })
}

/// The Study Instance UID a result joins; an error without one.
pub(crate) fn study_uid(src: &InMemDicomObject, name: &Path) -> Result<String> {
    uid_of(src, tags::STUDY_INSTANCE_UID).ok_or_else(|| IoError::Dicom {
        path: name.to_path_buf(),
        attribute: "StudyInstanceUID",
        reason: "missing or empty; a result joins the source's study".to_string(),
    })
}

/// A new data set holding the source's Patient, Patient Study and General Study modules
/// (Type 2 attributes present, empty where the source lacks them) and a UTF-8 character set.
pub(crate) fn in_source_study(src: &InMemDicomObject, extra: &[Tag]) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    // Copied text is decoded with the source's character set and re-encoded as UTF-8,
    // which can hold any of them (and the em dash of the default description).
    obj.put(text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"));
    for &tag in PATIENT.iter().chain(STUDY).chain(extra) {
        if let Some(e) = src.get(tag) {
            obj.put(undefined_lengths(e));
        }
    }
    for &(tag, vr) in TYPE_2 {
        put_empty_if_absent(&mut obj, tag, vr);
    }
    obj
}

pub(crate) fn put_empty_if_absent(obj: &mut InMemDicomObject, tag: Tag, vr: VR) {
    if obj.get(tag).is_none() {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
    }
}

/// `obj` as Part-10 bytes, explicit VR little endian, with fracdet's file meta.
pub(crate) fn encode(obj: InMemDicomObject, name: &Path) -> Result<Vec<u8>> {
    let encode = |reason: String| IoError::Encode {
        path: name.to_path_buf(),
        reason,
    };
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name(IMPLEMENTATION_VERSION_NAME),
        )
        .map_err(|e| encode(e.to_string()))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| encode(e.to_string()))?;
    Ok(out)
}

/// A UI value with its padding trimmed; `None` when absent or empty.
pub(crate) fn uid_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let value = obj.get(tag)?.to_str().ok()?;
    let uid = value.trim_end_matches(['\0', ' ']).trim();
    (!uid.is_empty()).then(|| uid.to_string())
}

/// A text value with its padding trimmed; `None` when absent or empty.
pub(crate) fn str_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let value = obj.get(tag)?.to_str().ok()?;
    let s = value.trim_end_matches(['\0', ' ']).trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A copy of `e` whose sequences and items have undefined lengths. Lengths read from the
/// source are stale once values are re-encoded (another character set, implicit to
/// explicit VR); undefined lengths are always right.
pub(crate) fn undefined_lengths(e: &InMemElement) -> InMemElement {
    match e.value() {
        Value::Sequence(seq) => {
            let items: Vec<_> = seq
                .items()
                .iter()
                .map(|item| InMemDicomObject::from_element_iter(item.iter().map(undefined_lengths)))
                .collect();
            DataElement::new(
                e.tag(),
                VR::SQ,
                DataSetSequence::new(items, Length::UNDEFINED),
            )
        }
        _ => e.clone(),
    }
}

pub(crate) fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

/// A new series for a result object (General Series, or SR Document / Presentation
/// Series): its modality, a fresh Series Instance UID, the number and description.
pub(crate) fn new_series(modality: &str, number: i32, description: &str) -> [InMemElement; 4] {
    [
        text(tags::MODALITY, VR::CS, modality),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &new_uid()),
        text(tags::SERIES_NUMBER, VR::IS, &number.to_string()),
        text(tags::SERIES_DESCRIPTION, VR::LO, description),
    ]
}

pub(crate) fn text(tag: Tag, vr: VR, s: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(s))
}

pub(crate) fn us(tag: Tag, v: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

/// A coded concept: Code Value, Coding Scheme Designator, Code Meaning (PS3.3 8.8).
pub(crate) fn code_item(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        text(tags::CODE_VALUE, VR::SH, value),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        text(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// Checks an LO value given by the caller (a series description, a label): at most 64
/// characters, no backslash or control characters.
pub(crate) fn check_lo(what: &str, s: &str) -> Result<()> {
    if s.chars().count() > 64 || s.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(IoError::InvalidArgument(format!(
            "{what}: at most 64 characters, no backslash or control characters (DICOM LO)"
        )));
    }
    Ok(())
}
