//! ResNet-18/34/50 (He et al. 2016) in torchvision's layout.
//!
//! Op for op `torchvision.models.resnet`: 7×7 stride-2 stem, 3×3 stride-2 max pool, four stages
//! of BasicBlocks (18/34) or Bottlenecks (50, stride on the 3×3 conv as in torchvision's
//! "v1.5"), global average pooling and a linear head. Parameter names are torchvision's except
//! `downsample.0/1`, which burn cannot name with digits inside a struct: they are
//! `downsample.conv/bn`, and [`ResNetConfig::import_spec`] maps them.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::common::{batch_norm, check_in_channels, conv, global_avg_pool, positive};
use crate::ModelError;
use crate::import::ImportSpec;

/// Shape of a ResNet. The named constructors give torchvision's networks; shrink `widths` and
/// `stem_width` for test-sized variants with the same topology.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Residual blocks per stage (`[2, 2, 2, 2]` for ResNet-18).
    pub layers: [usize; 4],
    /// Bottleneck blocks (ResNet-50 and up) instead of BasicBlocks.
    pub bottleneck: bool,
    /// Per-stage width ("planes"); a Bottleneck stage outputs 4× this.
    #[config(default = "[64, 128, 256, 512]")]
    pub widths: [usize; 4],
    /// Channels out of the 7×7 stem.
    #[config(default = 64)]
    pub stem_width: usize,
    /// 1 (grayscale) or 3 (RGB) input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Logits out of the head (1 for fracture / no fracture).
    #[config(default = 1)]
    pub num_outputs: usize,
}

impl ResNetConfig {
    /// torchvision `resnet18`, with a 1-logit head.
    pub fn resnet18() -> Self {
        Self::new([2, 2, 2, 2], false)
    }

    /// torchvision `resnet34`, with a 1-logit head.
    pub fn resnet34() -> Self {
        Self::new([3, 4, 6, 3], false)
    }

    /// torchvision `resnet50`, with a 1-logit head.
    pub fn resnet50() -> Self {
        Self::new([3, 4, 6, 3], true)
    }

    fn expansion(&self) -> usize {
        if self.bottleneck { 4 } else { 1 }
    }

    /// Channels of the last feature map (and into the head): 512 for ResNet-18/34, 2048 for 50.
    pub fn out_channels(&self) -> usize {
        self.widths[3] * self.expansion()
    }

    /// Check every count before any burn constructor (which would panic) sees it.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_in_channels(self.in_channels)?;
        positive("stem_width", self.stem_width)?;
        positive("num_outputs", self.num_outputs)?;
        for (i, (&n, &w)) in self.layers.iter().zip(&self.widths).enumerate() {
            positive(&format!("layers[{i}]"), n)?;
            positive(&format!("widths[{i}]"), w)?;
        }
        Ok(())
    }

    /// Build the network with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Result<ResNet, ModelError> {
        self.validate()?;
        let expansion = self.expansion();
        let mut c_in = self.stem_width;
        let mut stages: Vec<Vec<ResidualBlock>> = Vec::with_capacity(4);
        for (stage, (&blocks, &planes)) in self.layers.iter().zip(&self.widths).enumerate() {
            let first_stride = if stage == 0 { 1 } else { 2 };
            let mut stage_blocks = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let stride = if b == 0 { first_stride } else { 1 };
                let c_out = planes * expansion;
                let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
                    conv: conv(c_in, c_out, 1, stride, 0, device),
                    bn: batch_norm(c_out, device),
                });
                let block = if self.bottleneck {
                    ResidualBlock::Bottleneck(Bottleneck {
                        conv1: conv(c_in, planes, 1, 1, 0, device),
                        bn1: batch_norm(planes, device),
                        conv2: conv(planes, planes, 3, stride, 1, device),
                        bn2: batch_norm(planes, device),
                        conv3: conv(planes, c_out, 1, 1, 0, device),
                        bn3: batch_norm(c_out, device),
                        downsample,
                    })
                } else {
                    ResidualBlock::Basic(BasicBlock {
                        conv1: conv(c_in, planes, 3, stride, 1, device),
                        bn1: batch_norm(planes, device),
                        conv2: conv(planes, planes, 3, 1, 1, device),
                        bn2: batch_norm(planes, device),
                        downsample,
                    })
                };
                stage_blocks.push(block);
                c_in = c_out;
            }
            stages.push(stage_blocks);
        }
        let mut stages = stages.into_iter();
        let mut next = || stages.next().unwrap_or_default();
        Ok(ResNet {
            conv1: conv(self.in_channels, self.stem_width, 7, 2, 3, device),
            bn1: batch_norm(self.stem_width, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            fc: LinearConfig::new(self.out_channels(), self.num_outputs).init(device),
        })
    }

    /// How to read a torchvision ResNet checkpoint into this network.
    ///
    /// `load_head`: take `fc.*` from the file too (a checkpoint fine-tuned with this head);
    /// otherwise the file's head (1000 ImageNet classes) is skipped and the fresh one kept.
    pub fn import_spec(&self, load_head: bool) -> ImportSpec {
        let spec = ImportSpec::default()
            .with_remap(r"\.downsample\.0\.", ".downsample.conv.")
            .with_remap(r"\.downsample\.1\.", ".downsample.bn.");
        if load_head {
            spec
        } else {
            spec.with_fresh_head("fc")
        }
    }
}

/// The 1×1 projection on a residual shortcut where the shape changes
/// (torchvision's `downsample = Sequential(conv1x1, BatchNorm)`).
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Downsample {
    /// `[N, C_in, H, W]` -> `[N, C_out, H / stride, W / stride]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// ResNet-18/34 block: two 3×3 convolutions and a shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    downsample: Option<Downsample>,
}

impl BasicBlock {
    /// `[N, C_in, H, W]` -> `[N, planes, H / stride, W / stride]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + identity)
    }
}

/// ResNet-50 block: 1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, and a shortcut.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<Downsample>,
}

impl Bottleneck {
    /// `[N, C_in, H, W]` -> `[N, 4 * planes, H / stride, W / stride]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = relu(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(self.conv3.forward(out));
        relu(out + identity)
    }
}

/// One residual block of either kind. Enum variant names do not appear in parameter paths
/// (`layer1.0.conv1.weight`), so torchvision keys match directly.
// Both variants are a few KiB of handles and a stage holds one kind only, so the size gap
// wastes little; boxing is not an option: burn 0.22 has no Module impl for Box.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            ResidualBlock::Basic(b) => b.forward(x),
            ResidualBlock::Bottleneck(b) => b.forward(x),
        }
    }
}

/// A ResNet with a `num_outputs`-logit linear head. Build it with [`ResNetConfig::init`].
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<ResidualBlock>,
    layer2: Vec<ResidualBlock>,
    layer3: Vec<ResidualBlock>,
    layer4: Vec<ResidualBlock>,
    fc: Linear,
}

impl ResNet {
    /// Last convolutional feature map (after `layer4`, before pooling).
    ///
    /// `[N, C_in, H, W]` -> `[N, out_channels, ~H/32, ~W/32]`.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = self.maxpool.forward(x);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        x
    }

    /// Head on a feature map from [`ResNet::forward_features`]: `[N, C, h, w]` -> `[N, num_outputs]`.
    /// Channels of the pooled features the head reads (its input width).
    pub fn feature_dim(&self) -> usize {
        self.fc.weight.dims()[0]
    }

    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.fc.forward(global_avg_pool(features))
    }

    /// Logits: `[N, C_in, H, W]` -> `[N, num_outputs]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_head(self.forward_features(x))
    }
}
