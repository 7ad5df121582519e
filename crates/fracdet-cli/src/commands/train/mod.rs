//! `fracdet train`: the subcommands, and what every training command shares (worker
//! threads, opening the dataset, the resume rule on `--epochs`, Ctrl-C).

mod classifier;
mod epoch_display;
mod inpainter;
mod inpainter_progress;
mod mpr;
mod mpr_progress;
mod progress;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use fracdet_io::dataset::Dataset;
use fracdet_train::{Start, StopFlag};

use progress::Progress;
use report::{report_auroc_run, report_interrupted, report_skipped};

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train a fracture / no-fracture image classifier. Writes config.json, metrics.csv,
    /// last.ckpt (resumable) and best.ckpt (best validation AUROC) to the output directory.
    /// Ctrl-C stops at the next step; `--resume DIR` continues exactly where it stopped.
    Classifier(classifier::ClassifierArgs),
    /// Train the MPR grid detector: image + the inpainter's residual maps in, a grid of
    /// fracture-cell probabilities and an image probability out (W-BCE on cells and image).
    /// Resumable like the classifier (`--resume DIR`).
    Mpr(mpr::MprArgs),
    /// Train the MPR healthy-bone inpainter on non-fractured images: masked squares re-drawn
    /// (masked L1 + local/global GAN); val L1/PSNR against a blur fill in metrics.csv, a
    /// sample grid per epoch. Resumable like the classifier (`--resume DIR`).
    Inpainter(inpainter::InpainterArgs),
}

pub fn run(cmd: TrainCommand, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    match cmd {
        TrainCommand::Classifier(args) => classifier::run(args, device),
        TrainCommand::Mpr(args) => mpr::run(args, device),
        TrainCommand::Inpainter(args) => inpainter::run(args, device),
    }
}

/// `--workers N`: the size of rayon's global pool (image loading and CPU kernels).
fn set_workers(workers: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = workers {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot set up worker threads")?;
    }
    Ok(())
}

/// Where a run starts: with `--resume DIR`, from the configuration saved there (`--epochs`
/// held to its count, see [`check_resume_epochs`]); otherwise fresh in `--out`, configured
/// by `fresh` from the flags.
fn plan_start<C>(
    resume: Option<&Path>,
    out: Option<&Path>,
    epochs: Option<u64>,
    load: impl FnOnce(&Path) -> anyhow::Result<C>,
    planned_epochs: impl FnOnce(&C) -> u64,
    fresh: impl FnOnce() -> anyhow::Result<C>,
) -> anyhow::Result<(C, PathBuf, Start)> {
    match resume {
        Some(dir) => {
            let config = load(dir)?;
            check_resume_epochs(epochs, planned_epochs(&config), dir)?;
            Ok((config, dir.to_path_buf(), Start::Resume))
        }
        None => {
            let out = out.context("--out is required")?.to_path_buf();
            Ok((fresh()?, out, Start::Fresh))
        }
    }
}

/// The dataset a run's config names, indexed.
fn open_dataset(data: &Option<PathBuf>) -> anyhow::Result<(PathBuf, Dataset)> {
    let data = data
        .clone()
        .context("the run's config names no dataset (config.json field `data`)")?;
    let dataset =
        Dataset::open(&data).with_context(|| format!("cannot index dataset {}", data.display()))?;
    Ok((data, dataset))
}

/// Refuses a dataset without labelled train and val images, and says how many of each
/// there are (`(images, fractured)`) before a run starts on them.
fn check_splits(data: &Path, train: (usize, usize), val: (usize, usize)) -> anyhow::Result<()> {
    if train.0 == 0 || val.0 == 0 {
        bail!(
            "{} needs labelled train and val splits (found {} train, {} val images)",
            data.display(),
            train.0,
            val.0
        );
    }
    eprintln!(
        "train: {} images ({} fractured), val: {} images ({} fractured)",
        train.0, train.1, val.0, val.1
    );
    Ok(())
}

/// `--epochs N` with `--resume`: the run's epoch count fixes its learning-rate schedule
/// (the cosine ends at the last epoch), so only that count is accepted; any other is refused
/// with one line rather than ignored.
fn check_resume_epochs(given: Option<u64>, planned: u64, run_dir: &Path) -> anyhow::Result<()> {
    match given {
        Some(n) if n != planned => bail!(
            "--epochs {n}: {} was planned for {planned} epoch(s) and its learning-rate \
             schedule ends there; a run cannot be extended or cut short, start a new run instead",
            run_dir.display()
        ),
        _ => Ok(()),
    }
}

/// First Ctrl-C (or SIGTERM): finish the current step and stop with a resumable checkpoint.
/// Second: exit at once (last.ckpt from the previous epoch is still whole on disk).
fn install_ctrl_c(stop: &StopFlag) -> anyhow::Result<()> {
    let stop = stop.clone();
    ctrlc::set_handler(move || {
        if stop.is_requested() {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after this step (Ctrl-C again to quit at once)");
        stop.request();
    })
    .context("cannot install the Ctrl-C handler")
}
