//! What can go wrong in the node, each variant saying what failed. Messages name instances
//! by SOP Instance UID and files by spool path (which is made of UIDs), never by a patient
//! attribute.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("spool {path}: {source}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("spool entry name {0:?} is not a DICOM UID (digits and dots, at most 64)")]
    BadUid(String),
    #[error("cannot listen on port {port}: {source}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("destination {0:?} is not AE@HOST:PORT (AE title 1-16 characters)")]
    BadDestination(String),
    #[error("invalid node configuration: {0}")]
    Config(String),
    #[error("instance {uid}: cannot analyse: {reason}")]
    Analyse { uid: String, reason: String },
    #[error("sending to {destination}: {reason}")]
    Send { destination: String, reason: String },
    #[error(transparent)]
    Result(#[from] fracdet_io::IoError),
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;

pub(crate) fn spool_io(path: impl Into<PathBuf>, source: std::io::Error) -> NodeError {
    NodeError::Spool {
        path: path.into(),
        source,
    }
}
