//! The detector's input: a grey canvas with its residual maps, normalised as the run's
//! config says. Training and prediction build it the same way, so it lives here once.

use burn::tensor::{Device, Tensor, TensorData};
use fracdet_io::BBox;

use crate::mpr::config::MprConfig;

/// One training or validation sample at working size.
#[derive(Debug, Clone, PartialEq)]
pub struct MprItem {
    /// `size * size` grey values in [0, 1].
    pub image: Vec<f32>,
    /// The residual maps, `n_scales * size * size` values in [0, 1] (empty without).
    pub residuals: Vec<f32>,
    /// Fracture boxes, canvas pixels.
    pub boxes: Vec<BBox>,
    pub label: bool,
}

impl MprItem {
    /// Side of the square canvas, pixels.
    pub fn side(&self) -> usize {
        (self.image.len() as f64).sqrt().round() as usize
    }
}

/// The normalised `[N, 1 + S, side, side]` input of `items`, all of one square side (the
/// run's size, or its training crop).
pub fn input_tensor(items: &[MprItem], config: &MprConfig, device: &Device) -> Tensor<4> {
    let side = items.first().map_or(config.size as usize, MprItem::side);
    let channels = config.in_channels();
    let mut data = Vec::with_capacity(items.len() * channels * side * side);
    let (m, s) = (config.image_mean, config.image_std);
    let r = 1.0 / config.residual_std;
    for item in items {
        data.extend(item.image.iter().map(|&v| (v - m) / s));
        data.extend(item.residuals.iter().map(|&v| v * r));
    }
    Tensor::from_data(
        TensorData::new(data, [items.len(), channels, side, side]),
        device,
    )
}
