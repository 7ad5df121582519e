//! A [`SampleSource`] over a fracdet-io dataset split, through fracdet-io's [`Loader`]:
//! decoded and letterboxed once, cached in memory, augmented per request.

use fracdet_io::augment::AugmentConfig;
use fracdet_io::dataset::Sample;
use fracdet_io::loader::{Loader, LoaderConfig};

use crate::error::{Result, TrainError};
use crate::source::LabelledSource;

/// Labelled images of one split. Unlabelled samples are dropped at construction.
pub struct DatasetSource {
    loader: Loader,
}

impl DatasetSource {
    /// Samples with a label, in the given order, delivered at `size` x `size`; augmented
    /// with `augment` when the training loop asks for it (pass `None` for validation).
    pub fn new(samples: &[Sample], size: u32, augment: Option<AugmentConfig>) -> Result<Self> {
        let labelled: Vec<Sample> = samples
            .iter()
            .filter(|s| s.label.is_some())
            .cloned()
            .collect();
        let config = LoaderConfig {
            size,
            // Batching, order and seeds are the training loop's; the loader only delivers
            // single samples through `grey_with_seed`.
            batch_size: 1,
            shuffle: false,
            augment,
            ..LoaderConfig::default()
        };
        let loader =
            Loader::new(labelled, config).map_err(|e| TrainError::Dataset(e.to_string()))?;
        Ok(Self { loader })
    }

    pub fn positives(&self) -> usize {
        (0..self.len()).filter(|&i| self.label(i)).count()
    }
}

impl LabelledSource<Vec<f32>> for DatasetSource {
    fn len(&self) -> usize {
        self.loader.len()
    }

    fn label(&self, index: usize) -> bool {
        self.loader.samples()[index].label == Some(true)
    }

    fn name(&self, index: usize) -> String {
        self.loader.samples()[index].image.display().to_string()
    }

    fn load(
        &self,
        index: usize,
        augment_seed: Option<u64>,
    ) -> std::result::Result<Vec<f32>, String> {
        self.loader
            .grey_with_seed(index, augment_seed)
            .map(|(canvas, _boxes)| canvas)
            .map_err(|s| s.error)
    }
}
