//! The few lines `fracdet evaluate` prints when done: headline metrics with their CIs,
//! each operating point, box metrics, and where the report is.

use std::path::Path;

use fracdet_eval::MetricsReport;

use crate::scorer::ScoreKind;

/// The summary of `report` (`n` images scored in `seconds`); `primary` is the headline
/// operating point, starred. `kind` names the score thresholds are on when it is not the
/// probability.
pub fn summary(
    report: &MetricsReport,
    primary: &str,
    kind: ScoreKind,
    out: &Path,
    seconds: f64,
    n: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
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
    lines.push(format!(
        "{n} images ({} fractured) scored in {seconds:.1} s ({:.1} img/s)",
        report.n_positive,
        n as f64 / seconds.max(1e-9)
    ));
    lines.push(format!(
        "AUROC {}  AP {}  Brier {}  ECE {}",
        f(&report.auroc),
        f(&report.average_precision),
        f(&report.calibration.brier),
        f(&report.calibration.ece)
    ));
    match &report.calibrated {
        Some(c) => lines.push(format!(
            "calibrated ({}): Brier {}  ECE {}{}",
            c.temperature.describe(),
            f(&c.after.brier),
            f(&c.after.ece),
            if c.in_sample { " (in-sample)" } else { "" }
        )),
        None => lines.push("probabilities uncalibrated (no temperature stored)".to_string()),
    }
    for p in &report.at_operating_points {
        lines.push(format!(
            "{}{:<18} threshold{unit} {:.4}: sensitivity {}  specificity {}",
            if p.name == primary { "* " } else { "  " },
            p.name,
            p.metrics.threshold,
            f(&p.metrics.sensitivity),
            f(&p.metrics.specificity)
        ));
    }
    if let Some(d) = &report.detection {
        let o = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |x| format!("{x:.3}"));
        lines.push(format!(
            "boxes: AP50 {}  recall@IoU0.3 {} / {} / {} at 0.5 / 1 / 2 FP per image  \
             median drawn/true area {}",
            o(d.ap50),
            o(d.recall_at(0.3, 0.5)),
            o(d.recall_at(0.3, 1.0)),
            o(d.recall_at(0.3, 2.0)),
            o(d.median_area_ratio)
        ));
    }
    lines.push(format!("report: {}", out.join("report.html").display()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use fracdet_eval::{BootstrapConfig, choose_operating_points};

    #[test]
    fn the_headline_point_is_starred_and_logit_thresholds_say_so() {
        let labels = [true, true, false, false];
        let scores = [3.0, 1.0, 0.5, -2.0];
        let points = choose_operating_points(&labels, &scores, 0.0, 0.9).unwrap();
        let cfg = BootstrapConfig {
            n_resamples: 10,
            ..BootstrapConfig::default()
        };
        let report = MetricsReport::compute(&labels, &scores, &points, &cfg).unwrap();
        let lines = summary(
            &report,
            "target_sensitivity",
            ScoreKind::Logit,
            Path::new("out"),
            2.0,
            4,
        );
        assert_eq!(
            lines[0],
            "4 images (2 fractured) scored in 2.0 s (2.0 img/s)"
        );
        assert!(lines[1].starts_with("AUROC 1.000"), "{}", lines[1]);
        let starred: Vec<&String> = lines.iter().filter(|l| l.starts_with("* ")).collect();
        assert_eq!(starred.len(), 1);
        assert!(
            starred[0].starts_with("* target_sensitivity")
                && starred[0].contains("threshold (logit)"),
            "{}",
            starred[0]
        );
        assert_eq!(lines.last().unwrap(), "report: out/report.html");
    }
}
