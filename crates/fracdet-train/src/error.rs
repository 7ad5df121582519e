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
    /// The run's configuration (or how it is combined with a run directory or network) is
    /// invalid.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A model, optimizer state, training state or config could not be turned into bytes.
    #[error("cannot serialise {what}: {reason}")]
    Serialise { what: &'static str, reason: String },
    /// Values could not be read back from a tensor.
    #[error("cannot read tensor values: {0}")]
    Tensor(String),
    /// Input handed to a trained model does not fit it (canvas size).
    #[error("input does not fit the model: {0}")]
    Input(String),
    /// A network's output does not have the shape its use needs.
    #[error("network output has an unexpected shape: {0}")]
    Shape(String),
    /// An image (sample grid) could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
    /// A dataset could not be opened for training (fracdet-io's loader refused it).
    #[error("cannot open the dataset: {0}")]
    Dataset(String),
    /// A file could not be written, for a reason other than an I/O error.
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
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
