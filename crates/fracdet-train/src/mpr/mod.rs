//! Training and inference of the MPR grid detector (issue #5, part 2).
//!
//! The detector ([`fracdet_model::grid_detector::GridDetector`]) sees the grey canvas and
//! the healthy-bone inpainter's residual maps and scores every stride-16 cell; the image
//! score is the noisy-OR of the cells. It trains with weighted BCE on cells (positive
//! where a fracture box covers the cell) plus λ times weighted BCE on the image score.
//!
//! - [`config`]: [`MprConfig`], the run's `config.json`;
//! - [`targets`]: cell targets from boxes; [`loss`]: the cell + image loss;
//! - [`residuals`]: [`ResidualSource`], where residual channels come from;
//! - [`data`]: [`MprData`], a dataset split with residual maps computed once and cached;
//! - [`augment`]: one warp for the image, its maps and its boxes; [`crop`]: training crops;
//! - [`state`]: checkpoints and metrics.csv; [`trainer`]: [`train_mpr`];
//! - [`inference`]: [`MprPredictor`], a trained run for prediction.

pub mod augment;
pub mod crop;
pub mod data;
pub mod loss;
pub mod state;
pub mod targets;
pub mod trainer;

// The run's config, residual sources and predictor are fracdet-run's (prediction needs
// them); re-exported at their old paths.
pub use fracdet_run::mpr::{config, inference, inpainter_residuals, residuals};

pub use config::MprConfig;
pub use data::{MprData, MprItem, MprSource};
pub use inference::{MprPrediction, MprPredictor};
pub use residuals::{NoResiduals, ResidualSource};
pub use state::{MprCheckpoint, MprEpochMetrics, MprState};
pub use trainer::{MprOutcome, train_mpr};
