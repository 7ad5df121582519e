//! The classifier as a [`TrainKind`]: weighted BCE with AdamW, a warm-up + cosine schedule
//! and optional head-only epochs; validation by AUROC.

use std::path::Path;

use burn::module::ParamGroup;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use crate::RunError;
use crate::checkpoint::{EpochMetrics, PartialEpoch, TrainState, metrics_csv};
use crate::config::ClassifierConfig;
use crate::control::{StopFlag, TrainObserver};
use crate::engine::{
    Batch, EpochTotals, Outcome, Partial, Plan, RunState, Slot, Start, Stepped, TrainKind,
    Validated, train,
};
use crate::error::{Result, TrainError};
use crate::loss::weighted_bce_with_logits;
use crate::model::BinaryClassifier;
use crate::source::{SampleSource, canvas_of, load_batch};
use crate::supervised::{Recipe, Supervised, check_auroc_sets};
use crate::tensors::tensor_values;

/// How a call to [`train_classifier`] ended.
pub type TrainOutcome = Outcome<TrainState>;

/// Positive-class weight `n_negative / n_positive`, the usual balance for W-BCE.
pub fn balanced_pos_weight(source: &dyn SampleSource) -> Result<f32> {
    let n_pos = (0..source.len()).filter(|&i| source.label(i)).count();
    let n_neg = source.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(TrainError::Data(format!(
            "training set needs both classes, has {n_pos} positive and {n_neg} negative"
        )));
    }
    Ok(n_neg as f32 / n_pos as f32)
}

/// Train `model` (built on `device`, with any pretrained weights already in it) as the run in
/// `run_dir` describes, saving `last.ckpt` every epoch and `best.ckpt` on every better
/// validation AUROC; see [`crate::engine::train`] for stopping and resuming.
#[allow(clippy::too_many_arguments)]
pub fn train_classifier<M: BinaryClassifier>(
    model: M,
    config: &ClassifierConfig,
    train_set: &dyn SampleSource,
    val: &dyn SampleSource,
    run_dir: &Path,
    start: Start,
    device: &Device,
    observer: &mut dyn TrainObserver,
    stop: &StopFlag,
) -> Result<TrainOutcome> {
    let mut kind = ClassifierKind::new(model, config, train_set, val, device)?;
    train(&mut kind, run_dir, start, observer, stop)
}

/// A classifier run in progress.
struct ClassifierKind<'a, M> {
    net: Supervised<M>,
    config: &'a ClassifierConfig,
    train: &'a dyn SampleSource,
    val: &'a dyn SampleSource,
    device: Device,
    autodiff: Device,
    pos_weight: f32,
    /// Frozen during the head-only epochs; taken from the model after any checkpoint load,
    /// since parameter ids come from the checkpoint.
    backbone: Option<ParamGroup>,
}

impl<'a, M: BinaryClassifier> ClassifierKind<'a, M> {
    fn new(
        model: M,
        config: &'a ClassifierConfig,
        train: &'a dyn SampleSource,
        val: &'a dyn SampleSource,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        check_auroc_sets(train.len(), (0..val.len()).map(|i| val.label(i)))?;
        if config.freeze_epochs > 0 && model.backbone_params().is_none() {
            return Err(RunError::Config(
                "this network has no backbone/head split; freeze epochs must be 0".into(),
            )
            .into());
        }
        let autodiff = device.clone().autodiff();
        let net = Supervised::new(model, &autodiff, &config.into(), train.len());
        Ok(Self {
            backbone: net.model.backbone_params(),
            net,
            config,
            train,
            val,
            device: device.clone(),
            autodiff,
            pos_weight: config.pos_weight.unwrap_or(1.0),
        })
    }
}

/// Validation results: mean loss and AUROC.
struct ClassifierValid {
    loss: f64,
    auroc: Option<f64>,
}

impl<M: BinaryClassifier> TrainKind for ClassifierKind<'_, M> {
    type Config = ClassifierConfig;
    type Losses = f64;
    type Valid = ClassifierValid;
    type Row = EpochMetrics;
    type State = TrainState;

    fn config(&self) -> &ClassifierConfig {
        self.config
    }

    fn plan(&self) -> Plan {
        Recipe::from(self.config).plan(self.train.len(), self.val.len(), &self.autodiff)
    }

    fn fresh(&mut self) -> Result<()> {
        self.pos_weight = match self.config.pos_weight {
            Some(w) => w,
            None => balanced_pos_weight(self.train)?,
        };
        Ok(())
    }

    fn lr(&self, step: u64) -> f64 {
        self.net.lr(step)
    }

    fn begin_epoch(&mut self, epoch: u64) {
        let frozen = epoch < self.config.freeze_epochs;
        let model = self.net.model.clone().set_require_grad(true);
        self.net.model = match (&self.backbone, frozen) {
            (Some(group), true) => model.set_require_grad_group(group.clone(), false),
            _ => model,
        };
    }

    fn step(&mut self, batch: &Batch) -> Result<Stepped<f64>> {
        let loaded = load_batch(
            self.train,
            batch.indices,
            |i| batch.augment_seed(i),
            canvas_of(self.canvas_len()),
        );
        // BatchNorm cannot estimate a variance from one image.
        if loaded.items.len() < 2 {
            return Ok(Stepped::nothing(loaded.skipped));
        }
        let n = loaded.items.len();
        let (images, targets) =
            to_tensors(&loaded.items, &loaded.labels, self.config, &self.autodiff)?;
        let logits = self.net.model.logits(images);
        let loss = weighted_bce_with_logits(logits, targets, self.pos_weight);
        let loss_value: f32 = loss.clone().into_scalar();
        self.net.update(loss, batch.step);
        let loss_value = loss_value as f64;
        Ok(Stepped::done(
            loaded.skipped,
            n,
            vec![loss_value],
            loss_value,
        ))
    }

    fn validate(&mut self, _epoch: u64, _run_dir: &Path) -> Result<Validated<ClassifierValid>> {
        let eval_model = self.net.model.valid();
        let indices: Vec<usize> = (0..self.val.len()).collect();
        let mut labels = Vec::with_capacity(indices.len());
        let mut scores = Vec::with_capacity(indices.len());
        let mut skipped = Vec::new();
        let mut loss_sum = 0.0f64;
        for chunk in indices.chunks(self.config.batch_size) {
            let batch = load_batch(self.val, chunk, |_| None, canvas_of(self.canvas_len()));
            skipped.extend(batch.skipped);
            if batch.items.is_empty() {
                continue;
            }
            let n = batch.items.len();
            let (images, targets) =
                to_tensors(&batch.items, &batch.labels, self.config, &self.device)?;
            let logits = eval_model.logits(images);
            let loss: f32 =
                weighted_bce_with_logits(logits.clone(), targets, self.pos_weight).into_scalar();
            loss_sum += loss as f64 * n as f64;
            scores.extend(tensor_values(sigmoid(logits))?);
            labels.extend(batch.labels);
        }
        let auroc = crate::metrics::auroc(&labels, &scores);
        Ok(Validated {
            score: auroc,
            skipped,
            measured: ClassifierValid {
                loss: if labels.is_empty() {
                    f64::NAN
                } else {
                    loss_sum / labels.len() as f64
                },
                auroc,
            },
        })
    }

    fn row(&self, t: EpochTotals, v: ClassifierValid) -> EpochMetrics {
        EpochMetrics {
            epoch: t.epoch,
            lr: t.lr,
            train_loss: t.mean(0),
            val_loss: v.loss,
            val_auroc: v.auroc,
            seconds: t.seconds,
            train_images_per_second: t.images_per_second,
            skipped: t.skipped,
            frozen: t.epoch < self.config.freeze_epochs,
        }
    }

    fn metrics_csv(history: &[EpochMetrics]) -> String {
        metrics_csv(history)
    }

    fn state(&self, run: &RunState<EpochMetrics>) -> TrainState {
        TrainState {
            epoch: run.epoch,
            global_step: run.global_step,
            seed: run.seed,
            pos_weight: self.pos_weight,
            best_auroc: run.best_score,
            best_epoch: run.best_epoch,
            epochs_without_improvement: run.epochs_without_improvement,
            history: run.history.clone(),
            finished: run.finished,
            partial: run.partial.as_ref().map(|p| PartialEpoch {
                batches_done: p.batches_done,
                loss_sum: p.sum(0),
                loss_images: p.images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        }
    }

    fn save(&self, state: &TrainState, slot: Slot, path: &Path) -> Result<()> {
        self.net.save(state, slot, path)
    }

    fn restore(&mut self, path: &Path) -> Result<RunState<EpochMetrics>> {
        let s: TrainState = self.net.restore(path)?;
        self.backbone = self.net.model.backbone_params();
        self.pos_weight = s.pos_weight;
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
                sums: vec![p.loss_sum],
                images: p.loss_images,
                skipped: p.skipped,
                train_seconds: p.train_seconds,
                seconds: p.seconds,
            }),
        })
    }
}

impl<M> ClassifierKind<'_, M> {
    fn canvas_len(&self) -> usize {
        let side = self.config.input.size as usize;
        side * side
    }
}

/// Stack canvases into the normalised `[B, C, S, S]` input (the run's one batcher,
/// [`InputSpec::input_tensor`](fracdet_run::InputSpec::input_tensor)) and the `[B]` 0/1
/// targets.
pub(crate) fn to_tensors(
    canvases: &[Vec<f32>],
    labels: &[bool],
    config: &ClassifierConfig,
    device: &Device,
) -> Result<(Tensor<4>, Tensor<1>)> {
    let images = config.input.input_tensor(canvases, device)?;
    let targets: Vec<f32> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
    let targets = Tensor::from_data(TensorData::new(targets, [labels.len()]), device);
    Ok((images, targets))
}
