//! The critics of the multiscale GAN: patch discriminators with spectral normalisation.
//!
//! The same architecture serves both roles; the trainer feeds it different views:
//! - **local**: a square crop twice the masked patch's side, centred on it (the patch with
//!   its context), resized to a fixed side (64 px by default);
//! - **global**: the whole image, downscaled (to 128 px by default).
//!
//! Each takes the image and the mask as two channels, so it knows where to look, and returns
//! a map of logits (PatchGAN): one verdict per receptive field rather than one per image.
//! Every convolution is spectrally normalised ([`super::spectral_norm`]), which keeps the
//! critic 1-Lipschitz-ish without the second-order gradients a gradient penalty would need.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;

use super::spectral_norm::{SnConv2d, sn_conv2d};
use crate::ModelError;

/// Configuration of a [`Discriminator`].
#[derive(Config, Debug)]
pub struct DiscriminatorConfig {
    /// Input channels: image and mask.
    #[config(default = 2)]
    pub in_channels: usize,
    /// Channels of the first layer, doubled at each further stride-2 layer.
    #[config(default = 32)]
    pub base_width: usize,
    /// Stride-2 4×4 layers before the 3×3 logit layer; the logit map is the input / 2^layers.
    #[config(default = 3)]
    pub layers: usize,
}

/// A spectrally normalised PatchGAN critic.
#[derive(Module, Debug)]
pub struct Discriminator {
    pub layers: Vec<SnConv2d>,
    pub logits: SnConv2d,
}

impl DiscriminatorConfig {
    /// Build the network with fresh weights.
    pub fn init(&self, device: &Device) -> Result<Discriminator, ModelError> {
        if self.in_channels == 0 || self.base_width == 0 || self.layers == 0 || self.layers > 6 {
            return Err(ModelError::Config(format!(
                "discriminator needs positive channels and 1..=6 layers, got {self:?}"
            )));
        }
        let mut layers = Vec::with_capacity(self.layers);
        let mut c = self.in_channels;
        for i in 0..self.layers {
            let out = self.base_width << i;
            layers.push(sn_conv2d(c, out, 4, 2, 1, device));
            c = out;
        }
        Ok(Discriminator {
            layers,
            logits: sn_conv2d(c, 1, 3, 1, 1, device),
        })
    }
}

impl Discriminator {
    /// `[N, in_channels, H, W]` (image in [0, 1] and mask) → logits `[N, 1, H / 2^L, W / 2^L]`
    /// (higher = "real"). On an autodiff device each call advances the spectral-norm power
    /// iteration of every layer by one step.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        for layer in &self.layers {
            h = leaky_relu(layer.forward(h), 0.2);
        }
        self.logits.forward(h)
    }
}
