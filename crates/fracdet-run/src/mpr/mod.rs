//! The MPR grid detector's run files and inference (issue #5, part 2).
//!
//! - [`config`]: [`MprConfig`], the run's `config.json`;
//! - [`state`]: its checkpoints; [`input`]: the network input of a canvas and its maps;
//! - [`residuals`]: [`ResidualSource`], where residual channels come from, and
//!   [`inpainter_residuals`], the trained inpainter as one;
//! - [`boxes`]: the box head's cell geometry, decoding and suppression;
//! - [`inference`]: [`MprPredictor`], a trained run for prediction.

pub mod boxes;
pub mod config;
pub mod inference;
pub mod inpainter_residuals;
pub mod input;
pub mod residuals;
pub mod state;

pub use config::{BoxCells, BoxWeighting, MprConfig};
pub use inference::{MprPrediction, MprPredictor, warm_start};
pub use input::MprItem;
pub use residuals::{NoResiduals, ResidualSource};
pub use state::{MprCheckpoint, MprEpochMetrics, MprState};
