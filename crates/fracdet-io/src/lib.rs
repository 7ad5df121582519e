//! Radiograph input for fracdet.
//!
//! Data flows one way through this crate: files on disk are decoded by [`read`] into a
//! [`Radiograph`] (grey f32 in [0, 1] at original size, with what the reader saw in
//! [`Metadata`]); [`preprocess`] turns that into a square network input and remembers the
//! transform so outputs map back to original pixels; [`dataset`] describes labelled
//! collections and [`loader`] turns them into augmented batches. [`write`] goes the other
//! way for results: a DICOM Secondary Capture beside the source, which is never modified.
//! [`applicability`] says whether an image is a projection radiograph at all, before any
//! model sees it.

pub mod applicability;
pub mod augment;
pub mod dataset;
pub mod error;
pub mod geometry;
pub mod inspection;
pub mod loader;
pub mod perturb;
pub mod preprocess;
pub mod radiograph;
pub mod read;
pub mod walk;
pub mod write;

pub use error::{IoError, Result};
pub use geometry::BBox;
pub use radiograph::{Format, Metadata, Photometric, Radiograph, Window};
pub use read::{ReadOptions, read_radiograph, read_radiograph_bytes};
pub use write::{ScOptions, secondary_capture, secondary_capture_bytes, write_secondary_capture};
