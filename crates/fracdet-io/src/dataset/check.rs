//! Whole-dataset validation: decode every image, check boxes against decoded sizes, find
//! duplicate files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{Dataset, Issue, Layout, Split};
use crate::read::{ReadOptions, max_file_bytes, read_file_bounded, read_radiograph_bytes};

/// How to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub read: ReadOptions,
}

/// Readable images of one split, by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SplitCounts {
    pub fractured: usize,
    pub not_fractured: usize,
    pub unlabelled: usize,
}

impl SplitCounts {
    pub fn total(&self) -> usize {
        self.fractured + self.not_fractured + self.unlabelled
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub root: PathBuf,
    pub layout: Layout,
    /// Samples whose image decoded, per split.
    pub counts: BTreeMap<Split, SplitCounts>,
    /// Samples whose image could not be read or decoded (each also has an issue).
    pub unreadable: usize,
    /// Every problem: those found while indexing, then those found by decoding.
    pub issues: Vec<Issue>,
    /// Identical files that the dataset itself declares near-duplicates (all in one
    /// non-empty `group`, hence one split): not problems, but worth knowing since each
    /// weighs double in training.
    pub grouped_duplicates: Vec<Issue>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Per-file outcome of the parallel pass.
struct FileResult {
    hash: Option<blake3::Hash>,
    size: Option<(u32, u32)>,
    issues: Vec<Issue>,
}

fn check_file(path: &Path, options: &CheckOptions) -> FileResult {
    // Bounded like every read: a file swapped for something huge after indexing cannot
    // exhaust memory here.
    let bytes = match read_file_bounded(path, max_file_bytes(&options.read)) {
        Ok(b) => b,
        Err(e) => {
            return FileResult {
                hash: None,
                size: None,
                issues: vec![Issue::Unreadable {
                    image: path.to_path_buf(),
                    error: e.to_string(),
                }],
            };
        }
    };
    let hash = blake3::hash(&bytes);
    match read_radiograph_bytes(&bytes, path, &options.read) {
        Ok(r) => FileResult {
            hash: Some(hash),
            size: Some((r.width, r.height)),
            issues: Vec::new(),
        },
        Err(e) => FileResult {
            hash: Some(hash),
            size: None,
            issues: vec![Issue::Unreadable {
                image: path.to_path_buf(),
                error: escaped_path_in(e.to_string(), path),
            }],
        },
    }
}

/// The reader's message, with its lossy rendering of `path` (U+FFFD for every byte that is
/// not UTF-8) replaced by the escaped one, so the file can be told from its neighbours.
fn escaped_path_in(message: String, path: &Path) -> String {
    let lossy = path.display().to_string();
    let escaped = crate::walk::display_path(path);
    if lossy == escaped {
        message
    } else {
        message.replacen(&lossy, &escaped, 1)
    }
}

/// Decode every sample's image in parallel (rayon's global pool) and report counts and
/// problems. `on_file` is called once per file as it finishes (progress display).
/// Never fails: anything wrong with a file becomes an [`Issue`].
pub fn check(
    dataset: &Dataset,
    options: &CheckOptions,
    on_file: &(dyn Fn() + Sync),
) -> CheckReport {
    let results: Vec<FileResult> = dataset
        .samples
        .par_iter()
        .map(|s| {
            let mut r = check_file(&s.image, options);
            if let Some((w, h)) = r.size {
                for b in &s.boxes {
                    if !b.is_inside(w, h) {
                        r.issues.push(Issue::BoxOutsideImage {
                            image: s.image.clone(),
                            bbox: *b,
                            width: w,
                            height: h,
                        });
                    }
                }
                if let Some(declared) = s.meta.declared_size
                    && declared != (w, h)
                {
                    r.issues.push(Issue::SizeMismatch {
                        image: s.image.clone(),
                        declared,
                        decoded: (w, h),
                    });
                }
            }
            on_file();
            r
        })
        .collect();

    let mut issues = dataset.issues.clone();
    let mut counts: BTreeMap<Split, SplitCounts> = BTreeMap::new();
    let mut unreadable = 0;
    let mut by_hash: BTreeMap<[u8; 32], Vec<usize>> = BTreeMap::new();
    for (i, (sample, r)) in dataset.samples.iter().zip(results).enumerate() {
        if let Some(h) = r.hash {
            by_hash.entry(*h.as_bytes()).or_default().push(i);
        }
        if r.size.is_some() {
            let c = counts.entry(sample.split).or_default();
            match sample.label {
                Some(true) => c.fractured += 1,
                Some(false) => c.not_fractured += 1,
                None => c.unlabelled += 1,
            }
        } else {
            unreadable += 1;
        }
        issues.extend(r.issues);
    }
    let mut grouped_duplicates = Vec::new();
    for (hash, members) in by_hash {
        if members.len() < 2 {
            continue;
        }
        let first = &dataset.samples[members[0]];
        let declared = first.meta.group.is_some()
            && members.iter().all(|&i| {
                let s = &dataset.samples[i];
                s.meta.group == first.meta.group && s.split == first.split && s.label == first.label
            });
        let issue = Issue::DuplicateFiles {
            hash: blake3::Hash::from_bytes(hash).to_hex().to_string(),
            images: members
                .iter()
                .map(|&i| dataset.samples[i].image.clone())
                .collect(),
        };
        if declared {
            grouped_duplicates.push(issue);
        } else {
            issues.push(issue);
        }
    }
    CheckReport {
        root: dataset.root.clone(),
        layout: dataset.layout,
        counts,
        unreadable,
        issues,
        grouped_duplicates,
    }
}
