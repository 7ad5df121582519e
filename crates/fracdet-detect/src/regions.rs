//! Localisation from a map over the model canvas (a CAM, or a grid of cell probabilities):
//! the peak and boxes around the hot regions, in original image pixels, for `detect` and
//! for fracdet-eval's hit rate, box recall and FROC.

use fracdet_eval::cell_regions::{CellGrid, boxes_to_original, cell_regions};
use fracdet_eval::{LocalisationCase, ScoredBox};
use fracdet_io::BBox;
use fracdet_io::preprocess::LetterboxTransform;

use crate::cam::Cam;

/// Cells at or above this fraction of the map's maximum form the predicted regions.
pub const REGION_FRACTION: f32 = 0.5;

/// The localisation case of one image: `cam` over the letterboxed model canvas (`None`
/// when no location raised the score), `t` the letterbox of that canvas, `probability`
/// the image's fracture probability (scales the box scores so FROC thresholds compare
/// across images).
pub fn localisation_case(
    truth: Vec<BBox>,
    cam: Option<&Cam>,
    t: &LetterboxTransform,
    size: u32,
    probability: f32,
) -> LocalisationCase {
    let Some(cam) = cam else {
        return LocalisationCase {
            truth,
            peak: None,
            predicted: Vec::new(),
        };
    };
    let (cell_w, cell_h) = (size as f32 / cam.w as f32, size as f32 / cam.h as f32);
    let cam = &content_only(cam, t, cell_w, cell_h);
    let peak_index = cam
        .values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    let peak = peak_index.map(|i| {
        let (x, y) = (i % cam.w, i / cam.w);
        t.to_original((x as f32 + 0.5) * cell_w, (y as f32 + 0.5) * cell_h)
    });
    let predicted = boxes_on_content(cam, t, cell_w, cell_h, probability);
    LocalisationCase {
        truth,
        peak,
        predicted,
    }
}

/// Boxes around the regions of `cam` (over the letterboxed canvas of side `size`, `t`) at
/// or above [`REGION_FRACTION`] of its maximum, ignoring padding cells, in original pixels;
/// each scored `probability` times the region's peak value.
pub fn boxes(cam: &Cam, t: &LetterboxTransform, size: u32, probability: f32) -> Vec<ScoredBox> {
    let (cell_w, cell_h) = (size as f32 / cam.w as f32, size as f32 / cam.h as f32);
    let cam = content_only(cam, t, cell_w, cell_h);
    boxes_on_content(&cam, t, cell_w, cell_h, probability)
}

fn boxes_on_content(
    cam: &Cam,
    t: &LetterboxTransform,
    cell_w: f32,
    cell_h: f32,
    probability: f32,
) -> Vec<ScoredBox> {
    regions(cam)
        .into_iter()
        .map(|(x0, y0, x1, y1, top)| ScoredBox {
            bbox: t.bbox_to_original(&BBox::new(
                x0 as f32 * cell_w,
                y0 as f32 * cell_h,
                (x1 + 1) as f32 * cell_w,
                (y1 + 1) as f32 * cell_h,
            )),
            score: probability * top,
        })
        .collect()
}

/// The localisation case of one image from an MPR grid of cell probabilities (`cells`,
/// over the letterboxed canvas of side `size`, `t`): the hottest content cell as the peak
/// and the boxes `detect` draws: regions of content cells at or above `threshold`
/// (absolute, a cell is a probability in its own right), each scored by its hottest cell,
/// or the hottest cell's region when no cell reaches `threshold`. Padding cells are
/// ignored as for a CAM.
pub fn cell_localisation_case(
    truth: Vec<BBox>,
    cells: &Cam,
    t: &LetterboxTransform,
    size: u32,
    threshold: f32,
) -> LocalisationCase {
    let (cell_w, cell_h) = (size as f32 / cells.w as f32, size as f32 / cells.h as f32);
    let content = content_only(cells, t, cell_w, cell_h);
    let peak = hottest(&content).map(|(i, _)| {
        let (x, y) = (i % content.w, i / content.w);
        t.to_original((x as f32 + 0.5) * cell_w, (y as f32 + 0.5) * cell_h)
    });
    LocalisationCase {
        truth,
        peak,
        predicted: cell_boxes(cells, t, size, threshold, true),
    }
}

/// Boxes (original pixels) around regions of content cells of `cells` at or above
/// `threshold`, scored by their hottest cell. With `at_least_peak`, when no content cell
/// reaches `threshold` the region of the hottest content cell is returned instead.
pub fn cell_boxes(
    cells: &Cam,
    t: &LetterboxTransform,
    size: u32,
    threshold: f32,
    at_least_peak: bool,
) -> Vec<ScoredBox> {
    let (cell_w, cell_h) = (size as f32 / cells.w as f32, size as f32 / cells.h as f32);
    let content = content_only(cells, t, cell_w, cell_h);
    let threshold = match hottest(&content) {
        Some((_, top)) if at_least_peak => threshold.min(top),
        Some(_) => threshold,
        None => return Vec::new(),
    };
    let Ok(grid) = CellGrid::new(&content.values, content.w, content.h, size) else {
        return Vec::new();
    };
    boxes_to_original(&cell_regions(&grid, threshold), t)
}

/// Index and value of the highest finite cell.
fn hottest(map: &Cam) -> Option<(usize, f32)> {
    map.values
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Which cells of `cam` lie on image content (see [`content_only`]), row-major.
pub fn content_cells(cam: &Cam, t: &LetterboxTransform, size: u32) -> Vec<bool> {
    let (cell_w, cell_h) = (size as f32 / cam.w as f32, size as f32 / cam.h as f32);
    content_only(cam, t, cell_w, cell_h)
        .values
        .iter()
        .map(|v| *v != f32::NEG_INFINITY)
        .collect()
}

/// `cam` with its padding cells (see [`content_only`]) set to 0, for display.
pub fn zero_padding(cam: &Cam, t: &LetterboxTransform, size: u32) -> Cam {
    let (cell_w, cell_h) = (size as f32 / cam.w as f32, size as f32 / cam.h as f32);
    let mut out = content_only(cam, t, cell_w, cell_h);
    for v in &mut out.values {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    out
}

/// The map with every cell that is mostly letterbox padding (less than half of it, along
/// either axis, on the image) set to -inf, so neither the peak nor a region can sit there:
/// the sharp image edge against the black padding attracts activation that says nothing
/// about bone.
fn content_only(cam: &Cam, t: &LetterboxTransform, cell_w: f32, cell_h: f32) -> Cam {
    let share = |start: f32, len: f32, lo: u32, extent: u32| {
        let (lo, hi) = (lo as f32, (lo + extent) as f32);
        ((start + len).min(hi) - start.max(lo)).max(0.0) / len
    };
    let mut values = cam.values.clone();
    for (i, v) in values.iter_mut().enumerate() {
        let (x, y) = ((i % cam.w) as f32, (i / cam.w) as f32);
        let on_x = share(x * cell_w, cell_w, t.pad_x, t.scaled_width);
        let on_y = share(y * cell_h, cell_h, t.pad_y, t.scaled_height);
        if on_x < 0.5 || on_y < 0.5 {
            *v = f32::NEG_INFINITY;
        }
    }
    Cam {
        values,
        h: cam.h,
        w: cam.w,
    }
}

/// 4-connected regions of cells >= REGION_FRACTION (the map is normalised to max 1):
/// `(x_min, y_min, x_max, y_max, peak value)` in cells, inclusive.
fn regions(cam: &Cam) -> Vec<(usize, usize, usize, usize, f32)> {
    fracdet_eval::cell_regions::hot_regions(&cam.values, cam.w, cam.h, REGION_FRACTION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_regions_and_peak_in_original_pixels() {
        // 4x2 map: a hot pair on the left, a single hot cell on the right.
        let cam = Cam {
            values: vec![1.0, 0.6, 0.1, 0.0, 0.2, 0.1, 0.0, 0.7],
            h: 2,
            w: 4,
        };
        let r = regions(&cam);
        assert_eq!(r, vec![(0, 0, 1, 0, 1.0), (3, 1, 3, 1, 0.7)]);
        // A 200x100 image letterboxed to 64: scale 0.32, 16 px of padding above and below.
        let t = LetterboxTransform::new(200, 100, 64);
        let truth = vec![BBox::new(0.0, 0.0, 60.0, 40.0)];
        let c = localisation_case(truth, Some(&cam), &t, 64, 0.5);
        let (px, py) = c.peak.unwrap();
        // Cell (0,0) centre in the canvas is (8, 16) -> original (25, 0).
        assert!((px - 25.0).abs() < 1e-3 && py.abs() < 1e-3, "{px},{py}");
        assert_eq!(c.predicted.len(), 2);
        assert!((c.predicted[0].score - 0.5).abs() < 1e-6);
        assert!((c.predicted[1].score - 0.35).abs() < 1e-6);
        let b = c.predicted[0].bbox;
        assert!(
            (b.x_min - 0.0).abs() < 1e-3 && (b.x_max - 100.0).abs() < 1e-3,
            "{b:?}"
        );
        // A 100x200 image letterboxed to 64: 16 px of padding left and right, so in a 4x2
        // map the outer columns are all padding; their hotter values must be ignored.
        let tall = LetterboxTransform::new(100, 200, 64);
        let edge = Cam {
            values: vec![1.0, 0.2, 0.8, 1.0, 1.0, 0.1, 0.3, 1.0],
            h: 2,
            w: 4,
        };
        let c = localisation_case(Vec::new(), Some(&edge), &tall, 64, 1.0);
        let (px, py) = c.peak.unwrap();
        // Cell (2,0) centre in the canvas is (40, 16) -> original ((40-16)/0.32, 16/0.32).
        assert!(
            (px - 75.0).abs() < 1e-3 && (py - 50.0).abs() < 1e-3,
            "{px},{py}"
        );
        assert_eq!(c.predicted.len(), 1, "{:?}", c.predicted);
        let empty = localisation_case(Vec::new(), None, &t, 64, 0.9);
        assert!(empty.peak.is_none() && empty.predicted.is_empty());
    }

    #[test]
    fn cell_grid_regions_skip_padding_and_fall_back_to_the_peak() {
        // 100x200 image on a 64 px canvas: 16 px of padding left and right, so the outer
        // columns of a 4x2 grid are padding; their (hotter) cells must not count.
        let tall = LetterboxTransform::new(100, 200, 64);
        let cells = Cam {
            values: vec![0.9, 0.2, 0.6, 0.95, 0.9, 0.1, 0.3, 0.95],
            h: 2,
            w: 4,
        };
        let c = cell_localisation_case(Vec::new(), &cells, &tall, 64, 0.5);
        let (px, py) = c.peak.unwrap();
        // Cell (2,0) centre (40, 16) -> original ((40-16)/0.32, 16/0.32).
        assert!(
            (px - 75.0).abs() < 1e-3 && (py - 50.0).abs() < 1e-3,
            "{px},{py}"
        );
        assert_eq!(c.predicted.len(), 1, "{:?}", c.predicted);
        let b = c.predicted[0];
        assert_eq!(b.score, 0.6);
        assert!((b.bbox.x_min - 50.0).abs() < 1e-3 && (b.bbox.x_max - 100.0).abs() < 1e-3);
        assert!(b.bbox.y_min.abs() < 1e-3 && (b.bbox.y_max - 100.0).abs() < 1e-3);
        // Nothing on the image reaches 0.7: no region, unless the peak is asked for.
        assert!(cell_boxes(&cells, &tall, 64, 0.7, false).is_empty());
        let fallback = cell_boxes(&cells, &tall, 64, 0.7, true);
        assert_eq!(fallback.len(), 1);
        assert_eq!(fallback[0].bbox, b.bbox);
        // evaluate scores the boxes detect draws: the peak's region here too.
        let c = cell_localisation_case(Vec::new(), &cells, &tall, 64, 0.7);
        assert_eq!(c.predicted.len(), 1);
        assert_eq!(c.predicted[0].bbox, b.bbox);
    }
}
