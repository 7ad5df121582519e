//! The rows of predictions.csv for a scored split (the file format is fracdet-eval's
//! [`Prediction`]).

use fracdet_eval::{OperatingPoint, OperatingPoints, Prediction, Temperature};

use super::scoring::ScoredImage;
use crate::scorer::ScoreKind;

/// One row per image: its decision at each operating point (on the score), the logit
/// where the score is one (MPR), and with a temperature the probability `detect` shows;
/// `probability` stays the model's own, which the temperature is fitted on.
pub fn prediction_rows(
    scored: &[ScoredImage],
    points: &OperatingPoints,
    kind: ScoreKind,
    temperature: Option<&Temperature>,
) -> Vec<Prediction> {
    let decide =
        |p: Option<OperatingPoint>, s: &ScoredImage| p.map(|p| f64::from(s.score) >= p.threshold);
    scored
        .iter()
        .map(|s| Prediction {
            image: s.name.clone(),
            label: s.label,
            probability: s.probability,
            decision_fixed: decide(Some(points.fixed), s),
            decision_target_sensitivity: decide(points.at_target_sensitivity, s),
            decision_youden: decide(points.youden, s),
            logit: (kind == ScoreKind::Logit).then_some(s.score),
            calibrated_probability: temperature
                .map(|t| kind.calibrated_probability(f64::from(s.score), Some(t))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::testing::image;

    fn points() -> OperatingPoints {
        fracdet_eval::choose_operating_points(
            &[true, true, false, false],
            &[2.0, 0.5, 0.0, -1.0],
            0.25,
            1.0,
        )
        .unwrap()
    }

    #[test]
    fn decisions_are_on_the_score_and_the_logit_column_only_for_logit_scores() {
        let points = OperatingPoints {
            youden: None,
            ..points()
        };
        let scored = [image("a.png", true, 2.0), image("b.png", false, -1.0)];
        let rows = prediction_rows(&scored, &points, ScoreKind::Logit, None);
        assert_eq!(rows[0].decision_fixed, Some(true));
        assert_eq!(rows[1].decision_fixed, Some(false));
        assert_eq!(rows[0].decision_target_sensitivity, Some(true));
        // An operating point that does not exist decides nothing.
        assert_eq!(rows[0].decision_youden, None);
        assert_eq!(
            (rows[0].logit, rows[0].calibrated_probability),
            (Some(2.0), None)
        );
        let rows = prediction_rows(&scored, &points, ScoreKind::Probability, None);
        assert_eq!(rows[0].logit, None);
    }

    #[test]
    fn a_temperature_adds_the_calibrated_probability() {
        let t = fracdet_eval::fit_temperature(
            &[true, false, true, false],
            &[2.0, -1.0, 0.5, 1.0],
            "val",
        )
        .unwrap();
        let scored = [image("a.png", true, 2.0)];
        let rows = prediction_rows(&scored, &points(), ScoreKind::Logit, Some(&t));
        let expected = ScoreKind::Logit.calibrated_probability(2.0, Some(&t));
        assert_eq!(rows[0].calibrated_probability, Some(expected));
        assert_ne!(expected, ScoreKind::Logit.to_probability(2.0));
    }
}
