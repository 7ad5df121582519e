use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use fracdet_io::dataset::{CheckOptions, CheckReport, Dataset, Layout, check};

use crate::usage::usage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a dataset: missing, unreadable or corrupt images, unmatched labels, boxes
    /// outside the image, duplicate files. Exits 1 if there is any problem.
    Check {
        /// Dataset root: a FracAtlas-style folder (labels.csv, boxes.csv, images/) or
        /// ROOT/<split>/<class>/ folders.
        dir: PathBuf,
    },
}

pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Check { dir } => run_check(dir),
    }
}

fn run_check(dir: PathBuf) -> anyhow::Result<ExitCode> {
    // A folder that is not there, or not a dataset, is a usage error (exit 2); one that is
    // a dataset but cannot be read is a failure (exit 1).
    if let Err(e) = Layout::detect(&dir) {
        return usage(format!("cannot index dataset: {e}"));
    }
    let dataset =
        Dataset::open(&dir).with_context(|| format!("cannot index dataset {}", dir.display()))?;
    let progress = if std::io::stderr().is_terminal() {
        let pb = ProgressBar::with_draw_target(
            Some(dataset.samples.len() as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} decoding {pos}/{len} images [{bar:40}] {eta}")
        {
            pb.set_style(style.progress_chars("=> "));
        }
        pb
    } else {
        ProgressBar::hidden()
    };
    let report = check(&dataset, &CheckOptions::default(), &|| progress.inc(1));
    progress.finish_and_clear();
    print!("{}", render(&report));
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The human-readable report: a split x class table, then one line per problem.
fn render(report: &CheckReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "dataset: {} ({})", report.root.display(), report.layout);
    let _ = writeln!(
        s,
        "{:<8} {:>8} {:>10} {:>14} {:>11}",
        "split", "images", "fractured", "not fractured", "unlabelled"
    );
    let mut total = fracdet_io::dataset::SplitCounts::default();
    for (split, c) in &report.counts {
        let _ = writeln!(
            s,
            "{:<8} {:>8} {:>10} {:>14} {:>11}",
            split.as_str(),
            c.total(),
            c.fractured,
            c.not_fractured,
            c.unlabelled
        );
        total.fractured += c.fractured;
        total.not_fractured += c.not_fractured;
        total.unlabelled += c.unlabelled;
    }
    let _ = writeln!(
        s,
        "{:<8} {:>8} {:>10} {:>14} {:>11}",
        "total",
        total.total(),
        total.fractured,
        total.not_fractured,
        total.unlabelled
    );
    if report.unreadable > 0 {
        let _ = writeln!(
            s,
            "({} unreadable images not counted above)",
            report.unreadable
        );
    }
    if !report.grouped_duplicates.is_empty() {
        let _ = writeln!(
            s,
            "note: {} sets of identical files lie within one declared group (same split and label); not counted as problems (-v lists them)",
            report.grouped_duplicates.len()
        );
        for d in &report.grouped_duplicates {
            tracing::info!("{d}");
        }
    }
    let _ = writeln!(s, "problems: {}", report.issues.len());
    for issue in &report.issues {
        let _ = writeln!(s, "  {issue}");
    }
    s
}
