//! MobileNetV2 (Sandler et al. 2018) in torchvision's layout.
//!
//! The network mirrors `torchvision.models.mobilenet_v2` op for op: a 3×3 stride-2 stem, the
//! inverted-residual stages of [`MobileNetV2Config::TORCHVISION_SETTINGS`], a 1×1 conv to
//! `last_channel`, global average pooling, dropout and a linear head. BatchNorm epsilon is
//! PyTorch's default 1e-5 and padding is symmetric `(k - 1) / 2`, as in torchvision.
//!
//! Parameter names are readable (`blocks.3.depthwise.conv.weight`) rather than torchvision's
//! `features.4.conv.1.0.weight`; [`MobileNetV2Config::import_spec`] maps one onto the other.
//!
//! The building blocks ([`ConvBnAct`], [`InvertedResidual`]) are shared with EfficientNet-Lite,
//! whose MBConv block is this inverted residual with TF-style padding and another epsilon.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

use super::common::{check_in_channels, global_avg_pool};
use crate::ModelError;
use crate::import::ImportSpec;

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `(k - 1) / 2` on every side (PyTorch/torchvision convention).
    Symmetric,
    /// TensorFlow "SAME": output size `ceil(in / stride)`, the odd extra pixel at the bottom/right.
    /// EfficientNet checkpoints ported from TensorFlow need it for their stride-2 layers.
    TfSame,
}

/// Shape of one convolution + BatchNorm (+ optional ReLU6) unit.
#[derive(Debug, Clone, Copy)]
pub struct ConvBnSpec {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Convolution groups (`c_in` for a depthwise convolution).
    pub groups: usize,
    /// Padding rule.
    pub padding: Padding,
    /// BatchNorm epsilon.
    pub bn_eps: f64,
    /// Apply ReLU6 after the BatchNorm.
    pub relu6: bool,
}

impl ConvBnSpec {
    /// Build the unit. Channel counts must be positive and divisible by `groups`; callers
    /// check their configs before getting here.
    pub fn init(&self, device: &Device) -> ConvBnAct {
        let padding = match self.padding {
            Padding::Symmetric => {
                let p = self.kernel.saturating_sub(1) / 2;
                PaddingConfig2d::Explicit(p, p, p, p)
            }
            Padding::TfSame => PaddingConfig2d::Same,
        };
        ConvBnAct {
            conv: Conv2dConfig::new([self.c_in, self.c_out], [self.kernel, self.kernel])
                .with_stride([self.stride, self.stride])
                .with_groups(self.groups)
                .with_padding(padding)
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(self.c_out)
                .with_epsilon(self.bn_eps)
                .init(device),
            relu6: self.relu6,
        }
    }
}

/// Convolution without bias, BatchNorm, then ReLU6 when `relu6` is set.
#[derive(Module, Debug)]
pub struct ConvBnAct {
    /// The convolution; its weight is `[c_out, c_in / groups, k, k]`.
    pub conv: Conv2d,
    /// BatchNorm over `c_out` channels.
    pub bn: BatchNorm,
    /// Whether ReLU6 follows (false for the linear bottleneck projection).
    pub relu6: bool,
}

impl ConvBnAct {
    /// `[B, c_in, H, W]` → `[B, c_out, H', W']`, `H' = ceil(H / stride)` for odd kernels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.bn.forward(self.conv.forward(x));
        if self.relu6 { relu6(x) } else { x }
    }
}

/// Inverted residual ("MBConv"): optional 1×1 expansion to `c_in * t` channels, k×k depthwise
/// convolution, linear 1×1 projection, and an identity shortcut when stride is 1 and the
/// channel count is unchanged.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    /// 1×1 expansion with ReLU6; absent when the expansion ratio is 1.
    pub expand: Option<ConvBnAct>,
    /// Depthwise k×k convolution with ReLU6 (carries the block's stride).
    pub depthwise: ConvBnAct,
    /// 1×1 projection, no activation.
    pub project: ConvBnAct,
    /// Whether the input is added to the output.
    pub residual: bool,
}

/// Shape of an [`InvertedResidual`].
#[derive(Debug, Clone, Copy)]
pub struct InvertedResidualSpec {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Hidden (expanded) channels; equal to `c_in` means no expansion layer.
    pub hidden: usize,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Depthwise stride.
    pub stride: usize,
    /// Padding rule of the depthwise convolution.
    pub padding: Padding,
    /// BatchNorm epsilon.
    pub bn_eps: f64,
    /// Whether an expansion layer exists (torchvision: `expand_ratio != 1`).
    pub has_expand: bool,
}

impl InvertedResidualSpec {
    /// Whether the built block will add its input to its output.
    pub fn residual_expected(&self) -> bool {
        self.stride == 1 && self.c_in == self.c_out
    }

    /// Build the block.
    pub fn init(&self, device: &Device) -> InvertedResidual {
        let unit = |c_in, c_out, kernel, stride, groups, relu6| ConvBnSpec {
            c_in,
            c_out,
            kernel,
            stride,
            groups,
            padding: self.padding,
            bn_eps: self.bn_eps,
            relu6,
        };
        let expand = self
            .has_expand
            .then(|| unit(self.c_in, self.hidden, 1, 1, 1, true).init(device));
        InvertedResidual {
            expand,
            depthwise: unit(
                self.hidden,
                self.hidden,
                self.kernel,
                self.stride,
                self.hidden,
                true,
            )
            .init(device),
            project: unit(self.hidden, self.c_out, 1, 1, 1, false).init(device),
            residual: self.residual_expected(),
        }
    }
}

impl InvertedResidual {
    /// `[B, c_in, H, W]` → `[B, c_out, ceil(H / stride), ceil(W / stride)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x.clone();
        if let Some(expand) = &self.expand {
            h = expand.forward(h);
        }
        let h = self.project.forward(self.depthwise.forward(h));
        if self.residual { h + x } else { h }
    }
}

/// Configuration of a [`MobileNetV2`]. Defaults give torchvision's `mobilenet_v2()` with a
/// 3-channel input and a fresh 1-logit head.
#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    /// Input channels: 3 for RGB (ImageNet weights as they are), 1 for grayscale radiographs
    /// (the import sums the pretrained stem kernel over RGB).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Logits out of the head: 1 for fracture/no fracture, 1000 to keep the ImageNet head.
    #[config(default = 1)]
    pub num_classes: usize,
    /// Width multiplier applied to every stage's channel count (torchvision `width_mult`).
    #[config(default = 1.0)]
    pub width_mult: f64,
    /// Channel counts are rounded to a multiple of this (torchvision `round_nearest`).
    #[config(default = 8)]
    pub round_nearest: usize,
    /// Stages as `[t, c, n, s]` rows: expansion ratio, output channels, repeats, first stride.
    #[config(default = "MobileNetV2Config::TORCHVISION_SETTINGS.to_vec()")]
    pub inverted_residual_setting: Vec<[usize; 4]>,
    /// Channels of the final 1×1 convolution before `width_mult` (torchvision: 1280).
    #[config(default = 1280)]
    pub last_channel: usize,
    /// Dropout probability before the head (active only when training on an autodiff device).
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// Channel count rounded as torchvision's `_make_divisible`: to the nearest multiple of
/// `divisor`, at least `divisor`, and never more than 10% below `v`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (((v + d / 2.0) / d).floor() * d).max(d);
    if new_v < 0.9 * v {
        new_v += d;
    }
    new_v as usize
}

impl MobileNetV2Config {
    /// torchvision's `inverted_residual_setting` for MobileNetV2 (`[t, c, n, s]` rows).
    pub const TORCHVISION_SETTINGS: [[usize; 4]; 7] = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 3, 2],
        [6, 64, 4, 2],
        [6, 96, 3, 1],
        [6, 160, 3, 2],
        [6, 320, 1, 1],
    ];

    /// Reject configurations that would panic inside burn or make no network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(format!("MobileNetV2: {m}")));
        check_in_channels(self.in_channels)?;
        if self.num_classes == 0 || self.last_channel == 0 {
            return bad("num_classes and last_channel must be positive".into());
        }
        if !(self.width_mult.is_finite() && self.width_mult > 0.0) || self.round_nearest == 0 {
            return bad(format!(
                "width_mult {} must be finite and positive, round_nearest {} positive",
                self.width_mult, self.round_nearest
            ));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if self.inverted_residual_setting.is_empty() {
            return bad("inverted_residual_setting is empty".into());
        }
        for row @ [t, c, n, s] in &self.inverted_residual_setting {
            if *t == 0 || *c == 0 || *n == 0 || !(1..=2).contains(s) {
                return bad(format!(
                    "stage {row:?}: t, c, n must be positive and s 1 or 2"
                ));
            }
        }
        Ok(())
    }

    /// Channels of the stem output (`features.0`).
    pub fn stem_channels(&self) -> usize {
        make_divisible(32.0 * self.width_mult, self.round_nearest)
    }

    /// Channels of the feature map the head pools (`features[-1]` output).
    pub fn out_channels(&self) -> usize {
        make_divisible(
            self.last_channel as f64 * self.width_mult.max(1.0),
            self.round_nearest,
        )
    }

    /// Every inverted-residual block, in order, as torchvision builds them.
    pub fn block_specs(&self) -> Vec<InvertedResidualSpec> {
        let mut c_in = self.stem_channels();
        let mut specs = Vec::new();
        for &[t, c, n, s] in &self.inverted_residual_setting {
            let c_out = make_divisible(c as f64 * self.width_mult, self.round_nearest);
            for i in 0..n {
                specs.push(InvertedResidualSpec {
                    c_in,
                    c_out,
                    hidden: c_in * t,
                    kernel: 3,
                    stride: if i == 0 { s } else { 1 },
                    padding: Padding::Symmetric,
                    bn_eps: 1e-5,
                    has_expand: t != 1,
                });
                c_in = c_out;
            }
        }
        specs
    }

    /// Build the network with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Result<MobileNetV2, ModelError> {
        self.validate()?;
        let specs = self.block_specs();
        let last_in = specs.last().map_or(self.stem_channels(), |b| b.c_out);
        let unit = |c_in, c_out, kernel, stride| ConvBnSpec {
            c_in,
            c_out,
            kernel,
            stride,
            groups: 1,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
            relu6: true,
        };
        Ok(MobileNetV2 {
            stem: unit(self.in_channels, self.stem_channels(), 3, 2).init(device),
            blocks: specs.iter().map(|s| s.init(device)).collect(),
            head: unit(last_in, self.out_channels(), 1, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.out_channels(), self.num_classes).init(device),
        })
    }

    /// How torchvision's `mobilenet_v2` state dict maps onto this network.
    ///
    /// With `load_head` the file's `classifier.1` must fit `num_classes` (1000 for ImageNet);
    /// without it the file's head is dropped and the network keeps its fresh one.
    pub fn import_spec(&self, load_head: bool) -> ImportSpec {
        let mut spec = ImportSpec::default()
            .with_remap(r"^features\.0\.0\.", "stem.conv.")
            .with_remap(r"^features\.0\.1\.", "stem.bn.");
        let specs = self.block_specs();
        for (b, block) in specs.iter().enumerate() {
            let f = b + 1;
            // torchvision's `conv` Sequential drops the expansion pair when t == 1, which
            // shifts every later index down by one.
            let names: &[(&str, &str)] = if block.has_expand {
                &[
                    ("0.0", "expand.conv"),
                    ("0.1", "expand.bn"),
                    ("1.0", "depthwise.conv"),
                    ("1.1", "depthwise.bn"),
                    ("2", "project.conv"),
                    ("3", "project.bn"),
                ]
            } else {
                &[
                    ("0.0", "depthwise.conv"),
                    ("0.1", "depthwise.bn"),
                    ("1", "project.conv"),
                    ("2", "project.bn"),
                ]
            };
            for (from, to) in names {
                let from = from.replace('.', r"\.");
                spec = spec.with_remap(
                    format!(r"^features\.{f}\.conv\.{from}\."),
                    format!("blocks.{b}.{to}."),
                );
            }
        }
        let last = specs.len() + 1;
        spec = spec
            .with_remap(format!(r"^features\.{last}\.0\."), "head.conv.")
            .with_remap(format!(r"^features\.{last}\.1\."), "head.bn.");
        if load_head {
            spec.with_remap(r"^classifier\.1\.", "classifier.")
        } else {
            spec.with_skip(r"^classifier\.")
                .with_allow_missing(r"^classifier\.")
        }
    }
}

/// MobileNetV2 backbone plus a linear head. Build with [`MobileNetV2Config::init`].
#[derive(Module, Debug)]
pub struct MobileNetV2 {
    /// 3×3 stride-2 conv + BN + ReLU6 (torchvision `features.0`).
    pub stem: ConvBnAct,
    /// Inverted residual blocks (torchvision `features.1` … `features.17`).
    pub blocks: Vec<InvertedResidual>,
    /// 1×1 conv to the final width + BN + ReLU6 (torchvision `features.18`).
    pub head: ConvBnAct,
    /// Dropout before the linear layer (torchvision `classifier.0`).
    pub dropout: Dropout,
    /// Linear layer to `num_classes` logits (torchvision `classifier.1`).
    pub classifier: Linear,
}

impl MobileNetV2 {
    /// Feature map before pooling: `[B, in_channels, H, W]` → `[B, C, ceil(H/32), ceil(W/32)]`
    /// with `C` = [`MobileNetV2Config::out_channels`] (1280 at width 1.0).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem.forward(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.head.forward(x)
    }

    /// Globally average-pooled features: `[B, in_channels, H, W]` → `[B, C]`.
    pub fn forward_pooled(&self, x: Tensor<4>) -> Tensor<2> {
        global_avg_pool(self.forward_features(x))
    }

    /// Logits: `[B, in_channels, H, W]` → `[B, num_classes]` (no softmax/sigmoid).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let pooled = self.dropout.forward(self.forward_pooled(x));
        self.classifier.forward(pooled)
    }

    /// Channels of [`MobileNetV2::forward_features`] / width of [`MobileNetV2::forward_pooled`].
    pub fn out_channels(&self) -> usize {
        self.head.bn.gamma.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_torchvision() {
        // Values from torchvision's _make_divisible.
        assert_eq!(make_divisible(32.0, 8), 32);
        assert_eq!(make_divisible(32.0 * 0.35, 8), 16);
        assert_eq!(make_divisible(24.0 * 0.5, 8), 16);
        assert_eq!(make_divisible(16.0 * 0.25, 8), 8);
        assert_eq!(make_divisible(1280.0 * 1.4, 8), 1792);
        assert_eq!(make_divisible(36.0, 8), 40);
    }

    #[test]
    fn default_has_torchvision_shape() {
        let cfg = MobileNetV2Config::new();
        let specs = cfg.block_specs();
        assert_eq!(specs.len(), 17);
        assert_eq!(cfg.out_channels(), 1280);
        assert_eq!(specs.iter().filter(|s| s.residual_expected()).count(), 10);
        assert!(!specs[0].has_expand);
        assert_eq!(specs[16].c_out, 320);
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(
            MobileNetV2Config::new()
                .with_in_channels(0)
                .validate()
                .is_err()
        );
        assert!(
            MobileNetV2Config::new()
                .with_width_mult(f64::NAN)
                .validate()
                .is_err()
        );
        assert!(
            MobileNetV2Config::new()
                .with_inverted_residual_setting(vec![[6, 24, 2, 3]])
                .validate()
                .is_err()
        );
        assert!(
            MobileNetV2Config::new()
                .with_dropout(1.0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn output_shapes() {
        let device = Device::flex();
        let cfg = MobileNetV2Config::new()
            .with_in_channels(1)
            .with_width_mult(0.25)
            .with_last_channel(32);
        let model = cfg.init(&device).expect("valid config").valid();
        let x = Tensor::<4>::zeros([2, 1, 33, 40], &device);
        assert_eq!(model.forward_features(x.clone()).dims(), [2, 32, 2, 2]);
        assert_eq!(model.forward(x).dims(), [2, 1]);
        assert_eq!(model.out_channels(), 32);
    }
}
