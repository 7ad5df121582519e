//! Small pieces the ResNet and DenseNet backbones share.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Tensor};

use crate::ModelError;

/// PyTorch's BatchNorm epsilon, which torchvision's ResNet and DenseNet keep.
pub const TORCH_BN_EPS: f64 = 1e-5;

/// A bias-free square convolution with symmetric zero padding `padding`, as torchvision builds
/// them (`nn.Conv2d(c_in, c_out, k, stride, padding, bias=False)`).
pub fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .init(device)
}

/// A BatchNorm over `channels` features with PyTorch's epsilon.
pub fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(TORCH_BN_EPS)
        .init(device)
}

/// Global average pooling and flattening: `[N, C, H, W]` -> `[N, C]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
}

/// Refuse a zero where a positive count is needed; burn's layer constructors would panic.
pub fn positive(what: &str, value: usize) -> Result<(), ModelError> {
    if value == 0 {
        Err(ModelError::Config(format!("{what} must be positive")))
    } else {
        Ok(())
    }
}

/// Refuse an input-channel count other than 1 (grayscale radiograph) or 3 (RGB / ImageNet).
pub fn check_in_channels(in_channels: usize) -> Result<(), ModelError> {
    if in_channels == 1 || in_channels == 3 {
        Ok(())
    } else {
        Err(ModelError::Config(format!(
            "in_channels must be 1 or 3, got {in_channels}"
        )))
    }
}
