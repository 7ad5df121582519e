//! Writing results out. Sources are only ever read; every result is a new file, written
//! whole or not at all ([`write_file_atomic`], also what training runs save files with).
//!
//! [`secondary_capture`] turns an overlay rendered over a DICOM radiograph into a DICOM
//! Secondary Capture object in the source's study, so a PACS files it beside the original.

mod output;
pub mod run_folder;
mod secondary_capture;
mod uid;

pub use output::write_file_atomic;
pub use secondary_capture::{
    DEFAULT_SERIES_DESCRIPTION, DEFAULT_SERIES_NUMBER, SECONDARY_CAPTURE_IMAGE_STORAGE, ScOptions,
    secondary_capture, secondary_capture_bytes, write_secondary_capture,
};
pub use uid::new_uid;
