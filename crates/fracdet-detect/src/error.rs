//! Typed errors for fracdet-detect.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DetectError {
    #[error(transparent)]
    Io(#[from] fracdet_io::IoError),
    #[error(transparent)]
    Model(#[from] fracdet_model::ModelError),
    #[error(transparent)]
    Run(#[from] fracdet_run::RunError),
    #[error(transparent)]
    Eval(#[from] fracdet_eval::EvalError),
    /// A model directory or bundle that is not what it claims to be.
    #[error("model {origin}: {message}")]
    Bundle { origin: String, message: String },
    #[error("cannot read tensor: {0}")]
    Tensor(String),
    #[error("{0}")]
    InvalidArgument(String),
}

impl DetectError {
    pub(crate) fn bundle(origin: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Self::Bundle {
            origin: origin.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, DetectError>;
