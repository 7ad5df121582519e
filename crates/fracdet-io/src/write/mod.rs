//! Writing results out. Sources are only ever read; every result is a new file, written
//! whole or not at all ([`write_file_atomic`], also what training runs save files with).
//!
//! Three DICOM result objects join the source's study, each in a new series, so a PACS
//! files them beside the original:
//! - [`secondary_capture`]: the overlay and boxes burned into a new RGB image;
//! - [`structured_report_bytes`]: a Comprehensive SR with the finding, probability,
//!   operating point, model, and each box as an SCOORD on the source image (and
//!   [`not_assessed_report_bytes`]: the SR of an image the scope check refused, saying so
//!   and why, with no finding);
//! - [`presentation_state_bytes`]: a Grayscale Softcopy Presentation State that draws the
//!   boxes over the untouched original with its window.
//!
//! The SR and GSPS writers take plain data ([`ImageFindings`]: boxes in source pixels), so
//! this crate needs nothing from the detector crates above it.

mod derived;
mod findings;
mod output;
mod presentation_state;
pub mod run_folder;
mod secondary_capture;
mod source_header;
mod sr_content;
mod structured_report;
mod uid;

pub use derived::{SourceImage, source_image};
pub use findings::{
    FindingLevel, ImageFindings, ModelInfo, OperatingPointUsed, Region, study_decider,
};
pub use output::write_file_atomic;
pub use presentation_state::{
    DEFAULT_GSPS_SERIES_DESCRIPTION, GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    presentation_state_bytes,
};
pub use secondary_capture::{
    DEFAULT_SERIES_DESCRIPTION, DEFAULT_SERIES_NUMBER, SECONDARY_CAPTURE_IMAGE_STORAGE, ScOptions,
    secondary_capture, secondary_capture_bytes, write_secondary_capture,
};
pub use source_header::source_header_bytes;
pub use structured_report::{
    COMPREHENSIVE_SR_STORAGE, DEFAULT_SR_SERIES_DESCRIPTION, ReportImage, ResultOptions,
    not_assessed_report_bytes, structured_report_bytes,
};
pub use uid::new_uid;
