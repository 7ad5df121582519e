//! `fracdet detect`: what a clinic runs every day. Per image: probability, the two-level
//! decision at the model's stored operating points, boxes and an overlay picture; results
//! as `results.jsonl` / `results.csv` under `--out`, never beside the inputs.

mod batch;
mod dicom;
mod out_dir;
mod outputs;
mod studies;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use fracdet_detect::Detector;
use fracdet_detect::results::ResultRecord;
use fracdet_io::write::run_folder::RunStatus;
use rayon::prelude::*;

use super::files::collect_files;
use outputs::Outputs;
use summary::Summary;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Radiograph files, or folders searched recursively for PNG/JPEG/DICOM files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,
    /// Model bundle (model.json) or training run directory (classifier or MPR detector);
    /// default: the bundled model.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Output folder for results.jsonl, results.csv, overlays/ and dicom/. Must not be a
    /// folder holding inputs.
    #[arg(long, default_value = "fracdet-out")]
    pub out: PathBuf,
    /// What goes to stdout.
    #[arg(long, value_enum, default_value_t = StdoutFormat::Table)]
    pub format: StdoutFormat,
    /// For DICOM inputs, also write DICOM results under OUT/dicom/, each a new series in the
    /// input's study: a Secondary Capture with the overlay burned in, a Comprehensive SR of
    /// the finding (boxes as SCOORDs on the input) and a GSPS drawing the boxes over it.
    #[arg(long)]
    pub dicom_out: bool,
    /// Skip the overlay PNGs.
    #[arg(long)]
    pub no_overlays: bool,
    /// Remove an earlier run's results from --out first (only what fracdet wrote there).
    /// Without it, an --out holding results is refused, never silently replaced.
    #[arg(long)]
    pub replace: bool,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Give a finding even for images the applicability check refuses (photographs, CT/MR,
    /// blank or document-like images): for research only; every output says so.
    #[arg(long)]
    pub assess_anyway: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StdoutFormat {
    Table,
    Json,
}

pub fn run(args: DetectArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    out_dir::check(&args.out, &args.inputs)?;
    let inputs = collect_files(&args.inputs, Some(&args.out))?;
    inputs.report_skipped();
    let not_read = inputs.lost();
    let files = inputs.files;
    if files.is_empty() {
        bail!("no image files found in the given paths");
    }
    let device = &crate::device::select(device)?;
    let detector = match &args.model {
        Some(path) => Detector::open(path, device)
            .with_context(|| format!("cannot open model {}", path.display()))?,
        None => crate::bundled::detector(device)?,
    };
    let mut run_folder = out_dir::claim(&args.out, args.replace, files.len(), detector.name())?;
    let mut outputs = Outputs::create(
        &args.out,
        !args.no_overlays,
        args.dicom_out,
        detector.name(),
    )?;

    // Ctrl-C (and SIGTERM) finish the batch in flight, so every row has its overlay and
    // every overlay its row, then the run stops and says so.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        // Fails only when a handler is already set (never, in one command).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    let progress = summary::progress_bar(files.len() as u64);
    let mut records = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.batch.max(1)) {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let loaded = batch::read(chunk);
        let items = batch::items(chunk, &loaded, &detector, device, args.assess_anyway)?;
        let written: Vec<ResultRecord> = items
            .into_par_iter()
            .map(|(file, item)| outputs.record(file, item))
            .collect();
        for record in written {
            outputs.append(&record)?;
            if let Some(e) = &record.error {
                progress.suspend(|| eprintln!("skipped {e}"));
            }
            records.push(record);
            progress.inc(1);
        }
        run_folder.update(RunStatus::Running, records.len())?;
    }
    progress.finish_and_clear();
    outputs.finish()?;
    let studies = studies::write(
        &args.out,
        &studies::images_of(&records),
        outputs.dicom.as_deref().map(|d| (d, detector.name())),
    )?;
    let stopped = records.len() < files.len();
    let status = if stopped {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    run_folder.update(status, records.len())?;

    summary::print_results(&records, args.format)?;
    let summary = Summary {
        records: &records,
        total: files.len(),
        not_read,
        assess_anyway: args.assess_anyway,
        model: detector.name(),
        out: &args.out,
        started,
    };
    if stopped {
        summary.interrupted();
        return Ok(ExitCode::from(130));
    }
    summary.complete(studies);
    Ok(if summary.failed() == 0 && not_read == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
