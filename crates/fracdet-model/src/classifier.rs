//! One type for every backbone: [`Classifier`], built from a [`BackboneKind`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::ModelError;
use crate::backbone::common::global_avg_pool;
use crate::backbone::densenet::{DenseNet, DenseNetConfig};
use crate::backbone::efficientnet_lite::{EfficientNetLite, EfficientNetLiteConfig};
use crate::backbone::mobilenet_v2::{MobileNetV2, MobileNetV2Config};
use crate::backbone::resnet::{ResNet, ResNetConfig};
use crate::import::{ImportReport, ImportSpec, load_weights};

/// The backbones fracdet knows, by their torchvision-style names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackboneKind {
    Resnet18,
    Resnet34,
    Resnet50,
    Densenet121,
    Densenet169,
    MobilenetV2,
    EfficientnetLite0,
}

impl BackboneKind {
    /// Every kind, in the order they are listed to users.
    pub const ALL: [BackboneKind; 7] = [
        BackboneKind::Resnet18,
        BackboneKind::Resnet34,
        BackboneKind::Resnet50,
        BackboneKind::Densenet121,
        BackboneKind::Densenet169,
        BackboneKind::MobilenetV2,
        BackboneKind::EfficientnetLite0,
    ];

    /// The name used on the command line and in configs (`resnet18`, `mobilenet_v2`, …).
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::Resnet18 => "resnet18",
            BackboneKind::Resnet34 => "resnet34",
            BackboneKind::Resnet50 => "resnet50",
            BackboneKind::Densenet121 => "densenet121",
            BackboneKind::Densenet169 => "densenet169",
            BackboneKind::MobilenetV2 => "mobilenet_v2",
            BackboneKind::EfficientnetLite0 => "efficientnet_lite0",
        }
    }

    /// Build the full-size network with `in_channels` (1 or 3) inputs and a fresh 1-logit head.
    pub fn init(self, in_channels: usize, device: &Device) -> Result<Classifier, ModelError> {
        Ok(match self {
            BackboneKind::Resnet18 => Classifier::ResNet(
                ResNetConfig::resnet18()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::Resnet34 => Classifier::ResNet(
                ResNetConfig::resnet34()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::Resnet50 => Classifier::ResNet(
                ResNetConfig::resnet50()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::Densenet121 => Classifier::DenseNet(
                DenseNetConfig::densenet121()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::Densenet169 => Classifier::DenseNet(
                DenseNetConfig::densenet169()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::MobilenetV2 => Classifier::MobileNetV2(
                MobileNetV2Config::new()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
            BackboneKind::EfficientnetLite0 => Classifier::EfficientNetLite(
                EfficientNetLiteConfig::new()
                    .with_in_channels(in_channels)
                    .init(device)?,
            ),
        })
    }

    /// How this kind's reference PyTorch checkpoint maps onto [`BackboneKind::init`]'s network.
    /// `load_head`: also take the file's head (a checkpoint trained with a 1-logit head).
    pub fn import_spec(self, load_head: bool) -> ImportSpec {
        match self {
            BackboneKind::Resnet18 => ResNetConfig::resnet18().import_spec(load_head),
            BackboneKind::Resnet34 => ResNetConfig::resnet34().import_spec(load_head),
            BackboneKind::Resnet50 => ResNetConfig::resnet50().import_spec(load_head),
            BackboneKind::Densenet121 => DenseNetConfig::densenet121().import_spec(load_head),
            BackboneKind::Densenet169 => DenseNetConfig::densenet169().import_spec(load_head),
            BackboneKind::MobilenetV2 => MobileNetV2Config::new().import_spec(load_head),
            BackboneKind::EfficientnetLite0 => EfficientNetLiteConfig::new().import_spec(load_head),
        }
    }

    /// Build the network and load pretrained weights (ImageNet or a fine-tuned checkpoint)
    /// from `path`, keeping the fresh head unless `load_head`.
    pub fn init_pretrained(
        self,
        in_channels: usize,
        path: &Path,
        load_head: bool,
        device: &Device,
    ) -> Result<(Classifier, ImportReport), ModelError> {
        let model = self.init(in_channels, device)?;
        load_weights(model, path, &self.import_spec(load_head))
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackboneKind {
    type Err = ModelError;

    /// Parse a name as [`BackboneKind::name`] gives it; case and `-`/`_` are forgiven
    /// (`ResNet-18`, `mobilenet-v2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = |x: &str| {
            x.chars()
                .filter(|c| *c != '-' && *c != '_')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        };
        let wanted = norm(s.trim());
        BackboneKind::ALL
            .into_iter()
            .find(|k| norm(k.name()) == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = BackboneKind::ALL.iter().map(|k| k.name()).collect();
                ModelError::UnknownBackbone(s.to_string(), names.join(", "))
            })
    }
}

/// Any backbone with its head: images in, logits out.
///
/// Parameter paths are the wrapped network's own (the variant name does not appear), so a
/// file saved from a `Classifier` loads into the bare network and back.
#[derive(Module, Debug)]
pub enum Classifier {
    ResNet(ResNet),
    DenseNet(DenseNet),
    MobileNetV2(MobileNetV2),
    EfficientNetLite(EfficientNetLite),
}

impl Classifier {
    /// Logits: `[N, C, H, W]` -> `[N, num_outputs]` (`[N, 1]` for fracture / no fracture;
    /// no sigmoid applied).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Classifier::ResNet(m) => m.forward(images),
            Classifier::DenseNet(m) => m.forward(images),
            Classifier::MobileNetV2(m) => m.forward(images),
            Classifier::EfficientNetLite(m) => m.forward(images),
        }
    }

    /// Channels of the pooled features (`F` of [`Classifier::features`]), read from the
    /// head's input width: no forward pass needed.
    pub fn feature_dim(&self) -> usize {
        match self {
            Classifier::ResNet(m) => m.feature_dim(),
            Classifier::DenseNet(m) => m.feature_dim(),
            Classifier::MobileNetV2(m) => m.classifier.weight.dims()[0],
            Classifier::EfficientNetLite(m) => m.classifier.weight.dims()[0],
        }
    }

    /// Last convolutional feature map, the one global pooling sees:
    /// `[N, C, H, W]` -> `[N, F, ~H/32, ~W/32]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Classifier::ResNet(m) => m.forward_features(images),
            Classifier::DenseNet(m) => m.forward_features(images),
            Classifier::MobileNetV2(m) => m.forward_features(images),
            Classifier::EfficientNetLite(m) => m.forward_features(images),
        }
    }

    /// Feature map and logits from one pass, both in the same autodiff graph, for Grad-CAM:
    /// `[N, C, H, W]` -> (`[N, F, h, w]`, `[N, num_outputs]`).
    pub fn forward_with_features(&self, images: Tensor<4>) -> (Tensor<4>, Tensor<2>) {
        let features = self.features(images);
        let logits = match self {
            Classifier::ResNet(m) => m.forward_head(features.clone()),
            Classifier::DenseNet(m) => m.forward_head(features.clone()),
            Classifier::MobileNetV2(m) => m
                .classifier
                .forward(m.dropout.forward(global_avg_pool(features.clone()))),
            Classifier::EfficientNetLite(m) => m
                .classifier
                .forward(m.dropout.forward(global_avg_pool(features.clone()))),
        };
        (features, logits)
    }
}
