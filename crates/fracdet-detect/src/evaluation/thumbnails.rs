//! The report's case thumbnails: the most confident finds, misses and false alarms at the
//! headline threshold, each with the annotated boxes (green) and, on flagged images, the
//! boxes `detect` would draw (orange), over the heatmap computed while scoring.

use fracdet_eval::html::{CaseThumbnail, PngColor, draw_box_outline, encode_png, overlay_rgb};
use fracdet_io::preprocess::letterbox;
use fracdet_io::{BBox, ReadOptions, read_radiograph};

use super::scoring::ScoredImage;
use crate::scorer::Scorer;

/// Side of the thumbnails, pixels.
pub const THUMB_SIZE: u32 = 192;
/// Annotated fracture boxes.
pub const ANNOTATED: [u8; 3] = [40, 230, 60];
/// Boxes the model draws.
pub const DRAWN: [u8; 3] = [255, 150, 20];

/// Thumbnails of the three kinds of case, most confident first, at most `k` of each.
#[derive(Debug, Clone, Default)]
pub struct ErrorCases {
    /// Fractures found, highest score first.
    pub true_positives: Vec<CaseThumbnail>,
    /// Fractures missed, lowest score first.
    pub false_negatives: Vec<CaseThumbnail>,
    /// Normal images flagged, highest score first.
    pub false_positives: Vec<CaseThumbnail>,
}

/// Every case at `threshold` (on the score), in the order they are shown: true
/// positives, false negatives, false positives.
pub fn select_cases(scored: &[ScoredImage], threshold: f64) -> [Vec<&ScoredImage>; 3] {
    let flagged = |s: &ScoredImage| f64::from(s.score) >= threshold;
    let mut tps: Vec<&ScoredImage> = scored.iter().filter(|s| s.label && flagged(s)).collect();
    tps.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut fns: Vec<&ScoredImage> = scored.iter().filter(|s| s.label && !flagged(s)).collect();
    fns.sort_by(|a, b| a.score.total_cmp(&b.score));
    let mut fps: Vec<&ScoredImage> = scored.iter().filter(|s| !s.label && flagged(s)).collect();
    fps.sort_by(|a, b| b.score.total_cmp(&a.score));
    [tps, fns, fps]
}

/// Thumbnails of the first `k` cases of each kind at `threshold`, boxes drawn at
/// `drawn_at` ([`Scorer::boxes`]); images that can no longer be read are left out (not
/// replaced: the report says which were the most confident).
pub fn error_cases(
    scored: &[ScoredImage],
    scorer: &Scorer,
    threshold: f64,
    drawn_at: Option<f32>,
    k: usize,
) -> ErrorCases {
    let thumbs = |cases: &[&ScoredImage]| -> Vec<CaseThumbnail> {
        cases
            .iter()
            .take(k)
            .filter_map(|s| {
                let drawn: Vec<BBox> = if f64::from(s.score) >= threshold {
                    scorer
                        .boxes(&s.scored(), &s.transform, drawn_at)
                        .into_iter()
                        .map(|b| b.bbox)
                        .collect()
                } else {
                    Vec::new()
                };
                thumbnail(s, &drawn)
            })
            .collect()
    };
    let [tps, fns, fps] = select_cases(scored, threshold);
    ErrorCases {
        true_positives: thumbs(&tps),
        false_negatives: thumbs(&fns),
        false_positives: thumbs(&fps),
    }
}

/// One thumbnail: the image letterboxed to [`THUMB_SIZE`], its heatmap blended in, the
/// annotated boxes and `drawn` (original pixels) outlined. `None` when it cannot be read.
pub fn thumbnail(s: &ScoredImage, drawn: &[BBox]) -> Option<CaseThumbnail> {
    let r = read_radiograph(&s.sample.image, &ReadOptions::default()).ok()?;
    let (canvas, t) = letterbox(&r, THUMB_SIZE);
    let heat = s.map.as_ref().map(|m| m.resample(THUMB_SIZE as usize));
    let mut rgb = overlay_rgb(&canvas, heat.as_deref(), 0.45).ok()?;
    for (boxes, color) in [(s.sample.boxes.as_slice(), ANNOTATED), (drawn, DRAWN)] {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::testing::image;

    fn names(cases: &[&ScoredImage]) -> Vec<String> {
        cases.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn cases_are_sorted_most_confident_first() {
        let scored = [
            image("tp_low", true, 0.6),
            image("fn_near", true, 0.4),
            image("tp_high", true, 0.95),
            image("fp_low", false, 0.5),
            image("tn", false, 0.1),
            image("fn_far", true, 0.05),
            image("fp_high", false, 0.8),
        ];
        let [tps, fns, fps] = select_cases(&scored, 0.5);
        assert_eq!(names(&tps), ["tp_high", "tp_low"]);
        // A miss the model was surest of (lowest score) leads.
        assert_eq!(names(&fns), ["fn_far", "fn_near"]);
        // At the threshold is flagged.
        assert_eq!(names(&fps), ["fp_high", "fp_low"]);
    }

    #[test]
    fn thumbnails_outline_annotated_boxes_green_and_drawn_boxes_orange() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        // Already thumbnail-sized, so original pixels are thumbnail pixels.
        ::image::GrayImage::from_pixel(THUMB_SIZE, THUMB_SIZE, ::image::Luma([100u8]))
            .save(&path)
            .unwrap();
        let mut s = image("a.png", true, 0.9);
        s.sample.image = path;
        s.sample.boxes = vec![BBox::new(20.0, 20.0, 60.0, 60.0)];
        let drawn = [BBox::new(100.0, 100.0, 150.0, 150.0)];
        let thumb = thumbnail(&s, &drawn).unwrap();
        assert_eq!((thumb.image.as_str(), thumb.heatmap), ("a.png", false));
        let png = ::image::load_from_memory(&thumb.png).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (THUMB_SIZE, THUMB_SIZE));
        assert_eq!(png.get_pixel(40, 20).0, ANNOTATED);
        // The box is [x_min, x_max) x [y_min, y_max): its bottom edge is the row above y_max.
        assert_eq!(png.get_pixel(125, 149).0, DRAWN);
        assert_ne!(png.get_pixel(125, 150).0, DRAWN);
        // Away from any box the radiograph shows through, grey.
        let grey = png.get_pixel(90, 180).0;
        assert!(grey[0] == grey[1] && grey[1] == grey[2], "{grey:?}");
        // An image that vanished since scoring gets no thumbnail, and no panic.
        s.sample.image = dir.path().join("gone.png");
        assert!(thumbnail(&s, &drawn).is_none());
    }
}
