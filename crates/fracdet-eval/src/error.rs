//! Typed errors for fracdet-eval.
//!
//! Invalid *inputs* (mismatched lengths, NaN scores) are errors; *degenerate but valid* data
//! (one class only, empty input, all scores equal) is not an error: metrics return
//! [`crate::Estimate`] with `value: None` and a reason instead.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvalError {
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("score at index {index} is not finite ({value})")]
    NonFiniteScore { index: usize, value: f64 },
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("invalid features: {0}")]
    InvalidFeatures(String),
    #[error("JSON: {0}")]
    Json(String),
    #[error("metrics CSV: {0}")]
    Csv(String),
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("plot {path}: {message}")]
    Plot { path: String, message: String },
}

pub type Result<T> = std::result::Result<T, EvalError>;

/// Checks that `labels` and `scores` pair up and that every score is finite.
pub(crate) fn validate(labels: &[bool], scores: &[f32]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(EvalError::LengthMismatch {
            what: "scores",
            expected: labels.len(),
            got: scores.len(),
        });
    }
    if let Some((index, &s)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(EvalError::NonFiniteScore {
            index,
            value: f64::from(s),
        });
    }
    Ok(())
}
