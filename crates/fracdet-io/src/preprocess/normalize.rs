//! Grey [0, 1] canvas -> normalised CHW f32 network input.

use serde::{Deserialize, Serialize};

/// ImageNet channel means (R, G, B) of [0, 1] pixels, as torchvision uses them.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (R, G, B).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How a grey canvas becomes network input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum Normalization {
    /// One channel: `(v - mean) / std`.
    Grey { mean: f32, std: f32 },
    /// Three channels for ImageNet-pretrained backbones: grey replicated to R, G, B, each
    /// normalised with the ImageNet mean/std of that channel.
    #[default]
    ImageNet,
}

impl Normalization {
    /// Channels of the output tensor.
    pub fn channels(&self) -> usize {
        match self {
            Normalization::Grey { .. } => 1,
            Normalization::ImageNet => 3,
        }
    }

    /// (mean, std) of each output channel.
    fn stats(&self) -> Vec<(f32, f32)> {
        match *self {
            Normalization::Grey { mean, std } => vec![(mean, std)],
            Normalization::ImageNet => IMAGENET_MEAN.into_iter().zip(IMAGENET_STD).collect(),
        }
    }
}

/// Normalise a grey plane (`h * w` values in [0, 1], row-major) into a new
/// `C x h x w` buffer (C = [`Normalization::channels`]).
pub fn to_chw(grey: &[f32], norm: &Normalization) -> Vec<f32> {
    let mut out = Vec::with_capacity(grey.len() * norm.channels());
    to_chw_into(grey, norm, &mut out);
    out
}

/// Like [`to_chw`], appending to `out` (batch assembly without extra copies).
/// A zero `std` is treated as 1 so no input can produce infinities.
pub fn to_chw_into(grey: &[f32], norm: &Normalization, out: &mut Vec<f32>) {
    for (mean, std) in norm.stats() {
        let inv = if std == 0.0 || !std.is_finite() {
            1.0
        } else {
            1.0 / std
        };
        out.extend(grey.iter().map(|&v| (v - mean) * inv));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_and_imagenet() {
        let g = [0.0, 0.5, 1.0, 0.25];
        let one = to_chw(
            &g,
            &Normalization::Grey {
                mean: 0.5,
                std: 0.25,
            },
        );
        assert_eq!(one, vec![-2.0, 0.0, 2.0, -1.0]);
        let three = to_chw(&g, &Normalization::ImageNet);
        assert_eq!(three.len(), 12);
        for c in 0..3 {
            for i in 0..4 {
                let want = (g[i] - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
                assert!((three[c * 4 + i] - want).abs() < 1e-6);
            }
        }
        assert_eq!(
            to_chw(
                &g,
                &Normalization::Grey {
                    mean: 0.0,
                    std: 0.0
                }
            ),
            g.to_vec()
        );
    }
}
