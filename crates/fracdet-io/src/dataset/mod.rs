//! Labelled radiograph collections: what images there are, their labels, fracture boxes
//! and the metadata needed for subgroup analysis.
//!
//! Two on-disk layouts are understood and told apart automatically ([`Layout::detect`]):
//! - [`Layout::FracAtlas`]: `labels.csv` (+ optional `boxes.csv`) and `images/`;
//! - [`Layout::Folders`]: `ROOT/<split>/<class>/…` with class folders such as `fractured`
//!   and `not fractured`.
//!
//! Opening a dataset only reads the tables and lists folders; it never decodes images
//! (that is [`check`]'s and the loader's job). Problems that leave the rest usable (a
//! label without its image, an image no table mentions) are collected as [`Issue`]s;
//! tables that cannot be parsed are errors naming file and line.

pub mod check;
mod folders;
mod fracatlas;
mod issue;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{BBox, IoError, Result};

pub use check::{CheckOptions, CheckReport, SplitCounts, check};
pub use fracatlas::BODY_PARTS;
pub use issue::Issue;

/// Which part of the data a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// Parse a split name case-insensitively: `train`/`training`, `val`/`valid`/
    /// `validation`, `test`/`testing`.
    pub fn parse(name: &str) -> Option<Split> {
        match name.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Split::Train),
            "val" | "valid" | "validation" => Some(Split::Val),
            "test" | "testing" => Some(Split::Test),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = IoError;
    fn from_str(s: &str) -> Result<Self> {
        Split::parse(s).ok_or_else(|| {
            IoError::InvalidArgument(format!("unknown split {s:?} (expected train, val or test)"))
        })
    }
}

/// Projection of the radiograph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum View {
    Frontal,
    Lateral,
    Oblique,
}

/// What is known about a sample beyond its label, for subgroup analysis. Fields are
/// `None`/empty when the layout does not record them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleMeta {
    /// `hand`, `leg`, `hip`, `shoulder`, or `mixed` when the image covers several regions.
    pub body_part: Option<String>,
    /// Every region the image shows (several for `mixed` images), as the table flags them;
    /// empty when the layout does not record regions.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Orthopaedic hardware (plates, screws) visible.
    pub hardware: Option<bool>,
    /// Several projections on one image.
    pub multiscan: Option<bool>,
    /// Projections shown (several for multi-view images).
    pub views: Vec<View>,
    /// Near-duplicate group: samples with the same group must stay in one split.
    pub group: Option<String>,
    /// Image size the table declares, (width, height) in pixels.
    pub declared_size: Option<(u32, u32)>,
}

/// One labelled radiograph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Path of the image file.
    pub image: PathBuf,
    pub split: Split,
    /// `Some(true)` fractured, `Some(false)` not fractured, `None` unlabelled.
    pub label: Option<bool>,
    /// Fracture boxes in original image pixels.
    pub boxes: Vec<BBox>,
    pub meta: SampleMeta,
}

impl Sample {
    /// Whether the image shows `region` at all: alone, or among others on a `mixed` image.
    /// A region left out of training must leave out the mixed images that show it too.
    pub fn shows_region(&self, region: &str) -> bool {
        self.meta.body_part.as_deref() == Some(region)
            || self.meta.regions.iter().any(|r| r == region)
    }
}

/// The samples that do not show `region` (all of them when `region` is `None`).
pub fn without_region(samples: Vec<Sample>, region: Option<&str>) -> Vec<Sample> {
    match region {
        None => samples,
        Some(r) => samples.into_iter().filter(|s| !s.shows_region(r)).collect(),
    }
}

/// How a dataset is laid out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// `labels.csv` (columns `image, fractured, …, split, group`), optional `boxes.csv`
    /// (`image, x_min, y_min, x_max, y_max`), images in `images/`.
    FracAtlas,
    /// `ROOT/<split>/<class>/…`, class folders `fractured`/`positive`/`abnormal` or
    /// `not fractured`/`not_fractured`/`normal`/`negative` (any case).
    Folders,
}

impl Layout {
    /// Which layout `root` has: FracAtlas when it holds `labels.csv`, folders when it
    /// holds at least one split folder (`train`, `val`, `test`, …).
    pub fn detect(root: &Path) -> Result<Layout> {
        if !root.is_dir() {
            return Err(IoError::Dataset {
                path: root.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        if root.join(fracatlas::LABELS).is_file() {
            return Ok(Layout::FracAtlas);
        }
        let entries = std::fs::read_dir(root).map_err(|e| IoError::io(root, e))?;
        for entry in entries.flatten() {
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && Split::parse(&entry.file_name().to_string_lossy()).is_some() {
                return Ok(Layout::Folders);
            }
        }
        Err(IoError::Dataset {
            path: root.to_path_buf(),
            reason: format!(
                "unknown dataset layout: no {} and no split folders (train/, val/, test/)",
                fracatlas::LABELS
            ),
        })
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::FracAtlas => "FracAtlas (labels.csv + images/)",
            Layout::Folders => "folders (<split>/<class>/)",
        })
    }
}

/// A dataset as indexed from disk.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub root: PathBuf,
    pub layout: Layout,
    /// Every sample whose image file exists, sorted by path.
    pub samples: Vec<Sample>,
    /// Problems found while indexing (labels without images, images without labels, …).
    pub issues: Vec<Issue>,
}

impl Dataset {
    /// Index the dataset at `root`, detecting its layout.
    pub fn open(root: impl AsRef<Path>) -> Result<Dataset> {
        let root = root.as_ref();
        let layout = Layout::detect(root)?;
        Self::open_as(root, layout)
    }

    /// Index the dataset at `root` with a known layout.
    pub fn open_as(root: impl AsRef<Path>, layout: Layout) -> Result<Dataset> {
        let root = root.as_ref();
        let (mut samples, issues) = match layout {
            Layout::FracAtlas => fracatlas::load(root)?,
            Layout::Folders => folders::load(root)?,
        };
        samples.sort_by(|a, b| a.image.cmp(&b.image));
        Ok(Dataset {
            root: root.to_path_buf(),
            layout,
            samples,
            issues,
        })
    }

    /// The samples of one split, in dataset order.
    pub fn split(&self, split: Split) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|s| s.split == split)
            .cloned()
            .collect()
    }

    /// Splits present, in train/val/test order.
    pub fn splits(&self) -> Vec<Split> {
        Split::ALL
            .into_iter()
            .filter(|sp| self.samples.iter().any(|s| s.split == *sp))
            .collect()
    }
}

/// File extensions taken to be radiographs (lower case). Files without an extension are
/// also taken, as DICOM files often have none.
pub(crate) const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "dcm", "dicom"];

/// Whether a file name looks like a radiograph (not hidden, known or no extension). Names
/// that are not valid UTF-8 are judged on their bytes, so they are read (and reported when
/// corrupt) like any other.
pub(crate) fn looks_like_image(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    if name.as_encoded_bytes().starts_with(b".") {
        return false;
    }
    match path.extension() {
        None => true,
        Some(ext) => {
            IMAGE_EXTENSIONS.contains(&ext.to_string_lossy().to_ascii_lowercase().as_str())
        }
    }
}
