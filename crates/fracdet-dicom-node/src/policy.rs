//! What the node accepts: the SOP classes of projection radiographs (what fracdet's model
//! reads) and Verification, in the transfer syntaxes fracdet's reader decodes. Anything
//! else is refused at association time (presentation context "abstract syntax not
//! supported" / "transfer syntaxes not supported"), so the sender knows at once and
//! nothing is spooled that could never be analysed.

/// Verification SOP Class (C-ECHO).
pub const VERIFICATION: &str = "1.2.840.10008.1.1";

/// Storage SOP classes received: CR, DX for presentation and for processing.
pub const RADIOGRAPH_CLASSES: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1.1",
];

/// Transfer syntaxes received: those fracdet's reader decodes, less deflate (whose data
/// set a peer can re-send uncompressed as cheaply; see README "Input").
pub const TRANSFER_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2.1",    // explicit VR little endian
    "1.2.840.10008.1.2",      // implicit VR little endian
    "1.2.840.10008.1.2.2",    // explicit VR big endian (retired, still sent)
    "1.2.840.10008.1.2.5",    // RLE lossless
    "1.2.840.10008.1.2.4.50", // JPEG baseline
    "1.2.840.10008.1.2.4.57", // JPEG lossless
    "1.2.840.10008.1.2.4.70", // JPEG lossless, first-order prediction
];

/// The result objects sent back, all written explicit VR little endian.
pub const RESULT_CLASSES: &[&str] = &[
    fracdet_io::write::SECONDARY_CAPTURE_IMAGE_STORAGE,
    fracdet_io::write::COMPREHENSIVE_SR_STORAGE,
    fracdet_io::write::GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
];
pub const RESULT_TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";

/// A DICOM UID as it may name a spool file: 1-64 characters of digits and dots, no empty
/// component (PS3.5 9.1). Anything else never reaches a path.
pub fn is_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_uids_name_files() {
        assert!(is_uid("1.2.840.10008.5.1.4.1.1.1"));
        for bad in [
            "",
            "1..2",
            "../etc",
            "1.2/3",
            ".1",
            "1.",
            &"1".repeat(65),
            "1.2a",
        ] {
            assert!(!is_uid(bad), "{bad}");
        }
    }
}
