//! `fracdet inspect`: what the reader sees in each file, and optionally the network-input
//! preview. Only technical attributes are shown — never patient-identifying DICOM values,
//! which the reader does not even keep.

use fracdet_io::walk::{SkipReason, display_path};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_io::inspection::{Seen, seen_table};
use fracdet_io::preprocess::letterbox;
use fracdet_io::read::{ReadOptions, read_radiograph};
use fracdet_io::{Radiograph, Window};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Radiograph files (PNG, JPEG, DICOM); the format is sniffed from the content.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// DICOM window as CENTRE,WIDTH in modality units (e.g. 2048,4096), replacing the
    /// file's own; linear, width at least 1.
    #[arg(long, value_name = "C,W", value_parser = parse_window, allow_hyphen_values = true)]
    pub window: Option<Window>,

    /// Write the preprocessed (letterboxed) network input as an 8-bit PNG. With several
    /// files, or when OUT is an existing directory, OUT is a directory and each preview is
    /// named after its input.
    #[arg(long, value_name = "OUT")]
    pub preview: Option<PathBuf>,

    /// Preview canvas side in pixels.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(8..=8192))]
    pub size: u32,

    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_window(s: &str) -> Result<Window, String> {
    let (c, w) = s
        .split_once(',')
        .ok_or_else(|| format!("expected CENTRE,WIDTH, got {s:?}"))?;
    let center: f64 = c
        .trim()
        .parse()
        .map_err(|_| format!("window centre {c:?} is not a number"))?;
    let width: f64 = w
        .trim()
        .parse()
        .map_err(|_| format!("window width {w:?} is not a number"))?;
    if !center.is_finite() || !width.is_finite() || width < 1.0 {
        return Err(format!(
            "window centre must be finite and width at least 1, got {center},{width}"
        ));
    }
    Ok(Window { center, width })
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Outcome {
    Ok(Seen),
    Failed { file: String, error: String },
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let options = ReadOptions {
        window: args.window,
        ..ReadOptions::default()
    };
    let previews = PreviewPlan::new(args.preview.as_deref(), &args.files)?;

    let outcomes: Vec<Outcome> = args
        .files
        .par_iter()
        .enumerate()
        .map(|(i, file)| inspect_one(file, &options, previews.target(i), args.size, &previews))
        .collect();

    let mut failed = 0usize;
    for outcome in &outcomes {
        if let Outcome::Failed { error, .. } = outcome {
            failed += 1;
            eprintln!("error: {error}");
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        let seen: Vec<&Seen> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Ok(s) => Some(s),
                Outcome::Failed { .. } => None,
            })
            .collect();
        if !seen.is_empty() {
            print!("{}", seen_table(&seen));
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} file(s) failed", args.files.len());
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn inspect_one(
    file: &Path,
    options: &ReadOptions,
    preview: Option<&Path>,
    size: u32,
    plan: &PreviewPlan,
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        file: display_path(file),
        error,
    };
    if let Some(reason) = SkipReason::of_named_path(file) {
        // Opening a pipe would block until some other process writes to it.
        return failed(format!("{}: {reason}", display_path(file)));
    }
    let radiograph = match read_radiograph(file, options) {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let mut seen = Seen::new(file, &radiograph);
    if let Some(out) = preview {
        if let Err(e) = write_preview(&radiograph, out, size, plan) {
            return failed(format!("{}: preview: {e:#}", file.display()));
        }
        seen.preview = Some(out.to_path_buf());
    }
    Outcome::Ok(seen)
}

fn write_preview(r: &Radiograph, out: &Path, size: u32, plan: &PreviewPlan) -> anyhow::Result<()> {
    if plan.is_input(out) {
        bail!("refusing to overwrite input file {}", out.display());
    }
    let (canvas, _) = letterbox(r, size);
    let preview = Radiograph {
        width: size,
        height: size,
        pixels: canvas,
        meta: r.meta.clone(),
    };
    preview.write_png(out)?;
    Ok(())
}

/// Where each file's preview goes, decided before any work so a bad OUT fails early.
struct PreviewPlan {
    targets: Vec<Option<PathBuf>>,
    inputs: HashSet<PathBuf>,
}

impl PreviewPlan {
    fn new(out: Option<&Path>, files: &[PathBuf]) -> anyhow::Result<Self> {
        let inputs = files
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .collect();
        let Some(out) = out else {
            return Ok(Self {
                targets: vec![None; files.len()],
                inputs,
            });
        };
        let targets = if files.len() == 1 && !out.is_dir() {
            vec![Some(out.to_path_buf())]
        } else {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create preview directory {}", out.display()))?;
            // Named after each input; a repeated stem gets -2, -3, ... so nothing is
            // overwritten by a sibling.
            let mut used = HashSet::new();
            files
                .iter()
                .map(|f| {
                    let stem = f
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "preview".to_string());
                    let mut name = format!("{stem}.png");
                    let mut n = 1;
                    while !used.insert(name.clone()) {
                        n += 1;
                        name = format!("{stem}-{n}.png");
                    }
                    Some(out.join(name))
                })
                .collect()
        };
        Ok(Self { targets, inputs })
    }

    fn target(&self, i: usize) -> Option<&Path> {
        self.targets.get(i).and_then(|t| t.as_deref())
    }

    fn is_input(&self, out: &Path) -> bool {
        std::fs::canonicalize(out).is_ok_and(|c| self.inputs.contains(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_argument_parses_and_validates() {
        assert_eq!(
            parse_window("-500,1000.5"),
            Ok(Window {
                center: -500.0,
                width: 1000.5
            })
        );
        assert!(parse_window("2048").is_err());
        assert!(parse_window("a,1").is_err());
        assert!(parse_window("0,0.5").is_err());
        assert!(parse_window("nan,10").is_err());
    }
}
