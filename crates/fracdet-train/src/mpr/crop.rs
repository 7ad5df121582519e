//! Training crops: a `crop`² window of a sample's canvas, its residual maps and its boxes.
//!
//! A large working size (512² and up, where a fracture spans several 8-px cells) costs
//! four times a 256² canvas per image; training on crops keeps a step's cost near the
//! small canvas while the network sees fractures at full working resolution. The detector
//! is fully convolutional and its image head max-pools, so it scores whole canvases at
//! prediction time as it scored crops in training.
//!
//! For a fractured image with boxes the window holds one of them (drawn uniformly) whole,
//! when it fits, so every such crop still shows a fracture and keeps its positive image
//! label; other images get a uniform window (a negative stays negative; a fractured image
//! without boxes keeps its label and, having no cell targets, trains the image term only).

use fracdet_io::BBox;
use rand::Rng;

use crate::mpr::data::MprItem;

/// A box stays a target when at least this share of its area is inside the window.
pub const MIN_VISIBLE: f32 = 0.5;

/// The `crop`² window of `item` (a `side`² canvas) drawn from `rng`; `item` itself when the
/// window would not be smaller or the item's planes do not have `side²` values.
pub fn crop_item<R: Rng + ?Sized>(item: &MprItem, side: u32, crop: u32, rng: &mut R) -> MprItem {
    let plane = side as usize * side as usize;
    if crop == 0
        || crop >= side
        || item.image.len() != plane
        || !item.residuals.len().is_multiple_of(plane)
    {
        return item.clone();
    }
    let free = side - crop;
    let valid: Vec<&BBox> = item
        .boxes
        .iter()
        .filter(|b| b.is_valid() && b.area() > 0.0)
        .collect();
    let (x0, y0) = if item.label && !valid.is_empty() {
        let b = valid[rng.random_range(0..valid.len())];
        (
            origin_holding(b.x_min, b.x_max, crop, free, rng),
            origin_holding(b.y_min, b.y_max, crop, free, rng),
        )
    } else {
        (rng.random_range(0..=free), rng.random_range(0..=free))
    };
    let window = |p: &[f32]| -> Vec<f32> {
        let (s, c) = (side as usize, crop as usize);
        let mut out = Vec::with_capacity(c * c);
        for y in 0..c {
            let row = (y0 as usize + y) * s + x0 as usize;
            out.extend_from_slice(&p[row..row + c]);
        }
        out
    };
    let residuals = item
        .residuals
        .chunks_exact(plane)
        .flat_map(window)
        .collect();
    let (fx, fy, fc) = (x0 as f32, y0 as f32, crop as f32);
    let boxes: Vec<BBox> = valid
        .iter()
        .filter_map(|b| {
            let moved = BBox::new(b.x_min - fx, b.y_min - fy, b.x_max - fx, b.y_max - fy);
            let kept = moved.clipped(fc, fc);
            (kept.area() >= MIN_VISIBLE * b.area()).then_some(kept)
        })
        .collect();
    MprItem {
        image: window(&item.image),
        residuals,
        label: item.label && (valid.is_empty() || !boxes.is_empty()),
        boxes,
    }
}

/// A window origin in `0..=free` along one axis such that `[lo, hi)` lies inside
/// `[origin, origin + crop)`, uniform over those origins; when the extent is longer than
/// the window, the window is centred on it.
fn origin_holding<R: Rng + ?Sized>(lo: f32, hi: f32, crop: u32, free: u32, rng: &mut R) -> u32 {
    let first = (hi.ceil() - crop as f32).max(0.0) as u32;
    let last = (lo.floor().max(0.0) as u32).min(free);
    if first <= last {
        rng.random_range(first..=last)
    } else {
        let centre = (lo + hi) / 2.0 - crop as f32 / 2.0;
        (centre.round().max(0.0) as u32).min(free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn item(label: bool, boxes: Vec<BBox>) -> MprItem {
        let side = 64usize;
        // Each pixel holds its own index, so a window's content says where it came from.
        let image: Vec<f32> = (0..side * side).map(|i| i as f32).collect();
        let residuals = image.iter().map(|v| v + 0.5).collect();
        MprItem {
            image,
            residuals,
            boxes,
            label,
        }
    }

    #[test]
    fn a_fractured_crop_holds_its_box_and_moves_everything_together() {
        let b = BBox::new(40.0, 10.0, 50.0, 20.0);
        let it = item(true, vec![b]);
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let out = crop_item(&it, 64, 32, &mut rng);
            assert_eq!(out.image.len(), 32 * 32);
            assert_eq!(out.residuals.len(), 32 * 32);
            assert!(out.label);
            assert_eq!(out.boxes.len(), 1);
            let moved = out.boxes[0];
            assert!(
                (moved.area() - b.area()).abs() < 1e-3,
                "whole box: {moved:?}"
            );
            // Recover the window origin from the first pixel's value.
            let first = out.image[0] as usize;
            let (x0, y0) = ((first % 64) as f32, (first / 64) as f32);
            assert_eq!(moved.x_min, b.x_min - x0);
            assert_eq!(moved.y_min, b.y_min - y0);
            assert_eq!(out.residuals[5], out.image[5] + 0.5);
            assert_eq!(out.image[33] as usize, first + 64 + 1);
        }
    }

    #[test]
    fn negatives_stay_negative_and_small_canvases_pass_through() {
        let it = item(false, vec![]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let out = crop_item(&it, 64, 48, &mut rng);
        assert!(!out.label && out.boxes.is_empty());
        assert_eq!(out.image.len(), 48 * 48);
        assert_eq!(crop_item(&it, 64, 64, &mut rng), it);
        assert_eq!(crop_item(&it, 32, 16, &mut rng), it, "wrong plane size");
        // A box longer than the window: the window is centred on it and keeps the part
        // inside, which is at least half of it here.
        let long = item(true, vec![BBox::new(0.0, 20.0, 40.0, 30.0)]);
        let out = crop_item(&long, 64, 32, &mut rng);
        assert!(out.label);
        assert_eq!(out.boxes.len(), 1);
        assert!(out.boxes[0].width() <= 32.0);
    }
}
