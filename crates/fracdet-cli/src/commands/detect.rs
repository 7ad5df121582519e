//! `fracdet detect`: what a clinic runs every day. Per image: probability, the two-level
//! decision at the model's stored operating points, boxes and an overlay picture; results
//! as `results.jsonl` / `results.csv` under `--out`, never beside the inputs.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use fracdet_detect::{Detection, Detector, encode_png, render_overlay};
use fracdet_io::applicability::{self, NotAssessed, Thresholds};
use fracdet_io::{Format, Radiograph, ReadOptions, read_radiograph};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use fracdet_io::walk::{OUTPUT_MARKER, display_path, escape_os_str};
use fracdet_io::write::run_folder::{RunFolder, RunFolderError, RunRecord, RunStatus};

use super::files::{collect_files, csv_field};
use crate::usage::usage;

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

/// One input after reading and inference: its image and findings (with the reason it is
/// out of scope, when it was assessed anyway), the reason it was not assessed, or why it
/// could not be read.
enum Item<'a> {
    Found(&'a Radiograph, Box<Detection>, Option<Scope>),
    NotAssessed(Scope),
    Failed(String),
}

/// Why the applicability check refused an image (`fracdet_io::applicability`).
#[derive(Debug, Clone, Serialize)]
struct Scope {
    #[serde(flatten)]
    reason: NotAssessed,
    message: String,
    /// `true`: `--assess-anyway` gave it a finding regardless.
    assessed_anyway: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StdoutFormat {
    Table,
    Json,
}

/// One line of results.jsonl.
#[derive(Debug, Serialize)]
struct Record {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    probability: Option<f32>,
    /// The network's own probability before the model's temperature; only for a
    /// calibrated model (otherwise it is `probability`).
    #[serde(skip_serializing_if = "Option::is_none")]
    uncalibrated_probability: Option<f32>,
    /// "likely", "possible", "negative" ("unknown" without stored thresholds).
    #[serde(skip_serializing_if = "Option::is_none")]
    finding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decisions: Option<fracdet_detect::Decisions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    boxes: Vec<BoxRecord>,
    /// Present when the applicability check refused the image: then `finding` is
    /// "not_assessed", unless `--assess-anyway` (`assessed_anyway: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    not_assessed: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overlay: Option<String>,
    /// The Secondary Capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    dicom: Option<String>,
    /// The Comprehensive SR and the Grayscale Softcopy Presentation State.
    #[serde(skip_serializing_if = "Option::is_none")]
    dicom_sr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dicom_gsps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// DICOM inputs: the study the image belongs to (grouped in studies.csv).
    #[serde(skip_serializing_if = "Option::is_none")]
    study_instance_uid: Option<String>,
    /// With --dicom-out: the source and what its SR says, for the study's SR.
    #[serde(skip)]
    dicom_findings: Option<(PathBuf, fracdet_io::write::ImageFindings)>,
}

#[derive(Debug, Serialize)]
struct BoxRecord {
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
    score: f32,
}

pub fn run(args: DetectArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    check_out_dir(&args.out, &args.inputs)?;
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
    let mut run_folder = claim_out_dir(&args, files.len(), detector.name())?;
    let mut outputs = Outputs::create(&args.out, !args.no_overlays, args.dicom_out)?;
    outputs.model = detector.name().to_string();

    // Ctrl-C (and SIGTERM) finish the batch in flight, so every row has its overlay and
    // every overlay its row, then the run stops and says so.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        // Fails only when a handler is already set (never, in one command).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    let progress = progress_bar(files.len() as u64);
    let read = ReadOptions::default();
    let mut records = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.batch.max(1)) {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let loaded: Vec<Result<Radiograph, String>> = chunk
            .par_iter()
            .map(|f| read_radiograph(f, &read).map_err(|e| e.to_string()))
            .collect();
        // Is each image a radiograph at all? Refused ones get no finding (unless
        // --assess-anyway) and never reach the model.
        let scopes: Vec<Option<Scope>> = loaded
            .iter()
            .map(|r| {
                let image = r.as_ref().ok()?;
                let reason = applicability::check(image, &Thresholds::default()).err()?;
                Some(Scope {
                    message: reason.describe(),
                    reason,
                    assessed_anyway: args.assess_anyway,
                })
            })
            .collect();
        let good: Vec<&Radiograph> = loaded
            .iter()
            .zip(&scopes)
            .filter(|(_, scope)| scope.is_none() || args.assess_anyway)
            .filter_map(|(r, _)| r.as_ref().ok())
            .collect();
        let mut detections = detector.detect_batch(&good, device)?.into_iter();
        let mut batch: Vec<(&Path, Item)> = Vec::new();
        for ((file, result), scope) in chunk.iter().zip(&loaded).zip(scopes) {
            let item = match (result, scope) {
                (Err(e), _) => Item::Failed(e.clone()),
                (Ok(_), Some(scope)) if !args.assess_anyway => Item::NotAssessed(scope),
                (Ok(r), scope) => match detections.next() {
                    Some(d) => match scope.or_else(|| atypical(&d, args.assess_anyway)) {
                        Some(scope) if !args.assess_anyway => Item::NotAssessed(scope),
                        scope => Item::Found(r, Box::new(d), scope),
                    },
                    None => Item::Failed("no detection returned".to_string()),
                },
            };
            batch.push((file.as_path(), item));
        }
        let written: Vec<Record> = batch
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
    let studies = super::detect_studies::write(
        &args.out,
        &study_images(&records),
        outputs.dicom.as_deref().map(|d| (d, detector.name())),
    )?;
    let stopped = records.len() < files.len();
    let status = if stopped {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    run_folder.update(status, records.len())?;

    match args.format {
        StdoutFormat::Table => print!("{}", table(&records)),
        StdoutFormat::Json => println!("{}", serde_json::to_string_pretty(&records)?),
    }
    let failed = records.iter().filter(|r| r.error.is_some()).count();
    let likely = records
        .iter()
        .filter(|r| r.finding == Some("likely"))
        .count();
    let possible = records
        .iter()
        .filter(|r| r.finding == Some("possible"))
        .count();
    let out_of_scope = records.iter().filter(|r| r.not_assessed.is_some()).count();
    let scope_note = match (out_of_scope, args.assess_anyway) {
        (0, _) => String::new(),
        (n, false) => format!(", {n} not assessed (not a radiograph fracdet reads; named above)"),
        (n, true) => format!(
            ", {n} out of scope but assessed anyway (--assess-anyway: research only, \
             those findings are not valid)"
        ),
    };
    let not_read_note = if not_read > 0 {
        format!(", {not_read} path(s) not read (named above)")
    } else {
        String::new()
    };
    if stopped {
        eprintln!(
            "interrupted: {} of {} image(s) done with model {}, {:.1} s; the results in {} are \
             incomplete ({} says so)",
            records.len(),
            files.len(),
            detector.name(),
            started.elapsed().as_secs_f64(),
            args.out.display(),
            OUTPUT_MARKER
        );
        return Ok(ExitCode::from(130));
    }
    eprintln!(
        "{} image(s) with model {}: {likely} likely and {possible} possible fracture(s), \
         {failed} failed{scope_note}{not_read_note}, {:.1} s; results in {}",
        records.len(),
        detector.name(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    if studies > 0 {
        eprintln!(
            "{studies} DICOM stud(ies): the most suspicious image decides each, in {}",
            args.out.join("studies.csv").display()
        );
    }
    Ok(if failed == 0 && not_read == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The Study Instance UID of a DICOM input, for the study grouping.
fn study_of(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).ok()?;
    fracdet_io::write::source_image(&bytes, file)
        .ok()
        .map(|i| i.study_instance_uid)
}

/// The assessed DICOM images, as the study grouping takes them.
fn study_images(records: &[Record]) -> Vec<super::detect_studies::StudyImage> {
    records
        .iter()
        .filter_map(|r| {
            Some(super::detect_studies::StudyImage {
                study_instance_uid: r.study_instance_uid.clone()?,
                file: r.file.clone(),
                level: fracdet_io::write::FindingLevel::from_word(r.finding?)?,
                probability: r.probability?,
                dicom: r.dicom_findings.clone(),
            })
        })
        .collect()
}

/// The model's own scope check: a radiograph unlike its training images.
fn atypical(d: &Detection, assessed_anyway: bool) -> Option<Scope> {
    let t = d.typicality.filter(|t| !t.typical)?;
    let reason = NotAssessed::Atypical {
        score: t.score,
        threshold: t.threshold,
    };
    Some(Scope {
        message: reason.describe(),
        reason,
        assessed_anyway,
    })
}

/// Claims `--out` for this run: refused when it holds an earlier run's results, unless
/// `--replace` (see `fracdet_io::write::run_folder` for why refusing is the policy).
fn claim_out_dir(args: &DetectArgs, total: usize, model: &str) -> anyhow::Result<RunFolder> {
    let record = RunRecord {
        tool: "fracdet detect".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        status: RunStatus::Running,
        images_total: total,
        images_done: 0,
        model: model.to_string(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    match RunFolder::claim(&args.out, args.replace, record) {
        Ok(f) => Ok(f),
        Err(e @ (RunFolderError::EarlierRun { .. } | RunFolderError::ForeignResults { .. })) => {
            usage(e.to_string())
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses an output folder that holds inputs: results go beside a study's files only when
/// asked for by name, never by default and never over them. An `--out` further down an
/// input folder is accepted: this run skips it, and its marker keeps later runs out too.
fn check_out_dir(out: &Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    let Ok(out) = out.canonicalize() else {
        return Ok(()); // does not exist yet, so holds nothing
    };
    for input in inputs {
        let Ok(input) = input.canonicalize() else {
            continue;
        };
        let folder = if input.is_dir() {
            Some(input.as_path())
        } else {
            input.parent()
        };
        if folder == Some(out.as_path()) {
            return usage(format!(
                "--out {} holds input files; choose a separate output folder",
                out.display()
            ));
        }
    }
    Ok(())
}

/// The files `detect` writes, and the names already handed out in them.
struct Outputs {
    dir: PathBuf,
    jsonl: BufWriter<File>,
    csv: BufWriter<File>,
    overlays: Option<PathBuf>,
    dicom: Option<PathBuf>,
    /// Named in the DICOM results.
    model: String,
    names: std::sync::Mutex<HashSet<String>>,
}

impl Outputs {
    fn create(dir: &Path, overlays: bool, dicom: bool) -> anyhow::Result<Self> {
        let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
            let path = dir.join(name);
            Ok(BufWriter::new(File::create(&path).with_context(|| {
                format!("cannot write {}", path.display())
            })?))
        };
        let sub = |on: bool, name: &str| -> anyhow::Result<Option<PathBuf>> {
            if !on {
                return Ok(None);
            }
            let p = dir.join(name);
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Ok(Some(p))
        };
        let mut csv = open("results.csv")?;
        writeln!(
            csv,
            "file,probability,finding,high_sensitivity,high_specificity,boxes,overlay,dicom,error,not_assessed"
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            jsonl: open("results.jsonl")?,
            csv,
            overlays: sub(overlays, "overlays")?,
            dicom: sub(dicom, "dicom")?,
            model: String::new(),
            names: Default::default(),
        })
    }

    /// An output file name from the input's stem, unique within this run.
    fn unique_name(&self, file: &Path, ext: &str) -> String {
        // Non-UTF-8 bytes as \xNN, then `_` for the backslash: distinct names stay distinct.
        let stem = file
            .file_stem()
            .map(|s| escape_os_str(s).replace('\\', "_"))
            .unwrap_or_else(|| "image".into());
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let mut name = format!("{stem}.{ext}");
        let mut k = 2;
        while !names.insert(name.clone()) {
            name = format!("{stem}-{k}.{ext}");
            k += 1;
        }
        name
    }

    /// Writes the overlay (and Secondary Capture) of one image and returns its record.
    fn record(&self, file: &Path, item: Item) -> Record {
        let name = display_path(file);
        let (image, d, scope) = match item {
            Item::Found(image, d, scope) => (image, d, scope),
            Item::NotAssessed(scope) => return Record::not_assessed(name, scope),
            Item::Failed(e) => return Record::failed(name, e),
        };
        let mut record = Record {
            file: name.clone(),
            probability: Some(d.probability),
            uncalibrated_probability: d.decisions.temperature.map(|_| d.model_probability),
            finding: Some(d.decisions.level()),
            decisions: Some(d.decisions),
            boxes: d
                .boxes
                .iter()
                .map(|b| BoxRecord {
                    x_min: b.bbox.x_min,
                    y_min: b.bbox.y_min,
                    x_max: b.bbox.x_max,
                    y_max: b.bbox.y_max,
                    score: b.score,
                })
                .collect(),
            not_assessed: scope,
            overlay: None,
            dicom: None,
            dicom_sr: None,
            dicom_gsps: None,
            error: None,
            study_instance_uid: (image.meta.format == Format::Dicom)
                .then(|| study_of(file))
                .flatten(),
            dicom_findings: None,
        };
        let wants_dicom = self.dicom.is_some() && image.meta.format == Format::Dicom;
        if self.overlays.is_none() && !wants_dicom {
            return record;
        }
        let overlay = match render_overlay(image, &d) {
            Ok(o) => o,
            Err(e) => {
                let why = format!("{name}: cannot draw overlay: {e}");
                return Record::failed(name, why);
            }
        };
        if let Some(dir) = &self.overlays {
            let path = dir.join(self.unique_name(file, "png"));
            match encode_png(&overlay)
                .map_err(anyhow::Error::from)
                .and_then(|png| {
                    fracdet_io::write::write_file_atomic(&path, &png, false)
                        .map_err(anyhow::Error::from)
                }) {
                Ok(()) => record.overlay = Some(self.relative(&path)),
                Err(e) => record.error = Some(format!("{name}: cannot write overlay: {e:#}")),
            }
        }
        if let (Some(dir), true) = (&self.dicom, wants_dicom) {
            let paths =
                ["dcm", "sr.dcm", "pr.dcm"].map(|ext| dir.join(self.unique_name(file, ext)));
            let out_of_scope = record.not_assessed.as_ref().map(|s| s.message.clone());
            match crate::commands::detect_dicom::write(
                file,
                image,
                &d,
                &overlay,
                out_of_scope,
                &self.model,
                paths,
            ) {
                Ok(w) => {
                    record.dicom = Some(self.relative(&w.secondary_capture));
                    record.dicom_sr = Some(self.relative(&w.structured_report));
                    record.dicom_gsps = Some(self.relative(&w.presentation_state));
                    record.dicom_findings = Some((file.to_path_buf(), w.findings));
                }
                Err(e) => record.error = Some(format!("{name}: cannot write DICOM result: {e:#}")),
            }
        }
        record
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Appends one record to both files and flushes: results already computed survive a
    /// crash or Ctrl-C later in the run.
    fn append(&mut self, r: &Record) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.jsonl, r)?;
        self.jsonl.write_all(b"\n")?;
        let decision = |d: Option<fracdet_detect::Decision>| {
            d.map(|d| d.positive.to_string()).unwrap_or_default()
        };
        writeln!(
            self.csv,
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.file),
            r.probability.map(|p| p.to_string()).unwrap_or_default(),
            r.finding.unwrap_or(""),
            decision(r.decisions.and_then(|d| d.high_sensitivity)),
            decision(r.decisions.and_then(|d| d.high_specificity)),
            r.boxes.len(),
            csv_field(r.overlay.as_deref().unwrap_or("")),
            csv_field(r.dicom.as_deref().unwrap_or("")),
            csv_field(r.error.as_deref().unwrap_or("")),
            csv_field(&r.not_assessed.as_ref().map_or(String::new(), |s| {
                if s.assessed_anyway {
                    format!("assessed anyway: {}", s.message)
                } else {
                    s.message.clone()
                }
            })),
        )?;
        self.jsonl.flush()?;
        self.csv.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.jsonl.flush()?;
        self.csv.flush()?;
        Ok(())
    }
}

impl Record {
    fn failed(file: String, error: String) -> Self {
        Self {
            file,
            probability: None,
            uncalibrated_probability: None,
            finding: None,
            decisions: None,
            boxes: Vec::new(),
            not_assessed: None,
            overlay: None,
            dicom: None,
            dicom_sr: None,
            dicom_gsps: None,
            error: Some(error),
            study_instance_uid: None,
            dicom_findings: None,
        }
    }

    /// An image the applicability check refused: no probability, no finding but
    /// "not_assessed", no overlay.
    fn not_assessed(file: String, scope: Scope) -> Self {
        Self {
            finding: Some("not_assessed"),
            not_assessed: Some(scope),
            error: None,
            ..Self::failed(file, String::new())
        }
    }
}

fn table(records: &[Record]) -> String {
    use std::fmt::Write;
    let width = records
        .iter()
        .map(|r| r.file.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<width$}  {:>11}  {:<8}  {:>5}",
        "file", "probability", "finding", "boxes"
    );
    for r in records {
        let note = match &r.not_assessed {
            Some(scope) if scope.assessed_anyway => {
                format!("  (out of scope, assessed anyway: {})", scope.message)
            }
            Some(scope) => format!("  {}", scope.message),
            None => String::new(),
        };
        match r.probability {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {p:>11.4}  {:<8}  {:>5}{note}",
                    r.file,
                    r.finding.unwrap_or(""),
                    r.boxes.len()
                );
            }
            None if r.not_assessed.is_some() => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>11}  {:<8}  {:>5}{note}",
                    r.file, "-", "not_assessed", ""
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>11}  {:<8}  {:>5}",
                    r.file, "error", "", ""
                );
            }
        }
    }
    s
}

fn progress_bar(n: u64) -> ProgressBar {
    let bar = ProgressBar::new(n);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} images  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
