//! Typed errors of an evaluation.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvaluationError {
    /// Scoring or localisation failed. Boxed: a `DetectError` is as large as a `Result`'s
    /// error should be, and this enum would add to it on every call.
    #[error(transparent)]
    Detect(Box<crate::error::DetectError>),
    /// A metric, figure or JSON document could not be made.
    #[error(transparent)]
    Eval(#[from] fracdet_eval::EvalError),
    #[error(transparent)]
    Predictions(#[from] fracdet_eval::PredictionsError),
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise {what}: {message}")]
    Serialise { what: &'static str, message: String },
}

impl From<crate::error::DetectError> for EvaluationError {
    fn from(e: crate::error::DetectError) -> Self {
        Self::Detect(Box::new(e))
    }
}

pub type Result<T> = std::result::Result<T, EvaluationError>;
