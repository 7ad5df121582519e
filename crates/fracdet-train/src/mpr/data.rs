//! Labelled images with boxes and cached residual maps, as the MPR trainer consumes them.

use std::path::Path;

use fracdet_io::augment::AugmentConfig;
use fracdet_io::dataset::Sample;
use fracdet_io::loader::{Loader, LoaderConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RunError;
use crate::atomic::write_atomic;
use crate::error::{Result, TrainError};
use crate::mpr::augment::augment_stack;
use crate::mpr::residuals::ResidualSource;
use crate::source::{LabelledSource, Skipped};

/// One sample at working size (fracdet-run's, which prediction builds too).
pub use fracdet_run::mpr::input::MprItem;

/// What the MPR trainer needs from a labelled image collection: the one
/// [`LabelledSource`] of every kind, delivering [`MprItem`]s.
pub trait MprSource: LabelledSource<MprItem> {}
impl<T: LabelledSource<MprItem> + ?Sized> MprSource for T {}

/// A dataset split through fracdet-io's [`Loader`] (decoded and letterboxed once, cached as
/// bytes) with residual maps computed once per image and kept as bytes too.
pub struct MprData {
    loader: Loader,
    augment: Option<AugmentConfig>,
    n_scales: usize,
    /// Per sample: `n_scales * size²` quantised maps, or why there are none.
    residuals: Vec<Result<Vec<u8>, String>>,
}

const CACHE_MAGIC: &[u8] = b"FRACDET-RESIDUALS 1\n";

/// Header of a residual cache file: what the maps were computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CacheHeader {
    size: u32,
    scales: Vec<usize>,
    source: String,
    names: Vec<String>,
}

impl MprData {
    /// The labelled samples (unlabelled ones are dropped) at `size`; `augment` applies when
    /// `load` is given a seed. Residual maps are absent until
    /// [`compute_residuals`](Self::compute_residuals) or [`load_or_compute`](Self::load_or_compute).
    pub fn new(samples: &[Sample], size: u32, augment: Option<AugmentConfig>) -> Result<Self> {
        let labelled: Vec<Sample> = samples
            .iter()
            .filter(|s| s.label.is_some())
            .cloned()
            .collect();
        let n = labelled.len();
        let config = LoaderConfig {
            size,
            batch_size: 1,
            shuffle: false,
            augment: None,
            ..LoaderConfig::default()
        };
        let loader =
            Loader::new(labelled, config).map_err(|e| TrainError::Dataset(e.to_string()))?;
        Ok(Self {
            loader,
            augment,
            n_scales: 0,
            residuals: (0..n).map(|_| Ok(Vec::new())).collect(),
        })
    }

    pub fn positives(&self) -> usize {
        (0..self.len()).filter(|&i| self.label(i)).count()
    }

    fn size(&self) -> u32 {
        self.loader.config().size
    }

    /// Compute every sample's residual maps with `source`, `batch` canvases at a time;
    /// `progress(done, total)` after each batch. A sample whose image cannot be read, or
    /// whose maps fail, is recorded and skipped later; a failing source is an error.
    pub fn compute_residuals(
        &mut self,
        source: &dyn ResidualSource,
        batch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        let n = self.len();
        let size = self.size();
        let plane = size as usize * size as usize;
        self.n_scales = source.scales().len();
        let want = self.n_scales * plane;
        let mut out: Vec<Result<Vec<u8>, String>> = Vec::with_capacity(n);
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(batch.max(1)) {
            let canvases: Vec<Result<Vec<f32>, String>> = chunk
                .par_iter()
                .map(|&i| {
                    self.loader
                        .cached(i)
                        .map(|c| c.canvas())
                        .map_err(|s| s.error)
                })
                .collect();
            let ok: Vec<Vec<f32>> = canvases.iter().filter_map(|c| c.clone().ok()).collect();
            let maps = if want == 0 {
                vec![Vec::new(); ok.len()]
            } else {
                source.residuals(&ok, size)?
            };
            let mut maps = maps.into_iter();
            for c in canvases {
                out.push(match c {
                    Err(e) => Err(e),
                    Ok(_) => match maps.next() {
                        Some(m) if m.len() == want => Ok(quantise(&m)),
                        Some(m) => Err(format!(
                            "residual source gave {} values, expected {want}",
                            m.len()
                        )),
                        None => Err("residual source gave too few maps".into()),
                    },
                });
            }
            progress(out.len(), n);
        }
        self.residuals = out;
        Ok(())
    }

    /// Residual maps from the cache file at `path` when it was made by the same source at
    /// the same size for the same images; otherwise computed as
    /// [`compute_residuals`](Self::compute_residuals) does and written there.
    pub fn load_or_compute(
        &mut self,
        path: &Path,
        source: &dyn ResidualSource,
        batch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<bool> {
        let header = CacheHeader {
            size: self.size(),
            scales: source.scales().to_vec(),
            source: source.describe(),
            names: (0..self.len()).map(|i| self.name(i)).collect(),
        };
        if let Ok(bytes) = std::fs::read(path)
            && let Some(maps) = read_cache(&bytes, &header)
        {
            self.n_scales = header.scales.len();
            self.residuals = maps;
            return Ok(true);
        }
        self.compute_residuals(source, batch, progress)?;
        write_atomic(path, &write_cache(&header, &self.residuals)?)?;
        Ok(false)
    }

    /// Decode every image now (in parallel) and return those that could not be read.
    pub fn warm_up(&self) -> Vec<Skipped> {
        self.loader
            .warm_up()
            .into_iter()
            .map(|s| Skipped {
                index: s.index,
                name: s.image.display().to_string(),
                reason: s.error,
            })
            .collect()
    }
}

impl LabelledSource<MprItem> for MprData {
    fn len(&self) -> usize {
        self.loader.len()
    }

    fn label(&self, index: usize) -> bool {
        self.loader.samples()[index].label == Some(true)
    }

    fn name(&self, index: usize) -> String {
        self.loader.samples()[index].image.display().to_string()
    }

    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<MprItem, String> {
        let cached = self.loader.cached(index).map_err(|s| s.error)?;
        let maps = match self.residuals.get(index) {
            Some(Ok(m)) => dequantise(m),
            Some(Err(e)) => return Err(e.clone()),
            None => return Err("no such sample".into()),
        };
        let label = self.label(index);
        let image = cached.canvas();
        Ok(match (&self.augment, augment_seed) {
            (Some(cfg), Some(seed)) => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let s = augment_stack(
                    &image,
                    &maps,
                    self.size(),
                    cached.content(),
                    &cached.boxes,
                    cfg,
                    &mut rng,
                );
                MprItem {
                    image: s.image,
                    residuals: s.residuals,
                    boxes: s.boxes,
                    label,
                }
            }
            _ => MprItem {
                image,
                residuals: maps,
                boxes: cached.boxes.clone(),
                label,
            },
        })
    }
}

/// [0, 1] to bytes (values outside are clamped).
pub fn quantise(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

pub fn dequantise(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| b as f32 * (1.0 / 255.0)).collect()
}

/// Cache file: magic, u64 header length, JSON header, then per sample one flag byte (1 =
/// maps follow, 0 = none) and its maps.
fn write_cache(header: &CacheHeader, maps: &[Result<Vec<u8>, String>]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(header).map_err(|e| RunError::Serialise {
        what: "residual cache header",
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    out.extend_from_slice(CACHE_MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for m in maps {
        match m {
            Ok(bytes) => {
                out.push(1);
                out.extend_from_slice(bytes);
            }
            Err(_) => out.push(0),
        }
    }
    Ok(out)
}

/// The maps of a cache file whose header equals `want`; `None` for anything else.
fn read_cache(bytes: &[u8], want: &CacheHeader) -> Option<Vec<Result<Vec<u8>, String>>> {
    let rest = bytes.strip_prefix(CACHE_MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    let (json, mut rest) = rest.split_at(len);
    let header: CacheHeader = serde_json::from_slice(json).ok()?;
    if &header != want {
        return None;
    }
    let per = header.scales.len() * header.size as usize * header.size as usize;
    let mut maps = Vec::with_capacity(header.names.len());
    for _ in &header.names {
        let (&flag, tail) = rest.split_first()?;
        if flag == 1 {
            if tail.len() < per {
                return None;
            }
            let (m, tail) = tail.split_at(per);
            maps.push(Ok(m.to_vec()));
            rest = tail;
        } else {
            maps.push(Err("residual maps could not be computed".to_string()));
            rest = tail;
        }
    }
    rest.is_empty().then_some(maps)
}
