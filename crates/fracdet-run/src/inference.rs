//! Scoring images with a trained run: what `fracdet predict` and a server need.

use std::path::Path;

use burn::tensor::Device;
use burn::tensor::activation::sigmoid;

use crate::config::{ClassifierConfig, InputSpec};
use crate::error::{Result, RunError};
use crate::model::BinaryClassifier;
use crate::tensors::tensor_values;
use crate::weights::load_run_weights;

/// A trained classifier in inference mode with the input recipe it was trained with.
pub struct Predictor<M> {
    model: M,
    pub config: ClassifierConfig,
}

impl<M: BinaryClassifier> Predictor<M> {
    /// Open the run in `run_dir`: `build` makes the bare network from the run's config (on
    /// `device`), then the best weights are loaded and the network put in inference mode.
    pub fn open(
        run_dir: &Path,
        device: &Device,
        build: impl FnOnce(&ClassifierConfig, &Device) -> Result<M>,
    ) -> Result<Self> {
        let config = ClassifierConfig::load(run_dir)?;
        let model = build(&config, device)?;
        let model = load_run_weights(model, run_dir)?.valid();
        Ok(Self { model, config })
    }

    pub fn input(&self) -> &InputSpec {
        &self.config.input
    }

    /// Fracture probability for each grey canvas (`size * size` values in [0, 1], as
    /// fracdet-io's letterbox makes them), in order.
    pub fn probabilities(&self, canvases: &[Vec<f32>], device: &Device) -> Result<Vec<f32>> {
        if canvases.is_empty() {
            return Ok(Vec::new());
        }
        let images = self.config.input.input_tensor(canvases, device)?;
        tensor_values(sigmoid(self.model.logits(images)))
    }
}

/// Every canvas must be `side * side` values (a model's letterboxed input).
pub(crate) fn check_canvases(canvases: &[Vec<f32>], side: usize) -> Result<()> {
    match canvases.iter().find(|c| c.len() != side * side) {
        Some(bad) => Err(RunError::Input(format!(
            "canvas has {} values, the model takes {side}x{side}",
            bad.len()
        ))),
        None => Ok(()),
    }
}
