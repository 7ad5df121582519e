//! The words of `fracdet evaluate`'s report beside its numbers: what the score is, how
//! localisation was measured, and the warnings a reader must see.

use fracdet_eval::MetricsReport;

use super::scoring::SplitScores;
use crate::scorer::{ScoreKind, Scorer};

/// How the localisation numbers were made, for the report.
pub fn localisation_note(scorer: &Scorer, n_images: usize) -> String {
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
            100.0 * crate::regions::REGION_FRACTION,
            cell = scorer.input_size() as usize / scorer.grid_side().unwrap_or(1)
        ),
        None => format!(
            "From the model's class activation map on the {n_images} images with annotated \
             fracture boxes: the map's peak, and boxes around regions at >= {:.0}% of its maximum \
             scored by probability x region peak. The map has one cell per 32 input pixels, so \
             boxes are coarse.",
            100.0 * crate::regions::REGION_FRACTION
        ),
    }
}

/// The report's "Score" context line, for scores that are not a probability.
pub fn score_note(kind: ScoreKind) -> Option<String> {
    match kind {
        ScoreKind::Probability => None,
        ScoreKind::Residual => Some(
            "the inpainter's mean residual in the hottest 16-pixel cell: no detector was \
             trained, and the score is not a probability (calibration figures do not apply)"
                .into(),
        ),
        ScoreKind::Logit => Some(
            "image logit: ROC, AUROC, AP and every threshold here rank the logit (the \
             detector's probabilities saturate at 1.0); calibration and histograms use \
             probabilities"
                .into(),
        ),
    }
}

/// The report's warnings: thresholds chosen on this split, images left out (unreadable,
/// not assessed), `assess_anyway`, and subgroups too small to trust.
pub fn report_warnings(
    report: &MetricsReport,
    scores: &SplitScores,
    chosen_here: bool,
    assess_anyway: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if chosen_here {
        warnings.push(
            "These numbers are on the validation split the thresholds were chosen on; report test-split \
             results for an unbiased estimate."
                .to_string(),
        );
    }
    if !scores.failed.is_empty() {
        warnings.push(format!(
            "{} image(s) could not be read and are not counted.",
            scores.failed.len()
        ));
    }
    let not_assessed = &scores.not_assessed;
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
    if assess_anyway {
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
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::scoring::Unreadable;
    use crate::evaluation::testing::image;
    use fracdet_eval::{BootstrapConfig, NotAssessedImage, choose_operating_points};
    use fracdet_io::applicability::NotAssessed;

    fn report() -> MetricsReport {
        let labels = [true, false];
        let points = choose_operating_points(&labels, &[0.9, 0.1], 0.5, 0.9).unwrap();
        let cfg = BootstrapConfig {
            n_resamples: 10,
            ..BootstrapConfig::default()
        };
        MetricsReport::compute(&labels, &[0.9, 0.1], &points, &cfg).unwrap()
    }

    #[test]
    fn warnings_name_what_was_left_out_and_why() {
        let mut scores = SplitScores {
            scored: vec![image("a.png", true, 0.9), image("b.png", false, 0.1)],
            ..SplitScores::default()
        };
        assert!(report_warnings(&report(), &scores, false, false).is_empty());
        scores.failed.push(Unreadable {
            image: "c.png".into(),
            reason: "truncated".into(),
        });
        let reason = NotAssessed::Blank { std: 0.0 };
        scores.not_assessed.push(NotAssessedImage {
            image: "d.png".into(),
            label: true,
            message: reason.describe(),
            reason,
        });
        let w = report_warnings(&report(), &scores, true, true);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].starts_with("These numbers are on the validation split"));
        assert_eq!(w[1], "1 image(s) could not be read and are not counted.");
        assert!(w[2].starts_with("1 image(s) (1 fractured) were not assessed"));
        assert!(w[2].contains("d.png: "), "{}", w[2]);
        assert!(w[3].starts_with("--assess-anyway"));
    }

    #[test]
    fn only_scores_that_are_not_probabilities_get_a_note() {
        assert_eq!(score_note(ScoreKind::Probability), None);
        assert!(
            score_note(ScoreKind::Logit)
                .unwrap()
                .starts_with("image logit")
        );
        assert!(
            score_note(ScoreKind::Residual)
                .unwrap()
                .contains("not a probability")
        );
    }
}
