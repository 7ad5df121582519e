//! Batches for training and evaluation: decode once, cache at working size, augment in
//! parallel, reproducibly.
//!
//! Each sample's image is decoded, optionally CLAHE-equalised, and letterboxed the first
//! time it is needed; the result stays in memory ([`CachePrecision`]), so later epochs
//! never decode again. Augmentation of sample `i` in epoch `e` draws from a ChaCha8 RNG
//! keyed by `(seed, e, i)` and the epoch order from one keyed by `(seed, e)`, so a batch
//! depends only on the seed, the epoch and its position — not on thread count, cache
//! state or what ran before (a resumed run sees the same batches).
//!
//! Unreadable images are skipped: warned once through `tracing`, listed by
//! [`Loader::skipped`], and left out of every batch they would have been in.

mod cache;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::augment::{AugmentConfig, augment};
use crate::dataset::Sample;
use crate::preprocess::{ClaheConfig, Normalization, clahe, letterbox_pixels, to_chw_into};
use crate::read::{ReadOptions, read_radiograph};
use crate::{BBox, IoError, Result};

pub use cache::{CachePrecision, CachedImage};

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Working canvas side, pixels.
    pub size: u32,
    pub batch_size: usize,
    pub seed: u64,
    /// Reorder samples every epoch (training); off keeps dataset order (evaluation).
    pub shuffle: bool,
    /// Leave out a last batch smaller than `batch_size`.
    pub drop_last: bool,
    pub normalization: Normalization,
    /// `None` for evaluation.
    pub augment: Option<AugmentConfig>,
    /// Equalise at original resolution before letterboxing.
    pub clahe: Option<ClaheConfig>,
    pub cache: CachePrecision,
    pub read: ReadOptions,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            size: 224,
            batch_size: 32,
            seed: 0,
            shuffle: true,
            drop_last: false,
            normalization: Normalization::ImageNet,
            augment: Some(AugmentConfig::default()),
            clahe: None,
            cache: CachePrecision::U8,
            read: ReadOptions::default(),
        }
    }
}

/// One batch, ready for a tensor of shape `[N, C, S, S]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `N * C * S * S` normalised values, sample-major then channel, row, column.
    pub images: Vec<f32>,
    pub channels: usize,
    pub size: usize,
    /// Per sample: `Some(true)` fractured, `Some(false)` not, `None` unlabelled.
    pub labels: Vec<Option<bool>>,
    /// Per sample: fracture boxes in working (canvas) pixels, after augmentation.
    pub boxes: Vec<Vec<BBox>>,
    /// Per sample: its index in the loader's sample list.
    pub indices: Vec<usize>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// `[N, C, S, S]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.len(), self.channels, self.size, self.size]
    }
}

/// A sample left out because its image could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub image: PathBuf,
    pub error: String,
}

/// Cache slot: decoded once, then shared.
type Slot = OnceLock<std::result::Result<Arc<CachedImage>, String>>;

/// Turns a list of samples into batches. Shareable across threads (`&Loader` is enough).
pub struct Loader {
    samples: Vec<Sample>,
    config: LoaderConfig,
    cache: Vec<Slot>,
    skipped: Mutex<Vec<Skipped>>,
}

/// Key a ChaCha8 stream by `(seed, a, b, domain)`: distinct keys give independent streams.
fn keyed_rng(seed: u64, a: u64, b: u64, domain: &[u8; 8]) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&a.to_le_bytes());
    key[16..24].copy_from_slice(&b.to_le_bytes());
    key[24..].copy_from_slice(domain);
    ChaCha8Rng::from_seed(key)
}

impl Loader {
    pub fn new(samples: Vec<Sample>, config: LoaderConfig) -> Result<Loader> {
        if config.size == 0 || config.batch_size == 0 {
            return Err(IoError::InvalidArgument(format!(
                "loader size {} and batch size {} must both be positive",
                config.size, config.batch_size
            )));
        }
        let cache = (0..samples.len()).map(|_| OnceLock::new()).collect();
        Ok(Loader {
            samples,
            config,
            cache,
            skipped: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Batches in one epoch (before skipping unreadable samples).
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.samples.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The cached, letterboxed image of sample `index`, decoding it on first use.
    pub fn cached(&self, index: usize) -> std::result::Result<Arc<CachedImage>, Skipped> {
        let Some(sample) = self.samples.get(index) else {
            return Err(Skipped {
                index,
                image: PathBuf::new(),
                error: "no such sample".into(),
            });
        };
        let slot = self.cache[index].get_or_init(|| {
            let r = self.prepare(sample);
            if let Err(error) = &r {
                tracing::warn!("skipping {}: {error}", sample.image.display());
                if let Ok(mut s) = self.skipped.lock() {
                    s.push(Skipped {
                        index,
                        image: sample.image.clone(),
                        error: error.clone(),
                    });
                }
            }
            r
        });
        slot.clone().map_err(|error| Skipped {
            index,
            image: sample.image.clone(),
            error,
        })
    }

    fn prepare(&self, sample: &Sample) -> std::result::Result<Arc<CachedImage>, String> {
        let r = read_radiograph(&sample.image, &self.config.read).map_err(|e| e.to_string())?;
        let pixels = match &self.config.clahe {
            Some(c) => clahe(&r.pixels, r.width, r.height, c),
            None => r.pixels,
        };
        let (canvas, t) = letterbox_pixels(&pixels, r.width, r.height, self.config.size);
        let boxes = sample.boxes.iter().map(|b| t.bbox_to_working(b)).collect();
        Ok(CachedImage::new(canvas, t, boxes, self.config.cache))
    }

    /// Decode every sample now, in parallel, instead of on first use. Returns the samples
    /// skipped so far.
    pub fn warm_up(&self) -> Vec<Skipped> {
        (0..self.samples.len()).into_par_iter().for_each(|i| {
            let _ = self.cached(i);
        });
        self.skipped()
    }

    /// Samples left out so far, sorted by index.
    pub fn skipped(&self) -> Vec<Skipped> {
        let mut v = self.skipped.lock().map(|s| s.clone()).unwrap_or_default();
        v.sort_by_key(|s| s.index);
        v
    }

    /// Sample order of `epoch`: a permutation keyed by `(seed, epoch)` when shuffling,
    /// dataset order otherwise.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut keyed_rng(
                self.config.seed,
                epoch,
                u64::MAX,
                b"shuffle\0",
            ));
        }
        order
    }

    /// Sample `index` as a grey canvas (`size * size`, [0, 1]) and its boxes in working
    /// pixels, augmented as in `epoch` when augmentation is configured.
    pub fn grey(
        &self,
        index: usize,
        epoch: u64,
    ) -> std::result::Result<(Vec<f32>, Vec<BBox>), Skipped> {
        let cached = self.cached(index)?;
        let canvas = cached.canvas();
        Ok(match &self.config.augment {
            Some(cfg) => {
                let mut rng = keyed_rng(self.config.seed, epoch, index as u64, b"augment\0");
                augment(
                    &canvas,
                    self.config.size,
                    cached.content(),
                    &cached.boxes,
                    cfg,
                    &mut rng,
                )
            }
            None => (canvas, cached.boxes.clone()),
        })
    }

    /// Like [`grey`](Self::grey) for callers that derive their own seeds (fracdet-train's
    /// `SampleSource::load`): augmented with a ChaCha8 RNG seeded by `augment_seed` when it
    /// is `Some` and augmentation is configured, plain letterboxed canvas when `None`.
    pub fn grey_with_seed(
        &self,
        index: usize,
        augment_seed: Option<u64>,
    ) -> std::result::Result<(Vec<f32>, Vec<BBox>), Skipped> {
        let cached = self.cached(index)?;
        let canvas = cached.canvas();
        Ok(match (&self.config.augment, augment_seed) {
            (Some(cfg), Some(seed)) => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                augment(
                    &canvas,
                    self.config.size,
                    cached.content(),
                    &cached.boxes,
                    cfg,
                    &mut rng,
                )
            }
            _ => (canvas, cached.boxes.clone()),
        })
    }

    /// Batch `batch` of `epoch`; `None` past the end. Unreadable samples are left out, so
    /// a batch can be short (even empty).
    pub fn batch(&self, epoch: u64, batch: usize) -> Option<Batch> {
        if batch >= self.batches_per_epoch() {
            return None;
        }
        let order = self.order(epoch);
        let bs = self.config.batch_size;
        let end = ((batch + 1) * bs).min(order.len());
        Some(self.assemble(epoch, &order[batch * bs..end]))
    }

    /// Build a batch from explicit sample indices (in that order).
    pub fn assemble(&self, epoch: u64, indices: &[usize]) -> Batch {
        let norm = self.config.normalization;
        let loaded: Vec<_> = indices
            .par_iter()
            .map(|&i| {
                self.grey(i, epoch).ok().map(|(canvas, boxes)| {
                    let mut chw = Vec::with_capacity(canvas.len() * norm.channels());
                    to_chw_into(&canvas, &norm, &mut chw);
                    (i, chw, boxes)
                })
            })
            .collect();
        let s = self.config.size as usize;
        let c = norm.channels();
        let n = loaded.iter().flatten().count();
        let mut out = Batch {
            images: Vec::with_capacity(n * c * s * s),
            channels: c,
            size: s,
            labels: Vec::with_capacity(n),
            boxes: Vec::with_capacity(n),
            indices: Vec::with_capacity(n),
        };
        for (i, chw, boxes) in loaded.into_iter().flatten() {
            out.images.extend_from_slice(&chw);
            out.labels.push(self.samples[i].label);
            out.boxes.push(boxes);
            out.indices.push(i);
        }
        out
    }

    /// All batches of `epoch`, in order. Batches whose samples were all unreadable are
    /// left out.
    pub fn epoch(&self, epoch: u64) -> EpochBatches<'_> {
        EpochBatches {
            loader: self,
            epoch,
            order: self.order(epoch),
            next: 0,
        }
    }
}

/// Iterator over one epoch's batches; each `next` loads its batch in parallel.
pub struct EpochBatches<'a> {
    loader: &'a Loader,
    epoch: u64,
    order: Vec<usize>,
    next: usize,
}

impl Iterator for EpochBatches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let bs = self.loader.config.batch_size;
        while self.next < self.loader.batches_per_epoch() {
            let start = self.next * bs;
            let end = (start + bs).min(self.order.len());
            self.next += 1;
            let batch = self.loader.assemble(self.epoch, &self.order[start..end]);
            if !batch.is_empty() {
                return Some(batch);
            }
        }
        None
    }
}
