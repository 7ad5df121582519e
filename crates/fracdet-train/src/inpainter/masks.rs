//! Where the training and validation squares go: on image content, not letterbox padding,
//! drawn from generators keyed by (seed, purpose, epoch, sample) so a resumed run masks the
//! same squares as an uninterrupted one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::order::derive_seed;

/// Purposes of the mask streams (distinct from the classifier's, which are small numbers).
const TRAIN_MASK: u64 = 0x4d50_5201;
const VAL_MASK: u64 = 0x4d50_5202;

/// Candidate positions tried before taking the one with the most content.
const TRIES: usize = 16;
/// A square is "on content" when this fraction of its pixels is not letterbox black.
const CONTENT_FRACTION: f32 = 0.9;
/// Pixels at or below this are treated as padding.
const PADDING_LEVEL: f32 = 1.0 / 255.0;

/// One masked square: top-left corner and side, pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Square {
    pub y: usize,
    pub x: usize,
    pub side: usize,
}

impl Square {
    /// The window the local critic sees: twice the side, centred on the square, moved inside
    /// the `size` canvas: (y, x, side).
    pub fn context(&self, size: usize) -> (usize, usize, usize) {
        let side = (2 * self.side).min(size);
        let half = (side - self.side) / 2;
        let y = self.y.saturating_sub(half).min(size - side);
        let x = self.x.saturating_sub(half).min(size - side);
        (y, x, side)
    }
}

fn content_fraction(canvas: &[f32], size: usize, y: usize, x: usize, side: usize) -> f32 {
    let mut content = 0usize;
    for row in y..y + side {
        content += canvas[row * size + x..row * size + x + side]
            .iter()
            .filter(|&&v| v > PADDING_LEVEL)
            .count();
    }
    content as f32 / (side * side) as f32
}

/// A square of side `side` placed uniformly on the canvas, preferring content: the first of
/// [`TRIES`] candidates that is at least 90% image, else the candidate with the most image.
fn place(canvas: &[f32], size: usize, side: usize, rng: &mut ChaCha8Rng) -> Square {
    let side = side.min(size);
    let mut best = (f32::MIN, Square { y: 0, x: 0, side });
    for _ in 0..TRIES {
        let y = rng.random_range(0..=size - side);
        let x = rng.random_range(0..=size - side);
        let f = content_fraction(canvas, size, y, x, side);
        if f >= CONTENT_FRACTION {
            return Square { y, x, side };
        }
        if f > best.0 {
            best = (f, Square { y, x, side });
        }
    }
    best.1
}

/// The training squares of sample `index` in `epoch`: `count` squares, each of a side drawn
/// from `scales`.
pub fn training_squares(
    canvas: &[f32],
    size: usize,
    scales: &[usize],
    count: usize,
    seed: u64,
    epoch: u64,
    index: usize,
) -> Vec<Square> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, &[TRAIN_MASK, epoch, index as u64]));
    (0..count)
        .map(|_| {
            let side = scales[rng.random_range(0..scales.len().max(1))];
            place(canvas, size, side, &mut rng)
        })
        .collect()
}

/// The validation square of val sample `index` at patch side `side`: the same every epoch.
pub fn validation_square(
    canvas: &[f32],
    size: usize,
    side: usize,
    seed: u64,
    index: usize,
) -> Square {
    let mut rng =
        ChaCha8Rng::seed_from_u64(derive_seed(seed, &[VAL_MASK, side as u64, index as u64]));
    place(canvas, size, side, &mut rng)
}

/// Paint `squares` into a `size * size` mask (1 inside), row-major, appended to `out`.
pub fn paint(squares: &[Square], size: usize, out: &mut Vec<f32>) {
    let start = out.len();
    out.resize(start + size * size, 0.0);
    let m = &mut out[start..];
    for s in squares {
        for row in s.y..(s.y + s.side).min(size) {
            m[row * size + s.x..row * size + (s.x + s.side).min(size)].fill(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squares_avoid_letterbox_padding_and_repeat_with_their_keys() {
        // Content only in the left half (as a tall image letterboxed into a square).
        let size = 64;
        let canvas: Vec<f32> = (0..size * size)
            .map(|i| if i % size < 32 { 0.5 } else { 0.0 })
            .collect();
        for index in 0..20 {
            let sq = training_squares(&canvas, size, &[8, 16], 2, 3, 1, index);
            assert_eq!(sq.len(), 2);
            for s in &sq {
                assert!(s.side == 8 || s.side == 16);
                assert!(s.x + s.side <= 32 + s.side / 10, "{s:?} lies on padding");
            }
            assert_eq!(
                sq,
                training_squares(&canvas, size, &[8, 16], 2, 3, 1, index)
            );
        }
        let a = training_squares(&canvas, size, &[8], 1, 3, 1, 0);
        let b = training_squares(&canvas, size, &[8], 1, 3, 2, 0);
        let c = training_squares(&canvas, size, &[8], 1, 3, 3, 0);
        assert!(a != b || b != c, "epochs draw new squares");
    }

    #[test]
    fn context_window_stays_on_the_canvas() {
        let s = Square {
            y: 0,
            x: 60,
            side: 16,
        };
        assert_eq!(s.context(64), (0, 32, 32));
        let s = Square {
            y: 20,
            x: 20,
            side: 16,
        };
        assert_eq!(s.context(64), (12, 12, 32));
    }
}
