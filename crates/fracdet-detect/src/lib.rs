//! What a trained fracdet model finds on one radiograph: the fracture probability, a
//! two-level decision at the model's stored operating points, a heatmap of where it looked,
//! boxes around the hot regions (original pixels) and an overlay picture.
//!
//! Shared by `fracdet detect`, `fracdet evaluate`'s localisation and `fracdet serve`, so a
//! probability is the same number wherever it is shown. Models load from a training run
//! directory or from a bundle (`model.json` + f16 `model.safetensors`, see [`bundle`]).

pub mod bundle;
pub mod cam;
pub mod detector;
pub mod error;
pub mod evaluation;
pub mod export;
pub mod overlay;
pub mod regions;
pub mod results;
pub mod scorer;
pub mod typicality;

pub use bundle::{Manifest, ModelSource};
pub use cam::{Cam, CamModel};
pub use detector::{Decision, Decisions, Detection, Detector, Heatmap};
pub use error::{DetectError, Result};
pub use export::{ExportOptions, export_run};
pub use overlay::{encode_png, render_overlay};
pub use scorer::{ScoreKind, Scored, Scorer};
pub use typicality::{Typicality, TypicalityScore};
