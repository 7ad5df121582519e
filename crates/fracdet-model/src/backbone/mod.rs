//! Backbones in torchvision's tensor layout (issue #3).
//!
//! Each network is built from a `#[derive(Config)]` config with `init(&device)`, takes 1 or 3
//! input channels, ends in a fresh linear head (1 logit by default), and offers
//! `forward_features` (last feature map) and `forward` (logits). Each config's `import_spec`
//! says how the matching PyTorch checkpoint's keys map onto it (see [`crate::import`]).
//! [`crate::classifier::Classifier`] wraps them all behind one type.

pub mod common;
pub mod densenet;
pub mod resnet;

// MobileNetV2 and EfficientNet-Lite0 (a parallel helper's files, sharing the inverted residual).
pub mod efficientnet_lite;
pub mod mobilenet_v2;
