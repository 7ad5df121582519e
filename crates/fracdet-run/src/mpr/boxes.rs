//! The box head's geometry, shared by training (targets, loss) and prediction (decoding):
//! where a cell's centre is, how its four log-distances become a box, and non-maximum
//! suppression of the cells' boxes.
//!
//! A `gw` × `gh` grid tiles a `side` × `side` canvas; cell `(x, y)` spans
//! `[x·side/gw, (x+1)·side/gw)` (same for y), exactly as the cell targets do, and its
//! centre is the middle of that span. A cell predicts `(l, t, r, b)`; the box is
//! `(cx − c·e^l, cy − c·e^t, cx + c·e^r, cy + c·e^b)` with `c` the cell side, so a value of
//! 0 is a box one cell wide on each side of the centre, and the loss sees scale-free
//! numbers whatever the fracture's size.

use fracdet_io::BBox;

/// Raw log-distances are clamped to ±this before `exp` (`e^6` cells is far past any
/// canvas), so an untrained head cannot produce inf or NaN boxes.
pub const MAX_LOG_DISTANCE: f32 = 6.0;

/// Boxes overlapping a higher-scoring kept box by more than this are suppressed.
pub const NMS_IOU: f32 = 0.3;

/// A box the detector draws, canvas pixels, with its cell's probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellBox {
    pub bbox: BBox,
    pub score: f32,
}

/// The geometry of one canvas's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxGrid {
    pub grid_w: usize,
    pub grid_h: usize,
    /// Canvas side, pixels.
    pub side: u32,
}

impl BoxGrid {
    /// Cell width and height, pixels.
    pub fn cell(&self) -> (f32, f32) {
        (
            self.side as f32 / self.grid_w.max(1) as f32,
            self.side as f32 / self.grid_h.max(1) as f32,
        )
    }

    /// Centre of cell `index` (row-major), pixels.
    pub fn centre(&self, index: usize) -> (f32, f32) {
        let (cw, ch) = self.cell();
        let (x, y) = (index % self.grid_w, index / self.grid_w);
        ((x as f32 + 0.5) * cw, (y as f32 + 0.5) * ch)
    }

    /// The box of cell `index` from its raw `[l, t, r, b]`.
    pub fn decode(&self, index: usize, ltrb: [f32; 4]) -> BBox {
        let (cx, cy) = self.centre(index);
        let (cw, ch) = self.cell();
        let d = |v: f32| v.clamp(-MAX_LOG_DISTANCE, MAX_LOG_DISTANCE).exp();
        BBox::new(
            cx - cw * d(ltrb[0]),
            cy - ch * d(ltrb[1]),
            cx + cw * d(ltrb[2]),
            cy + ch * d(ltrb[3]),
        )
    }

    /// The raw `[l, t, r, b]` that decodes to `target` from cell `index`, or `None` when
    /// the cell's centre lies outside the box (then no exact value exists: a distance
    /// would be negative).
    pub fn encode(&self, index: usize, target: &BBox) -> Option<[f32; 4]> {
        let (cx, cy) = self.centre(index);
        let (cw, ch) = self.cell();
        let d = [
            (cx - target.x_min) / cw,
            (cy - target.y_min) / ch,
            (target.x_max - cx) / cw,
            (target.y_max - cy) / ch,
        ];
        d.iter()
            .all(|&v| v > 0.0)
            .then(|| d.map(|v| v.ln().clamp(-MAX_LOG_DISTANCE, MAX_LOG_DISTANCE)))
    }

    /// The boxes of every cell whose probability is at least `min_score`, clipped to the
    /// canvas and suppressed ([`nms`]) to at most `max_boxes`. `probs` has `gw·gh` values,
    /// `ltrb` the head's `4·gw·gh` values, channel-major (`[4, gh, gw]`).
    pub fn boxes(
        &self,
        probs: &[f32],
        ltrb: &[f32],
        min_score: f32,
        max_boxes: usize,
    ) -> Vec<CellBox> {
        let g = self.grid_w * self.grid_h;
        if probs.len() != g || ltrb.len() != 4 * g {
            return Vec::new();
        }
        let candidates = probs
            .iter()
            .enumerate()
            .filter(|(_, p)| **p >= min_score && p.is_finite())
            .filter_map(|(i, &score)| self.cell_box(i, ltrb, score))
            .collect();
        nms(candidates, NMS_IOU, max_boxes)
    }
}

impl BoxGrid {
    /// The box of the most probable cell, whatever its probability (`None` for inputs of
    /// the wrong length or without a finite probability).
    pub fn best(&self, probs: &[f32], ltrb: &[f32]) -> Option<CellBox> {
        let g = self.grid_w * self.grid_h;
        if probs.len() != g || ltrb.len() != 4 * g {
            return None;
        }
        let (i, &score) = probs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_finite())
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        self.cell_box(i, ltrb, score)
    }

    /// Cell `i`'s box from the head's channel-major `ltrb` (`4·gw·gh` values), clipped to
    /// the canvas; `None` when nothing of it is left.
    fn cell_box(&self, i: usize, ltrb: &[f32], score: f32) -> Option<CellBox> {
        let g = self.grid_w * self.grid_h;
        let raw = [ltrb[i], ltrb[g + i], ltrb[2 * g + i], ltrb[3 * g + i]];
        let side = self.side as f32;
        let bbox = self.decode(i, raw).clipped(side, side);
        (bbox.area() > 0.0).then_some(CellBox { bbox, score })
    }
}

/// Greedy non-maximum suppression: highest score first, each box kept unless it overlaps a
/// kept one by more than `iou`; at most `max_boxes` kept. Ties keep the earlier box.
pub fn nms(mut boxes: Vec<CellBox>, iou: f32, max_boxes: usize) -> Vec<CellBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<CellBox> = Vec::new();
    for b in boxes {
        if kept.len() >= max_boxes {
            break;
        }
        if kept.iter().all(|k| k.bbox.iou(&b.bbox) <= iou) {
            kept.push(b);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> BoxGrid {
        BoxGrid {
            grid_w: 4,
            grid_h: 4,
            side: 64,
        }
    }

    #[test]
    fn encode_and_decode_are_inverse() {
        let g = grid();
        // Cell 5 is (1, 1): centre (24, 24), cells 16 px.
        assert_eq!(g.centre(5), (24.0, 24.0));
        let target = BBox::new(10.0, 20.0, 40.0, 30.0);
        let raw = g.encode(5, &target).unwrap();
        let back = g.decode(5, raw);
        for (a, b) in [
            (back.x_min, 10.0),
            (back.y_min, 20.0),
            (back.x_max, 40.0),
            (back.y_max, 30.0),
        ] {
            assert!((a - b).abs() < 1e-4, "{back:?}");
        }
        // A zero output is one cell on every side.
        assert_eq!(g.decode(0, [0.0; 4]), BBox::new(-8.0, -8.0, 24.0, 24.0));
        // A centre outside the box has no exact encoding; huge values stay finite.
        assert!(g.encode(0, &target).is_none());
        let wild = g.decode(0, [1e9, f32::INFINITY, -1e9, 50.0]);
        assert!(wild.x_min.is_finite() && wild.y_min.is_finite() && wild.x_max.is_finite());
    }

    #[test]
    fn boxes_are_thresholded_clipped_and_suppressed() {
        let g = grid();
        let mut probs = vec![0.0f32; 16];
        probs[5] = 0.9; // two neighbours predicting the same box
        probs[6] = 0.8;
        probs[15] = 0.6; // a separate one, in the corner
        probs[0] = 0.05; // below the threshold
        let target = BBox::new(10.0, 10.0, 44.0, 30.0);
        let mut ltrb = vec![0.0f32; 64];
        for i in [5usize, 6] {
            let raw = g.encode(i, &target).unwrap();
            for (c, v) in raw.iter().enumerate() {
                ltrb[c * 16 + i] = *v;
            }
        }
        for c in 0..4 {
            ltrb[c * 16 + 15] = 1.0; // e·16 px past the canvas edge: clipped
        }
        let got = g.boxes(&probs, &ltrb, 0.1, 10);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].score, 0.9);
        assert!(got[0].bbox.iou(&target) > 0.999);
        assert_eq!(got[1].score, 0.6);
        assert_eq!(got[1].bbox.x_max, 64.0);
        assert_eq!(g.boxes(&probs, &ltrb, 0.1, 1).len(), 1);
        assert!(g.boxes(&probs[..15], &ltrb, 0.1, 10).is_empty());
        // Nothing at 0.95, but the hottest cell still has its box.
        assert!(g.boxes(&probs, &ltrb, 0.95, 10).is_empty());
        assert_eq!(g.best(&probs, &ltrb).unwrap().score, 0.9);
    }
}
