//! A model as shipped: `model.json` (what the network is, how its input is made, its
//! operating points and validation results) beside `model.safetensors` (weights in f16).
//!
//! Run directories (`config.json` + `best.ckpt`) are what training writes; a bundle is what
//! one hands to a clinic: about half the size, nothing about the optimiser, and the
//! thresholds travel with the weights so `detect` decides the same way everywhere.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::module::Module;
use burn::store::{HalfPrecisionAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use fracdet_eval::StoredOperatingPoints;
use fracdet_model::{BackboneKind, Classifier};
use fracdet_run::ClassifierConfig;
use fracdet_run::mpr::{MprConfig, MprPredictor, NoResiduals};
use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

pub const MANIFEST_FILE: &str = "model.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const FORMAT: &str = "fracdet-model";
pub const MANIFEST_VERSION: u32 = 1;

/// What kind of network a bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Classifier,
    /// The MPR grid detector (without residual channels: a bundle does not carry an
    /// inpainter yet, and export refuses a detector that needs one).
    Mpr,
}

/// What an MPR bundle needs besides its network's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MprBundle {
    /// The run's configuration (network, input recipe, region threshold, schedule).
    pub config: MprConfig,
    /// The cell W-BCE positive weight it trained with (its calibrated region threshold
    /// follows from it).
    pub cell_pos_weight: f32,
}

/// A probability recorded at export time with the full-precision weights, so the f16
/// bundle can be checked against it (`fracdet detect`'s and the server's tests do, on
/// `samples/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceScore {
    /// File name (no directory).
    pub file: String,
    /// The probability `detect` shows: after the bundle's temperature, when it has one.
    pub probability: f32,
    /// The network's own probability before the temperature; absent in uncalibrated
    /// bundles (there it equals `probability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<f32>,
}

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub kind: ModelKind,
    /// Short name shown in outputs, e.g. "fracatlas-mobilenet_v2-224".
    pub name: String,
    /// A classifier's training configuration (backbone, input recipe, schedule, data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierConfig>,
    /// An MPR detector's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpr: Option<MprBundle>,
    /// Thresholds chosen on validation; `detect`'s two-level decision needs them.
    pub operating_points: Option<StoredOperatingPoints>,
    /// Validation results as `fracdet evaluate` wrote them (free-form, informational).
    #[serde(default)]
    pub validation: Option<serde_json::Value>,
    #[serde(default)]
    pub reference: Vec<ReferenceScore>,
}

impl Manifest {
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self> {
        let m: Self = serde_json::from_slice(bytes).map_err(|e| {
            DetectError::bundle(origin, format!("{MANIFEST_FILE} is not valid: {e}"))
        })?;
        let described = match m.kind {
            ModelKind::Classifier => m.classifier.is_some(),
            ModelKind::Mpr => m.mpr.is_some(),
        };
        if !described {
            return Err(DetectError::bundle(
                origin,
                format!(
                    "{MANIFEST_FILE} is a {:?} bundle without its configuration",
                    m.kind
                ),
            ));
        }
        if m.format != FORMAT || m.version != MANIFEST_VERSION {
            return Err(DetectError::bundle(
                origin,
                format!(
                    "{MANIFEST_FILE} is {} v{}, this fracdet reads {FORMAT} v{MANIFEST_VERSION}",
                    m.format, m.version
                ),
            ));
        }
        Ok(m)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| DetectError::bundle(&self.name, e.to_string()))
    }
}

/// Weights as f16 safetensors. BatchNorm statistics stay f32 (burn's half-precision
/// adapter leaves them: a running variance can underflow in f16).
pub fn weights_to_f16_safetensors<M: Module>(model: &M) -> Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(HalfPrecisionAdapter::new());
    model
        .save_into(&mut store)
        .map_err(|e| DetectError::bundle("export", format!("cannot serialise weights: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| DetectError::bundle("export", format!("cannot serialise weights: {e}")))
}

/// The classifier a manifest describes, with `weights` (f16 or f32 safetensors) loaded.
pub fn classifier_from_bundle(
    config: &ClassifierConfig,
    weights: Vec<u8>,
    origin: &str,
    device: &Device,
) -> Result<Classifier> {
    let kind = BackboneKind::from_str(&config.backbone)?;
    load_weights_into(kind.init(config.input.channels, device)?, weights, origin)
}

/// The MPR detector a manifest describes, with `weights` loaded.
pub fn mpr_from_bundle(
    mpr: &MprBundle,
    weights: Vec<u8>,
    origin: &str,
    device: &Device,
) -> Result<MprPredictor> {
    if !mpr.config.residual_scales.is_empty() {
        return Err(DetectError::bundle(
            origin,
            "holds a detector with residual channels, whose inpainter a bundle cannot carry yet",
        ));
    }
    let model = load_weights_into(mpr.config.detector().init(device)?, weights, origin)?;
    Ok(MprPredictor::from_parts(
        mpr.config.clone(),
        model,
        Box::new(NoResiduals),
        mpr.cell_pos_weight,
    ))
}

/// `model` with `weights` (f16 or f32 safetensors) loaded; every tensor must be there.
fn load_weights_into<M: Module>(mut model: M, weights: Vec<u8>, origin: &str) -> Result<M> {
    let mut store =
        SafetensorsStore::from_bytes(Some(weights)).with_from_adapter(HalfPrecisionAdapter::new());
    let result = model
        .load_from(&mut store)
        .map_err(|e| DetectError::bundle(origin, format!("weights do not fit the network: {e}")))?;
    if !result.missing.is_empty() {
        return Err(DetectError::bundle(
            origin,
            format!(
                "weights lack {} tensor(s), e.g. {:?}",
                result.missing.len(),
                result.missing.first().map(|m| &m.0)
            ),
        ));
    }
    Ok(model)
}

/// Where a path of the training machine would go into a bundle: only its last component
/// (the weights file, the dataset folder's name), so no bundle reveals the layout of the
/// machine it was made on.
pub fn portable_path(path: &Path) -> PathBuf {
    path.file_name().map(PathBuf::from).unwrap_or_default()
}

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory holding `model.json` + `model.safetensors`.
    Bundle(PathBuf),
    /// A training run directory holding `config.json` + `best.ckpt`/`last.ckpt`.
    Run(PathBuf),
}

impl ModelSource {
    /// Recognises `path` by the files in it.
    pub fn detect(path: &Path) -> Result<Self> {
        if path.join(MANIFEST_FILE).is_file() {
            Ok(Self::Bundle(path.to_path_buf()))
        } else if path.join(fracdet_run::config::CONFIG_FILE).is_file() {
            Ok(Self::Run(path.to_path_buf()))
        } else {
            Err(DetectError::bundle(
                path.display(),
                format!(
                    "neither a model bundle ({MANIFEST_FILE}) nor a training run ({})",
                    fracdet_run::config::CONFIG_FILE
                ),
            ))
        }
    }
}

/// Reads a bundle directory.
pub fn read_bundle(dir: &Path) -> Result<(Manifest, Vec<u8>)> {
    let origin = dir.display().to_string();
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| DetectError::bundle(&origin, format!("cannot read {name}: {e}")))
    };
    let manifest = Manifest::from_json(&read(MANIFEST_FILE)?, &origin)?;
    Ok((manifest, read(WEIGHTS_FILE)?))
}

/// Writes a bundle directory (creating it); existing bundle files are replaced atomically.
pub fn write_bundle(dir: &Path, manifest: &Manifest, weights: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| DetectError::bundle(dir.display(), format!("cannot create: {e}")))?;
    fracdet_run::atomic::write_atomic(&dir.join(WEIGHTS_FILE), weights)?;
    fracdet_run::atomic::write_atomic(&dir.join(MANIFEST_FILE), &manifest.to_json()?)?;
    Ok(())
}
