//! Randomness as pure functions of (seed, epoch, ...), so that a resumed run sees exactly the
//! data order, augmentations and layer randomness an uninterrupted run would have seen, with no
//! generator state to save.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: spreads nearby inputs (epoch 1, 2, 3) over unrelated seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from the run seed and a path of integers (purpose, epoch, sample, ...).
pub fn derive_seed(seed: u64, path: &[u64]) -> u64 {
    path.iter().fold(mix(seed), |acc, &p| mix(acc ^ mix(p)))
}

/// Purposes, so that streams for different jobs never coincide.
pub(crate) const SHUFFLE: u64 = 1;
pub(crate) const AUGMENT: u64 = 2;
pub(crate) const DEVICE: u64 = 3;
pub(crate) const CROP: u64 = 4;

/// The order in which the `n` training samples are visited in `epoch`.
pub fn epoch_order(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, &[SHUFFLE, epoch]));
    order.shuffle(&mut rng);
    order
}

/// Seed for the augmentation of sample `index` in `epoch`.
pub fn augment_seed(seed: u64, epoch: u64, index: usize) -> u64 {
    derive_seed(seed, &[AUGMENT, epoch, index as u64])
}

/// Seed for the training crop of sample `index` in `epoch` (drawn with or without
/// augmentation: a crop is how the sample is taken, not an augmentation one can turn off).
pub fn crop_seed(seed: u64, epoch: u64, index: usize) -> u64 {
    derive_seed(seed, &[CROP, epoch, index as u64])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_permutation_fixed_by_seed_and_epoch() {
        let a = epoch_order(7, 3, 50);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(7, 3, 50));
        assert_ne!(a, epoch_order(7, 4, 50));
        assert_ne!(a, epoch_order(8, 3, 50));
    }

    #[test]
    fn seeds_differ_by_purpose_and_index() {
        assert_ne!(augment_seed(1, 0, 0), augment_seed(1, 0, 1));
        assert_ne!(derive_seed(1, &[AUGMENT, 0]), derive_seed(1, &[SHUFFLE, 0]));
    }
}
