//! Cell targets of the grid detector from fracture boxes.
//!
//! Three kinds of image: a fractured image with boxes has cell targets (cells its boxes
//! cover are positive, the rest negative); a fractured image without boxes has none, so it
//! trains the image-level term only (where the fracture is, is unknown); a non-fractured
//! image has every cell negative.

use fracdet_io::BBox;
use fracdet_run::mpr::BoxCells;
use fracdet_run::mpr::boxes::BoxGrid;

/// What one image contributes to the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTargets {
    /// Whether the image shows a fracture.
    pub label: bool,
    /// `gh * gw` cell targets in {0, 1}, row-major; `None` when unknown (fractured, no box).
    pub cells: Option<Vec<f32>>,
    /// The box head's targets: (cell index, the box that cell regresses), for the positive
    /// cells [`BoxCells`] names, plus the cell holding each box's centre so that every box
    /// is regressed by at least one cell.
    pub regress: Vec<(usize, BBox)>,
}

/// For every cell of a `size` canvas tiled by a `grid_w` x `grid_h` grid, the box it
/// belongs to (an index into `boxes`), if any: cell `(x, y)` spans
/// `[x·size/grid_w, (x+1)·size/grid_w)` (same for y) and belongs to a box covering at least
/// `min_overlap` of the smaller of the cell's and the box's area (any overlap at all when
/// `min_overlap` is 0); where boxes share a cell, the smallest one owns it. Empty and
/// invalid boxes own nothing.
pub fn cell_owners(
    boxes: &[BBox],
    size: u32,
    grid_w: usize,
    grid_h: usize,
    min_overlap: f32,
) -> Vec<Option<usize>> {
    let mut out = vec![None; grid_w * grid_h];
    if grid_w == 0 || grid_h == 0 || size == 0 {
        return out;
    }
    let (cw, ch) = (size as f32 / grid_w as f32, size as f32 / grid_h as f32);
    let mut order: Vec<usize> = (0..boxes.len())
        .filter(|&i| boxes[i].is_valid() && boxes[i].area() > 0.0)
        .collect();
    // Largest first, so smaller boxes overwrite the cells they share.
    order.sort_by(|&a, &b| boxes[b].area().total_cmp(&boxes[a].area()));
    for i in order {
        let b = &boxes[i];
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
                    out[y * grid_w + x] = Some(i);
                }
            }
        }
    }
    out
}

/// Cell targets for `boxes` (canvas pixels): 1.0 for every cell a box owns
/// ([`cell_owners`]), else 0.0.
pub fn cell_targets(
    boxes: &[BBox],
    size: u32,
    grid_w: usize,
    grid_h: usize,
    min_overlap: f32,
) -> Vec<f32> {
    cell_owners(boxes, size, grid_w, grid_h, min_overlap)
        .iter()
        .map(|o| if o.is_some() { 1.0 } else { 0.0 })
        .collect()
}

/// The box head's targets (see [`ImageTargets::regress`]), sorted by cell.
pub fn regression_targets(
    boxes: &[BBox],
    size: u32,
    grid_w: usize,
    grid_h: usize,
    min_overlap: f32,
    which: BoxCells,
) -> Vec<(usize, BBox)> {
    let grid = BoxGrid {
        grid_w,
        grid_h,
        side: size,
    };
    let mut out: Vec<(usize, BBox)> = cell_owners(boxes, size, grid_w, grid_h, min_overlap)
        .iter()
        .enumerate()
        .filter_map(|(cell, owner)| owner.map(|o| (cell, boxes[o])))
        .filter(|(cell, b)| which == BoxCells::AllPositive || grid.encode(*cell, b).is_some())
        .collect();
    if grid_w > 0 && grid_h > 0 && size > 0 {
        let (cw, ch) = grid.cell();
        for b in boxes.iter().filter(|b| b.is_valid() && b.area() > 0.0) {
            let cx = ((b.x_min + b.x_max) / 2.0 / cw).floor();
            let cy = ((b.y_min + b.y_max) / 2.0 / ch).floor();
            if cx < 0.0 || cy < 0.0 || cx >= grid_w as f32 || cy >= grid_h as f32 {
                continue;
            }
            let cell = cy as usize * grid_w + cx as usize;
            if !out.iter().any(|(c, _)| *c == cell) {
                out.push((cell, *b));
            }
        }
    }
    out.sort_by_key(|(c, _)| *c);
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
    which: BoxCells,
) -> ImageTargets {
    let (cells, regress) = match (label, boxes.is_empty()) {
        (true, true) => (None, Vec::new()),
        (true, false) => (
            Some(cell_targets(boxes, size, grid_w, grid_h, min_overlap)),
            regression_targets(boxes, size, grid_w, grid_h, min_overlap, which),
        ),
        (false, _) => (Some(vec![0.0; grid_w * grid_h]), Vec::new()),
    };
    ImageTargets {
        label,
        cells,
        regress,
    }
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
        let pos = image_targets(true, &b, 64, 4, 4, 0.0, BoxCells::CentreInside);
        let unknown = image_targets(true, &[], 64, 4, 4, 0.0, BoxCells::CentreInside);
        let neg = image_targets(false, &b, 64, 4, 4, 0.0, BoxCells::CentreInside);
        assert_eq!(pos.cells.as_ref().unwrap().iter().sum::<f32>(), 1.0);
        assert!(unknown.cells.is_none());
        assert_eq!(neg.cells.as_ref().unwrap(), &vec![0.0; 16]);
        let (n, p) = count_cells([&pos, &unknown, &neg]);
        assert_eq!((n, p), (31, 1));
        assert_eq!(cell_pos_weight(n, p), 31.0);
        assert_eq!(cell_pos_weight(10, 0), 1.0);
        assert!(neg.regress.is_empty() && unknown.regress.is_empty());
        assert_eq!(pos.regress, vec![(0, b[0])]);
    }

    #[test]
    fn the_smaller_box_owns_shared_cells_and_every_box_is_regressed() {
        // 64 px canvas, 8 px cells. A large box and a small one inside it.
        let large = BBox::new(0.0, 0.0, 40.0, 40.0);
        let small = BBox::new(17.0, 17.0, 23.0, 23.0);
        let owners = cell_owners(&[large, small], 64, 8, 8, 0.0);
        assert_eq!(owners[2 * 8 + 2], Some(1));
        assert_eq!(owners[0], Some(0));
        assert_eq!(owners[7], None);
        let r = regression_targets(&[large, small], 64, 8, 8, 0.0, BoxCells::CentreInside);
        // Every regressing cell's centre lies inside its box, or it holds the box's centre.
        let grid = BoxGrid {
            grid_w: 8,
            grid_h: 8,
            side: 64,
        };
        for (cell, b) in &r {
            let (cx, cy) = grid.centre(*cell);
            assert!(b.contains(cx, cy), "cell {cell} {b:?}");
        }
        assert!(r.iter().any(|(c, b)| *c == 18 && *b == small));
        // A box smaller than a cell, off the cell centres, is still regressed by the cell
        // holding its centre.
        let tiny = BBox::new(1.0, 1.0, 3.0, 3.0);
        let r = regression_targets(&[tiny], 64, 8, 8, 0.0, BoxCells::CentreInside);
        assert_eq!(r, vec![(0, tiny)]);
        // AllPositive: every cell a box owns regresses it, edge cells included. The box
        // ends at 42, inside the sixth column and row of cells (40..48), whose centres at
        // 44 lie outside it.
        let edge = BBox::new(0.0, 0.0, 42.0, 42.0);
        let all = regression_targets(&[edge], 64, 8, 8, 0.0, BoxCells::AllPositive);
        let owned = cell_owners(&[edge], 64, 8, 8, 0.0);
        assert_eq!(all.len(), owned.iter().filter(|o| o.is_some()).count());
        assert_eq!(all.len(), 36);
        let inside = regression_targets(&[edge], 64, 8, 8, 0.0, BoxCells::CentreInside);
        assert_eq!(inside.len(), 25);
        assert!(
            inside.len() < all.len(),
            "{} vs {}",
            inside.len(),
            all.len()
        );
    }
}
