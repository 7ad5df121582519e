//! `fracdet evaluate`: score a dataset split with a trained model and write metrics.json,
//! predictions.csv, PNG plots and a self-contained report.html.
//!
//! Operating points (and a box head's drawing threshold) are chosen on the validation split
//! and stored in the model directory (`operating_points.json`); every other split reuses
//! them unchanged, so a test set never picks its own threshold.
//!
//! Classifier and MPR runs alike, through [`fracdet_detect::Scorer`]: rankings, ROC/PR,
//! operating points and decisions use the model's *score* (the probability for a
//! classifier, the image logit for MPR, whose f32 probabilities saturate at 1.0); the
//! reliability diagram, calibration figures, histograms and tables show probabilities.
//!
//! This file turns flags into calls and prints; the work is in libraries:
//! [`fracdet_eval::ThresholdPolicy`] (which thresholds may be used) and
//! [`fracdet_detect::evaluation`] (scoring, metrics, the report directory).

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_detect::evaluation::{
    ReportContext, ScoreOptions, choose_box_threshold, metrics_report, score_split, summary,
    write_report,
};
use fracdet_detect::{ModelSource, Scorer};
use fracdet_eval::threshold_policy::headline_point;
use fracdet_eval::{
    BootstrapConfig, CalibrationFit, OPERATING_POINTS_FILE, StoredOperatingPoints, StoredPoints,
    ThresholdPolicy, ThresholdRequest,
};
use fracdet_io::dataset::{Dataset, Sample, Split};
use fracdet_train::Device;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model (run) directory made by `fracdet train classifier` or `fracdet train mpr`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset root (FracAtlas layout or <split>/<class>/ folders).
    #[arg(long)]
    pub data: PathBuf,
    /// Split to evaluate. Operating points are chosen on `val` (and stored in the model);
    /// any other split requires them to be stored already.
    #[arg(long, default_value = "val")]
    pub split: String,
    /// Report directory to write (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Fixed decision threshold, a probability (default 0.5). Only when operating points
    /// are chosen.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Sensitivity the `target_sensitivity` operating point must reach on validation
    /// (default 0.90). Only when operating points are chosen.
    #[arg(long)]
    pub target_sensitivity: Option<f64>,
    /// With `--split val`: choose the operating points again and overwrite the stored ones.
    #[arg(long)]
    pub reselect: bool,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
    /// Most confident false negatives / false positives shown in the report (each).
    #[arg(long, default_value_t = 8)]
    pub cases: usize,
    /// Threads for decoding and compute (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// MPR runs: the cell probability at or above which cells form boxes, instead of the
    /// run's own (0.5 by default); `calibrated` takes w / (1 + w) for the run's cell W-BCE
    /// weight w, the cell probability an unweighted model would call 0.5.
    #[arg(long, value_name = "P|calibrated")]
    pub region_threshold: Option<String>,
    /// Also score val under each standard perturbation (gamma, noise, blur, down-sampling,
    /// JPEG, border and text, inversion, crop, rotation) and report the AUROC drop with a
    /// paired bootstrap CI (`perturbations.json`; one more pass over the split each).
    #[arg(long)]
    pub perturb: bool,
    /// Score images the applicability check refuses as well (research only; the report
    /// says so). Without it they are counted and listed beside the metrics, not scored.
    #[arg(long)]
    pub assess_anyway: bool,
}

pub fn run(args: EvaluateArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.workers {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot set up worker threads")?;
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let split = Split::from_str(&args.split)?;
    let started = Instant::now();

    let dataset = Dataset::open(&args.data)
        .with_context(|| format!("cannot index dataset {}", args.data.display()))?;
    let samples: Vec<Sample> = dataset
        .split(split)
        .into_iter()
        .filter(|s| s.label.is_some())
        .collect();
    if samples.is_empty() {
        bail!(
            "{} has no labelled images in split {split}",
            args.data.display()
        );
    }

    // Before inference, so a test-split run without stored thresholds fails in a second,
    // not after minutes of scoring.
    let policy = threshold_policy(&args, split)?;
    let bundle = policy.is_bundle();
    let device = &crate::device::select(device)?;
    let scorer = open_scorer(&args, bundle, device)?;
    let kind = scorer.score_kind();
    let options = ScoreOptions {
        batch: args.batch,
        assess_anyway: args.assess_anyway,
        perturb: None,
    };
    let scores = score_split(&scorer, device, &dataset.root, &samples, &options)?;
    let infer_s = started.elapsed().as_secs_f64();
    if scores.scored.is_empty() {
        bail!("no image of split {split} could be read");
    }

    let labels = scores.labels();
    let mut settled = policy.settle(&args.data, &labels, &scores.scores(), |p| {
        kind.from_probability(p)
    })?;
    if settled.chosen_here {
        eprintln!(
            "operating points chosen on this validation split and stored in {}",
            args.model.join(OPERATING_POINTS_FILE).display()
        );
    }
    if let Some(t) = settled.choose_box_threshold(split, || choose_box_threshold(&scores.scored)) {
        eprintln!("{}", t.describe());
    }
    let fit = settled.calibrate(split, scores.logits(kind).as_deref(), &labels);
    if let CalibrationFit::Failed(e) = &fit {
        eprintln!("warning: no temperature fitted, probabilities stay uncalibrated: {e}");
    }
    if settled.needs_saving(&fit) {
        settled.save(&args.model)?;
    }
    if let Some(message) = settled.fit_message(&fit) {
        eprintln!("{message}");
    }

    let cfg = BootstrapConfig {
        n_resamples: args.bootstrap.max(1),
        ..BootstrapConfig::default()
    };
    let report = metrics_report(&scores, &scorer, &settled.record, split, &cfg)?;
    let context = ReportContext {
        out: args.out.clone(),
        model: args.model.clone(),
        data: args.data.clone(),
        split,
        made_by: format!("fracdet {}", env!("CARGO_PKG_VERSION")),
        seconds: infer_s,
        cases: args.cases,
        assess_anyway: args.assess_anyway,
    };
    for note in write_report(&context, &scores, &scorer, &settled, &report)? {
        eprintln!("warning: {note}");
    }
    let (primary, n) = (headline_point(settled.points()).0, scores.scored.len());
    for line in summary(&report, primary, kind, &args.out, infer_s, n) {
        println!("{line}");
    }
    if args.perturb {
        let root = &dataset.root;
        super::evaluate_perturb::run(&args, &scorer, device, root, &samples, &scores, &cfg)?;
    }
    if !scores.not_assessed.is_empty() {
        eprintln!(
            "{} image(s) not assessed (not counted in the metrics; listed in metrics.json):",
            scores.not_assessed.len()
        );
        for n in &scores.not_assessed {
            eprintln!("  {}: {}", n.image, n.message);
        }
    }
    if scores.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} image(s) could not be read:", scores.failed.len());
        for f in &scores.failed {
            eprintln!("  {}: {}", f.image, f.reason);
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The flags' threshold request against what the model stores. A bundle carries its own
/// points and is never written to (`fracdet export` makes bundles).
fn threshold_policy(args: &EvaluateArgs, split: Split) -> anyhow::Result<ThresholdPolicy> {
    let stored = match ModelSource::detect(&args.model) {
        Ok(ModelSource::Bundle(_)) => StoredPoints::Bundle(
            fracdet_detect::bundle::read_bundle(&args.model)?
                .0
                .operating_points,
        ),
        _ => StoredPoints::Run(StoredOperatingPoints::load(&args.model)?),
    };
    let request = ThresholdRequest {
        reselect: args.reselect,
        fixed_threshold: args.threshold,
        target_sensitivity: args.target_sensitivity,
    };
    let policy = ThresholdPolicy::decide(&args.model, stored, split, request);
    policy.map_err(Into::into)
}

/// The model, with `--region-threshold` applied.
fn open_scorer(args: &EvaluateArgs, bundle: bool, device: &Device) -> anyhow::Result<Scorer> {
    let scorer = if bundle {
        Scorer::open_bundle(&args.model, device).map(|(s, _)| s)
    } else {
        Scorer::open_run(&args.model, device)
    }
    .with_context(|| format!("cannot open model {}", args.model.display()))?;
    let Some(given) = &args.region_threshold else {
        return Ok(scorer);
    };
    let Some(calibrated) = scorer.calibrated_region_threshold() else {
        bail!("--region-threshold applies to MPR detector runs only");
    };
    let threshold = match given.as_str() {
        "calibrated" => calibrated,
        p => match p.parse::<f32>() {
            Ok(v) if v > 0.0 && v <= 1.0 => v,
            _ => bail!("--region-threshold must be a probability in (0, 1] or `calibrated`"),
        },
    };
    eprintln!("boxes from cells with probability >= {threshold}");
    Ok(scorer.with_region_threshold(threshold))
}
