//! Which DICOM transfer syntaxes fracdet decodes, and the names of those it does not, so an
//! error can say "JPEG 2000 Image Compression" rather than only a UID.

use super::dicom_scan::Encoding;

/// A transfer syntax we know by UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KnownSyntax {
    pub uid: &'static str,
    pub name: &'static str,
    /// Decodable with the pure-Rust codecs built in (dicom-pixeldata `native`).
    pub supported: bool,
    /// Pixel data is a JPEG (ITU T.81) bitstream whose frame header we can check.
    pub jpeg: bool,
}

impl KnownSyntax {
    /// How the data set is encoded, for the length pre-check; `None` when it is deflated
    /// (the bytes on disk are not elements).
    pub fn encoding(&self) -> Option<Encoding> {
        match self.uid {
            "1.2.840.10008.1.2" => Some(Encoding {
                explicit_vr: false,
                big_endian: false,
            }),
            "1.2.840.10008.1.2.2" => Some(Encoding {
                explicit_vr: true,
                big_endian: true,
            }),
            "1.2.840.10008.1.2.1.99" => None,
            _ => Some(Encoding {
                explicit_vr: true,
                big_endian: false,
            }),
        }
    }
}

pub(crate) const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

const fn ts(uid: &'static str, name: &'static str, supported: bool, jpeg: bool) -> KnownSyntax {
    KnownSyntax {
        uid,
        name,
        supported,
        jpeg,
    }
}

const KNOWN: &[KnownSyntax] = &[
    ts(
        "1.2.840.10008.1.2",
        "Implicit VR Little Endian",
        true,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.1",
        "Explicit VR Little Endian",
        true,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.1.98",
        "Encapsulated Uncompressed Explicit VR Little Endian",
        true,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
        true,
        false,
    ),
    ts("1.2.840.10008.1.2.2", "Explicit VR Big Endian", true, false),
    ts(
        "1.2.840.10008.1.2.4.50",
        "JPEG Baseline (Process 1)",
        true,
        true,
    ),
    ts(
        "1.2.840.10008.1.2.4.51",
        "JPEG Extended (Process 2 & 4)",
        true,
        true,
    ),
    ts(
        "1.2.840.10008.1.2.4.57",
        "JPEG Lossless, Non-Hierarchical (Process 14)",
        true,
        true,
    ),
    ts(
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
        true,
        true,
    ),
    ts("1.2.840.10008.1.2.5", "RLE Lossless", true, false),
    ts(
        "1.2.840.10008.1.2.4.80",
        "JPEG-LS Lossless Image Compression",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.81",
        "JPEG-LS Lossy (Near-Lossless) Image Compression",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.90",
        "JPEG 2000 Image Compression (Lossless Only)",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.91",
        "JPEG 2000 Image Compression",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.92",
        "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.93",
        "JPEG 2000 Part 2 Multi-component Image Compression",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.201",
        "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.202",
        "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.203",
        "High-Throughput JPEG 2000 Image Compression",
        false,
        false,
    ),
    ts("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", false, false),
    ts(
        "1.2.840.10008.1.2.4.111",
        "JPEG XL JPEG Recompression",
        false,
        false,
    ),
    ts("1.2.840.10008.1.2.4.112", "JPEG XL", false, false),
    ts(
        "1.2.840.10008.1.2.4.100",
        "MPEG2 Main Profile / Main Level",
        false,
        false,
    ),
    ts(
        "1.2.840.10008.1.2.4.102",
        "MPEG-4 AVC/H.264 High Profile / Level 4.1",
        false,
        false,
    ),
];

/// Look up a transfer syntax UID (trailing NUL/space padding ignored).
pub(crate) fn lookup(uid: &str) -> Option<KnownSyntax> {
    let uid = trim_uid(uid);
    KNOWN.iter().copied().find(|t| t.uid == uid)
}

pub(crate) fn trim_uid(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' ']).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_uid_is_found() {
        let t = lookup("1.2.840.10008.1.2.4.90\0").expect("known");
        assert!(!t.supported);
        assert!(t.name.contains("JPEG 2000"));
        assert!(lookup("1.2.840.10008.1.2.4.50").is_some_and(|t| t.supported && t.jpeg));
        assert!(lookup("1.2.3").is_none());
    }
}
