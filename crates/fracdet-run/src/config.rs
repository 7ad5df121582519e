//! Everything a classifier run is made of, saved as `config.json` in the run directory so
//! that a run can be resumed and its model used for prediction with nothing else.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use fracdet_io::augment::AugmentConfig;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::{Result, RunError};

/// Name of the configuration file in a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// Bumped when the meaning of a saved field changes.
pub const CONFIG_VERSION: u32 = 1;

/// Writes `config` as pretty JSON to the `config.json` of `run_dir`, atomically (plain;
/// fracdet's own kinds write theirs tagged, through [`crate::RunConfig`]).
pub fn save_run_config<T: Serialize>(run_dir: &Path, config: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(config).map_err(|e| RunError::Serialise {
        what: "config",
        reason: e.to_string(),
    })?;
    write_atomic(&run_dir.join(CONFIG_FILE), &json)
}

/// Reads the `config.json` of `run_dir` as plain JSON and checks it with `validate` (whose
/// error, of any type, becomes the reason); a file that does not parse or validate is a
/// format error naming the file. fracdet's own kinds read theirs through
/// [`crate::RunConfig`], which knows the `kind` tag.
pub fn load_run_config<T: serde::de::DeserializeOwned, E: std::fmt::Display>(
    run_dir: &Path,
    validate: impl FnOnce(&T) -> Result<(), E>,
) -> Result<T> {
    let path = run_dir.join(CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| RunError::io(&path, e))?;
    let config: T =
        serde_json::from_slice(&bytes).map_err(|e| RunError::format(&path, e.to_string()))?;
    validate(&config).map_err(|e| RunError::format(&path, e.to_string()))?;
    Ok(config)
}

/// How a grey radiograph becomes the network input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Side of the square letterboxed canvas, pixels.
    pub size: u32,
    /// Input channels; grey is repeated into each (3 for ImageNet-pretrained backbones).
    pub channels: usize,
    /// Per-channel mean subtracted from [0, 1] intensities (`channels` values).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by (`channels` values, all > 0).
    pub std: Vec<f32>,
}

impl InputSpec {
    /// ImageNet statistics, as torchvision's pretrained backbones expect.
    pub fn imagenet(size: u32) -> Self {
        Self {
            size,
            channels: 3,
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || self.channels == 0 {
            return Err(RunError::Config(
                "input size and channels must be positive".into(),
            ));
        }
        if self.mean.len() != self.channels || self.std.len() != self.channels {
            return Err(RunError::Config(format!(
                "input mean/std need {} values each, got {} and {}",
                self.channels,
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(RunError::Config(
                "input std values must be finite and > 0".into(),
            ));
        }
        Ok(())
    }

    /// Values per image: `channels * size * size`.
    pub fn numel(&self) -> usize {
        self.channels * (self.size as usize) * (self.size as usize)
    }

    /// The normalised `[N, channels, size, size]` network input of grey canvases (each
    /// `size * size` values in [0, 1], as fracdet-io's letterbox makes them): the one
    /// batcher of classifier training, prediction and CAMs. A canvas of another size is an
    /// input error.
    pub fn input_tensor(&self, canvases: &[Vec<f32>], device: &Device) -> Result<Tensor<4>> {
        let side = self.size as usize;
        crate::inference::check_canvases(canvases, side)?;
        let mut data = Vec::with_capacity(canvases.len() * self.numel());
        for c in canvases {
            self.normalise_into(c, &mut data);
        }
        Ok(Tensor::from_data(
            TensorData::new(data, [canvases.len(), self.channels, side, side]),
            device,
        ))
    }

    /// Turn a grey canvas (`size * size` values in [0, 1], row-major) into the normalised
    /// `[channels, size, size]` network input, appended to `out`.
    pub fn normalise_into(&self, grey: &[f32], out: &mut Vec<f32>) {
        for c in 0..self.channels {
            let (m, s) = (self.mean[c], self.std[c]);
            out.extend(grey.iter().map(|&v| (v - m) / s));
        }
    }
}

/// Hyper-parameters and model description of one classifier run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    pub version: u32,
    /// Backbone name as fracdet-model spells it (e.g. "resnet18").
    pub backbone: String,
    /// Weights the backbone started from, if any (informational once training has started).
    pub pretrained: Option<PathBuf>,
    pub input: InputSpec,
    /// Dataset the run trained on (informational).
    pub data: Option<PathBuf>,
    pub epochs: u64,
    pub batch_size: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Floor of the cosine decay.
    pub min_lr: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Epochs of linear learning-rate warm-up.
    pub warmup_epochs: u64,
    /// Epochs at the start during which only the head trains.
    pub freeze_epochs: u64,
    /// Positive-class weight of the loss; `None` = n_negative / n_positive of the training set.
    pub pos_weight: Option<f32>,
    /// Stop after this many epochs without a better validation AUROC; `None` = never.
    pub patience: Option<u64>,
    /// Training augmentation (fracdet-io's recipe); `None` trains on plain canvases.
    pub augment: Option<AugmentConfig>,
    pub seed: u64,
    /// A region (`hand`, `leg`, `hip`, `shoulder`) left out of train and of the val images
    /// that choose the checkpoint, mixed images showing it included: the network never sees
    /// it, so the scope check can be tested on it. Absent from older configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_region: Option<String>,
}

impl ClassifierConfig {
    /// Defaults for everything but what has no sensible default.
    pub fn new(backbone: impl Into<String>, input: InputSpec) -> Self {
        Self {
            version: CONFIG_VERSION,
            backbone: backbone.into(),
            pretrained: None,
            input,
            data: None,
            epochs: 30,
            batch_size: 16,
            lr: 1e-3,
            min_lr: 1e-6,
            weight_decay: 1e-4,
            warmup_epochs: 1,
            freeze_epochs: 0,
            pos_weight: None,
            patience: Some(8),
            augment: Some(AugmentConfig::default()),
            seed: 0,
            exclude_region: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.input.validate()?;
        let bad = |m: &str| Err(RunError::Config(m.to_string()));
        if self.version != CONFIG_VERSION {
            return Err(RunError::Config(format!(
                "config version {} is not the supported {CONFIG_VERSION}",
                self.version
            )));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch size must be at least 1");
        }
        let lr_ok = self.lr.is_finite() && self.lr > 0.0;
        let min_lr_ok = self.min_lr.is_finite() && self.min_lr >= 0.0;
        if !(lr_ok && min_lr_ok) {
            return bad("learning rates must be finite, lr > 0 and min_lr >= 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight decay must be finite and >= 0");
        }
        if let Some(w) = self.pos_weight
            && !(w.is_finite() && w > 0.0)
        {
            return bad("positive weight must be finite and > 0");
        }
        if let Some(r) = &self.exclude_region
            && !fracdet_io::dataset::BODY_PARTS.contains(&r.as_str())
        {
            return Err(RunError::Config(format!(
                "cannot leave out region {r:?}: regions are {}",
                fracdet_io::dataset::BODY_PARTS.join(", ")
            )));
        }
        Ok(())
    }

    pub fn save(&self, run_dir: &Path) -> Result<()> {
        crate::run_config::save_as(run_dir, self)
    }

    pub fn load(run_dir: &Path) -> Result<Self> {
        crate::run_config::load_as(run_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_repeats_grey_per_channel() {
        let spec = InputSpec {
            size: 1,
            channels: 2,
            mean: vec![0.5, 0.0],
            std: vec![0.5, 2.0],
        };
        let mut out = Vec::new();
        spec.normalise_into(&[1.0], &mut out);
        assert_eq!(out, vec![1.0, 0.5]);
    }

    #[test]
    fn round_trips_through_json_and_rejects_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let c = ClassifierConfig::new("resnet18", InputSpec::imagenet(224));
        c.save(dir.path()).unwrap();
        assert_eq!(ClassifierConfig::load(dir.path()).unwrap(), c);
        let mut bad = c.clone();
        bad.batch_size = 0;
        assert!(bad.validate().is_err());
        let mut bad = c;
        bad.input.std[1] = 0.0;
        assert!(bad.validate().is_err());
    }
}
