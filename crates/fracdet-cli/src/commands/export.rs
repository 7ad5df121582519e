//! `fracdet export`: a training run -> a model bundle (`model.json` + f16
//! `model.safetensors`) that `detect --model` and `serve --model` load.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fracdet_detect::{ExportOptions, export_run};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Training run directory with operating_points.json (from `fracdet evaluate --split val`),
    /// whose thresholds and validation-fitted temperature go into the bundle.
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// Bundle directory to write (created; its model files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Name shown in outputs (default: backbone-size).
    #[arg(long)]
    pub name: Option<String>,
    /// metrics.json of `fracdet evaluate --split val`, recorded in the manifest.
    #[arg(long, value_name = "FILE")]
    pub validation: Option<PathBuf>,
    /// Images (or folders) whose full-precision probabilities are recorded as a reference
    /// the f16 bundle is checked against.
    #[arg(long, value_name = "FILE|DIR")]
    pub reference: Vec<PathBuf>,
}

pub fn run(args: ExportArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let device = &crate::device::select(device)?;
    let validation = match &args.validation {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not JSON", path.display()))?,
            )
        }
        None => None,
    };
    let options = ExportOptions {
        name: args.name.clone(),
        validation,
        reference_images: {
            let found = super::files::collect_files(&args.reference, None)?;
            found.report_skipped();
            found.files
        },
    };
    let manifest = export_run(&args.model, &args.out, &options, device)
        .with_context(|| format!("cannot export {}", args.model.display()))?;
    let size = std::fs::metadata(args.out.join(fracdet_detect::bundle::WEIGHTS_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "wrote {} ({}, {:.1} MB of f16 weights, {} reference image(s))",
        args.out.display(),
        manifest.name,
        size as f64 / 1e6,
        manifest.reference.len()
    );
    match manifest
        .operating_points
        .as_ref()
        .and_then(|p| p.calibration.as_ref())
    {
        Some(t) => eprintln!(
            "probabilities calibrated: {}, validation ECE {} -> {}",
            t.describe(),
            t.ece_before.map_or("n/a".into(), |e| format!("{e:.4}")),
            t.ece_after.map_or("n/a".into(), |e| format!("{e:.4}"))
        ),
        None => eprintln!(
            "warning: probabilities uncalibrated: the run's operating_points.json has no \
             temperature; `fracdet evaluate --split val` on the run fits one, then export again"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
