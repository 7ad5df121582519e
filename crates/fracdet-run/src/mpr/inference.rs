//! Scoring images with a trained MPR run: the image probability and the grid of cell
//! probabilities, for `predict`, `evaluate`, `detect` and a server.
//!
//! Mapping the grid back to original pixels and boxes from it are pure functions in
//! fracdet-eval's `cell_regions` (`heatmap_to_original`, `cell_regions`,
//! `boxes_to_original`).

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use fracdet_model::grid_detector::GridDetector;

use crate::error::{Result, RunError};
use crate::mpr::boxes::{BoxGrid, CellBox};
use crate::mpr::config::MprConfig;
use crate::mpr::input::{MprItem, input_tensor};
use crate::mpr::residuals::ResidualSource;
use crate::mpr::state::{MprCheckpoint, MprState};
use crate::tensors::tensor_values;
use crate::weights::model_from_bytes;

/// What the detector says about one canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct MprPrediction {
    /// Image fracture probability (noisy-OR or max of the cells).
    pub probability: f32,
    /// Its logit: ranks images where probabilities near 1 round to the same f32.
    pub logit: f32,
    /// `grid * grid` cell probabilities, row-major, over the whole canvas.
    pub cells: Vec<f32>,
    /// Cells per side; each covers `size / grid` canvas pixels.
    pub grid: usize,
    /// Box head only: the boxes the cells regress, canvas pixels, every cell scored at
    /// least [`CANDIDATE_SCORE`], after non-maximum suppression, best first. Callers keep
    /// those at or above their operating threshold.
    pub boxes: Option<Vec<CellBox>>,
}

/// Cells below this probability propose no box (their boxes would never be drawn, and
/// AP and FROC need only the candidates above it).
pub const CANDIDATE_SCORE: f32 = 0.01;

/// At most this many boxes per canvas.
pub const MAX_BOXES: usize = 50;

/// A trained MPR detector in inference mode with its residual source and input recipe.
pub struct MprPredictor {
    model: GridDetector,
    residuals: Box<dyn ResidualSource>,
    pub config: MprConfig,
    grid: usize,
    cell_pos_weight: f32,
}

impl MprPredictor {
    /// Open the run in `run_dir` (its `config.json` and `best.ckpt`, or `last.ckpt` before
    /// any validated epoch) on `device`; `residuals` must give the maps the run trained with
    /// (the inpainter its config names, or [`crate::mpr::NoResiduals`] for a run without).
    pub fn open(
        run_dir: &Path,
        device: &Device,
        residuals: Box<dyn ResidualSource>,
    ) -> Result<Self> {
        let config = MprConfig::load(run_dir)?;
        if residuals.scales() != config.residual_scales.as_slice() {
            return Err(RunError::Config(format!(
                "the run was trained with residual scales {:?}, the residual source gives {:?}",
                config.residual_scales,
                residuals.scales()
            )));
        }
        let (model, ckpt) = load_run_network(config.detector().init(device)?, run_dir)?;
        Ok(Self::from_parts(
            config,
            model,
            residuals,
            ckpt.cell_pos_weight,
        ))
    }

    /// A detector already built (from a bundle, say): `model` must be `config.detector()`'s
    /// network, `cell_pos_weight` the cell W-BCE weight it trained with.
    pub fn from_parts(
        config: MprConfig,
        model: GridDetector,
        residuals: Box<dyn ResidualSource>,
        cell_pos_weight: f32,
    ) -> Self {
        let grid = config.detector().grid_side(config.size as usize);
        Self {
            model: model.valid(),
            residuals,
            config,
            grid,
            cell_pos_weight,
        }
    }

    /// The network, in inference mode (what a bundle stores).
    pub fn model(&self) -> &GridDetector {
        &self.model
    }

    /// Open the run in `run_dir` with the residual source its config names (the inpainter
    /// run it trained with, or none); see [`MprPredictor::open`].
    pub fn open_run(run_dir: &Path, device: &Device) -> Result<Self> {
        let config = MprConfig::load(run_dir)?;
        let residuals = crate::mpr::inpainter_residuals::residual_source_for(&config, device)?;
        Self::open(run_dir, device, residuals)
    }

    /// Side of the square canvas the model takes.
    pub fn size(&self) -> u32 {
        self.config.size
    }

    /// Cells per side of the output grid.
    pub fn grid(&self) -> usize {
        self.grid
    }

    /// The positive weight `w` of the cell W-BCE the model trained with.
    pub fn cell_pos_weight(&self) -> f32 {
        self.cell_pos_weight
    }

    /// The cell probability that W-BCE training with weight `w` puts where an unweighted
    /// model would put 0.5: `w / (1 + w)`. Weighting positives by `w` shifts every cell's
    /// optimal logit by `ln w`, so a cell whose fracture frequency is `q` is pushed to
    /// `wq / (wq + 1 − q)`; cells near a fracture reach 0.5 at `q = 1 / (1 + w)`, which makes
    /// regions above 0.5 grow wide.
    pub fn calibrated_half(&self) -> f32 {
        let w = self.cell_pos_weight.max(0.0);
        w / (1.0 + w)
    }

    /// The residual maps `|x − G(x)|` the model takes beside each grey canvas (`size *
    /// size` values in [0, 1], as for [`MprPredictor::predict`]), for display: per canvas,
    /// `config.residual_scales.len()` maps of `size * size` values in [0, 1], row-major,
    /// concatenated in the order of the scales; empty for a run without residual channels.
    pub fn residual_maps(&self, canvases: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let side = self.config.size as usize;
        crate::inference::check_canvases(canvases, side)?;
        if canvases.is_empty() {
            return Ok(Vec::new());
        }
        let maps = self.residuals.residuals(canvases, self.config.size)?;
        let want = self.config.residual_scales.len() * side * side;
        if maps.len() != canvases.len() || maps.iter().any(|m| m.len() != want) {
            return Err(RunError::Shape(
                "residual source returned maps of the wrong size".into(),
            ));
        }
        Ok(maps)
    }

    /// Predictions for grey canvases (`size * size` values in [0, 1], as fracdet-io's
    /// letterbox makes them), in order; residual maps are computed here.
    pub fn predict(&self, canvases: &[Vec<f32>], device: &Device) -> Result<Vec<MprPrediction>> {
        let maps = self.residual_maps(canvases)?;
        if canvases.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<MprItem> = canvases
            .iter()
            .zip(maps)
            .map(|(c, m)| MprItem {
                image: c.clone(),
                residuals: m,
                boxes: Vec::new(),
                label: false,
            })
            .collect();
        let out = self
            .model
            .forward_all(input_tensor(&items, &self.config, device));
        let logits = tensor_values(out.cells)?;
        let image = tensor_values(out.image)?;
        let raw = out.boxes.map(tensor_values).transpose()?;
        let g = self.grid * self.grid;
        let box_grid = BoxGrid {
            grid_w: self.grid,
            grid_h: self.grid,
            side: self.config.size,
        };
        Ok(image
            .iter()
            .zip(logits.chunks(g))
            .enumerate()
            .map(|(k, (&logit, z))| {
                let cells: Vec<f32> = z.iter().map(|&v| sigmoid(v)).collect();
                let boxes = raw.as_ref().map(|raw| {
                    let ltrb = &raw[k * 4 * g..(k + 1) * 4 * g];
                    let mut boxes = box_grid.boxes(&cells, ltrb, CANDIDATE_SCORE, MAX_BOXES);
                    if boxes.is_empty() {
                        // The image head may flag an image no cell is sure of: it still
                        // shows where, with the hottest cell's box.
                        boxes.extend(box_grid.best(&cells, ltrb));
                    }
                    boxes
                });
                MprPrediction {
                    probability: sigmoid(logit),
                    logit,
                    cells,
                    grid: self.grid,
                    boxes,
                }
            })
            .collect())
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The weights of the MPR run in `run_dir` (its `best.ckpt`, or `last.ckpt` before any
/// validated epoch) loaded into `model`, with that checkpoint's training state.
fn load_run_network(model: GridDetector, run_dir: &Path) -> Result<(GridDetector, MprState)> {
    let path = crate::checkpoint::prediction_checkpoint(run_dir);
    let ckpt = MprCheckpoint::load(&path)?;
    Ok((model_from_bytes(model, ckpt.model, &path)?, ckpt.state))
}

/// A new run's network started from the trained MPR run in `source_dir` (fine-tuning: a
/// new box loss, a hospital's own images), refused unless `config` and the source run's
/// config describe the same network and inputs ([`MprConfig::check_warm_start`]).
/// `model` is `config.detector()`'s freshly built network.
pub fn warm_start(
    model: GridDetector,
    config: &MprConfig,
    source_dir: &Path,
) -> Result<GridDetector> {
    config.check_warm_start(&MprConfig::load(source_dir)?)?;
    Ok(load_run_network(model, source_dir)?.0)
}
