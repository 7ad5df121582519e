//! The one error type of the input layer (and of the result writers beside it).

use std::path::PathBuf;

/// Everything that can go wrong while reading radiographs and datasets, and writing results.
///
/// Every variant that concerns a file names it, so a caller processing a folder can report
/// the bad file and carry on with the rest.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: empty file")]
    Empty { path: PathBuf },
    #[error("{path}: not a PNG, JPEG or DICOM file")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: corrupt or truncated {format} data: {reason}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error(
        "{path}: image is {width}x{height} = {pixels} pixels, over the limit of {limit} (see ReadOptions::max_pixels)"
    )]
    TooLarge {
        path: PathBuf,
        width: u64,
        height: u64,
        pixels: u64,
        limit: u64,
    },
    /// Decoding would need more memory than [`ReadOptions`](crate::ReadOptions) allows:
    /// refused before the allocation, so the file is too costly, not necessarily corrupt.
    #[error("{path}: {what} (limit {limit} bytes, ReadOptions::{option})")]
    OverBudget {
        path: PathBuf,
        what: String,
        limit: u64,
        option: &'static str,
    },
    #[error("{path}: unsupported DICOM transfer syntax {uid} ({name})")]
    UnsupportedTransferSyntax {
        path: PathBuf,
        uid: String,
        name: String,
    },
    #[error("{path}: unsupported {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("{path}: DICOM attribute {attribute} missing or invalid: {reason}")]
    Dicom {
        path: PathBuf,
        attribute: &'static str,
        reason: String,
    },
    #[error("{path}:{line}: {reason}")]
    Table {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Dataset { path: PathBuf, reason: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{path}: a DICOM result needs a DICOM source, and this is a {found} file")]
    NotDicom { path: PathBuf, found: &'static str },
    #[error("{path}: cannot encode the DICOM result: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("{path}: already exists; not replaced (overwrite is off)")]
    OutputExists { path: PathBuf },
    #[error("{path}: is the source file itself; the original is never written to")]
    OutputIsSource { path: PathBuf },
}

pub type Result<T, E = IoError> = std::result::Result<T, E>;

impl IoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
