//! What the training loop needs from a labelled image collection.

use rayon::prelude::*;

/// A labelled set of images, each delivered as an `I` (a grey canvas for the classifier
/// and the inpainter, an [`MprItem`](crate::mpr::data::MprItem) with its residual maps for
/// the MPR detector): the one source every model kind trains and validates from, and
/// [`load_batch`] the one way a batch of it is read.
///
/// Implementations wrap fracdet-io's datasets and loader; tests use in-memory ones. `load`
/// must be a pure function of `(index, augment_seed)`: that is what makes a resumed run
/// identical to an uninterrupted one.
pub trait LabelledSource<I>: Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether sample `index` shows a fracture.
    fn label(&self, index: usize) -> bool;

    /// Human-readable name for reports (usually the file path).
    fn name(&self, index: usize) -> String;

    /// Sample `index` at the run's working size; augmented with a generator seeded by
    /// `augment_seed` when it is given. An unreadable image is an `Err` with a one-line
    /// reason, never a panic.
    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<I, String>;
}

/// Grey canvases: `size * size` values in [0, 1], row-major, where `size` is the run's
/// input size.
pub trait SampleSource: LabelledSource<Vec<f32>> {}
impl<T: LabelledSource<Vec<f32>> + ?Sized> SampleSource for T {}

/// A sample that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub name: String,
    pub reason: String,
}

/// Samples of one batch that loaded, in request order, and those that did not.
pub(crate) struct LoadedBatch<I> {
    /// One per loaded sample.
    pub items: Vec<I>,
    /// The sample index of each item.
    pub indices: Vec<usize>,
    pub labels: Vec<bool>,
    pub skipped: Vec<Skipped>,
}

/// Load `indices` in parallel; order of the loaded samples follows `indices`, so the batch
/// does not depend on thread scheduling. An item `check` refuses (the wrong size, say) is
/// skipped with its reason, like an unreadable one.
pub(crate) fn load_batch<I: Send, S: LabelledSource<I> + ?Sized>(
    source: &S,
    indices: &[usize],
    seed_of: impl Fn(usize) -> Option<u64> + Sync,
    check: impl Fn(&I) -> Result<(), String> + Sync,
) -> LoadedBatch<I> {
    let results: Vec<(usize, Result<I, String>)> = indices
        .par_iter()
        .map(|&i| {
            let r = source
                .load(i, seed_of(i))
                .and_then(|item| check(&item).map(|()| item));
            (i, r)
        })
        .collect();
    let mut out = LoadedBatch {
        items: Vec::with_capacity(indices.len()),
        indices: Vec::with_capacity(indices.len()),
        labels: Vec::with_capacity(indices.len()),
        skipped: Vec::new(),
    };
    for (i, r) in results {
        match r {
            Ok(item) => {
                out.items.push(item);
                out.indices.push(i);
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

/// The [`load_batch`] check of grey canvases: `expected_len` values each.
pub(crate) fn canvas_of(expected_len: usize) -> impl Fn(&Vec<f32>) -> Result<(), String> + Sync {
    move |v| {
        if v.len() == expected_len {
            Ok(())
        } else {
            Err(format!(
                "loader returned {} values, expected {expected_len}",
                v.len()
            ))
        }
    }
}
