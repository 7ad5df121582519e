//! A [`SampleSource`] over a fracdet-io dataset split: decode, letterbox, augment.

use std::path::PathBuf;

use fracdet_io::dataset::Sample;
use fracdet_io::preprocess::letterbox;
use fracdet_io::{ReadOptions, read_radiograph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::source::SampleSource;

/// Labelled images of one split, read from disk on every request.
///
/// Augmentation is a stand-in until fracdet-io's loader/augment module lands: a seeded
/// horizontal flip and a mild brightness/contrast change, both of which keep a fracture a
/// fracture. Unlabelled samples are dropped at construction.
pub struct DatasetSource {
    items: Vec<(PathBuf, bool)>,
    size: u32,
    read: ReadOptions,
}

impl DatasetSource {
    /// Samples with a label, in the given order, delivered at `size` x `size`.
    pub fn new(samples: &[Sample], size: u32) -> Self {
        Self::from_items(
            samples
                .iter()
                .filter_map(|s| s.label.map(|l| (s.image.clone(), l)))
                .collect(),
            size,
        )
    }

    /// Images with labels (`true` = fracture).
    pub fn from_items(items: Vec<(PathBuf, bool)>, size: u32) -> Self {
        Self {
            items,
            size,
            read: ReadOptions::default(),
        }
    }

    pub fn positives(&self) -> usize {
        self.items.iter().filter(|(_, l)| *l).count()
    }
}

impl SampleSource for DatasetSource {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn label(&self, index: usize) -> bool {
        self.items[index].1
    }

    fn name(&self, index: usize) -> String {
        self.items[index].0.display().to_string()
    }

    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<Vec<f32>, String> {
        let radiograph =
            read_radiograph(&self.items[index].0, &self.read).map_err(|e| e.to_string())?;
        let (mut canvas, _) = letterbox(&radiograph, self.size);
        if let Some(seed) = augment_seed {
            augment(&mut canvas, self.size as usize, seed);
        }
        Ok(canvas)
    }
}

/// Seeded flip and brightness/contrast jitter of a `side * side` canvas in [0, 1].
fn augment(canvas: &mut [f32], side: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if rng.random_bool(0.5) {
        for row in canvas.chunks_mut(side) {
            row.reverse();
        }
    }
    let contrast: f32 = rng.random_range(0.85..1.15);
    let brightness: f32 = rng.random_range(-0.08..0.08);
    for v in canvas.iter_mut() {
        *v = ((*v - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentation_is_a_function_of_the_seed() {
        let base: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
        let run = |seed| {
            let mut c = base.clone();
            augment(&mut c, 4, seed);
            c
        };
        assert_eq!(run(5), run(5));
        assert!((0..20).any(|s| run(s) != run(s + 1)));
        assert!(run(9).iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
