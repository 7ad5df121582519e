//! DICOM results of `detect`: a Secondary Capture beside the overlay PNG, in a new series
//! of the input's study, with the overlay burned in. The input file is only read.

use std::path::Path;

use fracdet_io::{ScOptions, write_secondary_capture};

pub fn write(source: &Path, overlay: &image::RgbImage, out: &Path) -> anyhow::Result<()> {
    write_secondary_capture(source, overlay, &ScOptions::default(), out)?;
    Ok(())
}
