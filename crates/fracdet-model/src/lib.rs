//! Networks for fracdet and the import of pretrained weights.
//!
//! Model code names no backend: tensors carry their device, so the same code runs on the
//! pure-Rust CPU backend (`flex`, the default), LibTorch, CUDA or wgpu, chosen by Cargo feature.

pub mod backbone;
pub mod error;
pub mod import;

pub use error::ModelError;
