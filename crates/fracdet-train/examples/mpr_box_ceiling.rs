//! How much box recall can a grid of cells reach at all? The ceiling of `evaluate`'s box
//! recall (IoU >= 0.3) for boxes made of whole detector cells (issue #5 ablation).
//!
//! `cargo run --release -p fracdet-train --example mpr_box_ceiling -- DATA [SPLIT] [SIZE] [STRIDES] [MIN_OVERLAP]`
//!
//! Pure geometry, no network: each fracture box of SPLIT (default val) is letterboxed to
//! the SIZE canvas (default 256) from the image size in the dataset's labels, and for each
//! cell stride (default `8,16,32`):
//! - **perfect cells**: the regions an ideal detector would draw, i.e. the 4-connected
//!   regions of the box's own positive cells (the training targets, `MIN_OVERLAP` default
//!   0.25, all boxes of the image together), boxed as `evaluate` boxes MPR cells;
//! - **best cell box**: the best IoU any rectangle of whole cells can reach on the box.
//!
//! Prints the fraction of boxes recalled at IoU 0.3 for both, and the median box side.

use std::path::PathBuf;

use fracdet_eval::cell_regions::{CellGrid, cell_regions};
use fracdet_io::BBox;
use fracdet_io::dataset::{Dataset, Split};
use fracdet_io::preprocess::LetterboxTransform;
use fracdet_train::mpr::targets::cell_targets;

const IOU: f32 = 0.3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: DATA [SPLIT] [SIZE] [STRIDES] [MIN_OVERLAP]";
    let data = PathBuf::from(args.first().ok_or(usage)?);
    let split = Split::parse(args.get(1).map_or("val", String::as_str)).ok_or("bad split")?;
    let size: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let strides: Vec<u32> = args
        .get(3)
        .map_or("8,16,32", String::as_str)
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let min_overlap: f32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0.25);

    // (canvas boxes of one image)
    let images: Vec<Vec<BBox>> = Dataset::open(&data)?
        .split(split)
        .into_iter()
        .filter(|s| s.label == Some(true) && !s.boxes.is_empty())
        .filter_map(|s| {
            let (w, h) = s.meta.declared_size?;
            let t = LetterboxTransform::new(w, h, size);
            Some(s.boxes.iter().map(|b| t.bbox_to_working(b)).collect())
        })
        .collect();
    let n_boxes: usize = images.iter().map(Vec::len).sum();
    let mut sides: Vec<f32> = images.iter().flatten().map(|b| b.area().sqrt()).collect();
    sides.sort_by(f32::total_cmp);
    println!(
        "{} {} images with boxes, {n_boxes} boxes; median box side {:.1} px on the {size} px canvas",
        images.len(),
        split.as_str(),
        sides.get(sides.len() / 2).copied().unwrap_or(0.0)
    );
    for stride in strides {
        if stride == 0 || !size.is_multiple_of(stride) {
            println!("  stride {stride}: does not tile {size}");
            continue;
        }
        let grid = (size / stride) as usize;
        let (mut perfect, mut best) = (0usize, 0usize);
        for boxes in &images {
            let cells = cell_targets(boxes, size, grid, grid, min_overlap);
            let regions = cell_regions(&CellGrid::new(&cells, grid, grid, size)?, 0.5);
            for b in boxes {
                if regions.iter().any(|r| r.bbox.iou(b) >= IOU) {
                    perfect += 1;
                }
                if best_cell_box_iou(b, stride as f32, grid) >= IOU {
                    best += 1;
                }
            }
        }
        let pct = |k: usize| 100.0 * k as f64 / n_boxes.max(1) as f64;
        println!(
            "  stride {stride:>2} ({grid}x{grid} cells): perfect cells recall {:.1}%, best cell box {:.1}% at IoU {IOU}",
            pct(perfect),
            pct(best)
        );
    }
    Ok(())
}

/// Highest IoU of `b` with any rectangle of whole `cell`-pixel cells of a `grid` x `grid`
/// tiling: rectangles within one cell of the box's extent are enough.
fn best_cell_box_iou(b: &BBox, cell: f32, grid: usize) -> f32 {
    let span = |lo: f32, hi: f32| {
        let first = ((lo / cell).floor().max(0.0) as usize).min(grid - 1);
        let last = ((hi / cell).ceil().max(1.0) as usize).min(grid);
        (first, last)
    };
    let (x0, x1) = span(b.x_min, b.x_max);
    let (y0, y1) = span(b.y_min, b.y_max);
    let mut best = 0.0f32;
    for xa in x0..x1 {
        for xb in xa + 1..=x1 {
            for ya in y0..y1 {
                for yb in ya + 1..=y1 {
                    let r = BBox::new(
                        xa as f32 * cell,
                        ya as f32 * cell,
                        xb as f32 * cell,
                        yb as f32 * cell,
                    );
                    best = best.max(r.iou(b));
                }
            }
        }
    }
    best
}
