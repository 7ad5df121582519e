//! The model crate's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The weight file does not fit the network: every mismatch is listed.
    #[error("{path}: weights do not fit the network: {}", .problems.join("; "))]
    WeightMismatch { path: PathBuf, problems: Vec<String> },
    #[error("{path}: cannot read weights: {reason}")]
    WeightFormat { path: PathBuf, reason: String },
    #[error("unknown backbone '{0}' (expected one of: {1})")]
    UnknownBackbone(String, String),
    #[error("invalid model configuration: {0}")]
    Config(String),
}
