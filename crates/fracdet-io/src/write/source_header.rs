//! A source's header without its pixel data, as Part-10 bytes: what a report written later
//! needs of an image (patient, study, series and SOP identity), kept without keeping the
//! image. The DICOM node stores one per analysed instance so a study's SR can be written
//! once the study is complete, long after the instance itself left the spool.

use std::path::Path;

use dicom_object::InMemDicomObject;

use super::derived::{encode, parse_source, undefined_lengths};
use crate::Result;

/// `source`'s data set up to its pixel data, re-encoded as explicit VR little endian with
/// fracdet's file meta; readable by every result writer as a source. Errors name `name`.
pub fn source_header_bytes(source: &[u8], name: &Path) -> Result<Vec<u8>> {
    let header = parse_source(source, name)?;
    // Sequence lengths read from the source are stale once re-encoded (implicit to
    // explicit VR, another character set); undefined lengths are always right.
    let obj = InMemDicomObject::from_element_iter(header.header.iter().map(undefined_lengths));
    encode(obj, name)
}
