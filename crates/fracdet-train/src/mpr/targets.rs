//! Cell targets of the grid detector from fracture boxes.
//!
//! Three kinds of image: a fractured image with boxes has cell targets (cells its boxes
//! cover are positive, the rest negative); a fractured image without boxes has none, so it
//! trains the image-level term only (where the fracture is, is unknown); a non-fractured
//! image has every cell negative.

use fracdet_io::BBox;

/// What one image contributes to the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTargets {
    /// Whether the image shows a fracture.
    pub label: bool,
    /// `gh * gw` cell targets in {0, 1}, row-major; `None` when unknown (fractured, no box).
    pub cells: Option<Vec<f32>>,
}

/// Cell targets for `boxes` (canvas pixels) on a `size` canvas tiled by a `grid_w` x
/// `grid_h` grid: cell `(x, y)` spans `[x·size/grid_w, (x+1)·size/grid_w)` (same for y) and
/// is positive (1.0) when a box covers at least `min_overlap` of the smaller of the cell's
/// and the box's area (any overlap at all when `min_overlap` is 0). Empty boxes and an
/// empty grid give all-zero / empty targets.
pub fn cell_targets(
    boxes: &[BBox],
    size: u32,
    grid_w: usize,
    grid_h: usize,
    min_overlap: f32,
) -> Vec<f32> {
    let mut out = vec![0.0f32; grid_w * grid_h];
    if grid_w == 0 || grid_h == 0 || size == 0 {
        return out;
    }
    let (cw, ch) = (size as f32 / grid_w as f32, size as f32 / grid_h as f32);
    for b in boxes.iter().filter(|b| b.is_valid() && b.area() > 0.0) {
        let need = min_overlap * b.area().min(cw * ch);
        // Only cells the box can touch.
        let x0 = ((b.x_min / cw).floor().max(0.0) as usize).min(grid_w - 1);
        let x1 = ((b.x_max / cw).ceil().max(0.0) as usize).min(grid_w);
        let y0 = ((b.y_min / ch).floor().max(0.0) as usize).min(grid_h - 1);
        let y1 = ((b.y_max / ch).ceil().max(0.0) as usize).min(grid_h);
        for y in y0..y1 {
            for x in x0..x1 {
                let cell = BBox::new(
                    x as f32 * cw,
                    y as f32 * ch,
                    (x + 1) as f32 * cw,
                    (y + 1) as f32 * ch,
                );
                let iw = (cell.x_max.min(b.x_max) - cell.x_min.max(b.x_min)).max(0.0);
                let ih = (cell.y_max.min(b.y_max) - cell.y_min.max(b.y_min)).max(0.0);
                let inter = iw * ih;
                if inter > 0.0 && inter >= need {
                    out[y * grid_w + x] = 1.0;
                }
            }
        }
    }
    out
}

/// The targets of one image: see the module documentation.
pub fn image_targets(
    label: bool,
    boxes: &[BBox],
    size: u32,
    grid_w: usize,
    grid_h: usize,
    min_overlap: f32,
) -> ImageTargets {
    let cells = match (label, boxes.is_empty()) {
        (true, true) => None,
        (true, false) => Some(cell_targets(boxes, size, grid_w, grid_h, min_overlap)),
        (false, _) => Some(vec![0.0; grid_w * grid_h]),
    };
    ImageTargets { label, cells }
}

/// Negative and positive cell counts over images with cell targets.
pub fn count_cells<'a>(targets: impl IntoIterator<Item = &'a ImageTargets>) -> (u64, u64) {
    let (mut neg, mut pos) = (0u64, 0u64);
    for t in targets {
        if let Some(cells) = &t.cells {
            let p = cells.iter().filter(|&&v| v > 0.5).count() as u64;
            pos += p;
            neg += cells.len() as u64 - p;
        }
    }
    (neg, pos)
}

/// The cell term's positive weight, negative / positive cells; 1 when there is no positive
/// cell (then the weight multiplies nothing).
pub fn cell_pos_weight(negative: u64, positive: u64) -> f32 {
    if positive == 0 {
        1.0
    } else {
        (negative as f64 / positive as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_mark_the_cells_they_cover() {
        // 64 px canvas, 4x4 cells of 16 px.
        // A box over [10, 40) x [20, 30): overlaps cells x 0..=2, y 1.
        let b = BBox::new(10.0, 20.0, 40.0, 30.0);
        let t = cell_targets(&[b], 64, 4, 4, 0.0);
        let on: Vec<usize> = (0..16).filter(|&i| t[i] == 1.0).collect();
        assert_eq!(on, vec![4, 5, 6]);
        // Overlaps: cell 4 covers 6x10 = 60, cell 5 16x10 = 160, cell 6 8x10 = 80 of a box
        // of 300 and cells of 256; the smaller area is 256, so 0.25 needs 64.
        let t = cell_targets(&[b], 64, 4, 4, 0.25);
        let on: Vec<usize> = (0..16).filter(|&i| t[i] == 1.0).collect();
        assert_eq!(on, vec![5, 6]);
        // A 4x4 box inside one cell counts in full whatever the threshold.
        let small = BBox::new(50.0, 50.0, 54.0, 54.0);
        let t = cell_targets(&[small], 64, 4, 4, 1.0);
        assert_eq!(t.iter().sum::<f32>(), 1.0);
        assert_eq!(t[15], 1.0);
        // A box on a cell edge touches nothing beyond it; boxes past the canvas are clipped.
        let t = cell_targets(&[BBox::new(16.0, 0.0, 32.0, 16.0)], 64, 4, 4, 0.0);
        assert_eq!(t.iter().sum::<f32>(), 1.0);
        assert_eq!(t[1], 1.0);
        let t = cell_targets(&[BBox::new(60.0, 60.0, 90.0, 90.0)], 64, 4, 4, 0.0);
        assert_eq!(t[15], 1.0);
        assert_eq!(t.iter().sum::<f32>(), 1.0);
        let t = cell_targets(&[BBox::new(f32::NAN, 0.0, 5.0, 5.0)], 64, 4, 4, 0.0);
        assert_eq!(t.iter().sum::<f32>(), 0.0);
    }

    #[test]
    fn three_kinds_of_image_and_the_weight() {
        let b = [BBox::new(0.0, 0.0, 16.0, 16.0)];
        let pos = image_targets(true, &b, 64, 4, 4, 0.0);
        let unknown = image_targets(true, &[], 64, 4, 4, 0.0);
        let neg = image_targets(false, &b, 64, 4, 4, 0.0);
        assert_eq!(pos.cells.as_ref().unwrap().iter().sum::<f32>(), 1.0);
        assert!(unknown.cells.is_none());
        assert_eq!(neg.cells.as_ref().unwrap(), &vec![0.0; 16]);
        let (n, p) = count_cells([&pos, &unknown, &neg]);
        assert_eq!((n, p), (31, 1));
        assert_eq!(cell_pos_weight(n, p), 31.0);
        assert_eq!(cell_pos_weight(10, 0), 1.0);
    }
}
