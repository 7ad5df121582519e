//! The training crate's error type. Failures reading or writing a run's files (I/O,
//! formats, configs, serialisation) and of a network's output are fracdet-run's
//! [`RunError`](fracdet_run::RunError), carried in [`TrainError::Run`].

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// An image (sample grid) could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
    /// A dataset could not be opened for training (fracdet-io's loader refused it).
    #[error("cannot open the dataset: {0}")]
    Dataset(String),
    /// The data cannot train anything (empty, one class only, every image unreadable).
    #[error("unusable data: {0}")]
    Data(String),
    #[error(transparent)]
    Model(#[from] fracdet_model::ModelError),
    /// Reading or writing a run's files (configs, checkpoints, weights) or using a trained
    /// network failed (fracdet-run). Boxed: nested in place it would make every
    /// `Result<_, TrainError>` carry a 128-byte error.
    #[error(transparent)]
    Run(Box<fracdet_run::RunError>),
}

impl From<fracdet_run::RunError> for TrainError {
    fn from(e: fracdet_run::RunError) -> Self {
        Self::Run(Box::new(e))
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
