//! Fixtures shared by the integration tests: a generated PNG dataset and a tiny CNN.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::module::{Module, ParamGroup};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};
use fracdet_train::{BinaryClassifier, LabelledSource};

pub const SIDE: u32 = 32;

/// A training configuration for `backbone` on the generated grey `SIDE`² images.
pub fn grey_config(backbone: &str) -> fracdet_train::ClassifierConfig {
    fracdet_train::ClassifierConfig::new(
        backbone,
        fracdet_train::InputSpec {
            size: SIDE,
            channels: 1,
            mean: vec![0.3],
            std: vec![0.25],
        },
    )
}

/// 32x32 grey PNGs: noise-free dark background with a soft blob; positives also get a bright
/// diagonal line (the "fracture"). Deterministic in `i`.
pub fn write_dataset(dir: &Path, n: usize) -> Vec<(PathBuf, bool)> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let positive = i % 2 == 0;
            let img = image::GrayImage::from_fn(SIDE, SIDE, |x, y| {
                let cx = 10 + (i as u32 * 7) % 12;
                let d2 = (x as i32 - cx as i32).pow(2) + (y as i32 - 16).pow(2);
                let mut v = 40 + (120 - d2.min(120)) as u8;
                let on_line = (x as i32 - y as i32 - (i as i32 % 5) + 2).abs() <= 1;
                if positive && on_line {
                    v = 250;
                }
                image::Luma([v])
            });
            let path = dir.join(format!("img{i:02}.png"));
            img.save(&path).unwrap();
            (path, positive)
        })
        .collect()
}

/// Reads the PNGs with the `image` crate; the augmentation is a seeded horizontal flip.
pub struct PngSource {
    pub items: Vec<(PathBuf, bool)>,
}

impl LabelledSource<Vec<f32>> for PngSource {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn label(&self, index: usize) -> bool {
        self.items[index].1
    }
    fn name(&self, index: usize) -> String {
        self.items[index].0.display().to_string()
    }
    fn load(&self, index: usize, augment_seed: Option<u64>) -> Result<Vec<f32>, String> {
        let img = image::open(&self.items[index].0)
            .map_err(|e| e.to_string())?
            .to_luma8();
        if img.width() != SIDE || img.height() != SIDE {
            return Err("wrong size".into());
        }
        let flip = augment_seed.is_some_and(|s| s & 1 == 1);
        let mut out = Vec::with_capacity((SIDE * SIDE) as usize);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let sx = if flip { SIDE - 1 - x } else { x };
                out.push(img.get_pixel(sx, y).0[0] as f32 / 255.0);
            }
        }
        Ok(out)
    }
}

#[derive(Module, Debug)]
pub struct TinyBackbone {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    pool: AdaptiveAvgPool2d,
    relu: Relu,
}

#[derive(Module, Debug)]
pub struct TinyNet {
    pub backbone: TinyBackbone,
    pub head: Linear,
}

impl TinyNet {
    pub fn new(channels: usize, device: &Device) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            backbone: TinyBackbone {
                conv1: conv(channels, 4),
                bn1: BatchNormConfig::new(4).init(device),
                conv2: conv(4, 8),
                bn2: BatchNormConfig::new(8).init(device),
                pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
                relu: Relu::new(),
            },
            head: LinearConfig::new(8, 1).init(device),
        }
    }
}

impl BinaryClassifier for TinyNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<1> {
        let b = &self.backbone;
        let x = b.relu.forward(b.bn1.forward(b.conv1.forward(images)));
        let x = b.relu.forward(b.bn2.forward(b.conv2.forward(x)));
        let x = b.pool.forward(x);
        let [n, c, _, _] = x.dims();
        let x: Tensor<2> = x.reshape([n, c]);
        let out: Tensor<2> = self.head.forward(x);
        out.reshape([n])
    }

    fn backbone_params(&self) -> Option<ParamGroup> {
        Some(ParamGroup::ids_from_module(self.backbone.clone()))
    }
}

/// Every tensor of a model serialised by `model_to_bytes`, by name: (param id, f32 values).
pub fn tensors_of(bytes: &[u8]) -> std::collections::BTreeMap<String, (Option<u64>, Vec<f32>)> {
    tensors_of_with(bytes, || TinyNet::new(1, &Device::flex()))
}

/// [`tensors_of`] for any network `build` makes.
pub fn tensors_of_with<M: Module>(
    bytes: &[u8],
    build: impl FnOnce() -> M,
) -> std::collections::BTreeMap<String, (Option<u64>, Vec<f32>)> {
    use burn::store::ModuleSnapshot;
    let net = fracdet_train::model_from_bytes(build(), bytes.to_vec(), Path::new("x")).unwrap();
    net.collect(None, None, false)
        .into_iter()
        .map(|t| {
            let (name, _, _, id, data) = t.into_parts().unwrap();
            let values = data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (name, (id, values))
        })
        .collect()
}

/// Largest absolute difference between two models' tensors; panics on differing structure.
pub fn max_weight_difference(a: &[u8], b: &[u8]) -> f32 {
    let (ta, tb) = (tensors_of(a), tensors_of(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    let mut worst = 0.0f32;
    for (name, (id_a, va)) in &ta {
        let (id_b, vb) = &tb[name];
        // Running statistics are not parameters: burnpack does not restore their ids.
        if !name.contains("running_") {
            assert_eq!(id_a, id_b, "{name}: parameter ids differ");
        }
        assert_eq!(va.len(), vb.len(), "{name}");
        for (x, y) in va.iter().zip(vb) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}

/// An optimizer state (burnpack bytes) as sorted (name, raw bytes) plus its scalars, so two
/// states compare equal regardless of the order in which they were written.
pub fn optimizer_contents(bytes: &[u8]) -> (Vec<(String, Vec<u8>)>, String) {
    use burn::store::burn_pack::Reader;
    let reader = Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec())).unwrap();
    let mut tensors: Vec<(String, Vec<u8>)> = reader
        .tensor_names()
        .into_iter()
        .map(|n| (n.to_string(), reader.tensor_data(n).unwrap()))
        .collect();
    tensors.sort();
    (tensors, format!("{:?}", reader.scalars()))
}
pub mod resume;
