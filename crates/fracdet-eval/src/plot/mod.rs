//! PNG plots drawn with `plotters`' bitmap backend.
//!
//! Text is rendered with the DejaVu Sans TTF bundled in `assets/` (via plotters'
//! `ab_glyph` feature), so plotting needs no system fonts or fontconfig and renders the
//! same on every machine. Every plot has a title, axis labels and a legend.

mod confusion;
mod histogram;
mod reliability;
mod roc_pr;
mod style;
mod training;

pub use confusion::plot_confusion_matrix;
pub use histogram::plot_score_histograms;
pub use reliability::plot_reliability;
pub use roc_pr::{plot_pr, plot_roc};
pub use training::plot_training_curves;

/// Default image size in pixels (width, height).
pub const DEFAULT_SIZE: (u32, u32) = (800, 640);
