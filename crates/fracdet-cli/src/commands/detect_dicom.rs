//! DICOM results of `detect`: a Secondary Capture beside the overlay PNG.

use std::path::Path;

pub fn write(source: &Path, overlay: &image::RgbImage, out: &Path) -> anyhow::Result<()> {
    let _ = (source, overlay, out);
    anyhow::bail!("DICOM output is not available yet")
}
