//! The run crate's error type: what went wrong reading or writing a run's files, or
//! scoring images with a trained network.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A run file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint or run file exists but cannot be understood.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// The run's configuration (or how it is combined with a run directory or network) is
    /// invalid.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A model, training state or config could not be turned into bytes.
    #[error("cannot serialise {what}: {reason}")]
    Serialise { what: &'static str, reason: String },
    /// Values could not be read back from a tensor.
    #[error("cannot read tensor values: {0}")]
    Tensor(String),
    /// Input handed to a trained model does not fit it (canvas size).
    #[error("input does not fit the model: {0}")]
    Input(String),
    /// A network's output (or a residual source's maps) does not have the shape its use
    /// needs.
    #[error("network output has an unexpected shape: {0}")]
    Shape(String),
    /// A file could not be written, for a reason other than an I/O error.
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    /// A network could not be built (fracdet-model refused its configuration).
    #[error(transparent)]
    Model(#[from] fracdet_model::ModelError),
}

pub type Result<T, E = RunError> = std::result::Result<T, E>;

/// Shorthands for the variants with a path, for this crate and fracdet-train.
impl RunError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
