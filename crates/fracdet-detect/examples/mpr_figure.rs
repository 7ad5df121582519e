//! Example figures of the MPR detector for `docs/mpr.md`: what the model sees, the
//! inpainter's residual maps it takes beside the image, and where it says the fracture is.
//!
//! ```text
//! cargo run --release -p fracdet-detect --example mpr_figure -- \
//!     RUN_DIR DATA_ROOT OUT_DIR IMAGE_NAME... [--inpainter INPAINTER_RUN]
//! ```
//!
//! `RUN_DIR` is a trained MPR detector run; `DATA_ROOT` a dataset fracdet-io can index
//! (FracAtlas: its `boxes.csv` gives the ground-truth boxes); each `IMAGE_NAME` is a path, or
//! a file name under `DATA_ROOT/images` (e.g. `IMG0000025.jpg`).
//!
//! For each image it writes `OUT_DIR/<stem>.png`, one row of square tiles at the run's
//! canvas size, left to right:
//! 1. the letterboxed grey canvas the model sees;
//! 2. one residual map `|x − G(x)|` per residual scale of the run, grey, divided by the
//!    99th percentile of the map over image content (padding left out) and clamped to 1,
//!    so that faint maps are visible; brightness is therefore relative within each tile;
//! 3. the canvas with the cell probabilities as a blue-to-red overlay, cells as blocks,
//!    padding cells 0, relative to the image's hottest content cell (its probability is
//!    in the `.txt`: cell probabilities of a noisy-OR detector can all be small, and
//!    absolute ones would leave the overlay invisible); the predicted boxes (regions of
//!    cells at or above the run's `region_threshold`) in red; when no cell reaches it, the
//!    hottest cell's region in orange (both are what `fracdet detect` draws on a flagged
//!    image and what `fracdet evaluate` scores); the ground-truth boxes in green.
//!
//! and `OUT_DIR/<stem>.txt` naming the tiles and giving the numbers, which are also
//! printed. The tiles carry no text: drawing text would need a font.
//!
//! A run without residual channels has no maps to show; `--inpainter INPAINTER_RUN` then
//! shows that inpainter's maps at its own scales instead, as an illustration of what the
//! residual channels look like. They are NOT inputs of that model, and the `.txt` says so.

use std::error::Error;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fracdet_detect::{Scorer, regions};
use fracdet_eval::html::{PngColor, draw_box_outline, encode_png, overlay_rgb};
use fracdet_io::dataset::Dataset;
use fracdet_io::preprocess::{LetterboxTransform, letterbox};
use fracdet_io::{BBox, ReadOptions, read_radiograph};
use fracdet_run::inpainter::load_inpainter;
use fracdet_run::mpr::ResidualSource;
use fracdet_run::mpr::inpainter_residuals::InpainterResiduals;

type Res<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: mpr_figure RUN_DIR DATA_ROOT OUT_DIR IMAGE_NAME... \
                     [--inpainter INPAINTER_RUN]";
/// White columns between tiles.
const GAP: usize = 4;
/// Overlay weight where a cell's probability is 1.
const HEAT_ALPHA: f32 = 0.55;
const PREDICTED: [u8; 3] = [255, 40, 40];
const HOTTEST: [u8; 3] = [255, 160, 0];
const TRUTH: [u8; 3] = [40, 230, 40];
/// Residual maps are shown divided by this percentile of their content pixels.
const RESIDUAL_PERCENTILE: f32 = 0.99;

fn main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let inpainter = match args.iter().position(|a| a == "--inpainter") {
        Some(i) if i + 1 < args.len() => {
            let dir = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            Some(dir)
        }
        Some(_) => return Err(USAGE.into()),
        None => None,
    };
    if args.len() < 4 {
        return Err(USAGE.into());
    }
    let run = PathBuf::from(&args[0]);
    let data = PathBuf::from(&args[1]);
    let out_dir = PathBuf::from(&args[2]);
    let names = &args[3..];

    let device = Device::flex();
    let scorer = Scorer::open_run(&run, &device)?;
    let Scorer::Mpr(predictor) = &scorer else {
        return Err(format!("{} is not an MPR detector run", run.display()).into());
    };
    let size = predictor.size();
    // The maps shown: the run's own inputs, else (display only) a given inpainter's.
    let run_scales = predictor.config.residual_scales.clone();
    let borrowed: Option<InpainterResiduals> = match (&inpainter, run_scales.is_empty()) {
        (Some(dir), true) => {
            let (g, cfg) = load_inpainter(dir, &device)?;
            Some(InpainterResiduals::new(
                g,
                cfg.scales,
                device.clone(),
                dir.display().to_string(),
            ))
        }
        (Some(_), false) => {
            eprintln!("the run has its own residual maps; --inpainter is ignored");
            None
        }
        (None, _) => None,
    };
    let scales: Vec<usize> = borrowed
        .as_ref()
        .map_or(run_scales, |b| b.scales().to_vec());
    let dataset = Dataset::open(&data)?;
    std::fs::create_dir_all(&out_dir)?;

    let legend = legend(&scales, borrowed.is_some());
    println!("panels, left to right: {legend}");
    for name in names {
        let path = image_path(&data, name);
        let truth = truth_boxes(&dataset, &path);
        let stem = path
            .file_stem()
            .ok_or_else(|| format!("{} has no file name", path.display()))?
            .to_string_lossy()
            .into_owned();
        let png_path = out_dir.join(format!("{stem}.png"));
        let txt_path = out_dir.join(format!("{stem}.txt"));
        for out in [&png_path, &txt_path] {
            if same_file(out, &path) {
                return Err(format!("{} would overwrite the input", out.display()).into());
            }
        }

        let radiograph = read_radiograph(&path, &ReadOptions::default())?;
        let (canvas, t) = letterbox(&radiograph, size);
        let canvases = [canvas];
        let scored = scorer
            .score(&canvases, &[t], &device)?
            .pop()
            .ok_or("no score for the image")?;
        let threshold = predictor.config.region_threshold;
        let boxes = scored.map.as_ref().map_or_else(Vec::new, |cells| {
            regions::cell_boxes(cells, &t, size, threshold, false)
        });
        // At least the hottest cell's region, as `detect` draws it.
        let hottest = if boxes.is_empty() {
            scorer.boxes(&scored, &t, None)
        } else {
            Vec::new()
        };
        let maps = match &borrowed {
            Some(b) => b.residuals(&canvases, size)?,
            None => predictor.residual_maps(&canvases)?,
        }
        .pop()
        .unwrap_or_default();
        let heat = scorer
            .heatmap(&scored, t)
            .map(|h| {
                let top = h.values.iter().copied().fold(0.0f32, f32::max);
                let relative: Vec<f32> = h
                    .values
                    .iter()
                    .map(|v| if top > 0.0 { v / top } else { 0.0 })
                    .collect();
                cells_to_canvas(&relative, h.width as usize, size as usize)
            })
            .unwrap_or_else(|| vec![0.0; canvases[0].len()]);

        let side = size as usize;
        let mut tiles = vec![overlay_rgb(&canvases[0], None, 0.0)?];
        for map in maps.chunks(side * side).take(scales.len()) {
            tiles.push(overlay_rgb(&scale_to_percentile(map, &t)?, None, 0.0)?);
        }
        let mut cells = overlay_rgb(&canvases[0], Some(&heat), HEAT_ALPHA)?;
        for b in &truth {
            draw(&mut cells, size, &t.bbox_to_working(b), TRUTH);
        }
        for b in &hottest {
            draw(&mut cells, size, &t.bbox_to_working(&b.bbox), HOTTEST);
        }
        for b in &boxes {
            draw(&mut cells, size, &t.bbox_to_working(&b.bbox), PREDICTED);
        }
        tiles.push(cells);
        let (w, h, rgb) = panel(&tiles, side)?;
        std::fs::write(&png_path, encode_png(w, h, PngColor::Rgb, &rgb)?)?;

        let line = format!(
            "{}: probability {:.6}, logit {:.3}, {} predicted box(es) at cell threshold \
             {threshold}{}, {} truth box(es), hottest cell {:.4}",
            path.display(),
            scored.probability,
            scored.score,
            boxes.len(),
            if hottest.is_empty() {
                ""
            } else {
                " (hottest cell's region shown instead)"
            },
            truth.len(),
            scored
                .map
                .as_ref()
                .map_or(0.0, |c| c.values.iter().copied().fold(0.0f32, f32::max)),
        );
        println!("{line} -> {}", png_path.display());
        let boxes_text: Vec<String> = boxes
            .iter()
            .map(|b| format!("  predicted {} score {:.4}", fmt_box(&b.bbox), b.score))
            .chain(
                hottest
                    .iter()
                    .map(|b| format!("  hottest cell {} score {:.4}", fmt_box(&b.bbox), b.score)),
            )
            .chain(truth.iter().map(|b| format!("  truth {}", fmt_box(b))))
            .collect();
        std::fs::write(
            &txt_path,
            format!(
                "run: {}\n{}\npanels, left to right: {legend}\n{line}\nboxes (original pixels):\n{}\n",
                run.display(),
                scorer.describe(),
                boxes_text.join("\n")
            ),
        )?;
    }
    Ok(())
}

/// What the tiles are, left to right.
fn legend(scales: &[usize], borrowed: bool) -> String {
    let mut parts = vec!["input canvas".to_string()];
    for s in scales {
        parts.push(format!(
            "residual |x - G(x)| at {s} px{} (/ p99 of content, clamped)",
            if borrowed {
                ", from --inpainter, NOT a model input"
            } else {
                ""
            }
        ));
    }
    parts.push(
        "cell probabilities relative to the hottest cell (blue-to-red overlay), predicted \
         boxes red (hottest cell's region orange when no cell reaches the threshold), truth \
         boxes green"
            .into(),
    );
    parts.join(" | ")
}

/// `name` as given when that file exists, else under `data/images`.
fn image_path(data: &Path, name: &str) -> PathBuf {
    let direct = PathBuf::from(name);
    if direct.is_file() {
        direct
    } else {
        data.join("images").join(name)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The ground-truth boxes (original pixels) of the dataset sample at `path`; none when the
/// image is not in the dataset.
fn truth_boxes(dataset: &Dataset, path: &Path) -> Vec<BBox> {
    dataset
        .samples
        .iter()
        .find(|s| same_file(&s.image, path))
        .map(|s| s.boxes.clone())
        .unwrap_or_default()
}

fn fmt_box(b: &BBox) -> String {
    format!(
        "[{:.1}, {:.1}, {:.1}, {:.1}]",
        b.x_min, b.y_min, b.x_max, b.y_max
    )
}

fn draw(rgb: &mut [u8], size: u32, b: &BBox, colour: [u8; 3]) {
    draw_box_outline(
        rgb,
        size,
        size,
        [b.x_min, b.y_min, b.x_max, b.y_max],
        colour,
        2,
    );
}

/// A `grid * grid` map of cells over the canvas as `side * side` values, each cell a
/// block (nearest neighbour: the cells are the model's unit of prediction).
fn cells_to_canvas(cells: &[f32], grid: usize, side: usize) -> Vec<f32> {
    let mut out = vec![0.0; side * side];
    if grid == 0 || cells.len() != grid * grid {
        return out;
    }
    for (y, row) in out.chunks_mut(side).enumerate() {
        let cy = y * grid / side;
        for (x, v) in row.iter_mut().enumerate() {
            *v = cells[cy * grid + x * grid / side];
        }
    }
    out
}

/// `map` divided by its [`RESIDUAL_PERCENTILE`] over the image content of the canvas
/// letterboxed by `t` (the padding's residuals say nothing about bone), clamped to [0, 1].
fn scale_to_percentile(map: &[f32], t: &LetterboxTransform) -> Res<Vec<f32>> {
    let side = t.size as usize;
    if map.len() != side * side {
        return Err(format!("residual map has {} values, not {side}x{side}", map.len()).into());
    }
    let (x0, y0) = (t.pad_x as usize, t.pad_y as usize);
    let (x1, y1) = (
        (x0 + t.scaled_width as usize).min(side),
        (y0 + t.scaled_height as usize).min(side),
    );
    let mut content: Vec<f32> = (y0..y1)
        .flat_map(|y| map[y * side + x0..y * side + x1].iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    let p = percentile(&mut content, RESIDUAL_PERCENTILE);
    let div = if p > 0.0 { p } else { 1.0 };
    Ok(map.iter().map(|v| (v / div).clamp(0.0, 1.0)).collect())
}

/// The `q` quantile (nearest rank) of `values`; 0 when empty.
fn percentile(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f32::total_cmp);
    let i = ((values.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    values[i]
}

/// Width of a row of `n` square tiles of side `side` with [`GAP`] between them.
fn panel_width(n: usize, side: usize) -> usize {
    n * side + n.saturating_sub(1) * GAP
}

/// RGB tiles (`side * side * 3` bytes each) in one row, left to right, on white.
fn panel(tiles: &[Vec<u8>], side: usize) -> Res<(u32, u32, Vec<u8>)> {
    if tiles.is_empty() || tiles.iter().any(|t| t.len() != side * side * 3) {
        return Err(format!("tiles must be {side}x{side} RGB").into());
    }
    let width = panel_width(tiles.len(), side);
    let mut rgb = vec![255u8; width * side * 3];
    for (k, tile) in tiles.iter().enumerate() {
        let left = k * (side + GAP);
        for (y, row) in tile.chunks(side * 3).enumerate() {
            let at = (y * width + left) * 3;
            rgb[at..at + side * 3].copy_from_slice(row);
        }
    }
    Ok((u32::try_from(width)?, u32::try_from(side)?, rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_sit_side_by_side_with_gaps() {
        let side = 3;
        let tiles: Vec<Vec<u8>> = (0..4u8).map(|k| vec![k * 10; side * side * 3]).collect();
        let (w, h, rgb) = panel(&tiles, side).unwrap();
        // Input, two residual scales, cells: (2 + 2) tiles.
        assert_eq!((w as usize, h as usize), (4 * side + 3 * GAP, side));
        assert_eq!(rgb.len(), w as usize * side * 3);
        let px = |x: usize, y: usize| rgb[(y * w as usize + x) * 3];
        for k in 0..4 {
            let left = k * (side + GAP);
            assert_eq!(px(left, 0), k as u8 * 10);
            assert_eq!(px(left + side - 1, side - 1), k as u8 * 10);
            if k < 3 {
                assert_eq!(px(left + side, 1), 255, "gap after tile {k}");
            }
        }
        assert!(panel(&[vec![0; 5]], side).is_err());
        assert!(panel(&[], side).is_err());
        assert_eq!(panel_width(2, 256), 2 * 256 + GAP);
    }

    #[test]
    fn cells_become_blocks_and_residuals_scale_to_content() {
        let up = cells_to_canvas(&[0.1, 0.2, 0.3, 0.4], 2, 4);
        assert_eq!(up[0], 0.1);
        assert_eq!(up[3], 0.2);
        assert_eq!(up[4 * 2], 0.3);
        assert_eq!(up[15], 0.4);

        // A 4x2 image on a 4x4 canvas: content is rows 1..3; padding 9s must not count.
        let t = LetterboxTransform::new(4, 2, 4);
        assert_eq!((t.pad_y, t.scaled_height), (1, 2));
        let mut map = vec![9.0; 16];
        for (i, v) in map[4..12].iter_mut().enumerate() {
            *v = (i + 1) as f32 * 0.1;
        }
        let shown = scale_to_percentile(&map, &t).unwrap();
        // p99 of 0.1..0.8 (nearest rank) is 0.8.
        assert!((shown[4] - 0.125).abs() < 1e-6, "{}", shown[4]);
        assert_eq!(shown[11], 1.0);
        assert_eq!(shown[0], 1.0, "padding clamps");
        assert!(scale_to_percentile(&[0.0; 3], &t).is_err());
    }
}
