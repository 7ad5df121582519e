//! `fracdet predict`: the network's own fracture probability per image (before any
//! calibration) from a trained run directory or a bundle (classifier or MPR detector).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use clap::{Args, ValueEnum};
use fracdet_detect::{ModelSource, Scorer};
use fracdet_io::preprocess::letterbox;
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_train::Device;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model bundle (model.json + model.safetensors) or a run directory written by
    /// `fracdet train classifier` or `fracdet train mpr` (config.json + best.ckpt).
    #[arg(long, value_name = "DIR")]
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
    let scorer = open_scorer(&args.model, device)
        .with_context(|| format!("cannot open model {}", args.model.display()))?;
    let size = scorer.input_size();
    let read = ReadOptions::default();

    let mut rows = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.batch.max(1)) {
        let loaded: Vec<Result<_, String>> = chunk
            .par_iter()
            .map(|f| {
                read_radiograph(f, &read)
                    .map(|r| letterbox(&r, size))
                    .map_err(|e| e.to_string())
            })
            .collect();
        let (canvases, transforms): (Vec<Vec<f32>>, Vec<_>) = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .unzip();
        let mut probabilities = scorer
            .score(&canvases, &transforms, device)?
            .into_iter()
            .map(|s| s.probability);
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

/// The model: a run directory or a bundle, as `detect` opens them. The inpainter alone is
/// refused: its score is a residual, not a fracture probability.
fn open_scorer(path: &std::path::Path, device: &Device) -> anyhow::Result<Scorer> {
    let scorer = match ModelSource::detect(path)? {
        ModelSource::Bundle(dir) => Scorer::open_bundle(&dir, device)?.0,
        ModelSource::Run(dir) => Scorer::open_run(&dir, device)?,
    };
    if matches!(scorer, Scorer::Anomaly(_)) {
        anyhow::bail!(
            "{} is an MPR inpainter run: its score is a residual, not a fracture probability \
             (score it with `fracdet evaluate`)",
            path.display()
        );
    }
    Ok(scorer)
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
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["file", "probability", "error"])?;
            for r in rows {
                let p = r.probability.map(|p| p.to_string()).unwrap_or_default();
                w.write_record([r.file.as_str(), &p, r.error.as_deref().unwrap_or("")])?;
            }
            s = String::from_utf8(w.into_inner()?)?;
        }
        OutputFormat::Json => {
            s = serde_json::to_string_pretty(rows)?;
            s.push('\n');
        }
    }
    Ok(s)
}
