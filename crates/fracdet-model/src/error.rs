//! The model crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building a network or loading its weights.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The weight file does not fit the network: every mismatch is listed, not just the first,
    /// so one run shows the whole remapping problem.
    ///
    /// Names are the file's keys after the import's remapping (PyTorch spelling: BatchNorm
    /// `weight`/`bias`, not burn's `gamma`/`beta`).
    #[error("{path}: weights do not fit the network: {}", mismatch_summary(.missing, .unexpected, .mis_shaped, .other))]
    WeightMismatch {
        path: PathBuf,
        /// Network parameters the file has no tensor for.
        missing: Vec<String>,
        /// File tensors no network parameter takes.
        unexpected: Vec<String>,
        /// `name: network [..], file [..]` for each tensor whose shape disagrees.
        mis_shaped: Vec<String>,
        /// Anything else (wrong dtype kind, undecodable data, two keys remapped onto one).
        other: Vec<String>,
    },
    #[error("{path}: cannot read weights: {reason}")]
    WeightFormat { path: PathBuf, reason: String },
    #[error("unknown backbone '{0}' (expected one of: {1})")]
    UnknownBackbone(String, String),
    #[error("invalid model configuration: {0}")]
    Config(String),
}

impl ModelError {
    /// All problems of a [`ModelError::WeightMismatch`] as one list, empty for other variants.
    pub fn mismatch_problems(&self) -> Vec<String> {
        match self {
            ModelError::WeightMismatch {
                missing,
                unexpected,
                mis_shaped,
                other,
                ..
            } => problem_lines(missing, unexpected, mis_shaped, other),
            _ => Vec::new(),
        }
    }
}

fn problem_lines(
    missing: &[String],
    unexpected: &[String],
    mis_shaped: &[String],
    other: &[String],
) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(missing.iter().map(|k| format!("missing {k}")));
    lines.extend(unexpected.iter().map(|k| format!("unexpected {k}")));
    lines.extend(mis_shaped.iter().map(|k| format!("mis-shaped {k}")));
    lines.extend(other.iter().cloned());
    lines
}

fn mismatch_summary(
    missing: &[String],
    unexpected: &[String],
    mis_shaped: &[String],
    other: &[String],
) -> String {
    problem_lines(missing, unexpected, mis_shaped, other).join("; ")
}
