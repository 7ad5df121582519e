//! Problems with a dataset that leave the rest of it usable.

use std::path::PathBuf;

use serde::Serialize;

use crate::BBox;
use crate::walk::{Skipped, display_path};

/// One problem found in a dataset. `Display` gives one line naming the file (and table
/// line where there is one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Issue {
    /// A table row names an image file that does not exist.
    MissingImage {
        table: PathBuf,
        line: u64,
        image: PathBuf,
    },
    /// An image file no label covers (not in the table, or not in a class folder).
    UnlabelledImage { image: PathBuf },
    /// A folder under a split that is not a recognised class name.
    UnknownClassFolder { folder: PathBuf },
    /// The same image appears twice in the label table.
    DuplicateLabel {
        table: PathBuf,
        line: u64,
        image: String,
    },
    /// A box row for an image that has no label row.
    BoxWithoutLabel {
        table: PathBuf,
        line: u64,
        image: String,
    },
    /// A box row with inverted or non-finite coordinates.
    InvalidBox {
        table: PathBuf,
        line: u64,
        image: String,
        bbox: BBox,
    },
    /// A fracture box on an image labelled not fractured.
    BoxOnNegative {
        table: PathBuf,
        line: u64,
        image: String,
    },
    /// The image could not be read or decoded.
    Unreadable { image: PathBuf, error: String },
    /// A box extends beyond the decoded image.
    BoxOutsideImage {
        image: PathBuf,
        bbox: BBox,
        width: u32,
        height: u32,
    },
    /// The table's width/height disagree with the decoded image.
    SizeMismatch {
        image: PathBuf,
        declared: (u32, u32),
        decoded: (u32, u32),
    },
    /// Files with identical content (blake3); a leak risk when they span splits.
    DuplicateFiles { hash: String, images: Vec<PathBuf> },
    /// A path under an image folder that was not read: a link leaving the dataset, a loop,
    /// a dangling link, a named pipe or device (see [`crate::walk::SkipReason`]).
    NotAFile { path: PathBuf, reason: String },
}

impl From<Skipped> for Issue {
    fn from(s: Skipped) -> Self {
        Issue::NotAFile {
            path: s.path,
            reason: s.reason.to_string(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issue::MissingImage { table, line, image } => {
                write!(
                    f,
                    "{}:{line}: image {} does not exist",
                    display_path(table),
                    display_path(image)
                )
            }
            Issue::UnlabelledImage { image } => {
                write!(f, "{}: image has no label", display_path(image))
            }
            Issue::UnknownClassFolder { folder } => write!(
                f,
                "{}: not a class folder (expected fractured/positive/abnormal or not fractured/normal/negative)",
                display_path(folder)
            ),
            Issue::DuplicateLabel { table, line, image } => {
                write!(
                    f,
                    "{}:{line}: image {image} is labelled again",
                    display_path(table)
                )
            }
            Issue::BoxWithoutLabel { table, line, image } => {
                write!(
                    f,
                    "{}:{line}: box for image {image}, which has no label",
                    display_path(table)
                )
            }
            Issue::InvalidBox {
                table,
                line,
                image,
                bbox,
            } => write!(
                f,
                "{}:{line}: invalid box for {image}: ({}, {}, {}, {})",
                display_path(table),
                bbox.x_min,
                bbox.y_min,
                bbox.x_max,
                bbox.y_max
            ),
            Issue::BoxOnNegative { table, line, image } => write!(
                f,
                "{}:{line}: fracture box on {image}, which is labelled not fractured",
                display_path(table)
            ),
            // The reader's errors already begin with the file's path.
            Issue::Unreadable { error, .. } => write!(f, "unreadable: {error}"),
            Issue::BoxOutsideImage {
                image,
                bbox,
                width,
                height,
            } => write!(
                f,
                "{}: box ({}, {}, {}, {}) extends outside the {width}x{height} image",
                display_path(image),
                bbox.x_min,
                bbox.y_min,
                bbox.x_max,
                bbox.y_max
            ),
            Issue::SizeMismatch {
                image,
                declared,
                decoded,
            } => write!(
                f,
                "{}: table says {}x{}, image is {}x{}",
                display_path(image),
                declared.0,
                declared.1,
                decoded.0,
                decoded.1
            ),
            Issue::NotAFile { path, reason } => {
                write!(f, "{}: not read: {reason}", display_path(path))
            }
            Issue::DuplicateFiles { hash, images } => {
                write!(
                    f,
                    "identical files (blake3 {}):",
                    &hash[..hash.len().min(16)]
                )?;
                for p in images {
                    write!(f, " {}", display_path(p))?;
                }
                Ok(())
            }
        }
    }
}
