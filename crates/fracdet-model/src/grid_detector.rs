//! The MPR grid detector (issue #5, part 2): a MobileNetV2 trunk whose first convolution
//! takes the grey radiograph plus the inpainter's residual maps, and a head that scores every
//! stride-8, 16 or 32 cell of the canvas for "fracture here"; the image score is the
//! noisy-OR (or max) of the cells, so a positive call always points at a cell.
//!
//! Stride 16 (the default) drops MobileNetV2's last stride-2 stage and its 1280-channel
//! conv, the most parameter-heavy part, so inference is cheaper; the stride-16 features (96
//! channels after torchvision's `features.13`) already see most of a 256² canvas. Its 16-px
//! cells are still coarse for FracAtlas fractures (median box side ≈ 14 px on a 256²
//! canvas): boxes made of whole cells can match only about half of them at IoU 0.3, where
//! 8-px cells can match 83 % (`mpr_box_ceiling` example of fracdet-train). Stride 8 keeps
//! the same trunk and adds a one-level feature pyramid: the stride-16 features upsampled
//! (nearest) and concatenated with the trunk's own stride-8 features (32 channels after
//! `features.6`) before the context convolution, so fine cells still see the wide context.
//!
//! Pretrained weights: [`GridDetectorConfig::init_pretrained`] loads torchvision's ImageNet
//! MobileNetV2 (the trunk it keeps), sums the stem's RGB kernel for the image channel and
//! gives each residual channel that kernel times [`GridDetectorConfig::residual_stem_scale`]
//! (0 by default: the network starts as exactly the pretrained image-only trunk, and the
//! residual weights still learn because a first-layer weight's gradient is its input times
//! the upstream gradient, not a function of the weight).

use std::path::Path;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softplus;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::backbone::mobilenet_v2::{
    ConvBnAct, ConvBnSpec, InvertedResidual, MobileNetV2, MobileNetV2Config, Padding,
};
use crate::import::{ImportReport, load_weights};

/// How the cell logits become the image logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImagePool {
    /// `p = 1 - Π (1 - p_cell)`, computed in log space ([`noisy_or_logits`]): every cell
    /// gets a gradient from the image term, and the score grows with the number of hot cells.
    NoisyOr,
    /// `p = max p_cell`: only the hottest cell gets the image term's gradient.
    Max,
    /// A head of its own on the stride-16 trunk features ([`ImageHead`]): the image score
    /// does not grow with the number of warm cells, and does not saturate in f32.
    Head,
}

/// Configuration of a [`GridDetector`].
#[derive(Config, Debug)]
pub struct GridDetectorConfig {
    /// The MobileNetV2 the trunk is cut from (its `in_channels`, head and `num_classes` are
    /// ignored; only the stem and the inverted-residual blocks up to `stride` are built).
    #[config(default = "MobileNetV2Config::new()")]
    pub backbone: MobileNetV2Config,
    /// Input channels: the grey image, then one residual map per inpainting scale
    /// (`1 + n_residual_scales`; 1 is the "no residuals" ablation).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Cell side in canvas pixels: 8, 16 or 32.
    #[config(default = 16)]
    pub stride: usize,
    /// Channels of the 3×3 context convolution between the trunk and the 1×1 cell scorer.
    #[config(default = 128)]
    pub head_channels: usize,
    /// Cell-to-image pooling.
    #[config(default = "ImagePool::NoisyOr")]
    pub image_pool: ImagePool,
    /// Pretrained import only: each residual channel's stem kernel is the summed RGB kernel
    /// times this factor (0 = the pretrained image-only network, residual weights from zero).
    #[config(default = 0.0)]
    pub residual_stem_scale: f64,
    /// Add the box head: per cell, the distances from the cell centre to the left, top,
    /// right and bottom edges of the fracture box it belongs to (FCOS-style), so boxes fit
    /// the fracture instead of being unions of cells.
    #[config(default = false)]
    pub box_head: bool,
    /// Channels of the image head's 1×1 convolution ([`ImagePool::Head`] only).
    #[config(default = 128)]
    pub image_head_channels: usize,
}

impl GridDetectorConfig {
    /// Reject configurations that would panic inside burn or make no network.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(format!("grid detector: {m}")));
        self.backbone.clone().with_in_channels(1).validate()?;
        if self.in_channels == 0 || self.head_channels == 0 || self.image_head_channels == 0 {
            return bad("in_channels and head channels must be positive".into());
        }
        if ![8, 16, 32].contains(&self.stride) {
            return bad(format!("stride must be 8, 16 or 32, got {}", self.stride));
        }
        if !self.residual_stem_scale.is_finite() {
            return bad("residual_stem_scale must be finite".into());
        }
        if self.trunk_len() == 0 {
            return bad(format!(
                "the backbone has no block at stride <= {}",
                self.stride
            ));
        }
        Ok(())
    }

    /// Number of inverted-residual blocks kept: every block whose output stride is at most
    /// [`GridDetectorConfig::stride`] (the stem has stride 2), and at least those to stride
    /// 16 (stride 8 fuses them with the stride-8 features).
    pub fn trunk_len(&self) -> usize {
        self.blocks_to_stride(self.stride.max(16))
    }

    /// Blocks whose output stride is at most `limit`.
    fn blocks_to_stride(&self, limit: usize) -> usize {
        let mut stride = 2;
        let mut kept = 0;
        for spec in self.backbone.block_specs() {
            stride *= spec.stride;
            if stride > limit {
                break;
            }
            kept += 1;
        }
        kept
    }

    /// Stride 8 only: the number of blocks after which the stride-8 features are taken.
    pub fn fine_len(&self) -> Option<usize> {
        (self.stride == 8).then(|| self.blocks_to_stride(8))
    }

    /// Channels after the first `blocks` blocks.
    fn channels_after(&self, blocks: usize) -> usize {
        match blocks {
            0 => self.backbone.stem_channels(),
            n => self.backbone.block_specs()[n - 1].c_out,
        }
    }

    /// Channels of the features the head reads: the trunk's output, plus the stride-8
    /// features at stride 8.
    pub fn trunk_channels(&self) -> usize {
        self.channels_after(self.trunk_len())
            + self.fine_len().map_or(0, |n| self.channels_after(n))
    }

    /// Cells along one side of a `size` canvas: `size` halved (rounding up) once per stride-2
    /// layer up to the cell stride, as the padded 3×3 convolutions do.
    pub fn grid_side(&self, size: usize) -> usize {
        let mut side = size.div_ceil(2);
        let blocks = self.fine_len().unwrap_or(self.trunk_len());
        for spec in self.backbone.block_specs().iter().take(blocks) {
            if spec.stride == 2 {
                side = side.div_ceil(2);
            }
        }
        side
    }

    /// Build the network with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Result<GridDetector, ModelError> {
        self.validate()?;
        let trunk = self.backbone.clone().with_in_channels(1).init(device)?;
        Ok(self.assemble(trunk, device))
    }

    /// Build the network from torchvision's MobileNetV2 state dict at `path` (the ImageNet
    /// `mobilenet_v2-b0353104.pth`, or one with the same keys for a smaller `backbone`): the
    /// stem and kept blocks take the file's weights, the stem's image channel the summed RGB
    /// kernel and each residual channel that kernel times `residual_stem_scale`; the context
    /// and cell layers start fresh.
    pub fn init_pretrained(
        &self,
        path: &Path,
        device: &Device,
    ) -> Result<(GridDetector, ImportReport), ModelError> {
        self.validate()?;
        let full = self.backbone.clone().with_in_channels(1);
        let (trunk, report) = load_weights(full.init(device)?, path, &full.import_spec(false))?;
        // [O, 1, 3, 3], the kernel that sees grey g as the RGB kernel sees (g, g, g).
        let summed = trunk.stem.conv.weight.val();
        let mut detector = self.assemble(trunk, device);
        let mut kernels = vec![summed.clone()];
        for _ in 1..self.in_channels {
            kernels.push(summed.clone().mul_scalar(self.residual_stem_scale));
        }
        let stem = &mut detector.stem.conv;
        stem.weight = Param::from_tensor(Tensor::cat(kernels, 1));
        Ok((detector, report))
    }

    /// The detector around a 1-channel MobileNetV2: its blocks up to the stride, its stem BN,
    /// a new `in_channels` stem convolution (freshly initialised) and a fresh head.
    fn assemble(&self, trunk: MobileNetV2, device: &Device) -> GridDetector {
        let MobileNetV2 { stem, blocks, .. } = trunk;
        let c_stem = self.backbone.stem_channels();
        let fresh_stem = ConvBnSpec {
            c_in: self.in_channels,
            c_out: c_stem,
            kernel: 3,
            stride: 2,
            groups: 1,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
            relu6: true,
        }
        .init(device);
        let stem = ConvBnAct {
            conv: fresh_stem.conv,
            bn: stem.bn,
            relu6: true,
        };
        let blocks: Vec<InvertedResidual> = blocks.into_iter().take(self.trunk_len()).collect();
        let context = ConvBnSpec {
            c_in: self.trunk_channels(),
            c_out: self.head_channels,
            kernel: 3,
            stride: 1,
            groups: 1,
            padding: Padding::Symmetric,
            bn_eps: 1e-5,
            relu6: true,
        }
        .init(device);
        let mut cell = Conv2dConfig::new([self.head_channels, 1], [1, 1])
            .with_bias(true)
            .init(device);
        // Start every cell at p ≈ 0.01 (logit -4.6), as detectors with rare positives do
        // (RetinaNet's prior): a noisy-OR over 256 cells at p = 0.5 would call every image
        // fractured and the first steps would only undo that.
        // Per unit area, so a stride-8 grid (4× the cells) starts at the same image score.
        let prior = Tensor::from_data(
            TensorData::new(vec![cell_prior_logit(self.stride)], [1]),
            device,
        );
        cell.bias = Some(Param::from_tensor(prior));
        let boxes = self.box_head.then(|| {
            Conv2dConfig::new([self.head_channels, 4], [1, 1])
                .with_bias(true)
                .init(device)
        });
        let image_head = (self.image_pool == ImagePool::Head).then(|| ImageHead {
            conv: ConvBnSpec {
                c_in: self.channels_after(self.trunk_len()),
                c_out: self.image_head_channels,
                kernel: 1,
                stride: 1,
                groups: 1,
                padding: Padding::Symmetric,
                bn_eps: 1e-5,
                relu6: true,
            }
            .init(device),
            linear: LinearConfig::new(self.image_head_channels, 1).init(device),
        });
        GridDetector {
            stem,
            blocks,
            context,
            cell,
            boxes,
            image_head,
            image_pool: self.image_pool,
            fine_after: self.fine_len(),
        }
    }
}

/// Initial bias of a stride-16 cell scorer: `logit(0.01)`.
pub const CELL_PRIOR_LOGIT: f32 = -4.595_12;

/// Initial cell bias at `stride`: a cell prior of 0.01 per 16×16 pixels, i.e.
/// `logit(0.01 · (stride / 16)²)`.
pub fn cell_prior_logit(stride: usize) -> f32 {
    if stride == 16 {
        return CELL_PRIOR_LOGIT;
    }
    let p = 0.01 * (stride as f64 / 16.0).powi(2);
    (p / (1.0 - p)).ln() as f32
}

/// MobileNetV2 trunk (stem + blocks to stride 16 or 32) and a per-cell scoring head.
/// Build with [`GridDetectorConfig::init`] or [`GridDetectorConfig::init_pretrained`].
#[derive(Module, Debug)]
pub struct GridDetector {
    /// 3×3 stride-2 conv over `[image, residuals…]` + BN + ReLU6.
    pub stem: ConvBnAct,
    /// MobileNetV2 inverted residual blocks up to the output stride.
    pub blocks: Vec<InvertedResidual>,
    /// 3×3 conv + BN + ReLU6: neighbouring cells' context for each cell.
    pub context: ConvBnAct,
    /// 1×1 conv to one logit per cell.
    pub cell: Conv2d,
    /// 1×1 conv to the 4 log-distances of the cell's box ([`GridDetectorConfig::box_head`]).
    pub boxes: Option<Conv2d>,
    /// The image-level head ([`ImagePool::Head`]).
    pub image_head: Option<ImageHead>,
    /// Cell-to-image pooling.
    #[module(skip)]
    pub image_pool: ImagePool,
    /// Stride 8: the stride-8 features are the output of this many blocks, fused with the
    /// upsampled trunk output. `None` at stride 16 and 32.
    #[module(skip)]
    pub fine_after: Option<usize>,
}

/// Image-level head on the shared trunk: 1×1 conv + BN + ReLU6 over the stride-16 (or 32)
/// features, global max pooling (a fracture is local: the strongest evidence anywhere
/// decides, and a crop scores as the whole image does), a linear layer to one logit.
#[derive(Module, Debug)]
pub struct ImageHead {
    pub conv: ConvBnAct,
    pub linear: Linear,
}

impl ImageHead {
    /// `[N, C, h, w]` trunk features → `[N]` image logits.
    pub fn forward(&self, features: Tensor<4>) -> Tensor<1> {
        let x = self.conv.forward(features);
        let [n, c, h, w] = x.dims();
        let pooled: Tensor<2> = x.reshape([n, c, h * w]).max_dim(2).reshape([n, c]);
        self.linear.forward(pooled).reshape([n])
    }
}

/// Everything the detector predicts for a batch.
pub struct DetectorOutput {
    /// `[N, gh, gw]` cell logits.
    pub cells: Tensor<3>,
    /// `[N]` image logits.
    pub image: Tensor<1>,
    /// `[N, 4, gh, gw]` log-distances (in cells) from each cell centre to its box's left,
    /// top, right and bottom edges; `None` without the box head. Decode with
    /// `distance = stride · exp(value)`.
    pub boxes: Option<Tensor<4>>,
}

impl GridDetector {
    /// The stride-8 features (stride 8 only) and the trunk output.
    fn trunk(&self, x: Tensor<4>) -> (Option<Tensor<4>>, Tensor<4>) {
        let mut x = self.stem.forward(x);
        let mut fine = None;
        for (i, block) in self.blocks.iter().enumerate() {
            if self.fine_after == Some(i) {
                fine = Some(x.clone());
            }
            x = block.forward(x);
        }
        if self.fine_after == Some(self.blocks.len()) {
            fine = Some(x.clone());
        }
        (fine, x)
    }

    /// Cell features from the trunk outputs: at stride 8 the trunk output upsampled
    /// (nearest) and concatenated after the stride-8 features.
    fn fuse(fine: Option<Tensor<4>>, coarse: Tensor<4>) -> Tensor<4> {
        match fine {
            Some(fine) => {
                let [_, _, h, w] = fine.dims();
                let up = interpolate(
                    coarse,
                    InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]),
                );
                Tensor::cat(vec![fine, up], 1)
            }
            None => coarse,
        }
    }

    /// Trunk features: `[N, C_in, H, W]` → `[N, F, gh, gw]`, `gh = ceil(H / stride)`. At
    /// stride 8, `F` = stride-8 channels + trunk channels (the trunk output upsampled).
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let (fine, coarse) = self.trunk(x);
        Self::fuse(fine, coarse)
    }

    /// Every output: `x` `[N, C_in, H, W]` (image channel then residual channels,
    /// normalised) → [`DetectorOutput`], logits without sigmoid.
    pub fn forward_all(&self, x: Tensor<4>) -> DetectorOutput {
        let (fine, coarse) = self.trunk(x);
        let head_image = self.image_head.as_ref().map(|h| h.forward(coarse.clone()));
        let context = self.context.forward(Self::fuse(fine, coarse));
        let boxes = self.boxes.as_ref().map(|b| b.forward(context.clone()));
        let cells = self.cell.forward(context);
        let [n, _, gh, gw] = cells.dims();
        let cells: Tensor<3> = cells.reshape([n, gh, gw]);
        let image = match head_image {
            Some(image) => image,
            None => pool_cells(cells.clone(), self.image_pool),
        };
        DetectorOutput {
            cells,
            image,
            boxes,
        }
    }

    /// Cell logits and image logit: `x` `[N, C_in, H, W]` (image channel then residual
    /// channels, normalised) → (`[N, gh, gw]` cell logits, `[N]` image logit), no sigmoid.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<3>, Tensor<1>) {
        let out = self.forward_all(x);
        (out.cells, out.image)
    }
}

/// Image logit from cell logits `[N, gh, gw]` → `[N]`.
pub fn pool_cells(cells: Tensor<3>, pool: ImagePool) -> Tensor<1> {
    let [n, gh, gw] = cells.dims();
    let flat: Tensor<2> = cells.reshape([n, gh * gw]);
    match pool {
        ImagePool::NoisyOr => noisy_or_logits(flat),
        ImagePool::Max => flat.max_dim(1).reshape([n]),
        // No head to read: the hottest cell stands in (a detector always has its head).
        ImagePool::Head => flat.max_dim(1).reshape([n]),
    }
}

/// Below this total `T` the noisy-OR logit uses its series expansion.
const SERIES_BELOW: f64 = 1e-2;

/// Logit of the noisy-OR of independent cell probabilities: `[N, K]` cell logits → `[N]`.
///
/// With `T = Σ softplus(z_k) = -Σ log(1 - p_k)`, the image is negative with probability
/// `e^-T`, so its logit is `log(1 - e^-T) - log(e^-T) = log(expm1(T))`. Evaluated as
/// `T + log(1 - e^-T)` for `T ≥ 0.01` and as `log T + log1p(T/2 + T²/6)` below (the
/// expm1 series; the subtraction would lose digits there). Each branch sees its input
/// clamped into its own range, so the branch not taken contributes no inf or NaN to the
/// backward pass.
pub fn noisy_or_logits(cells: Tensor<2>) -> Tensor<1> {
    let [n, _] = cells.dims();
    let total: Tensor<1> = softplus(cells, 1.0).sum_dim(1).reshape([n]);
    let large = total.clone().clamp_min(SERIES_BELOW);
    let large = large.clone() + large.neg().exp().neg().add_scalar(1.0).log();
    let small = total.clone().clamp(1e-30, SERIES_BELOW);
    let series = small.clone().div_scalar(2.0) + small.clone().powf_scalar(2.0).div_scalar(6.0);
    let small = small.log() + series.log1p();
    small.mask_where(total.greater_equal_elem(SERIES_BELOW), large)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> GridDetectorConfig {
        GridDetectorConfig::new()
            .with_backbone(
                MobileNetV2Config::new()
                    .with_width_mult(0.25)
                    .with_last_channel(32),
            )
            .with_head_channels(8)
    }

    use burn::tensor::Distribution;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn trunk_stops_before_the_stride_32_stage() {
        let cfg = GridDetectorConfig::new();
        assert_eq!(cfg.trunk_len(), 13);
        assert_eq!(cfg.trunk_channels(), 96);
        assert_eq!(cfg.grid_side(256), 16);
        let cfg32 = cfg.clone().with_stride(32);
        assert_eq!(cfg32.trunk_len(), 17);
        assert_eq!(cfg32.trunk_channels(), 320);
        assert_eq!(cfg32.grid_side(256), 8);
        assert_eq!(cfg32.grid_side(100), 4);
        let cfg8 = cfg.clone().with_stride(8);
        assert!(cfg8.validate().is_ok());
        assert_eq!((cfg8.trunk_len(), cfg8.fine_len()), (13, Some(6)));
        assert_eq!(cfg8.trunk_channels(), 32 + 96);
        assert_eq!(cfg8.grid_side(256), 32);
        assert_eq!(cfg8.grid_side(100), 13);
        assert!(cfg.clone().with_stride(4).validate().is_err());
        assert!(cfg.with_in_channels(0).validate().is_err());
    }

    #[test]
    fn stride_8_trains_both_feature_levels() {
        // Gradients must reach the stride-8 skip and, through the upsampling, the blocks
        // after it; the prior keeps the initial image score of a stride-16 grid.
        let device = Device::flex().autodiff();
        let cfg = tiny().with_stride(8).with_in_channels(1);
        let model = cfg.init(&device).unwrap();
        let x = Tensor::<4>::random([1, 1, 64, 64], Distribution::Default, &device);
        let (cells, _) = model.forward(x);
        let grads = cells.sum().backward();
        let early = model.blocks[0].project.conv.weight.val().grad(&grads);
        let late = model.blocks[cfg.trunk_len() - 1]
            .project
            .conv
            .weight
            .val()
            .grad(&grads);
        for g in [early, late] {
            let g = values(g.expect("gradient"));
            assert!(g.iter().any(|v| *v != 0.0) && g.iter().all(|v| v.is_finite()));
        }
        let p16 = 1.0 / (1.0 + (-cell_prior_logit(16)).exp());
        let p8 = 1.0 / (1.0 + (-cell_prior_logit(8)).exp());
        assert!(
            (p16 - 0.01).abs() < 1e-6 && (p8 - 0.0025).abs() < 1e-6,
            "{p16} {p8}"
        );
    }

    #[test]
    fn noisy_or_matches_the_product_formula() {
        let device = Device::flex();
        let rows: [[f32; 3]; 4] = [
            [0.0, -1.0, 2.0],
            [-8.0, -9.0, -7.5],
            [-30.0, -40.0, -35.0],
            [50.0, -3.0, 0.5],
        ];
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let got = values(noisy_or_logits(Tensor::from_data(
            TensorData::new(flat, [4, 3]),
            &device,
        )));
        for (row, got) in rows.iter().zip(got) {
            // Reference in f64: log(expm1(Σ log(1 + e^z))).
            let t: f64 = row.iter().map(|&z| (z as f64).exp().ln_1p()).sum();
            let want = t.exp_m1().ln();
            let tol = 1e-4 * want.abs().max(1.0);
            assert!((got as f64 - want).abs() < tol, "{row:?}: {got} vs {want}");
        }
    }

    #[test]
    fn noisy_or_gradient_is_finite_everywhere() {
        let device = Device::flex().autodiff();
        let z = Tensor::<2>::from_data(
            TensorData::new(vec![-200.0f32, -200.0, 0.0, 200.0, -5.0, 1e-3], [3, 2]),
            &device,
        )
        .require_grad();
        let out = noisy_or_logits(z.clone()).sum();
        let grads = out.backward();
        let g = values(z.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }

    #[test]
    fn box_and_image_heads_have_their_shapes_and_gradients() {
        let device = Device::flex().autodiff();
        let cfg = tiny()
            .with_stride(8)
            .with_box_head(true)
            .with_image_pool(ImagePool::Head)
            .with_image_head_channels(8);
        let model = cfg.init(&device).unwrap();
        let x = Tensor::<4>::random([2, 3, 64, 48], Distribution::Default, &device);
        let out = model.forward_all(x);
        assert_eq!(out.cells.dims(), [2, 8, 6]);
        assert_eq!(out.image.dims(), [2]);
        let boxes = out.boxes.expect("box head");
        assert_eq!(boxes.dims(), [2, 4, 8, 6]);
        // The image logit comes from the head, not from the cells: its gradient reaches
        // the head's weights, and the box term reaches the box convolution.
        let grads = (out.image.sum() + boxes.sum()).backward();
        let head = model.image_head.as_ref().unwrap();
        let linear = values(head.linear.weight.val().grad(&grads).expect("gradient"));
        let conv = model.boxes.as_ref().unwrap().weight.val().grad(&grads);
        let conv = values(conv.expect("gradient"));
        for g in [linear, conv] {
            assert!(g.iter().any(|v| *v != 0.0) && g.iter().all(|v| v.is_finite()));
        }
        // Without the options the detector has neither head.
        let plain = tiny().init(&Device::flex()).unwrap();
        assert!(plain.boxes.is_none() && plain.image_head.is_none());
    }

    #[test]
    fn output_shapes_and_max_pool() {
        let device = Device::flex();
        for (size, channels) in [(64usize, 1usize), (128, 3)] {
            let cfg = tiny().with_in_channels(channels);
            let model = cfg.init(&device).unwrap().valid();
            let x = Tensor::<4>::zeros([2, channels, size, size], &device);
            let (cells, image) = model.forward(x);
            let g = cfg.grid_side(size);
            assert_eq!(g, size / 16);
            assert_eq!(cells.dims(), [2, g, g]);
            assert_eq!(image.dims(), [2]);
        }
        // Stride 8: the fused head gives twice as many cells per side, odd sizes included.
        for size in [64usize, 72] {
            let cfg = tiny().with_stride(8);
            let model = cfg.init(&device).unwrap().valid();
            let (cells, _) = model.forward(Tensor::<4>::zeros([1, 3, size, size], &device));
            let g = cfg.grid_side(size);
            assert_eq!(g, size.div_ceil(8));
            assert_eq!(cells.dims(), [1, g, g]);
        }
        let cells = Tensor::<3>::from_data(
            TensorData::new(
                vec![0.1f32, 3.0, -1.0, 0.0, -2.0, -0.5, 0.7, -4.0],
                [2, 2, 2],
            ),
            &device,
        );
        assert_eq!(values(pool_cells(cells, ImagePool::Max)), vec![3.0, 0.7]);
    }
}
