//! What the training loop needs from a labelled image collection.

use rayon::prelude::*;

/// A labelled set of images, each delivered as a grey square canvas.
///
/// Implementations wrap fracdet-io's datasets and loader; tests use in-memory ones. `load`
/// must be a pure function of `(index, augment_seed)`: that is what makes a resumed run
/// identical to an uninterrupted one.
pub trait SampleSource: Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether sample `index` shows a fracture.
    fn label(&self, index: usize) -> bool;

    /// Human-readable name for reports (usually the file path).
    fn name(&self, index: usize) -> String;

    /// Sample `index` as `size * size` grey values in [0, 1], row-major, where `size` is the
    /// run's input size; augmented with a generator seeded by `augment_seed` when it is given.
    /// An unreadable image is an `Err` with a one-line reason, never a panic.
    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<Vec<f32>, String>;
}

/// A sample that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub name: String,
    pub reason: String,
}

/// Samples of one batch that loaded, in request order, and those that did not.
pub(crate) struct LoadedBatch {
    /// Grey canvases, one per loaded sample.
    pub canvases: Vec<Vec<f32>>,
    pub labels: Vec<bool>,
    pub skipped: Vec<Skipped>,
}

/// Load `indices` in parallel; order of the loaded samples follows `indices`, so the batch
/// does not depend on thread scheduling.
pub(crate) fn load_batch(
    source: &dyn SampleSource,
    indices: &[usize],
    seed_of: impl Fn(usize) -> Option<u64> + Sync,
    expected_len: usize,
) -> LoadedBatch {
    let results: Vec<(usize, Result<Vec<f32>, String>)> = indices
        .par_iter()
        .map(|&i| {
            let r = source.load(i, seed_of(i)).and_then(|v| {
                if v.len() == expected_len {
                    Ok(v)
                } else {
                    Err(format!(
                        "loader returned {} values, expected {expected_len}",
                        v.len()
                    ))
                }
            });
            (i, r)
        })
        .collect();
    let mut out = LoadedBatch {
        canvases: Vec::with_capacity(indices.len()),
        labels: Vec::with_capacity(indices.len()),
        skipped: Vec::new(),
    };
    for (i, r) in results {
        match r {
            Ok(v) => {
                out.canvases.push(v);
                out.labels.push(source.label(i));
            }
            Err(reason) => out.skipped.push(Skipped {
                index: i,
                name: source.name(i),
                reason,
            }),
        }
    }
    out
}
