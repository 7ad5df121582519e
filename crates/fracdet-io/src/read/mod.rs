//! Decoding radiographs from PNG, JPEG and DICOM files.
//!
//! The format is sniffed from the first bytes, never trusted from the extension.

mod dicom;
mod raster;

use std::path::Path;

use crate::radiograph::{Radiograph, Window};
use crate::Result;

/// Default pixel limit: 64 megapixels, over 8000 x 8000 — well beyond any plain radiograph
/// detector (a 43 x 43 cm panel at 100 µm is 4300 x 4300), small enough that a forged header
/// cannot make us allocate gigabytes.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// DICOM only: use this window instead of the file's first one.
    pub window: Option<Window>,
    /// Refuse any image with more pixels than this before allocating for it.
    pub max_pixels: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            window: None,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

/// Read one radiograph from a PNG, JPEG or DICOM file.
pub fn read_radiograph(path: &Path, options: &ReadOptions) -> Result<Radiograph> {
    let _ = (path, options, dicom::MARKER, raster::MARKER);
    todo!("issue #2: sniff format and dispatch to raster / dicom readers")
}

/// Read from bytes already in memory (HTTP uploads); `name` is used in errors and metadata.
pub fn read_radiograph_bytes(bytes: &[u8], name: &Path, options: &ReadOptions) -> Result<Radiograph> {
    let _ = (bytes, name, options);
    todo!("issue #2")
}
