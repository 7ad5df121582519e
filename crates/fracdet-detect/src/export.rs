//! Training run -> shippable bundle.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::tensor::Device;
use fracdet_eval::StoredOperatingPoints;
use fracdet_io::preprocess::letterbox;
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_model::BackboneKind;
use fracdet_run::ClassifierConfig;

use fracdet_run::mpr::{MprConfig, MprPredictor, NoResiduals};

use crate::bundle::{
    FORMAT, MANIFEST_VERSION, Manifest, ModelKind, MprBundle, ReferenceScore, portable_path,
    weights_to_f16_safetensors, write_bundle,
};
use crate::cam::CamModel;
use crate::error::{DetectError, Result};
use crate::scorer::ScoreKind;

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
    let mut points = StoredOperatingPoints::load(run_dir)?.ok_or_else(|| {
        DetectError::bundle(
            run_dir.display(),
            "has no operating_points.json: run `fracdet evaluate --split val` on it first",
        )
    })?;
    points.data = portable_path(&points.data);
    let (manifest, weights) =
        if fracdet_run::RunKind::of(run_dir) == Some(fracdet_run::RunKind::Mpr) {
            mpr_bundle(run_dir, options, points, device)?
        } else {
            classifier_bundle(run_dir, options, points, device)?
        };
    write_bundle(out_dir, &manifest, &weights)?;
    Ok(manifest)
}

/// A classifier run's manifest and f16 weights.
fn classifier_bundle(
    run_dir: &Path,
    options: &ExportOptions,
    points: StoredOperatingPoints,
    device: &Device,
) -> Result<(Manifest, Vec<u8>)> {
    let mut config = ClassifierConfig::load(run_dir)?;
    let kind = BackboneKind::from_str(&config.backbone)?;
    let model = fracdet_run::load_run_weights(kind.init(config.input.channels, device)?, run_dir)?;
    let weights = weights_to_f16_safetensors(&model)?;
    let cam = CamModel::new(model, config.input.clone());
    let reference = reference_scores(
        &options.reference_images,
        config.input.size,
        &points,
        |c| Ok(f64::from(first(cam.score(&[c], device)?)?.probability)),
        ScoreKind::Probability,
    )?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", config.backbone, config.input.size));
    config.pretrained = config.pretrained.as_deref().map(portable_path);
    config.data = config.data.as_deref().map(portable_path);
    let manifest = Manifest {
        format: FORMAT.into(),
        version: MANIFEST_VERSION,
        kind: ModelKind::Classifier,
        name,
        classifier: Some(config),
        mpr: None,
        operating_points: Some(points),
        validation: options.validation.clone(),
        reference,
    };
    Ok((manifest, weights))
}

/// An MPR detector run's manifest and f16 weights. A detector with residual channels is
/// refused: its inpainter would have to travel in the bundle too.
fn mpr_bundle(
    run_dir: &Path,
    options: &ExportOptions,
    points: StoredOperatingPoints,
    device: &Device,
) -> Result<(Manifest, Vec<u8>)> {
    let mut config = MprConfig::load(run_dir)?;
    if !config.residual_scales.is_empty() {
        return Err(DetectError::bundle(
            run_dir.display(),
            "is a detector with residual channels: a bundle cannot carry its inpainter yet; \
             export a detector trained with --no-residuals",
        ));
    }
    let predictor = MprPredictor::open(run_dir, device, Box::new(NoResiduals))?;
    let weights = weights_to_f16_safetensors(predictor.model())?;
    let reference = reference_scores(
        &options.reference_images,
        config.size,
        &points,
        |c| Ok(f64::from(first(predictor.predict(&[c], device)?)?.logit)),
        ScoreKind::Logit,
    )?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("mpr-{}-{}-s{}", config.backbone, config.size, config.stride));
    config.pretrained = config.pretrained.as_deref().map(portable_path);
    config.init_from = config.init_from.as_deref().map(portable_path);
    config.data = config.data.as_deref().map(portable_path);
    config.inpainter = None;
    let manifest = Manifest {
        format: FORMAT.into(),
        version: MANIFEST_VERSION,
        kind: ModelKind::Mpr,
        name,
        classifier: None,
        mpr: Some(MprBundle {
            config,
            cell_pos_weight: predictor.cell_pos_weight(),
        }),
        operating_points: Some(points),
        validation: options.validation.clone(),
        reference,
    };
    Ok((manifest, weights))
}

fn first<T>(mut v: Vec<T>) -> Result<T> {
    v.pop()
        .ok_or_else(|| DetectError::InvalidArgument("no score".into()))
}

/// The full-precision scores of `images` (canvases of side `size`), as `detect` will show
/// them: `score` gives the model's raw score of one canvas, of kind `kind`.
fn reference_scores(
    images: &[PathBuf],
    size: u32,
    points: &StoredOperatingPoints,
    score: impl Fn(Vec<f32>) -> Result<f64>,
    kind: ScoreKind,
) -> Result<Vec<ReferenceScore>> {
    let mut reference = Vec::with_capacity(images.len());
    for path in images {
        let image = read_radiograph(path, &ReadOptions::default())?;
        let (canvas, _) = letterbox(&image, size);
        let raw = score(canvas)?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let probability = kind.to_probability(raw) as f32;
        let shown = kind.calibrated_probability(raw, points.calibration.as_ref()) as f32;
        reference.push(ReferenceScore {
            file,
            probability: shown,
            uncalibrated: points.calibration.is_some().then_some(probability),
        });
    }
    Ok(reference)
}
