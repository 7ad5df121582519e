//! The PNG figures of `fracdet evaluate`'s report: drawn into the report directory, then
//! read back to be inlined into report.html, so the files and the page show the same.

use std::path::Path;

use crate::error::{EvalError, Result};
use crate::html::Figure;
use crate::operating::{OperatingPoint, OperatingPoints};
use crate::plot::{
    DEFAULT_SIZE, plot_confusion_matrix, plot_pr, plot_reliability, plot_roc,
    plot_score_histograms, plot_training_curves,
};
use crate::report::MetricsReport;
use crate::training_log::TrainingLog;
use crate::{pr_curve, roc_band, roc_curve};

/// What the figures are drawn from.
pub struct FigureInputs<'a> {
    pub labels: &'a [bool],
    /// What the points threshold (ROC, PR).
    pub scores: &'a [f32],
    /// What the histograms show.
    pub probabilities: &'a [f32],
    pub report: &'a MetricsReport,
    pub points: &'a OperatingPoints,
    /// The headline point (name, point); its threshold is on the score.
    pub primary: (&'a str, OperatingPoint),
    /// The headline threshold as a probability, for the histograms.
    pub primary_probability: f64,
    /// The model's metrics.csv, when it was trained here.
    pub training_log: Option<&'a Path>,
}

/// Draws every figure into `out` and returns them for the HTML report, with warnings
/// about figures left out (a training log that cannot be read).
pub fn report_figures(out: &Path, inputs: &FigureInputs) -> Result<(Vec<Figure>, Vec<String>)> {
    let mut figures = Vec::new();
    let mut warnings = Vec::new();
    let mut add = |file: &str, title: &str, caption: &str| -> Result<()> {
        let path = out.join(file);
        let png = std::fs::read(&path).map_err(|source| EvalError::Io {
            path: path.display().to_string(),
            source,
        })?;
        figures.push(Figure {
            title: title.into(),
            caption: caption.into(),
            png,
        });
        Ok(())
    };
    let named: Vec<(&str, OperatingPoint)> = [
        ("fixed", Some(inputs.points.fixed)),
        ("target sens.", inputs.points.at_target_sensitivity),
        ("Youden", inputs.points.youden),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.map(|p| (n, p)))
    .collect();
    if let Some(curve) = roc_curve(inputs.labels, inputs.scores)? {
        let band = roc_band(inputs.labels, inputs.scores, 101, &inputs.report.bootstrap)?;
        plot_roc(
            &out.join("roc.png"),
            "ROC curve",
            &curve,
            band.as_ref(),
            &inputs.report.auroc,
            &named,
            DEFAULT_SIZE,
        )?;
        add(
            "roc.png",
            "ROC curve",
            "Sensitivity against false-positive rate over all thresholds; the shaded band is the 95% bootstrap interval, markers are the operating points.",
        )?;
    }
    if let Some(curve) = pr_curve(inputs.labels, inputs.scores)? {
        plot_pr(
            &out.join("pr.png"),
            "Precision-recall curve",
            &curve,
            &inputs.report.average_precision,
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
        &inputs.report.calibration,
        DEFAULT_SIZE,
    )?;
    add(
        "reliability.png",
        if inputs.report.calibrated.is_some() {
            "Reliability diagram, before calibration"
        } else {
            "Reliability diagram (uncalibrated)"
        },
        "Observed fracture rate against predicted probability; points on the diagonal mean the probabilities can be taken at face value.",
    )?;
    if let Some(c) = &inputs.report.calibrated {
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
    if let Some(at) = inputs
        .report
        .at_operating_points
        .iter()
        .find(|p| p.name == inputs.primary.0)
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
        inputs.labels,
        inputs.probabilities,
        20,
        Some(inputs.primary_probability),
        DEFAULT_SIZE,
    )?;
    add(
        "scores.png",
        "Score histograms",
        "Distribution of the model's probability for images with and without fracture; the line is the headline threshold.",
    )?;
    if let Some(log_path) = inputs.training_log.filter(|p| p.exists()) {
        match TrainingLog::read(log_path).and_then(|log| {
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
            Err(e) => warnings.push(format!("no training-curve plot: {e}")),
        }
    }
    Ok((figures, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BootstrapConfig, choose_operating_points};

    #[test]
    fn figures_are_written_and_inlined_and_a_bad_training_log_is_only_a_warning() {
        let labels = [true, true, true, false, false, false];
        let scores = [0.9, 0.7, 0.4, 0.6, 0.2, 0.1];
        let points = choose_operating_points(&labels, &scores, 0.5, 0.9).unwrap();
        let cfg = BootstrapConfig {
            n_resamples: 20,
            ..BootstrapConfig::default()
        };
        let report = MetricsReport::compute(&labels, &scores, &points, &cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("metrics.csv");
        std::fs::write(&log, "not,a,training,log\n").unwrap();
        let inputs = FigureInputs {
            labels: &labels,
            scores: &scores,
            probabilities: &scores,
            report: &report,
            points: &points,
            primary: ("fixed", points.fixed),
            primary_probability: 0.5,
            training_log: Some(&log),
        };
        let (figures, warnings) = report_figures(dir.path(), &inputs).unwrap();
        let titles: Vec<&str> = figures.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "ROC curve",
                "Precision–recall curve",
                "Reliability diagram (uncalibrated)",
                "Confusion matrix",
                "Score histograms"
            ]
        );
        // What the page inlines is what is on disk.
        assert_eq!(
            figures[0].png,
            std::fs::read(dir.path().join("roc.png")).unwrap()
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("no training-curve plot"));
        // No log at all: nothing to warn about.
        let no_log = FigureInputs {
            training_log: None,
            ..inputs
        };
        assert!(report_figures(dir.path(), &no_log).unwrap().1.is_empty());
    }
}
