//! The healthy-bone inpainter G: a compact encoder–decoder that re-draws masked squares.
//!
//! Layout (`C` = [`InpainterConfig::width`], sizes for a 256² input):
//!
//! | stage | layer | output |
//! |---|---|---|
//! | input | masked image (masked pixels zeroed) ‖ mask, space-to-depth ×8 | 128 × 32² |
//! | enc | 2×2 conv, stride 2 | C × 16² |
//! | body | one residual 3×3 conv per entry of `dilations` | C × 16² |
//! | up | 3×3 conv to 128, depth-to-space ×2 | 32 × 32² |
//! | head | ‖ the space-to-depth input, 1×1 conv to 64, 1×1 conv to 64, sigmoid | 64 × 32² |
//! | output | depth-to-space ×8 | 1 × 256² |
//!
//! Why this shape: G runs 18 times per image at inference (9 phases × 2 scales), so it must
//! cost a few milliseconds. On burn's CPU backend a convolution is efficient when it is wide
//! and runs on a small grid, and several times slower at full resolution with few channels
//! (a 3×3 conv producing one full-size channel cost more than a whole /8 body). So every
//! spatial convolution runs at /16, full-resolution pixels enter and leave by space-to-depth
//! rearrangements (no multiply–adds), and only 1×1 convolutions touch the /8 grid, where the
//! raw input comes back in so that the drawing joins its surroundings. Leaky ReLU (0.2), no
//! normalisation layers: no train/inference difference, and one image behaves like a batch.
//! The dilated body gives each output pixel a receptive field of about ±130 px at the
//! defaults, well beyond the largest masked square, so a patch is re-drawn from its
//! surroundings. The result is composited: outside the mask the input comes back bit for
//! bit, so only the masked pixels are G's.
//!
//! Cost at 256²: about 70 M multiply–adds per pass with the defaults (measured times in
//! `docs/mpr.md`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::{leaky_relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::ModelError;

const SLOPE: f64 = 0.2;

/// Configuration of an [`Inpainter`].
#[derive(Config, Debug)]
pub struct InpainterConfig {
    /// Channels of the /16 body.
    #[config(default = 64)]
    pub width: usize,
    /// Dilation of each residual 3×3 convolution in the /8 body (one convolution each).
    #[config(default = "vec![1, 2, 4]")]
    pub dilations: Vec<usize>,
}

/// The inpainter network. Build it with [`InpainterConfig::init`].
#[derive(Module, Debug)]
pub struct Inpainter {
    pub enc: Conv2d,
    pub body: Vec<Conv2d>,
    pub up: Conv2d,
    pub head: Conv2d,
    pub out: Conv2d,
}

/// Space-to-depth factor of the input and depth-to-space factor of the output.
const S2D: usize = 8;
/// Channels of the space-to-depth input: (image, mask) × 8 × 8.
const IN_CHANNELS: usize = 2 * S2D * S2D;
/// Channels the up layer hands to the /8 head (after depth-to-space ×2).
const UP: usize = 32;
/// Channels of the head's hidden layer.
const HEAD: usize = 64;

/// A k×k convolution with "same" padding for odd `k` (none for `k = 2`).
fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, dilation: usize, d: &Device) -> Conv2d {
    let p = if k % 2 == 1 {
        dilation * (k - 1) / 2
    } else {
        0
    };
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_dilation([dilation, dilation])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(d)
}

impl InpainterConfig {
    /// Build the network with fresh weights.
    pub fn init(&self, device: &Device) -> Result<Inpainter, ModelError> {
        let c = self.width;
        if c == 0 {
            return Err(ModelError::Config(
                "inpainter width must be positive".into(),
            ));
        }
        if self.dilations.iter().any(|&d| d == 0 || d > 64) {
            return Err(ModelError::Config(format!(
                "inpainter dilations must be in 1..=64, got {:?}",
                self.dilations
            )));
        }
        Ok(Inpainter {
            enc: conv(IN_CHANNELS, c, 2, 2, 1, device),
            body: self
                .dilations
                .iter()
                .map(|&d| conv(c, c, 3, 1, d, device))
                .collect(),
            up: conv(c, 4 * UP, 3, 1, 1, device),
            head: conv(UP + IN_CHANNELS, HEAD, 1, 1, 1, device),
            out: conv(HEAD, S2D * S2D, 1, 1, 1, device),
        })
    }
}

/// `[N, C, H, W]` → `[N, C·r², H/r, W/r]`: each r×r block becomes r² channels.
fn space_to_depth(x: Tensor<4>, r: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h / r, r, w / r, r])
        .permute([0, 1, 3, 5, 2, 4])
        .reshape([n, c * r * r, h / r, w / r])
}

/// `[N, C·r², H, W]` → `[N, C, H·r, W·r]`, the inverse of [`space_to_depth`].
fn depth_to_space(x: Tensor<4>, r: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c / (r * r), r, r, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([n, c / (r * r), h * r, w * r])
}

impl Inpainter {
    /// The side lengths must be multiples of this.
    pub const ALIGN: usize = 16;

    /// Re-draw the masked pixels.
    ///
    /// - `masked_image`: `[N, 1, H, W]`, intensities in [0, 1]; what lies under the mask is
    ///   ignored (zeroed here), so the unmasked image may be passed as it is.
    /// - `mask`: `[N, 1, H, W]`, 1 where G must draw, 0 where the input is kept.
    /// - returns `[N, 1, H, W]` in [0, 1]: G's drawing where `mask > 0.5`, the input exactly
    ///   (bit for bit) elsewhere.
    ///
    /// `H` and `W` must be multiples of [`Self::ALIGN`] (256, the default working size, is).
    pub fn forward(&self, masked_image: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
        let drawn = self.draw(masked_image.clone(), mask.clone());
        masked_image.mask_where(mask.greater_elem(0.5), drawn)
    }

    /// G's drawing over the whole image before compositing: `[N, 1, H, W]` in [0, 1].
    pub fn draw(&self, masked_image: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
        let keep = mask.clone().neg().add_scalar(1.0);
        let x = space_to_depth(Tensor::cat(vec![masked_image * keep, mask], 1), S2D);
        let mut b = leaky_relu(self.enc.forward(x.clone()), SLOPE);
        for layer in &self.body {
            b = b.clone() + leaky_relu(layer.forward(b), SLOPE);
        }
        let u = depth_to_space(leaky_relu(self.up.forward(b), SLOPE), 2);
        let h = leaky_relu(self.head.forward(Tensor::cat(vec![u, x], 1)), SLOPE);
        depth_to_space(sigmoid(self.out.forward(h)), S2D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_to_space_inverts_space_to_depth() {
        let device = Device::flex();
        let x = Tensor::<4>::random(
            [2, 3, 8, 16],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let back = depth_to_space(space_to_depth(x.clone(), 4), 4);
        assert_eq!(back.dims(), [2, 3, 8, 16]);
        let diff: f32 = (back - x).abs().max().into_scalar();
        assert_eq!(diff, 0.0);
    }
}
