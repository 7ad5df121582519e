//! Networks for fracdet and the import of pretrained weights.
//!
//! Model code names no backend: tensors carry their device, so the same code runs on the
//! pure-Rust CPU backend (`flex`, the default), LibTorch, CUDA or wgpu, chosen by Cargo feature.
//!
//! - [`backbone`]: ResNet-18/34/50, DenseNet-121/169, MobileNetV2, EfficientNet-Lite0 in
//!   torchvision's tensor layout, each with a fresh 1-logit head.
//! - [`classifier`]: [`Classifier`], one type over all of them, built from a [`BackboneKind`].
//! - [`import`]: [`load_weights`] for PyTorch `.pth` (zip and legacy) and safetensors files.
//! - [`mpr`]: the healthy-bone inpainter, its critics and the patch-residual maps (issue #5).
//!
//! Run inference on a model with `model.valid()` so BatchNorm uses its running statistics.

pub mod backbone;
pub mod classifier;
pub mod error;
pub mod grid_detector;
pub mod import;
pub mod mpr;

pub use classifier::{BackboneKind, Classifier};
pub use error::ModelError;
pub use import::{ImportReport, ImportSpec, load_weights};
