//! The localisation and box-detection cases of a scored split, in original image pixels,
//! for fracdet-eval's metrics.

use fracdet_eval::cell_regions::boxes_to_original;
use fracdet_eval::{
    BoxThreshold, DetectionMetrics, LocalisationCase, LocalisationMetrics, OperatingPoints,
};

use super::scoring::ScoredImage;
use crate::error::Result;
use crate::scorer::Scorer;

/// Hit rate, box recall at IoU 0.3 and FROC from the maps (CAM or MPR cell grid) of every
/// image with annotated fracture boxes; `None` when the split has no boxes.
pub fn localisation(
    scored: &[ScoredImage],
    scorer: &Scorer,
    level: f64,
) -> Result<Option<LocalisationMetrics>> {
    let cases: Vec<LocalisationCase> = scored
        .iter()
        .filter(|s| !s.sample.boxes.is_empty())
        .map(|s| scorer.localisation_case(s.sample.boxes.clone(), &s.scored(), &s.transform))
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

/// A box head's boxes as detection cases over every image: a normal image has no truth, so
/// its boxes are false positives. Empty without a box head.
pub fn detection_cases(scored: &[ScoredImage]) -> Vec<LocalisationCase> {
    if !scored.iter().any(|s| s.boxes.is_some()) {
        return Vec::new();
    }
    scored
        .iter()
        .map(|s| LocalisationCase {
            truth: if s.label {
                s.sample.boxes.clone()
            } else {
                Vec::new()
            },
            peak: None,
            predicted: s
                .boxes
                .as_deref()
                .map(|b| boxes_to_original(b, &s.transform))
                .unwrap_or_default(),
        })
        .collect()
}

/// AP50, FROC and area ratios of a box head, its boxes drawn at the validation-chosen box
/// threshold of `points`, else at the run's region threshold (0.5 without one); `None`
/// without a box head.
pub fn detection(
    scored: &[ScoredImage],
    scorer: &Scorer,
    points: &OperatingPoints,
) -> Option<DetectionMetrics> {
    let cases = detection_cases(scored);
    if cases.is_empty() {
        return None;
    }
    let drawn_at = scorer.drawing_threshold(points.box_threshold.map(|b| b.score));
    Some(fracdet_eval::detection_metrics(&cases, drawn_at))
}

/// A box head's drawing threshold, chosen on these (validation) images: the most sensitive
/// one within [`fracdet_eval::BOX_FP_BUDGET`] false-positive boxes per image. `None`
/// without a box head or annotated boxes.
pub fn choose_box_threshold(scored: &[ScoredImage]) -> Option<BoxThreshold> {
    fracdet_eval::choose_box_threshold(&detection_cases(scored), fracdet_eval::BOX_FP_BUDGET)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::testing::image;
    use fracdet_eval::ScoredBox;
    use fracdet_io::BBox;

    #[test]
    fn detection_cases_count_a_normal_images_boxes_as_false_positives() {
        let truth = BBox {
            x_min: 10.0,
            y_min: 10.0,
            x_max: 20.0,
            y_max: 20.0,
        };
        let drawn = ScoredBox {
            bbox: BBox {
                x_min: 1.0,
                y_min: 2.0,
                x_max: 3.0,
                y_max: 4.0,
            },
            score: 0.8,
        };
        // Without a box head there are no detection cases at all.
        let plain = [image("a.png", true, 0.9), image("b.png", false, 0.1)];
        assert!(detection_cases(&plain).is_empty());
        let mut fractured = image("a.png", true, 0.9);
        fractured.sample.boxes = vec![truth];
        fractured.boxes = Some(vec![drawn]);
        let mut normal = image("b.png", false, 0.7);
        // Annotations on a normal image are not truth for detection.
        normal.sample.boxes = vec![truth];
        normal.boxes = Some(vec![drawn]);
        let cases = detection_cases(&[fractured, normal, image("c.png", false, 0.2)]);
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].truth, vec![truth]);
        assert!(cases[1].truth.is_empty() && cases[2].truth.is_empty());
        // The identity letterbox: canvas pixels are original pixels.
        assert_eq!(cases[1].predicted, vec![drawn]);
        assert!(cases[2].predicted.is_empty());
    }
}
