//! The library half of `fracdet evaluate`: score a dataset split with a [`Scorer`]
//! ([`score_split`]), build the metrics of it ([`metrics_report`]) and write the report
//! directory ([`write_report`]); `--perturb`'s robustness rows ([`perturbation_rows`]).
//! Which thresholds an evaluation may use is fracdet-eval's
//! [`ThresholdPolicy`](fracdet_eval::ThresholdPolicy); the CLI turns flags into these
//! calls and prints.
//!
//! [`Scorer`]: crate::Scorer

mod cases;
mod error;
mod metrics;
mod notes;
mod perturbations;
mod predictions;
mod report;
mod scoring;
mod subgroups;
mod summary;
#[cfg(test)]
mod testing;
mod thumbnails;

pub use cases::{choose_box_threshold, detection, detection_cases, localisation};
pub use error::{EvaluationError, Result};
pub use metrics::metrics_report;
pub use notes::{localisation_note, report_warnings, score_note};
pub use perturbations::{PerturbationRow, perturbation_rows};
pub use predictions::prediction_rows;
pub use report::{ReportContext, write_report};
pub use scoring::{
    ScoreOptions, ScoredImage, SplitScores, Unreadable, relative_name, score_split, seed_of,
};
pub use subgroups::{subgroup_keys, subgroups};
pub use summary::summary;
pub use thumbnails::{ErrorCases, THUMB_SIZE, error_cases, select_cases, thumbnail};
