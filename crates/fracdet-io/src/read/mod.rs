//! Decoding radiographs from PNG, JPEG and DICOM files.
//!
//! The format is sniffed from the first bytes, never trusted from the extension. Every
//! reader checks what the file declares — image size, element lengths, inflated sizes —
//! against the memory budget in [`ReadOptions`] before it allocates, and proves that the
//! file holds every pixel it declares before any is scored (see `jpeg_scan`, `png_scan`,
//! `rle`). No input makes a reader panic: third-party decoders run under `catch_unwind` as
//! a last line of defence, silently (see `quiet`), and a panic there becomes
//! [`IoError::Corrupt`].

mod dicom;
mod dicom_scan;
mod jpeg_scan;
mod lut;
mod png_scan;
mod quiet;
mod raster;
mod rle;
mod transfer_syntax;

use std::path::Path;

use crate::radiograph::{Format, Radiograph, Window};
use crate::{IoError, Result};

pub(crate) use dicom::{DicomHeader, read_header as read_dicom_header};

/// Default pixel limit: 64 megapixels, over 8000 x 8000 — well beyond any plain radiograph
/// detector (a 43 x 43 cm panel at 100 µm is 4300 x 4300), small enough that a forged header
/// cannot make us allocate gigabytes.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Default budget of decoded data per input: 512 MiB, what the largest allowed image
/// ([`DEFAULT_MAX_PIXELS`]) needs as 16-bit RGBA.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 512 * 1024 * 1024;

/// Default limit on compressed metadata once inflated (PNG iCCP, zTXt, iTXt): 8 MiB, over
/// any ICC profile seen in practice (a few hundred KiB at most for display profiles).
pub const DEFAULT_MAX_METADATA_BYTES: u64 = 8 * 1024 * 1024;

/// How to read a file, including the memory budget of one read.
///
/// Every limit is enforced from what the file *declares*, before the allocation it would
/// cause, for every format and DICOM transfer syntax:
///
/// - **pixels**: width x height from the PNG IHDR, the JPEG frame header or DICOM
///   Rows/Columns against [`max_pixels`](Self::max_pixels);
/// - **decoded data**: the decoder's output buffer (width x height x samples x bytes per
///   sample), the inflated data set of a Deflated DICOM (inflated through a bounded reader),
///   and the sum of all DICOM element value lengths (checked by a pre-scan of element
///   headers, also on the inflated data set) against
///   [`max_decoded_bytes`](Self::max_decoded_bytes);
/// - **metadata**: each compressed PNG iCCP/zTXt/iTXt chunk is inflated into a counter,
///   never further than [`max_metadata_bytes`](Self::max_metadata_bytes);
/// - **file**: [`read_radiograph`] reads no file over [`max_file_bytes`].
///
/// Peak memory of one read is then bounded by the file itself, the parsed data set and the
/// decoded buffer (each within `max_decoded_bytes`), and fracdet's working copies (up to
/// 12 bytes per pixel: raw samples or a grey intermediate, and the `f32` result). Going
/// over a budget is [`IoError::OverBudget`] (over
/// `max_pixels`: [`IoError::TooLarge`]). The limits, and what
/// the fuzz tests cover, are in `docs/security.md`, section "Readers".
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// DICOM only: use this window (LINEAR, modality units) instead of the file's first one.
    pub window: Option<Window>,
    /// Refuse any image with more pixels than this before allocating for it.
    pub max_pixels: u64,
    /// Refuse any input whose decoded data (see above) would exceed this many bytes.
    pub max_decoded_bytes: u64,
    /// Refuse any compressed metadata chunk that inflates past this many bytes.
    pub max_metadata_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            window: None,
            max_pixels: DEFAULT_MAX_PIXELS,
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
        }
    }
}

/// Read one radiograph from a PNG, JPEG or DICOM file.
///
/// The whole file is read into memory, so files larger than [`max_file_bytes`] are refused
/// before reading.
pub fn read_radiograph(path: &Path, options: &ReadOptions) -> Result<Radiograph> {
    let bytes = read_file_bounded(path, max_file_bytes(options))?;
    read_radiograph_bytes(&bytes, path, options)
}

/// The whole file, refused when it has more than `limit` bytes.
pub(crate) fn read_file_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let too_big = |len: u64| IoError::Unsupported {
        path: path.to_path_buf(),
        what: format!(
            "file of {len} bytes or more, over the {limit}-byte limit that follows from max_pixels"
        ),
    };
    let file = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
    let len = file.metadata().map_err(|e| IoError::io(path, e))?.len();
    if len > limit {
        return Err(too_big(len));
    }
    // Bounded even when the size is not known up front (pipes, devices).
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IoError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The largest file [`read_radiograph`] accepts: 16 bytes per allowed pixel (more than any
/// uncompressed 16-bit RGBA image needs) plus 1 MiB for headers — 1 GiB + 1 MiB by default.
/// A multi-frame DICOM over this is refused although only its first frame would be used.
pub fn max_file_bytes(options: &ReadOptions) -> u64 {
    options
        .max_pixels
        .saturating_mul(16)
        .saturating_add(1 << 20)
}

/// Read from bytes already in memory (HTTP uploads); `name` is used in errors and metadata.
pub fn read_radiograph_bytes(
    bytes: &[u8],
    name: &Path,
    options: &ReadOptions,
) -> Result<Radiograph> {
    if let Some(w) = options.window
        && !(w.center.is_finite() && w.width.is_finite() && w.width >= 1.0)
    {
        return Err(IoError::InvalidArgument(format!(
            "window centre {} width {}: both must be finite and the width at least 1",
            w.center, w.width
        )));
    }
    if bytes.is_empty() {
        return Err(IoError::Empty {
            path: name.to_path_buf(),
        });
    }
    let format = sniff(bytes).ok_or_else(|| IoError::UnknownFormat {
        path: name.to_path_buf(),
    })?;
    let decode = || match format {
        Format::Png | Format::Jpeg => raster::read(bytes, name, format, options),
        Format::Dicom => dicom::read(bytes, name, options),
    };
    quiet::catch(decode).unwrap_or_else(|what| {
        Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: format_label(format),
            reason: format!("decoder panicked: {what}"),
        })
    })
}

/// The name of a DICOM transfer syntax UID, when fracdet knows it.
pub fn transfer_syntax_name(uid: &str) -> Option<&'static str> {
    transfer_syntax::lookup(uid).map(|t| t.name)
}

/// The format named by the file's magic bytes, if any.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.get(128..132) == Some(b"DICM") || bytes.starts_with(b"DICM") {
        // With the 128-byte preamble (PS3.10 7.1), or a stream that starts at the magic.
        Some(Format::Dicom)
    } else {
        None
    }
}

fn format_label(format: Format) -> &'static str {
    match format {
        Format::Png => "PNG",
        Format::Jpeg => "JPEG",
        Format::Dicom => "DICOM",
    }
}

/// Refuse `width` x `height` over the limit, and empty images.
pub(crate) fn check_pixels(
    name: &Path,
    width: u64,
    height: u64,
    options: &ReadOptions,
) -> Result<()> {
    let pixels = width.saturating_mul(height);
    if pixels > options.max_pixels {
        return Err(IoError::TooLarge {
            path: name.to_path_buf(),
            width,
            height,
            pixels,
            limit: options.max_pixels,
        });
    }
    if pixels == 0 {
        return Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: "image",
            reason: format!("image is {width}x{height}"),
        });
    }
    Ok(())
}

/// Refuse a decoded buffer (or inflated data) of `bytes` over the budget.
pub(crate) fn check_decoded(
    name: &Path,
    what: impl FnOnce() -> String,
    bytes: u64,
    options: &ReadOptions,
) -> Result<()> {
    if bytes > options.max_decoded_bytes {
        return Err(IoError::OverBudget {
            path: name.to_path_buf(),
            what: format!("{} needs {bytes} bytes", what()),
            limit: options.max_decoded_bytes,
            option: "max_decoded_bytes",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_not_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        let mut dcm = vec![0u8; 132];
        dcm[128..].copy_from_slice(b"DICM");
        assert_eq!(sniff(&dcm), Some(Format::Dicom));
        assert_eq!(sniff(b"DICM\x02\x00"), Some(Format::Dicom));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(&[]), None);
    }

    #[test]
    fn oversize_file_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.png");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: no data is written.
        file.set_len((1 << 20) + 17).unwrap();
        let options = ReadOptions {
            max_pixels: 1,
            ..ReadOptions::default()
        };
        let err = read_radiograph(&path, &options).unwrap_err();
        assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
        assert_eq!(
            max_file_bytes(&ReadOptions::default()),
            (1 << 30) + (1 << 20)
        );
    }

    #[test]
    fn bad_window_override_is_an_argument_error() {
        let options = ReadOptions {
            window: Some(Window {
                center: 0.0,
                width: 0.0,
            }),
            ..ReadOptions::default()
        };
        let err = read_radiograph_bytes(b"x", Path::new("a"), &options).unwrap_err();
        assert!(matches!(err, IoError::InvalidArgument(_)), "{err}");
    }
}
