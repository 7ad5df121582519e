//! DenseNet-121/169 (Huang et al. 2017) in torchvision's layout.
//!
//! Op for op `torchvision.models.densenet`: 7×7 stride-2 stem (`conv0`, `norm0`, max pool),
//! dense blocks of BN-ReLU-1×1-BN-ReLU-3×3 layers whose outputs are concatenated onto their
//! input, transitions (BN-ReLU-1×1 halving channels, 2×2 average pool), `norm5`, ReLU, global
//! average pooling and a linear `classifier`. Dropout inside dense layers (torchvision's
//! `drop_rate`, 0 for the ImageNet models) is left out.
//!
//! torchvision names blocks and layers from 1 (`features.denseblock1.denselayer1`); burn's
//! `Vec`s count from 0 (`features.blocks.0.layers.0`). [`DenseNetConfig::import_spec`] remaps
//! and renumbers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::common::{batch_norm, check_in_channels, conv, global_avg_pool, positive};
use crate::ModelError;
use crate::import::ImportSpec;

/// Shape of a DenseNet. The named constructors give torchvision's networks; shrink
/// `growth_rate` and `init_features` for test-sized variants with the same topology.
#[derive(Config, Debug, PartialEq)]
pub struct DenseNetConfig {
    /// Dense layers per block (`[6, 12, 24, 16]` for DenseNet-121).
    pub block_config: Vec<usize>,
    /// Channels each dense layer adds.
    #[config(default = 32)]
    pub growth_rate: usize,
    /// Channels out of the stem.
    #[config(default = 64)]
    pub init_features: usize,
    /// Bottleneck width factor: the 1×1 conv in a dense layer outputs `bn_size * growth_rate`.
    #[config(default = 4)]
    pub bn_size: usize,
    /// 1 (grayscale) or 3 (RGB) input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Logits out of the head (1 for fracture / no fracture).
    #[config(default = 1)]
    pub num_outputs: usize,
}

impl DenseNetConfig {
    /// torchvision `densenet121`, with a 1-logit head.
    pub fn densenet121() -> Self {
        Self::new(vec![6, 12, 24, 16])
    }

    /// torchvision `densenet169`, with a 1-logit head.
    pub fn densenet169() -> Self {
        Self::new(vec![6, 12, 32, 32])
    }

    /// Channels of the last feature map (and into the head): 1024 for DenseNet-121,
    /// 1664 for DenseNet-169.
    pub fn out_channels(&self) -> usize {
        let mut c = self.init_features;
        for (i, &n) in self.block_config.iter().enumerate() {
            c += n * self.growth_rate;
            if i + 1 != self.block_config.len() {
                c /= 2;
            }
        }
        c
    }

    /// Check every count before any burn constructor (which would panic) sees it.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_in_channels(self.in_channels)?;
        positive("growth_rate", self.growth_rate)?;
        positive("init_features", self.init_features)?;
        positive("bn_size", self.bn_size)?;
        positive("num_outputs", self.num_outputs)?;
        positive("number of dense blocks", self.block_config.len())?;
        for (i, &n) in self.block_config.iter().enumerate() {
            positive(&format!("block_config[{i}]"), n)?;
        }
        // Transitions halve channels; a count of 1 would halve to 0.
        let mut c = self.init_features;
        for (i, &n) in self.block_config.iter().enumerate() {
            c += n * self.growth_rate;
            if i + 1 != self.block_config.len() {
                c /= 2;
                positive(&format!("channels after transition {}", i + 1), c)?;
            }
        }
        Ok(())
    }

    /// Build the network with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Result<DenseNet, ModelError> {
        self.validate()?;
        let mut c = self.init_features;
        let mut blocks = Vec::with_capacity(self.block_config.len());
        let mut transitions = Vec::with_capacity(self.block_config.len().saturating_sub(1));
        let inner = self.bn_size * self.growth_rate;
        for (i, &n) in self.block_config.iter().enumerate() {
            let layers = (0..n)
                .map(|l| {
                    let c_in = c + l * self.growth_rate;
                    DenseLayer {
                        norm1: batch_norm(c_in, device),
                        conv1: conv(c_in, inner, 1, 1, 0, device),
                        norm2: batch_norm(inner, device),
                        conv2: conv(inner, self.growth_rate, 3, 1, 1, device),
                    }
                })
                .collect();
            blocks.push(DenseBlock { layers });
            c += n * self.growth_rate;
            if i + 1 != self.block_config.len() {
                transitions.push(Transition {
                    norm: batch_norm(c, device),
                    conv: conv(c, c / 2, 1, 1, 0, device),
                    pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
                });
                c /= 2;
            }
        }
        Ok(DenseNet {
            features: DenseFeatures {
                conv0: conv(self.in_channels, self.init_features, 7, 2, 3, device),
                norm0: batch_norm(self.init_features, device),
                pool0: MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(),
                blocks,
                transitions,
                norm5: batch_norm(c, device),
            },
            classifier: LinearConfig::new(c, self.num_outputs).init(device),
        })
    }

    /// How to read a torchvision DenseNet checkpoint into this network.
    ///
    /// Also accepts the older key spelling of torchvision's own ImageNet files
    /// (`denselayer1.norm.1.weight` for `denselayer1.norm1.weight`), which torchvision fixes
    /// with the same regex on load. `load_head`: take `classifier.*` from the file too;
    /// otherwise the file's 1000-class head is skipped and the fresh one kept.
    pub fn import_spec(&self, load_head: bool) -> ImportSpec {
        let spec = ImportSpec::default()
            .with_remap(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.", "$1$2.")
            .with_remap(
                r"^features\.denseblock(\d+)\.denselayer(\d+)\.",
                "features.blocks.$1.layers.$2.",
            )
            .with_remap(r"^features\.transition(\d+)\.", "features.transitions.$1.")
            .with_map_indices_contiguous(true);
        if load_head {
            spec
        } else {
            spec.with_fresh_head("classifier")
        }
    }
}

/// BN-ReLU-1×1 conv-BN-ReLU-3×3 conv, giving `growth_rate` new channels.
#[derive(Module, Debug)]
pub struct DenseLayer {
    norm1: BatchNorm,
    conv1: Conv2d,
    norm2: BatchNorm,
    conv2: Conv2d,
}

impl DenseLayer {
    /// `[N, C, H, W]` -> `[N, growth_rate, H, W]` (the new channels only).
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv1.forward(relu(self.norm1.forward(x)));
        self.conv2.forward(relu(self.norm2.forward(x)))
    }
}

/// Dense layers, each seeing the concatenation of the block input and all earlier outputs.
#[derive(Module, Debug)]
pub struct DenseBlock {
    layers: Vec<DenseLayer>,
}

impl DenseBlock {
    /// `[N, C, H, W]` -> `[N, C + layers * growth_rate, H, W]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x;
        for layer in &self.layers {
            let new = layer.forward(x.clone());
            x = Tensor::cat(vec![x, new], 1);
        }
        x
    }
}

/// BN-ReLU-1×1 conv halving channels, then 2×2 average pooling.
#[derive(Module, Debug)]
pub struct Transition {
    norm: BatchNorm,
    conv: Conv2d,
    pool: AvgPool2d,
}

impl Transition {
    /// `[N, C, H, W]` -> `[N, C / 2, H / 2, W / 2]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool
            .forward(self.conv.forward(relu(self.norm.forward(x))))
    }
}

/// torchvision's `features` sequential.
#[derive(Module, Debug)]
pub struct DenseFeatures {
    conv0: Conv2d,
    norm0: BatchNorm,
    pool0: MaxPool2d,
    blocks: Vec<DenseBlock>,
    transitions: Vec<Transition>,
    norm5: BatchNorm,
}

/// A DenseNet with a `num_outputs`-logit linear head. Build it with [`DenseNetConfig::init`].
#[derive(Module, Debug)]
pub struct DenseNet {
    features: DenseFeatures,
    classifier: Linear,
}

impl DenseNet {
    /// Last feature map, after `norm5` and its ReLU (what the pooling sees).
    ///
    /// `[N, C_in, H, W]` -> `[N, out_channels, ~H/32, ~W/32]`.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<4> {
        let f = &self.features;
        let x = relu(f.norm0.forward(f.conv0.forward(x)));
        let mut x = f.pool0.forward(x);
        for (i, block) in f.blocks.iter().enumerate() {
            x = block.forward(x);
            if let Some(t) = f.transitions.get(i) {
                x = t.forward(x);
            }
        }
        relu(f.norm5.forward(x))
    }

    /// Head on a feature map from [`DenseNet::forward_features`]: `[N, C, h, w]` -> `[N, num_outputs]`.
    /// Channels of the pooled features the head reads (its input width).
    pub fn feature_dim(&self) -> usize {
        self.classifier.weight.dims()[0]
    }

    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(global_avg_pool(features))
    }

    /// Logits: `[N, C_in, H, W]` -> `[N, num_outputs]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_head(self.forward_features(x))
    }
}
