//! One network trained by AdamW on a warm-up + cosine schedule, checkpointed as a
//! [`ModelCheckpoint`]: what the classifier and the MPR detector kinds share.

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use crate::checkpoint::{CheckpointState, ModelCheckpoint};
use crate::config::ClassifierConfig;
use crate::engine::{Plan, Slot};
use crate::error::{Result, TrainError};
use crate::mpr::MprConfig;
use crate::optim::{load_optimizer, optimizer_bytes};
use crate::order::DEVICE;
use crate::schedule::WarmupCosine;
use crate::weights::{model_from_bytes, model_to_bytes};

/// The training recipe the classifier's and the MPR detector's configs share.
#[derive(Debug, Clone)]
pub(crate) struct Recipe {
    epochs: u64,
    batch_size: usize,
    lr: f64,
    min_lr: f64,
    weight_decay: f32,
    warmup_epochs: u64,
    patience: Option<u64>,
    augment: bool,
    seed: u64,
}

/// `Recipe::from(&config)` for configs with the recipe's fields, read in one place.
macro_rules! recipe_from {
    ($($config:ty),*) => {$(
        impl From<&$config> for Recipe {
            fn from(c: &$config) -> Self {
                Self {
                    epochs: c.epochs,
                    batch_size: c.batch_size,
                    lr: c.lr,
                    min_lr: c.min_lr,
                    weight_decay: c.weight_decay,
                    warmup_epochs: c.warmup_epochs,
                    patience: c.patience,
                    augment: c.augment.is_some(),
                    seed: c.seed,
                }
            }
        }
    )*};
}

recipe_from!(ClassifierConfig, MprConfig);

impl Recipe {
    /// The engine's plan over all `n_train` training samples, on `autodiff`.
    pub fn plan(&self, n_train: usize, val_images: usize, autodiff: &Device) -> Plan {
        Plan {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            patience: self.patience,
            augment: self.augment,
            train: (0..n_train).collect(),
            val_images,
            device: autodiff.clone(),
            device_purpose: DEVICE,
        }
    }
}

/// A network in training with its optimizer and schedule.
pub(crate) struct Supervised<M> {
    /// On the autodiff device, in training mode.
    pub model: M,
    optim: ModuleOptimizer,
    schedule: WarmupCosine,
}

impl<M: Module + 'static> Supervised<M> {
    /// `model` moved to `autodiff` in training mode, with a fresh AdamW and the recipe's
    /// schedule over `n_train` training samples a epoch.
    pub fn new(model: M, autodiff: &Device, recipe: &Recipe, n_train: usize) -> Self {
        Self {
            model: model.fork(autodiff).train(),
            optim: AdamWConfig::new()
                .with_weight_decay(recipe.weight_decay)
                .init(),
            schedule: WarmupCosine::planned(
                recipe.lr,
                recipe.min_lr,
                recipe.warmup_epochs,
                recipe.epochs,
                n_train.div_ceil(recipe.batch_size) as u64,
            ),
        }
    }

    pub fn lr(&self, step: u64) -> f64 {
        self.schedule.lr(step)
    }

    /// Backpropagate `loss` (a scalar of `model`'s forward pass) and take optimizer step
    /// `step`.
    pub fn update(&mut self, loss: Tensor<1>, step: u64) {
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.lr(step);
        self.model = self.optim.step(lr, self.model.clone(), grads);
    }

    /// Write checkpoint `slot` with `state`: the optimizer state in `last.ckpt` only.
    pub fn save<S: CheckpointState + Clone>(
        &self,
        state: &S,
        slot: Slot,
        path: &Path,
    ) -> Result<()> {
        Ok(ModelCheckpoint {
            state: state.clone(),
            model: model_to_bytes(&self.model)?,
            optimizer: match slot {
                Slot::Last => optimizer_bytes(&self.optim)?,
                Slot::Initial | Slot::Best => Vec::new(),
            },
        }
        .save(path)?)
    }

    /// Load the checkpoint at `path` into the network and optimizer; its state.
    pub fn restore<S: CheckpointState>(&mut self, path: &Path) -> Result<S> {
        let ckpt = ModelCheckpoint::<S>::load(path)?;
        self.model = model_from_bytes(self.model.clone(), ckpt.model, path)?;
        self.optim = load_optimizer(self.optim.clone(), ckpt.optimizer, path)?;
        Ok(ckpt.state)
    }
}

/// Refuses a training set without samples and a validation set that cannot give an AUROC.
pub(crate) fn check_auroc_sets(
    n_train: usize,
    val_labels: impl Iterator<Item = bool>,
) -> Result<()> {
    if n_train == 0 {
        return Err(TrainError::Data("training set is empty".into()));
    }
    let (mut n_val, mut n_val_pos) = (0, 0);
    for label in val_labels {
        n_val += 1;
        n_val_pos += usize::from(label);
    }
    if n_val_pos == 0 || n_val_pos == n_val {
        return Err(TrainError::Data(format!(
            "validation set needs both classes for AUROC, has {n_val_pos} positive of {n_val}"
        )));
    }
    Ok(())
}
