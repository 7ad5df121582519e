//! `fracdet predict`: fracture probability per image from a trained run directory (a
//! classifier run or an MPR grid-detector run).

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;

use super::files::csv_field;
use clap::{Args, ValueEnum};
use fracdet_io::preprocess::letterbox;
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_model::{BackboneKind, Classifier};
use fracdet_train::mpr::{MprConfig, MprPredictor};
use fracdet_train::{Device, Predictor};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Run directory written by `fracdet train classifier` or `fracdet train mpr`
    /// (config.json + best.ckpt).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// Radiograph files, or folders searched recursively for PNG/JPEG/DICOM files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// One output row: a probability, or why there is none.
#[derive(Debug, Serialize)]
struct Row {
    file: String,
    probability: Option<f32>,
    error: Option<String>,
}

pub fn run(args: PredictArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let inputs = super::files::collect_files(&args.inputs, None)?;
    inputs.report_skipped();
    let files = inputs.files;
    let device = &crate::device::select(device)?;
    let predictor = Engine::open(&args.model, device)
        .with_context(|| format!("cannot open model {}", args.model.display()))?;
    let size = predictor.size();
    let read = ReadOptions::default();

    let mut rows = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.batch.max(1)) {
        let loaded: Vec<Result<Vec<f32>, String>> = chunk
            .par_iter()
            .map(|f| {
                read_radiograph(f, &read)
                    .map(|r| letterbox(&r, size).0)
                    .map_err(|e| e.to_string())
            })
            .collect();
        let canvases: Vec<Vec<f32>> = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        let mut probabilities = predictor.probabilities(&canvases, device)?.into_iter();
        for (file, result) in chunk.iter().zip(loaded) {
            let file = fracdet_io::walk::display_path(file);
            rows.push(match result {
                Ok(_) => Row {
                    file,
                    probability: probabilities.next(),
                    error: None,
                },
                Err(e) => Row {
                    file,
                    probability: None,
                    error: Some(e),
                },
            });
        }
    }

    print!("{}", render(&rows, args.format)?);
    let failed: Vec<&Row> = rows.iter().filter(|r| r.error.is_some()).collect();
    for r in &failed {
        eprintln!("skipped {}", r.error.as_deref().unwrap_or(&r.file));
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} of {} image(s) could not be read",
            failed.len(),
            rows.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// The network of a run: only probabilities are needed here, so no maps are computed.
enum Engine {
    Classifier(Box<Predictor<Classifier>>),
    Mpr(Box<MprPredictor>),
}

impl Engine {
    fn open(dir: &std::path::Path, device: &Device) -> fracdet_train::Result<Self> {
        if MprConfig::is_mpr_run(dir) {
            return Ok(Self::Mpr(Box::new(MprPredictor::open_run(dir, device)?)));
        }
        Ok(Self::Classifier(Box::new(Predictor::open(
            dir,
            device,
            |config, device| {
                let kind = BackboneKind::from_str(&config.backbone)?;
                Ok::<Classifier, fracdet_train::RunError>(kind.init(config.input.channels, device)?)
            },
        )?)))
    }

    fn size(&self) -> u32 {
        match self {
            Self::Classifier(p) => p.input().size,
            Self::Mpr(p) => p.size(),
        }
    }

    fn probabilities(
        &self,
        canvases: &[Vec<f32>],
        device: &Device,
    ) -> fracdet_train::Result<Vec<f32>> {
        match self {
            Self::Classifier(p) => Ok(p.probabilities(canvases, device)?),
            Self::Mpr(p) => Ok(p
                .predict(canvases, device)?
                .into_iter()
                .map(|m| m.probability)
                .collect()),
        }
    }
}

fn render(rows: &[Row], format: OutputFormat) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    match format {
        OutputFormat::Table => {
            let width = rows.iter().map(|r| r.file.len()).max().unwrap_or(4).max(4);
            let _ = writeln!(s, "{:<width$}  {:>11}", "file", "probability");
            for r in rows {
                let p = r
                    .probability
                    .map(|p| format!("{p:.4}"))
                    .unwrap_or_else(|| "error".into());
                let _ = writeln!(s, "{:<width$}  {p:>11}", r.file);
            }
        }
        OutputFormat::Csv => {
            let _ = writeln!(s, "file,probability,error");
            for r in rows {
                let p = r.probability.map(|p| p.to_string()).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "{},{p},{}",
                    csv_field(&r.file),
                    csv_field(r.error.as_deref().unwrap_or(""))
                );
            }
        }
        OutputFormat::Json => {
            s = serde_json::to_string_pretty(rows)?;
            s.push('\n');
        }
    }
    Ok(s)
}
