//! `fracdet inspect`: what the reader sees in each file, and optionally the network-input
//! preview. Only technical attributes are shown — never patient-identifying DICOM values,
//! which the reader does not even keep.

use fracdet_io::walk::{SkipReason, display_path};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_io::preprocess::letterbox;
use fracdet_io::read::{ReadOptions, read_radiograph, transfer_syntax_name};
use fracdet_io::{Photometric, Radiograph, Window};
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

/// One file's line of the report, in the units the reader saw.
#[derive(Debug, Serialize)]
struct Seen {
    /// The path as given; bytes that are not UTF-8 as `\xNN`, so JSON can always hold it.
    file: String,
    format: String,
    width: u32,
    height: u32,
    bit_depth: u8,
    photometric: &'static str,
    window: Option<Window>,
    /// Stored (PNG/JPEG) or modality (DICOM) value range before windowing.
    raw_range: (f64, f64),
    /// Range of the [0, 1] grey image handed to the rest of fracdet.
    value_range: (f32, f32),
    pixel_spacing_mm: Option<(f64, f64)>,
    body_part: Option<String>,
    transfer_syntax: Option<String>,
    transfer_syntax_name: Option<&'static str>,
    preview: Option<PathBuf>,
}

impl Seen {
    fn new(file: &Path, r: &Radiograph) -> Self {
        let m = &r.meta;
        Self {
            file: display_path(file),
            format: m.format.to_string(),
            width: r.width,
            height: r.height,
            bit_depth: m.bit_depth,
            photometric: match m.photometric {
                Photometric::Monochrome1 => "MONOCHROME1",
                Photometric::Monochrome2 => "MONOCHROME2",
                Photometric::Rgb => "RGB",
            },
            window: m.window,
            raw_range: m.raw_range,
            value_range: r.value_range(),
            pixel_spacing_mm: m.pixel_spacing_mm,
            body_part: m.body_part.clone(),
            transfer_syntax: m.transfer_syntax.clone(),
            transfer_syntax_name: m.transfer_syntax.as_deref().and_then(transfer_syntax_name),
            preview: None,
        }
    }
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
            print!("{}", table(&seen));
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

fn table(rows: &[&Seen]) -> String {
    let header = [
        "FILE",
        "FORMAT",
        "SIZE",
        "BITS",
        "PHOTOMETRIC",
        "WINDOW C/W",
        "RAW RANGE",
        "VALUE RANGE",
        "SPACING MM",
        "BODY PART",
        "TRANSFER SYNTAX",
    ];
    let dash = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                s.file.clone(),
                s.format.clone(),
                format!("{}x{}", s.width, s.height),
                s.bit_depth.to_string(),
                s.photometric.to_string(),
                s.window
                    .map_or_else(dash, |w| format!("{}/{}", num(w.center), num(w.width))),
                format!("{}..{}", num(s.raw_range.0), num(s.raw_range.1)),
                format!("{:.3}..{:.3}", s.value_range.0, s.value_range.1),
                s.pixel_spacing_mm
                    .map_or_else(dash, |(r, c)| format!("{}x{}", num(r), num(c))),
                s.body_part.clone().unwrap_or_else(dash),
                match (&s.transfer_syntax, s.transfer_syntax_name) {
                    (Some(uid), Some(name)) => format!("{uid} ({name})"),
                    (Some(uid), None) => uid.clone(),
                    (None, _) => dash(),
                },
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: Vec<&str>| {
        let last = cols.len() - 1;
        for (i, (cell, w)) in cols.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Numbers as short as they can be without lying: integers without decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
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

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(4095.0), "4095");
        assert_eq!(num(-1.5), "-1.5");
        assert_eq!(num(0.143), "0.143");
    }
}
