//! `fracdet evaluate`: score a dataset split with a trained model and write metrics.json,
//! predictions.csv, PNG plots and a self-contained report.html.
//!
//! Operating points are chosen on the validation split and stored in the model directory
//! (`operating_points.json`); every other split reuses them unchanged, so a test set never
//! picks its own threshold.
//!
//! Classifier and MPR runs alike, through [`fracdet_detect::Scorer`]: rankings, ROC/PR,
//! operating points and decisions use the model's *score* (the probability for a
//! classifier, the image logit for MPR, whose f32 probabilities saturate at 1.0); the
//! reliability diagram, calibration figures, histograms and tables show probabilities.
//! Localisation comes from the CAM or from the MPR cell grid.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_detect::{Cam, ScoreKind, Scorer};
use fracdet_eval::NotAssessedImage;
use fracdet_eval::html::{
    CaseThumbnail, Figure, HtmlReport, PngColor, draw_box_outline, encode_png, overlay_rgb,
    render_html,
};
use fracdet_eval::plot::{
    DEFAULT_SIZE, plot_confusion_matrix, plot_pr, plot_reliability, plot_roc,
    plot_score_histograms, plot_training_curves,
};
use fracdet_eval::{
    BootstrapConfig, CalibratedReport, MetricsReport, OPERATING_POINTS_FILE, OperatingPoint,
    OperatingPoints, StoredOperatingPoints, Temperature, TrainingLog, calibration,
    choose_operating_points, pr_curve, roc_band, roc_curve, subgroup_analysis,
};
use fracdet_io::applicability::{self, NotAssessed, Thresholds};
use fracdet_io::dataset::{Dataset, Sample, Split, View};
use fracdet_io::perturb::Perturbation;
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use fracdet_io::{ReadOptions, read_radiograph};
use fracdet_train::Device;
use rayon::prelude::*;

/// Side of the error-case thumbnails in the report, pixels.
const THUMB_SIZE: u32 = 192;

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

/// An image that could not be scored: (name, reason).
type Unreadable = (String, String);

/// One scored image.
pub(super) struct Scored {
    sample: Sample,
    /// Path relative to the dataset root (the key `fracdet compare` pairs on).
    pub(super) name: String,
    pub(super) label: bool,
    probability: f32,
    /// What is ranked and thresholded: `probability`, or the logit for an MPR run.
    pub(super) score: f32,
    /// CAM or MPR cell grid over the model canvas, for localisation and thumbnails.
    map: Option<Cam>,
    /// A box head's regressed boxes, canvas pixels (see `fracdet_detect::Scored::boxes`).
    boxes: Option<Vec<fracdet_eval::ScoredBox>>,
    /// The letterbox that made the model canvas from the original image.
    transform: LetterboxTransform,
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

    // Decide up front whether thresholds come from storage, so a test-split run fails
    // before spending minutes on inference. A bundle carries its own and is never
    // written to (`fracdet export` makes bundles).
    let bundle = matches!(
        fracdet_detect::ModelSource::detect(&args.model),
        Ok(fracdet_detect::ModelSource::Bundle(_))
    );
    let stored = if bundle {
        let (manifest, _) = fracdet_detect::bundle::read_bundle(&args.model)?;
        let Some(points) = manifest.operating_points else {
            bail!(
                "bundle {} holds no operating points: evaluate the training run it was \
                 exported from instead",
                args.model.display()
            );
        };
        if args.reselect {
            bail!("--reselect rewrites stored thresholds; a bundle's are fixed at export");
        }
        Some(points)
    } else {
        StoredOperatingPoints::load(&args.model)?
    };
    let choose_here = match (&stored, split) {
        (None, Split::Val) => true,
        (Some(_), Split::Val) => args.reselect,
        (None, _) => bail!(
            "{} holds no {OPERATING_POINTS_FILE}: run `fracdet evaluate --split val` first; \
             thresholds are chosen on validation, never on the split being tested",
            args.model.display()
        ),
        (Some(_), _) if args.reselect => {
            bail!("--reselect chooses thresholds and is only allowed with --split val")
        }
        (Some(_), _) => false,
    };
    if !choose_here && (args.threshold.is_some() || args.target_sensitivity.is_some()) {
        bail!(
            "--threshold/--target-sensitivity only apply when operating points are chosen \
             (--split val, with --reselect if {OPERATING_POINTS_FILE} exists)"
        );
    }

    let device = &crate::device::select(device)?;
    let mut scorer = if bundle {
        Scorer::open_bundle(&args.model, device).map(|(s, _)| s)
    } else {
        Scorer::open_run(&args.model, device)
    }
    .with_context(|| format!("cannot open model {}", args.model.display()))?;
    if let Some(given) = &args.region_threshold {
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
        scorer = scorer.with_region_threshold(threshold);
    }
    let kind = scorer.score_kind();

    let perturb_samples = args.perturb.then(|| samples.clone());
    let Batch {
        scored,
        failed,
        not_assessed,
    } = score(
        &scorer,
        device,
        &dataset.root,
        samples,
        args.batch,
        args.assess_anyway,
        None,
    )?;
    let infer_s = started.elapsed().as_secs_f64();
    if scored.is_empty() {
        bail!("no image of split {split} could be read");
    }
    let labels: Vec<bool> = scored.iter().map(|s| s.label).collect();
    let scores: Vec<f32> = scored.iter().map(|s| s.score).collect();
    let probabilities: Vec<f32> = scored.iter().map(|s| s.probability).collect();

    let (points, origin, record) = if choose_here {
        // The fixed threshold is given as a probability; the points are on the score.
        let points = choose_operating_points(
            &labels,
            &scores,
            kind.from_probability(
                args.threshold
                    .unwrap_or(fracdet_eval::operating::DEFAULT_FIXED_THRESHOLD),
            ),
            args.target_sensitivity
                .unwrap_or(fracdet_eval::operating::DEFAULT_TARGET_SENSITIVITY),
        )?;
        let record =
            StoredOperatingPoints::new(args.data.clone(), split.to_string(), points.clone());
        eprintln!(
            "operating points chosen on this validation split and stored in {}",
            args.model.join(OPERATING_POINTS_FILE).display()
        );
        let origin = format!(
            "Thresholds were chosen on this validation split ({} images) and stored with the model; \
             on this split the threshold metrics are therefore optimistic.",
            points.n_validation
        );
        (points, origin, record)
    } else {
        let s = stored.context("stored operating points vanished")?;
        let origin = format!(
            "Thresholds were chosen on the {} split of {} ({} images) and stored with the model; \
             they were not tuned on the data shown here.",
            s.split,
            s.data.display(),
            s.points.n_validation
        );
        (s.points.clone(), origin, s)
    };
    let logits: Option<Vec<f64>> = scores.iter().map(|&s| kind.logit(f64::from(s))).collect();
    let (record, fitted_here) = calibrate(record, choose_here, split, logits.as_deref(), &labels);
    if choose_here || (fitted_here && !bundle) {
        fracdet_train::atomic::write_atomic(
            &args.model.join(OPERATING_POINTS_FILE),
            &record.to_json()?,
        )?;
    }
    if let (true, Some(t)) = (fitted_here, &record.calibration) {
        eprintln!(
            "calibration: {}; validation ECE {} -> {}{}",
            t.describe(),
            t.ece_before.map_or("n/a".into(), |e| format!("{e:.4}")),
            t.ece_after.map_or("n/a".into(), |e| format!("{e:.4}")),
            if bundle {
                " (not written: a bundle is fixed at export; this is the value to store)"
            } else {
                ""
            }
        );
    }

    let cfg = BootstrapConfig {
        n_resamples: args.bootstrap.max(1),
        ..BootstrapConfig::default()
    };
    let mut report = MetricsReport::compute(&labels, &scores, &points, &cfg)?;
    if kind == ScoreKind::Logit {
        // Calibration is about probabilities, not logits (ranking metrics are unchanged by
        // the monotone map, so only this part is recomputed).
        report.calibration = calibration(&labels, &probabilities)?;
    }
    if let (Some(t), Some(z)) = (&record.calibration, &logits) {
        // Fitted on a val split: evaluating val is then in-sample for the "after" figures.
        let in_sample = split == Split::Val;
        report.calibrated = Some(CalibratedReport::compute(&labels, z, t, in_sample)?);
    }
    let primary = primary_point(&points);
    report.subgroups = subgroups(&scored, &labels, &scores, primary.1.threshold, &cfg)?;
    report.localisation = localisation(&scored, &scorer, cfg.level)?;
    report.detection = detection(&scored, &scorer);
    report.not_assessed = not_assessed.clone();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    write_file(&args.out.join("metrics.json"), report.to_json()?.as_bytes())?;
    write_file(
        &args.out.join("predictions.csv"),
        predictions_csv(&scored, &points, kind, record.calibration.as_ref()).as_bytes(),
    )?;
    let figures = plots(
        &args.out,
        &args.model,
        &labels,
        (&scores, &probabilities, kind),
        &report,
        &points,
        primary,
    )?;

    let mut warnings = Vec::new();
    if choose_here {
        warnings.push(
            "These numbers are on the validation split the thresholds were chosen on; report test-split \
             results for an unbiased estimate."
                .to_string(),
        );
    }
    if !failed.is_empty() {
        warnings.push(format!(
            "{} image(s) could not be read and are not counted.",
            failed.len()
        ));
    }
    if !not_assessed.is_empty() {
        let fractured = not_assessed.iter().filter(|n| n.label).count();
        warnings.push(format!(
            "{} image(s) ({fractured} fractured) were not assessed: the applicability check \
             found no radiograph fracdet reads ({}); they are listed in metrics.json and not \
             in the metrics.",
            not_assessed.len(),
            not_assessed
                .iter()
                .take(5)
                .map(|n| format!("{}: {}", n.image, n.message))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if args.assess_anyway {
        warnings.push(
            "--assess-anyway: images the applicability check refuses were scored as well \
             (research only)."
                .to_string(),
        );
    }
    for a in &report.subgroups {
        let few: Vec<&str> = a
            .groups
            .iter()
            .filter(|g| g.warning.is_some())
            .map(|g| g.group.as_str())
            .collect();
        if !few.is_empty() {
            warnings.push(format!(
                "By {}: fewer than 20 fractures in {}; those rows are unstable.",
                a.attribute.replace('_', " "),
                few.join(", ")
            ));
        }
    }
    let (true_positives, false_negatives, false_positives) =
        error_cases(&scored, &scorer, primary.1.threshold, args.cases);
    let mut context = vec![
        (
            "Model".into(),
            format!("{} ({})", args.model.display(), scorer.describe()),
        ),
        (
            "Data".into(),
            format!("{} — split {split}", args.data.display()),
        ),
        (
            "Evaluated".into(),
            format!("fracdet {} in {infer_s:.1} s", env!("CARGO_PKG_VERSION")),
        ),
    ];
    if kind == ScoreKind::Residual {
        context.push((
            "Score".into(),
            "the inpainter's mean residual in the hottest 16-pixel cell: no detector was \
             trained, and the score is not a probability (calibration figures do not apply)"
                .into(),
        ));
    }
    if kind == ScoreKind::Logit {
        context.push((
            "Score".into(),
            "image logit: ROC, AUROC, AP and every threshold here rank the logit (the \
             detector's probabilities saturate at 1.0); calibration and histograms use \
             probabilities"
                .into(),
        ));
    }
    let html = render_html(&HtmlReport {
        title: format!("Fracture detection — evaluation on {split}"),
        context,
        metrics: &report,
        primary: primary.0.to_string(),
        operating_point_origin: origin,
        figures,
        true_positives,
        false_negatives,
        false_positives,
        localisation_note: report
            .localisation
            .as_ref()
            .map(|l| localisation_note(&scorer, l.n_images)),
        warnings,
    });
    write_file(&args.out.join("report.html"), html.as_bytes())?;

    summary(&report, primary.0, kind, &args.out, infer_s, scored.len());
    if let Some(samples) = perturb_samples {
        eprintln!("AUROC under perturbation (paired bootstrap CI of the difference):");
        let rows = super::evaluate_perturb::run(
            &scorer,
            device,
            &dataset.root,
            &samples,
            &scored,
            args.batch,
            args.assess_anyway,
            &cfg,
        )?;
        write_file(
            &args.out.join("perturbations.json"),
            serde_json::to_string_pretty(&rows)?.as_bytes(),
        )?;
    }
    if !not_assessed.is_empty() {
        eprintln!(
            "{} image(s) not assessed (not counted in the metrics; listed in metrics.json):",
            not_assessed.len()
        );
        for n in &not_assessed {
            eprintln!("  {}: {}", n.image, n.message);
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} image(s) could not be read:", failed.len());
        for (name, why) in &failed {
            eprintln!("  {name}: {why}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The record with its calibration (Platt scaling, or a temperature alone when that
/// cannot be fitted): fitted on this split when thresholds are chosen here,
/// or when it is a val split and the record has none yet (runs evaluated before
/// calibration existed); otherwise the stored one. The bool says whether it was fitted
/// here. A residual score (no logit) or a one-class split gets none.
fn calibrate(
    record: StoredOperatingPoints,
    choose_here: bool,
    split: Split,
    logits: Option<&[f64]>,
    labels: &[bool],
) -> (StoredOperatingPoints, bool) {
    let refit = choose_here || (split == Split::Val && record.calibration.is_none());
    let Some(logits) = logits.filter(|_| refit) else {
        return (record, false);
    };
    match fracdet_eval::fit_calibration(labels, logits, &split.to_string()) {
        Ok(t) => (record.with_calibration(Some(t)), true),
        Err(e) => {
            eprintln!("warning: no temperature fitted, probabilities stay uncalibrated: {e}");
            (record.with_calibration(None), false)
        }
    }
}

/// The headline operating point: the target-sensitivity one (a reading aid should miss
/// few fractures) when validation had positives, else the fixed threshold.
fn primary_point(points: &OperatingPoints) -> (&'static str, OperatingPoint) {
    match points.at_target_sensitivity {
        Some(p) => ("target_sensitivity", p),
        None => ("fixed", points.fixed),
    }
}

/// How the localisation numbers were made, for the report.
fn localisation_note(scorer: &Scorer, n_images: usize) -> String {
    match scorer.region_threshold() {
        Some(threshold) => format!(
            "From the MPR detector's grid of cell probabilities on the {n_images} images with \
             annotated fracture boxes: the hottest cell on the image, and boxes around regions of \
             cells with probability >= {threshold} (the run's region threshold) scored by their \
             hottest cell, or the hottest cell's region when no cell reaches it (the boxes \
             `fracdet detect` draws). Cells cover {} input pixels each, so boxes are coarse.",
            scorer.input_size() as usize / scorer.grid_side().unwrap_or(1)
        ),
        None if matches!(scorer, Scorer::Anomaly(_)) => format!(
            "From the inpainter's mean residual per {cell}-pixel cell on the {n_images} images \
             with annotated fracture boxes: the hottest cell, and boxes around regions at >= \
             {:.0}% of the map's range over image content, scored by the image score x region \
             peak.",
            100.0 * fracdet_detect::regions::REGION_FRACTION,
            cell = scorer.input_size() as usize / scorer.grid_side().unwrap_or(1)
        ),
        None => format!(
            "From the model's class activation map on the {n_images} images with annotated \
             fracture boxes: the map's peak, and boxes around regions at >= {:.0}% of its maximum \
             scored by probability x region peak. The map has one cell per 32 input pixels, so \
             boxes are coarse.",
            100.0 * fracdet_detect::regions::REGION_FRACTION
        ),
    }
}

/// What [`score`] made of a split.
pub(super) struct Batch {
    pub(super) scored: Vec<Scored>,
    /// Unreadable images, (name, reason).
    failed: Vec<Unreadable>,
    /// Images the applicability check refused (empty with `--assess-anyway`).
    not_assessed: Vec<NotAssessedImage>,
}

/// One sample after reading: its canvas, or why it is not scored.
enum Read {
    Canvas(Vec<f32>, LetterboxTransform),
    NotAssessed(NotAssessed),
    Failed(String),
}

/// Reads, checks, letterboxes and scores every sample; with `perturb`, each image is
/// perturbed after the applicability check (made on the original, so the same images are
/// scored with and without) and before the letterbox.
pub(super) fn score(
    scorer: &Scorer,
    device: &Device,
    root: &Path,
    samples: Vec<Sample>,
    batch: usize,
    assess_anyway: bool,
    perturb: Option<Perturbation>,
) -> anyhow::Result<Batch> {
    let size = scorer.input_size();
    let read = ReadOptions::default();
    let mut scored = Vec::with_capacity(samples.len());
    let mut failed = Vec::new();
    let mut not_assessed = Vec::new();
    for chunk in samples.chunks(batch) {
        let canvases: Vec<Read> = chunk
            .par_iter()
            .map(|s| match read_radiograph(&s.image, &read) {
                Err(e) => Read::Failed(e.to_string()),
                Ok(r) => match applicability::check(&r, &Thresholds::default()) {
                    Err(why) if !assess_anyway => Read::NotAssessed(why),
                    _ => {
                        let (c, t) = match perturb {
                            Some(p) => letterbox(&p.apply(&r, seed_of(&s.image)), size),
                            None => letterbox(&r, size),
                        };
                        Read::Canvas(c, t)
                    }
                },
            })
            .collect();
        let mut ok = Vec::with_capacity(chunk.len());
        let mut good = Vec::with_capacity(chunk.len());
        for (s, c) in chunk.iter().zip(canvases) {
            match c {
                Read::Canvas(c, t) => {
                    ok.push((s, t));
                    good.push(c);
                }
                // Unlabelled samples are skipped below when scored; likewise here.
                Read::NotAssessed(reason) => {
                    if let Some(label) = s.label {
                        not_assessed.push(NotAssessedImage {
                            image: relative_name(root, &s.image),
                            label,
                            message: reason.describe(),
                            reason,
                        });
                    }
                }
                Read::Failed(e) => failed.push((relative_name(root, &s.image), e)),
            }
        }
        let transforms: Vec<LetterboxTransform> = ok.iter().map(|(_, t)| *t).collect();
        let results = scorer.score(&good, &transforms, device)?;
        for ((s, transform), r) in ok.into_iter().zip(results) {
            let Some(label) = s.label else { continue };
            if !(r.probability.is_finite() && r.score.is_finite()) {
                failed.push((
                    relative_name(root, &s.image),
                    "model output is not finite".into(),
                ));
                continue;
            }
            scored.push(Scored {
                sample: s.clone(),
                name: relative_name(root, &s.image),
                label,
                probability: r.probability,
                score: r.score,
                map: r.map,
                boxes: r.boxes,
                transform,
            });
        }
    }
    Ok(Batch {
        scored,
        failed,
        not_assessed,
    })
}

/// A per-image seed for the perturbations' noise: from the path, so a rerun repeats.
fn seed_of(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        })
}

fn relative_name(root: &Path, image: &Path) -> String {
    image
        .strip_prefix(root)
        .unwrap_or(image)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Hit rate, box recall at IoU 0.3 and FROC from the maps (CAM or MPR cell grid) of every
/// image with annotated fracture boxes; `None` when the split has no boxes. Boxes and peaks
/// are compared in original image pixels.
fn localisation(
    scored: &[Scored],
    scorer: &Scorer,
    level: f64,
) -> anyhow::Result<Option<fracdet_eval::LocalisationMetrics>> {
    let cases: Vec<fracdet_eval::LocalisationCase> = scored
        .iter()
        .filter(|s| !s.sample.boxes.is_empty())
        .map(|s| {
            let r = fracdet_detect::Scored {
                probability: s.probability,
                score: s.score,
                map: s.map.clone(),
                features: None,
                boxes: s.boxes.clone(),
            };
            scorer.localisation_case(s.sample.boxes.clone(), &r, &s.transform)
        })
        .collect();
    if cases.is_empty() {
        return Ok(None);
    }
    Ok(Some(fracdet_eval::localisation_metrics(
        &cases,
        fracdet_eval::localisation::DEFAULT_IOU,
        level,
    )?))
}

/// A box head's boxes as detections over every image (a normal image's boxes are false
/// positives), drawn at the run's region threshold; `None` without a box head.
fn detection(scored: &[Scored], scorer: &Scorer) -> Option<fracdet_eval::DetectionMetrics> {
    if !scored.iter().any(|s| s.boxes.is_some()) {
        return None;
    }
    let cases: Vec<fracdet_eval::LocalisationCase> = scored
        .iter()
        .map(|s| {
            let truth = if s.label {
                s.sample.boxes.clone()
            } else {
                Vec::new()
            };
            let predicted = s
                .boxes
                .as_deref()
                .map(|b| fracdet_eval::cell_regions::boxes_to_original(b, &s.transform))
                .unwrap_or_default();
            fracdet_eval::LocalisationCase {
                truth,
                peak: None,
                predicted,
            }
        })
        .collect();
    let drawn_at = scorer.region_threshold().unwrap_or(0.5);
    Some(fracdet_eval::detection_metrics(&cases, drawn_at))
}

/// Body part, hardware and view, each only when the dataset records it for some image.
fn subgroups(
    scored: &[Scored],
    labels: &[bool],
    scores: &[f32],
    threshold: f64,
    cfg: &BootstrapConfig,
) -> anyhow::Result<Vec<fracdet_eval::SubgroupAnalysis>> {
    let body: Vec<Option<String>> = scored
        .iter()
        .map(|s| s.sample.meta.body_part.clone())
        .collect();
    let hardware: Vec<Option<String>> = scored
        .iter()
        .map(|s| {
            s.sample.meta.hardware.map(|h| {
                if h {
                    "hardware".into()
                } else {
                    "no hardware".into()
                }
            })
        })
        .collect();
    let view: Vec<Option<String>> = scored
        .iter()
        .map(|s| match s.sample.meta.views.as_slice() {
            [] => None,
            [one] => Some(
                match one {
                    View::Frontal => "frontal",
                    View::Lateral => "lateral",
                    View::Oblique => "oblique",
                }
                .to_string(),
            ),
            _ => Some("several views".to_string()),
        })
        .collect();
    let mut out = Vec::new();
    for (name, keys) in [("body_part", body), ("hardware", hardware), ("view", view)] {
        if keys.iter().all(Option::is_none) {
            continue;
        }
        let keys: Vec<String> = keys
            .into_iter()
            .map(|k| k.unwrap_or_else(|| "unknown".into()))
            .collect();
        out.push(subgroup_analysis(
            name, labels, scores, &keys, threshold, cfg,
        )?);
    }
    Ok(out)
}

/// `image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden`;
/// a decision is 1 (flagged) / 0, empty where that operating point does not exist.
/// MPR runs add a last column, `logit`: the score the decisions and AUROC use.
/// With a temperature, a last column `calibrated_probability` (the probability `detect`
/// shows); `probability` stays the model's own, which the temperature is fitted on.
fn predictions_csv(
    scored: &[Scored],
    points: &OperatingPoints,
    kind: ScoreKind,
    temperature: Option<&Temperature>,
) -> String {
    let cols: [Option<OperatingPoint>; 3] = [
        Some(points.fixed),
        points.at_target_sensitivity,
        points.youden,
    ];
    let mut out = String::from(
        "image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden",
    );
    let logit = kind == ScoreKind::Logit;
    out.push_str(if logit { ",logit" } else { "" });
    out.push_str(if temperature.is_some() {
        ",calibrated_probability\n"
    } else {
        "\n"
    });
    for s in scored {
        out.push_str(&csv_field(&s.name));
        out.push_str(&format!(",{},{:.6}", u8::from(s.label), s.probability));
        for c in &cols {
            out.push(',');
            if let Some(p) = c {
                out.push(if f64::from(s.score) >= p.threshold {
                    '1'
                } else {
                    '0'
                });
            }
        }
        if logit {
            out.push_str(&format!(",{}", s.score));
        }
        if let Some(t) = temperature {
            let p = kind.calibrated_probability(f64::from(s.score), Some(t));
            out.push_str(&format!(",{p:.6}"));
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace(['\n', '\r'], " "))
    } else {
        s.to_string()
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Draws every plot into `out` and returns them for the HTML report. `scores` are what the
/// points threshold (ROC, PR); the histograms show `probabilities`.
fn plots(
    out: &Path,
    model_dir: &Path,
    labels: &[bool],
    (scores, probabilities, kind): (&[f32], &[f32], ScoreKind),
    report: &MetricsReport,
    points: &OperatingPoints,
    primary: (&str, OperatingPoint),
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut add = |file: &str, title: &str, caption: &str| -> anyhow::Result<()> {
        let path = out.join(file);
        let png =
            std::fs::read(&path).with_context(|| format!("cannot read back {}", path.display()))?;
        figures.push(Figure {
            title: title.into(),
            caption: caption.into(),
            png,
        });
        Ok(())
    };
    let named: Vec<(&str, OperatingPoint)> = [
        ("fixed", Some(points.fixed)),
        ("target sens.", points.at_target_sensitivity),
        ("Youden", points.youden),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| (n, p)))
    .collect();
    if let Some(curve) = roc_curve(labels, scores)? {
        let band = roc_band(labels, scores, 101, &report.bootstrap)?;
        plot_roc(
            &out.join("roc.png"),
            "ROC curve",
            &curve,
            band.as_ref(),
            &report.auroc,
            &named,
            DEFAULT_SIZE,
        )?;
        add(
            "roc.png",
            "ROC curve",
            "Sensitivity against false-positive rate over all thresholds; the shaded band is the 95% bootstrap interval, markers are the operating points.",
        )?;
    }
    if let Some(curve) = pr_curve(labels, scores)? {
        plot_pr(
            &out.join("pr.png"),
            "Precision-recall curve",
            &curve,
            &report.average_precision,
            DEFAULT_SIZE,
        )?;
        add(
            "pr.png",
            "Precision–recall curve",
            "Share of flagged images that truly have a fracture (precision) as more fractures are found (recall).",
        )?;
    }
    plot_reliability(
        &out.join("reliability.png"),
        "Reliability diagram",
        &report.calibration,
        DEFAULT_SIZE,
    )?;
    add(
        "reliability.png",
        if report.calibrated.is_some() {
            "Reliability diagram, before calibration"
        } else {
            "Reliability diagram (uncalibrated)"
        },
        "Observed fracture rate against predicted probability; points on the diagonal mean the probabilities can be taken at face value.",
    )?;
    if let Some(c) = &report.calibrated {
        plot_reliability(
            &out.join("reliability_calibrated.png"),
            "Reliability diagram, after calibration",
            &c.after,
            DEFAULT_SIZE,
        )?;
        let caption = format!(
            "The same after dividing each logit by the stored temperature ({:.3}, fitted on {}){}: the probabilities `detect` shows.",
            c.temperature.temperature,
            c.temperature.split,
            if c.in_sample {
                "; in-sample on this split"
            } else {
                ""
            }
        );
        add(
            "reliability_calibrated.png",
            "Reliability diagram, after calibration",
            &caption,
        )?;
    }
    if let Some(at) = report
        .at_operating_points
        .iter()
        .find(|p| p.name == primary.0)
    {
        plot_confusion_matrix(
            &out.join("confusion.png"),
            "Confusion matrix, headline operating point",
            &at.metrics.confusion,
            at.metrics.threshold,
            DEFAULT_SIZE,
        )?;
        add(
            "confusion.png",
            "Confusion matrix",
            "Counts of images by truth and model decision at the headline threshold.",
        )?;
    }
    plot_score_histograms(
        &out.join("scores.png"),
        "Predicted probability by true class",
        labels,
        probabilities,
        20,
        Some(kind.to_probability(primary.1.threshold)),
        DEFAULT_SIZE,
    )?;
    add(
        "scores.png",
        "Score histograms",
        "Distribution of the model's probability for images with and without fracture; the line is the headline threshold.",
    )?;
    let log_path = model_dir.join(fracdet_train::checkpoint::METRICS_FILE);
    if log_path.exists() {
        match TrainingLog::read(&log_path).and_then(|log| {
            plot_training_curves(
                &out.join("training.png"),
                "Training curves",
                &log,
                DEFAULT_SIZE,
            )
        }) {
            Ok(()) => add(
                "training.png",
                "Training curves",
                "Loss and validation AUROC per epoch from the model's training run.",
            )?,
            Err(e) => eprintln!("warning: no training-curve plot: {e}"),
        }
    }
    Ok(figures)
}

/// The most confident finds, misses and false alarms at `threshold`, as thumbnails with
/// the annotated boxes (green) and, on flagged images, the boxes `detect` would draw
/// (orange). `threshold` is on the score; heatmaps are the maps computed while scoring.
fn error_cases(
    scored: &[Scored],
    scorer: &Scorer,
    threshold: f64,
    k: usize,
) -> (Vec<CaseThumbnail>, Vec<CaseThumbnail>, Vec<CaseThumbnail>) {
    let mut tps: Vec<&Scored> = scored
        .iter()
        .filter(|s| s.label && f64::from(s.score) >= threshold)
        .collect();
    tps.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut fns: Vec<&Scored> = scored
        .iter()
        .filter(|s| s.label && f64::from(s.score) < threshold)
        .collect();
    fns.sort_by(|a, b| a.score.total_cmp(&b.score));
    let mut fps: Vec<&Scored> = scored
        .iter()
        .filter(|s| !s.label && f64::from(s.score) >= threshold)
        .collect();
    fps.sort_by(|a, b| b.score.total_cmp(&a.score));
    let thumb = |s: &Scored| -> Option<CaseThumbnail> {
        let r = read_radiograph(&s.sample.image, &ReadOptions::default()).ok()?;
        let (canvas, t) = letterbox(&r, THUMB_SIZE);
        let side = THUMB_SIZE as usize;
        let heat = s.map.as_ref().map(|m| m.resample(side));
        let mut rgb = overlay_rgb(&canvas, heat.as_deref(), 0.45).ok()?;
        let drawn: Vec<fracdet_io::BBox> = if f64::from(s.score) >= threshold {
            let r = fracdet_detect::Scored {
                probability: s.probability,
                score: s.score,
                map: s.map.clone(),
                features: None,
                boxes: s.boxes.clone(),
            };
            scorer
                .boxes(&r, &s.transform)
                .into_iter()
                .map(|b| b.bbox)
                .collect()
        } else {
            Vec::new()
        };
        for (boxes, color) in [(&s.sample.boxes, [40u8, 230, 60]), (&drawn, [255, 150, 20])] {
            for b in boxes {
                let w = t.bbox_to_working(b);
                draw_box_outline(
                    &mut rgb,
                    THUMB_SIZE,
                    THUMB_SIZE,
                    [w.x_min, w.y_min, w.x_max, w.y_max],
                    color,
                    2,
                );
            }
        }
        let png = encode_png(THUMB_SIZE, THUMB_SIZE, PngColor::Rgb, &rgb).ok()?;
        Some(CaseThumbnail {
            image: s.name.clone(),
            probability: s.probability,
            png,
            heatmap: heat.is_some(),
        })
    };
    let thumbs = |cases: Vec<&Scored>| -> Vec<CaseThumbnail> {
        cases.into_iter().take(k).filter_map(thumb).collect()
    };
    (thumbs(tps), thumbs(fns), thumbs(fps))
}

/// `kind` names the score thresholds are on when it is not the probability.
fn summary(
    report: &MetricsReport,
    primary: &str,
    kind: ScoreKind,
    out: &Path,
    seconds: f64,
    n: usize,
) {
    let unit = match kind {
        ScoreKind::Probability => "",
        ScoreKind::Logit => " (logit)",
        ScoreKind::Residual => " (mean residual)",
    };
    let f = |e: &fracdet_eval::Estimate| match (e.value, &e.ci) {
        (Some(v), Some(ci)) => format!("{v:.3} [{:.3}, {:.3}]", ci.lower, ci.upper),
        (Some(v), None) => format!("{v:.3}"),
        (None, _) => "n/a".into(),
    };
    println!(
        "{n} images ({} fractured) scored in {seconds:.1} s ({:.1} img/s)",
        report.n_positive,
        n as f64 / seconds.max(1e-9)
    );
    println!(
        "AUROC {}  AP {}  Brier {}  ECE {}",
        f(&report.auroc),
        f(&report.average_precision),
        f(&report.calibration.brier),
        f(&report.calibration.ece)
    );
    match &report.calibrated {
        Some(c) => println!(
            "calibrated ({}): Brier {}  ECE {}{}",
            c.temperature.describe(),
            f(&c.after.brier),
            f(&c.after.ece),
            if c.in_sample { " (in-sample)" } else { "" }
        ),
        None => println!("probabilities uncalibrated (no temperature stored)"),
    }
    for p in &report.at_operating_points {
        println!(
            "{}{:<18} threshold{unit} {:.4}: sensitivity {}  specificity {}",
            if p.name == primary { "* " } else { "  " },
            p.name,
            p.metrics.threshold,
            f(&p.metrics.sensitivity),
            f(&p.metrics.specificity)
        );
    }
    if let Some(d) = &report.detection {
        let o = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |x| format!("{x:.3}"));
        println!(
            "boxes: AP50 {}  recall@IoU0.3 {} / {} / {} at 0.5 / 1 / 2 FP per image  \
             median drawn/true area {}",
            o(d.ap50),
            o(d.recall_at(0.3, 0.5)),
            o(d.recall_at(0.3, 1.0)),
            o(d.recall_at(0.3, 2.0)),
            o(d.median_area_ratio)
        );
    }
    println!("report: {}", out.join("report.html").display());
}
