//! The MPR detector as a [`TrainKind`]: the classifier's recipe (AdamW, warm-up + cosine,
//! AUROC selection, early stopping) with cell targets and the cell + image loss.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use fracdet_eval::box_precision::{average_precision_at, median_area_ratio};
use fracdet_eval::cell_regions::{CellGrid, cell_regions};
use fracdet_eval::localisation::ScoredBox;
use fracdet_eval::localisation::{DEFAULT_IOU, LocalisationCase, localisation_metrics};
use fracdet_model::grid_detector::{DetectorOutput, GridDetector};
use fracdet_run::mpr::boxes::BoxGrid;
use fracdet_run::mpr::inference::{CANDIDATE_SCORE, MAX_BOXES};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::RunError;
use crate::control::{StopFlag, TrainObserver};
use crate::engine::{
    Batch, EpochTotals, Outcome, Partial, Plan, RunState, Slot, Start, Stepped, TrainKind,
    Validated, train,
};
use crate::error::{Result, TrainError};
use crate::mpr::config::MprConfig;
use crate::mpr::crop::crop_item;
use crate::mpr::data::{MprItem, MprSource};
use crate::mpr::loss::{LossWeights, MprLoss, box_loss, mpr_loss};
use crate::mpr::state::{MprEpochMetrics, MprPartial, MprState, mpr_metrics_csv};
use crate::mpr::targets::{ImageTargets, cell_pos_weight, count_cells, image_targets};
use crate::source::{LoadedBatch, Skipped, load_batch};
use crate::supervised::{Recipe, Supervised, check_auroc_sets};
use crate::tensors::tensor_values;

/// The detector's input tensor (fracdet-run's, which prediction shares).
pub use fracdet_run::mpr::input::input_tensor;

/// How a call to [`train_mpr`] ended.
pub type MprOutcome = Outcome<MprState>;

/// Load `indices` in parallel (order kept), refusing items of the wrong size.
fn load_items(
    source: &dyn MprSource,
    indices: &[usize],
    seed_of: impl Fn(usize) -> Option<u64> + Sync,
    config: &MprConfig,
) -> LoadedBatch<MprItem> {
    let plane = config.size as usize * config.size as usize;
    let maps = config.residual_scales.len() * plane;
    load_batch(source, indices, seed_of, move |item: &MprItem| {
        if item.image.len() == plane && item.residuals.len() == maps {
            Ok(())
        } else {
            Err(format!(
                "sample has {} image and {} residual values, expected {plane} and {maps}",
                item.image.len(),
                item.residuals.len()
            ))
        }
    })
}

/// Targets of `items` on the grid of their canvas side (the run's size or its crop).
fn targets_of(items: &[MprItem], config: &MprConfig) -> Vec<ImageTargets> {
    let detector = config.detector();
    items
        .iter()
        .map(|it| {
            let side = it.side();
            let grid = detector.grid_side(side);
            image_targets(
                it.label,
                &it.boxes,
                side as u32,
                grid,
                grid,
                config.min_cell_overlap,
                config.box_cells,
            )
        })
        .collect()
}

/// The training crop of each loaded item ([`crop_item`]), or the items as they are.
fn cropped(
    loaded: Vec<MprItem>,
    indices: &[usize],
    batch: &Batch,
    config: &MprConfig,
) -> Vec<MprItem> {
    let Some(crop) = config.train_crop else {
        return loaded;
    };
    loaded
        .iter()
        .zip(indices)
        .map(|(item, &i)| {
            let mut rng = ChaCha8Rng::seed_from_u64(batch.crop_seed(i));
            crop_item(item, config.size, crop, &mut rng)
        })
        .collect()
}

/// Loss weights from the training set: image n_neg / n_pos and cell negative / positive
/// over un-augmented boxes, unless the config fixes them.
fn loss_weights(config: &MprConfig, train: &dyn MprSource) -> Result<(f32, f32)> {
    let n_pos = (0..train.len()).filter(|&i| train.label(i)).count();
    let n_neg = train.len() - n_pos;
    let image = match config.image_pos_weight {
        Some(w) => w,
        None if n_pos == 0 || n_neg == 0 => {
            return Err(TrainError::Data(format!(
                "training set needs both classes, has {n_pos} positive and {n_neg} negative"
            )));
        }
        None => n_neg as f32 / n_pos as f32,
    };
    let cell = match config.cell_pos_weight {
        Some(w) => w,
        None => {
            // Boxes only: the image channels are not needed, but loading is cached anyway.
            let all: Vec<usize> = (0..train.len()).collect();
            let mut targets = Vec::with_capacity(train.len());
            for chunk in all.chunks(64) {
                let loaded = load_items(train, chunk, |_| None, config);
                targets.extend(targets_of(&loaded.items, config));
            }
            let (neg, pos) = count_cells(&targets);
            cell_pos_weight(neg, pos)
        }
    };
    Ok((image, cell))
}

/// Train `model` (built on `device` with `config.detector()`, pretrained weights already
/// in it) as the run in `run_dir` describes; the checkpoint and resume contract is the
/// engine's ([`crate::engine::train`]).
#[allow(clippy::too_many_arguments)]
pub fn train_mpr(
    model: GridDetector,
    config: &MprConfig,
    train_set: &dyn MprSource,
    val: &dyn MprSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn TrainObserver<f64, MprEpochMetrics>,
    stop: &StopFlag,
) -> Result<MprOutcome> {
    let mut kind = MprKind::new(model, config, train_set, val, device)?;
    train(&mut kind, run_dir, start, observer, stop)
}

/// An MPR detector run in progress.
struct MprKind<'a> {
    net: Supervised<GridDetector>,
    config: &'a MprConfig,
    train: &'a dyn MprSource,
    val: &'a dyn MprSource,
    device: Device,
    autodiff: Device,
    /// Side of the cell grid.
    grid: usize,
    /// Computed at a fresh start unless the config fixes them; saved in the state.
    weights: LossWeights,
}

impl<'a> MprKind<'a> {
    fn new(
        model: GridDetector,
        config: &'a MprConfig,
        train: &'a dyn MprSource,
        val: &'a dyn MprSource,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        check_auroc_sets(train.len(), (0..val.len()).map(|i| val.label(i)))?;
        let autodiff = device.clone().autodiff();
        Ok(Self {
            net: Supervised::new(model, &autodiff, &config.into(), train.len()),
            config,
            train,
            val,
            device: device.clone(),
            autodiff,
            grid: config.detector().grid_side(config.size as usize),
            weights: LossWeights {
                cell_pos_weight: 1.0,
                image_pos_weight: 1.0,
                image_weight: config.image_loss_weight,
            },
        })
    }
}

impl TrainKind for MprKind<'_> {
    type Config = MprConfig;
    type Losses = f64;
    type Valid = Validation;
    type Row = MprEpochMetrics;
    type State = MprState;

    fn config(&self) -> &MprConfig {
        self.config
    }

    fn plan(&self) -> Plan {
        Recipe::from(self.config).plan(self.train.len(), self.val.len(), &self.autodiff)
    }

    fn fresh(&mut self) -> Result<()> {
        let (image, cell) = loss_weights(self.config, self.train)?;
        self.weights.image_pos_weight = image;
        self.weights.cell_pos_weight = cell;
        Ok(())
    }

    fn lr(&self, step: u64) -> f64 {
        self.net.lr(step)
    }

    fn step(&mut self, batch: &Batch) -> Result<Stepped<f64>> {
        let loaded = load_items(
            self.train,
            batch.indices,
            |i| batch.augment_seed(i),
            self.config,
        );
        // BatchNorm cannot estimate a variance from one image.
        if loaded.items.len() < 2 {
            return Ok(Stepped::nothing(loaded.skipped));
        }
        let n = loaded.items.len();
        let items = cropped(loaded.items, &loaded.indices, batch, self.config);
        let targets = targets_of(&items, self.config);
        let input = input_tensor(&items, self.config, &self.autodiff);
        let side = items[0].side() as u32;
        let out = self.net.model.forward_all(input);
        let (loss, box_term) = full_loss(out, &targets, &self.weights, self.config, side)?;
        let (cell_v, image_v, box_v): (f32, f32, f32) = (
            loss.cell.clone().into_scalar(),
            loss.image.clone().into_scalar(),
            box_term,
        );
        let loss_value: f32 = loss.total.clone().into_scalar();
        self.net.update(loss.total, batch.step);
        let means = vec![
            loss_value as f64,
            cell_v as f64,
            image_v as f64,
            box_v as f64,
        ];
        Ok(Stepped::done(loaded.skipped, n, means, loss_value as f64))
    }

    fn validate(&mut self, _epoch: u64, _run_dir: &Path) -> Result<Validated<Validation>> {
        let mut v = validate(
            &self.net.model.valid(),
            self.config,
            self.val,
            &self.device,
            self.grid,
            &self.weights,
        )?;
        Ok(Validated {
            score: v.auroc,
            skipped: std::mem::take(&mut v.skipped),
            measured: v,
        })
    }

    fn row(&self, t: EpochTotals, v: Validation) -> MprEpochMetrics {
        MprEpochMetrics {
            epoch: t.epoch,
            lr: t.lr,
            train_loss: t.mean(0),
            train_cell_loss: t.mean(1),
            train_image_loss: t.mean(2),
            train_box_loss: t.mean(3),
            val_loss: v.loss,
            val_auroc: v.auroc,
            val_cell_auroc: v.cell_auroc,
            val_hit_rate: v.hit_rate,
            val_box_recall: v.box_recall,
            val_ap50: v.ap50,
            val_box_recall_fp1: v.box_recall_fp1,
            val_box_area_ratio: v.box_area_ratio,
            seconds: t.seconds,
            train_images_per_second: t.images_per_second,
            skipped: t.skipped,
        }
    }

    fn metrics_csv(history: &[MprEpochMetrics]) -> String {
        mpr_metrics_csv(history)
    }

    fn state(&self, run: &RunState<MprEpochMetrics>) -> MprState {
        MprState {
            epoch: run.epoch,
            global_step: run.global_step,
            seed: run.seed,
            image_pos_weight: self.weights.image_pos_weight,
            cell_pos_weight: self.weights.cell_pos_weight,
            best_auroc: run.best_score,
            best_epoch: run.best_epoch,
            epochs_without_improvement: run.epochs_without_improvement,
            history: run.history.clone(),
            finished: run.finished,
            partial: run.partial.as_ref().map(|p| MprPartial {
                batches_done: p.batches_done,
                loss_sum: p.sum(0),
                cell_loss_sum: p.sum(1),
                image_loss_sum: p.sum(2),
                box_loss_sum: p.sum(3),
                loss_images: p.images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        }
    }

    fn save(&self, state: &MprState, slot: Slot, path: &Path) -> Result<()> {
        self.net.save(state, slot, path)
    }

    fn restore(&mut self, path: &Path) -> Result<RunState<MprEpochMetrics>> {
        let s: MprState = self.net.restore(path)?;
        self.weights.image_pos_weight = s.image_pos_weight;
        self.weights.cell_pos_weight = s.cell_pos_weight;
        Ok(RunState {
            epoch: s.epoch,
            global_step: s.global_step,
            seed: s.seed,
            best_score: s.best_auroc,
            best_epoch: s.best_epoch,
            epochs_without_improvement: s.epochs_without_improvement,
            history: s.history,
            finished: s.finished,
            partial: s.partial.map(|p| Partial {
                batches_done: p.batches_done,
                sums: vec![
                    p.loss_sum,
                    p.cell_loss_sum,
                    p.image_loss_sum,
                    p.box_loss_sum,
                ],
                images: p.loss_images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        })
    }
}

/// The cell + image loss plus, with the box head, its weighted box term; the box term's
/// value alongside (0 without the head).
fn full_loss(
    out: DetectorOutput,
    targets: &[ImageTargets],
    weights: &LossWeights,
    config: &MprConfig,
    side: u32,
) -> Result<(MprLoss, f32)> {
    let DetectorOutput {
        cells,
        image,
        boxes,
    } = out;
    let mut loss = mpr_loss(cells, image, targets, weights).ok_or_else(grid_misfit)?;
    let Some(boxes) = boxes else {
        return Ok((loss, 0.0));
    };
    let term = box_loss(boxes, targets, side, config.box_weighting).ok_or_else(grid_misfit)?;
    let value: f32 = term.clone().into_scalar();
    loss.total = loss.total + term.mul_scalar(config.box_loss_weight);
    Ok((loss, value))
}

fn grid_misfit() -> TrainError {
    RunError::Shape("detector output does not fit the cell grid".into()).into()
}

/// Validation results of one epoch.
pub struct Validation {
    /// Mean total loss per image.
    pub loss: f64,
    /// Image AUROC (on logits: probabilities of a noisy-OR saturate to 1.0 in f32 and tie).
    pub auroc: Option<f64>,
    pub cell_auroc: Option<f64>,
    pub hit_rate: Option<f64>,
    pub box_recall: Option<f64>,
    /// Box head only: AP at IoU 0.5, box recall at IoU 0.3 with at most one false-positive
    /// box per image, median drawn / true box area at the region threshold.
    pub ap50: Option<f64>,
    pub box_recall_fp1: Option<f64>,
    pub box_area_ratio: Option<f64>,
    pub skipped: Vec<Skipped>,
}

/// Score `val` with `model` (inference mode) on `device`.
pub fn validate(
    model: &GridDetector,
    config: &MprConfig,
    val: &dyn MprSource,
    device: &Device,
    grid: usize,
    weights: &LossWeights,
) -> Result<Validation> {
    let indices: Vec<usize> = (0..val.len()).collect();
    let (mut labels, mut scores) = (Vec::new(), Vec::new());
    let (mut cell_labels, mut cell_scores) = (Vec::new(), Vec::new());
    let mut cases = Vec::new();
    let mut box_cases = Vec::new();
    let mut skipped = Vec::new();
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(config.batch_size) {
        let batch = load_items(val, chunk, |_| None, config);
        skipped.extend(batch.skipped);
        if batch.items.is_empty() {
            continue;
        }
        let n = batch.items.len();
        let targets = targets_of(&batch.items, config);
        let out = model.forward_all(input_tensor(&batch.items, config, device));
        let (cells, image, boxes) = (out.cells.clone(), out.image.clone(), out.boxes.clone());
        let (loss, _) = full_loss(out, &targets, weights, config, config.size)?;
        let l: f32 = loss.total.into_scalar();
        loss_sum += l as f64 * n as f64;
        let image = tensor_values(image)?;
        let cells = tensor_values(cells)?;
        let boxes = boxes.map(tensor_values).transpose()?;
        let g = grid * grid;
        let box_grid = BoxGrid {
            grid_w: grid,
            grid_h: grid,
            side: config.size,
        };
        for (k, ((item, t), (logit, z))) in batch
            .items
            .iter()
            .zip(&targets)
            .zip(image.iter().zip(cells.chunks(g)))
            .enumerate()
        {
            labels.push(item.label);
            scores.push(*logit);
            if let Some(c) = &t.cells {
                cell_labels.extend(c.iter().map(|&v| v > 0.5));
                cell_scores.extend_from_slice(z);
            }
            let probs: Vec<f32> = z.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
            if let Some(raw) = &boxes {
                let ltrb = &raw[k * 4 * g..(k + 1) * 4 * g];
                let drawn = box_grid.boxes(&probs, ltrb, CANDIDATE_SCORE, MAX_BOXES);
                box_cases.push(LocalisationCase {
                    truth: if item.label {
                        item.boxes.clone()
                    } else {
                        Vec::new()
                    },
                    peak: None,
                    predicted: drawn
                        .into_iter()
                        .map(|b| ScoredBox {
                            bbox: b.bbox,
                            score: b.score,
                        })
                        .collect(),
                });
            }
            let cell_grid = CellGrid::new(&probs, grid, grid, config.size)
                .map_err(|e| RunError::Shape(e.to_string()))?;
            cases.push(LocalisationCase {
                truth: if item.label {
                    item.boxes.clone()
                } else {
                    Vec::new()
                },
                peak: cell_grid.peak(),
                predicted: cell_regions(&cell_grid, config.region_threshold),
            });
        }
    }
    let loc = localisation_metrics(&cases, DEFAULT_IOU, 0.95).ok();
    let drawn = (!box_cases.is_empty())
        .then(|| localisation_metrics(&box_cases, DEFAULT_IOU, 0.95).ok())
        .flatten();
    let fp1 = drawn.as_ref().and_then(|m| {
        m.froc_at
            .iter()
            .find(|(rate, _)| *rate == 1.0)
            .and_then(|(_, r)| *r)
    });
    Ok(Validation {
        loss: if labels.is_empty() {
            f64::NAN
        } else {
            loss_sum / labels.len() as f64
        },
        auroc: crate::metrics::auroc(&labels, &scores),
        cell_auroc: crate::metrics::auroc(&cell_labels, &cell_scores),
        hit_rate: loc.as_ref().and_then(|m| m.hit_rate.value),
        box_recall: loc.as_ref().and_then(|m| m.box_recall.value),
        ap50: average_precision_at(&box_cases, 0.5),
        box_recall_fp1: fp1,
        box_area_ratio: median_area_ratio(&box_cases, config.region_threshold),
        skipped,
    })
}
