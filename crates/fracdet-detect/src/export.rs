//! Training run -> shippable bundle.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::tensor::Device;
use fracdet_eval::StoredOperatingPoints;
use fracdet_io::preprocess::letterbox;
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_model::BackboneKind;
use fracdet_run::ClassifierConfig;

use crate::bundle::{
    FORMAT, MANIFEST_VERSION, Manifest, ModelKind, ReferenceScore, weights_to_f16_safetensors,
    write_bundle,
};
use crate::cam::CamModel;
use crate::error::{DetectError, Result};

/// What goes into a bundle besides the run itself.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub name: Option<String>,
    /// `metrics.json` of `fracdet evaluate` on validation, copied into the manifest.
    pub validation: Option<serde_json::Value>,
    /// Images whose full-precision probabilities are recorded as the bundle's reference.
    pub reference_images: Vec<PathBuf>,
}

/// Writes `out_dir/model.json` + `model.safetensors` (f16) from the run in `run_dir`. The
/// run must hold `operating_points.json` (from `fracdet evaluate --split val`): a shipped
/// model without validation thresholds cannot make `detect`'s decisions. The temperature
/// `evaluate` fitted on the same validation predictions travels inside them (absent for a
/// run evaluated before calibration existed: its bundle is shown as uncalibrated).
pub fn export_run(
    run_dir: &Path,
    out_dir: &Path,
    options: &ExportOptions,
    device: &Device,
) -> Result<Manifest> {
    let config = ClassifierConfig::load(run_dir)?;
    let points = StoredOperatingPoints::load(run_dir)?.ok_or_else(|| {
        DetectError::bundle(
            run_dir.display(),
            "has no operating_points.json: run `fracdet evaluate --split val` on it first",
        )
    })?;
    let kind = BackboneKind::from_str(&config.backbone)?;
    let model = fracdet_run::load_run_weights(kind.init(config.input.channels, device)?, run_dir)?;
    let weights = weights_to_f16_safetensors(&model)?;
    let cam = CamModel::new(model, config.input.clone());
    let mut reference = Vec::with_capacity(options.reference_images.len());
    for path in &options.reference_images {
        let image = read_radiograph(path, &ReadOptions::default())?;
        let (canvas, _) = letterbox(&image, config.input.size);
        let probability = cam
            .score(&[canvas], device)?
            .pop()
            .ok_or_else(|| DetectError::InvalidArgument("no score".into()))?
            .probability;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // What `detect` will show: the bundle's temperature applied, as in the detector.
        let shown = match &points.calibration {
            Some(t) => t.calibrate(f64::from(probability)) as f32,
            None => probability,
        };
        reference.push(ReferenceScore {
            file,
            probability: shown,
            uncalibrated: points.calibration.is_some().then_some(probability),
        });
    }
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", config.backbone, config.input.size));
    let manifest = Manifest {
        format: FORMAT.into(),
        version: MANIFEST_VERSION,
        kind: ModelKind::Classifier,
        name,
        classifier: config,
        operating_points: Some(points),
        validation: options.validation.clone(),
        reference,
    };
    write_bundle(out_dir, &manifest, &weights)?;
    Ok(manifest)
}
