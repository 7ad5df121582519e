//! The training crate's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint or run file exists but cannot be understood.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The data cannot train anything (empty, one class only, every image unreadable).
    #[error("unusable data: {0}")]
    Data(String),
    #[error(transparent)]
    Model(#[from] fracdet_model::ModelError),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
