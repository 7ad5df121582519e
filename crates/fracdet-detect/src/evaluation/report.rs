//! Writes a report directory: metrics.json, predictions.csv, the PNG figures and a
//! self-contained report.html.

use std::path::{Path, PathBuf};

use fracdet_eval::html::{HtmlReport, render_html};
use fracdet_eval::report_figures::{FigureInputs, report_figures};
use fracdet_eval::threshold_policy::headline_point;
use fracdet_eval::{MetricsReport, Settled, write_predictions};
use fracdet_io::dataset::Split;

use super::error::{EvaluationError, Result};
use super::notes::{localisation_note, report_warnings, score_note};
use super::predictions::prediction_rows;
use super::scoring::SplitScores;
use super::thumbnails::error_cases;
use crate::scorer::Scorer;

/// What the report says about the evaluation besides its numbers.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// Report directory (created if missing).
    pub out: PathBuf,
    /// Model directory or bundle, as given.
    pub model: PathBuf,
    /// Dataset root, as given.
    pub data: PathBuf,
    pub split: Split,
    /// What made the report ("fracdet 0.1.0").
    pub made_by: String,
    /// Seconds the scoring took.
    pub seconds: f64,
    /// Most confident cases of each kind shown.
    pub cases: usize,
    /// Images the applicability check refuses were scored as well.
    pub assess_anyway: bool,
}

/// Writes the report of `scores` into `context.out`; returns warnings for the user about
/// parts left out (a figure that could not be drawn).
pub fn write_report(
    context: &ReportContext,
    scores: &SplitScores,
    scorer: &Scorer,
    settled: &Settled,
    report: &MetricsReport,
) -> Result<Vec<String>> {
    let out = &context.out;
    std::fs::create_dir_all(out).map_err(|source| EvaluationError::CreateDir {
        path: out.display().to_string(),
        source,
    })?;
    let kind = scorer.score_kind();
    let points = settled.points();
    write(&out.join("metrics.json"), report.to_json()?.as_bytes())?;
    let rows = prediction_rows(
        &scores.scored,
        points,
        kind,
        settled.record.calibration.as_ref(),
    );
    write(&out.join("predictions.csv"), &write_predictions(&rows)?)?;

    let primary = headline_point(points);
    let training_log = context.model.join(fracdet_run::checkpoint::METRICS_FILE);
    let (labels, ranked, probabilities) =
        (scores.labels(), scores.scores(), scores.probabilities());
    let (figures, notes) = report_figures(
        out,
        &FigureInputs {
            labels: &labels,
            scores: &ranked,
            probabilities: &probabilities,
            report,
            points,
            primary,
            primary_probability: kind.to_probability(primary.1.threshold),
            training_log: Some(&training_log),
        },
    )?;
    let drawn_at = points.box_threshold.map(|b| b.score);
    let cases = error_cases(
        &scores.scored,
        scorer,
        primary.1.threshold,
        drawn_at,
        context.cases,
    );
    let mut lines = vec![
        (
            "Model".into(),
            format!("{} ({})", context.model.display(), scorer.describe()),
        ),
        (
            "Data".into(),
            format!("{} — split {}", context.data.display(), context.split),
        ),
        (
            "Evaluated".into(),
            format!("{} in {:.1} s", context.made_by, context.seconds),
        ),
    ];
    lines.extend(score_note(kind).map(|note| ("Score".to_string(), note)));
    let html = render_html(&HtmlReport {
        title: format!("Fracture detection — evaluation on {}", context.split),
        context: lines,
        metrics: report,
        primary: primary.0.to_string(),
        operating_point_origin: settled.origin.clone(),
        figures,
        true_positives: cases.true_positives,
        false_negatives: cases.false_negatives,
        false_positives: cases.false_positives,
        localisation_note: report
            .localisation
            .as_ref()
            .map(|l| localisation_note(scorer, l.n_images)),
        warnings: report_warnings(report, scores, settled.chosen_here, context.assess_anyway),
    });
    write(&out.join("report.html"), html.as_bytes())?;
    Ok(notes)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| EvaluationError::Write {
        path: path.display().to_string(),
        source,
    })
}
