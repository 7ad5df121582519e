//! Class activation maps for the report's error thumbnails.
//!
//! Every fracdet backbone ends in global average pooling followed by one linear layer (with
//! dropout, an identity at inference), so the fracture logit is
//! `b + mean over locations of w · A[:, y, x]` and Grad-CAM's gradient weights are exactly
//! `w / (h * w)`: Grad-CAM equals CAM. The map is therefore computed without autodiff, by
//! running the head on each location's feature vector as a 1x1 map and subtracting the
//! head's value on zeros (the bias). No BatchNorm statistics are touched.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use burn::tensor::{Tensor, TensorData};
use fracdet_model::{BackboneKind, Classifier};
use fracdet_train::{Device, InputSpec};

/// A run's network, kept separate from the `Predictor` because CAM needs its feature map.
pub struct CamModel {
    model: Classifier,
    input: InputSpec,
}

/// A CAM over the model canvas: `h * w` values in [0, 1] (min-max normalised), row-major.
pub struct Cam {
    pub values: Vec<f32>,
    pub h: usize,
    pub w: usize,
}

impl CamModel {
    /// The best weights of the run in `run_dir`, on a plain (non-autodiff) device, where
    /// BatchNorm uses its running statistics and dropout is off.
    pub fn open(
        run_dir: &Path,
        backbone: &str,
        input: &InputSpec,
        device: &Device,
    ) -> anyhow::Result<Self> {
        let kind = BackboneKind::from_str(backbone)?;
        let model = kind.init(input.channels, device)?;
        let model = fracdet_train::load_run_weights(model, run_dir)
            .with_context(|| format!("cannot load weights from {}", run_dir.display()))?;
        Ok(Self {
            model,
            input: input.clone(),
        })
    }

    /// The CAM of one grey canvas (`size * size` values in [0, 1]), min-max normalised as in
    /// the original CAM paper rather than ReLU'd as Grad-CAM does: a model that scores every
    /// image low (all contributions negative) still shows where its evidence is strongest.
    /// `None` when the map is flat (a saturated untrained network, for one).
    pub fn cam(&self, canvas: &[f32], device: &Device) -> anyhow::Result<Option<Cam>> {
        let (raw, _, h, w) = self.contributions(canvas, device)?;
        let lo = raw.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let range = hi - lo;
        // Differences below ~1e-5 of the logit scale are float noise, not evidence.
        if !(range.is_finite() && range > 1e-5 * (1.0 + hi.abs().max(lo.abs()))) {
            return Ok(None);
        }
        let values = raw.iter().map(|&v| (v - lo) / range).collect();
        Ok(Some(Cam { values, h, w }))
    }

    /// Per-location logit contributions `w · A[:, y, x]` (row-major, `h * w` values), the
    /// head's bias, and the map size. Their mean plus the bias is the image's logit.
    fn contributions(
        &self,
        canvas: &[f32],
        device: &Device,
    ) -> anyhow::Result<(Vec<f32>, f32, usize, usize)> {
        let side = self.input.size as usize;
        anyhow::ensure!(canvas.len() == side * side, "canvas is not {side}x{side}");
        let mut data = Vec::with_capacity(self.input.numel());
        self.input.normalise_into(canvas, &mut data);
        let image = Tensor::<4>::from_data(
            TensorData::new(data, [1, self.input.channels, side, side]),
            device,
        );
        let features = self.model.features(image);
        let [_, f, h, w] = features.dims();
        // [1, F, h, w] -> [h * w, F, 1, 1]: one 1x1 "image" per location.
        let per_location = features
            .reshape([f, h * w])
            .swap_dims(0, 1)
            .reshape([h * w, f, 1, 1]);
        let logits = to_vec(self.head(per_location).reshape([h * w]))?;
        let bias = to_vec(
            self.head(Tensor::<4>::zeros([1, f, 1, 1], device))
                .reshape([1]),
        )?
        .first()
        .copied()
        .unwrap_or(0.0);
        Ok((logits.iter().map(|&l| l - bias).collect(), bias, h, w))
    }

    /// The head on `[N, F, 1, 1]` features -> `[N, 1]` logits.
    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        let [n, f, _, _] = features.dims();
        match &self.model {
            Classifier::ResNet(m) => m.forward_head(features),
            Classifier::DenseNet(m) => m.forward_head(features),
            Classifier::MobileNetV2(m) => m.classifier.forward(features.reshape([n, f])),
            Classifier::EfficientNetLite(m) => m.classifier.forward(features.reshape([n, f])),
        }
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read tensor: {e:?}"))
}

impl Cam {
    /// Bilinear resampling onto a `side * side` canvas letterboxed like the model's input
    /// (letterboxing is scale-invariant, so the same image at another size lines up).
    pub fn resample(&self, side: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(side * side);
        let at = |y: usize, x: usize| self.values[y * self.w + x];
        for py in 0..side {
            let fy = ((py as f32 + 0.5) * self.h as f32 / side as f32 - 0.5)
                .clamp(0.0, (self.h - 1) as f32);
            let (y0, ty) = (fy.floor() as usize, fy.fract());
            let y1 = (y0 + 1).min(self.h - 1);
            for px in 0..side {
                let fx = ((px as f32 + 0.5) * self.w as f32 / side as f32 - 0.5)
                    .clamp(0.0, (self.w - 1) as f32);
                let (x0, tx) = (fx.floor() as usize, fx.fract());
                let x1 = (x0 + 1).min(self.w - 1);
                let top = at(y0, x0) * (1.0 - tx) + at(y0, x1) * tx;
                let bottom = at(y1, x0) * (1.0 - tx) + at(y1, x1) * tx;
                out.push(top * (1.0 - ty) + bottom * ty);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decomposition is exact: mean contribution + bias = the network's own logit.
    #[test]
    fn contributions_reproduce_the_logit() {
        let device = Device::default();
        for kind in ["resnet18", "mobilenet_v2"] {
            let input = InputSpec::imagenet(64);
            let model = BackboneKind::from_str(kind)
                .unwrap()
                .init(input.channels, &device)
                .unwrap();
            let cam = CamModel { model, input };
            let canvas: Vec<f32> = (0..64 * 64)
                .map(|i| ((i * 37) % 101) as f32 / 100.0)
                .collect();
            let (raw, bias, h, w) = cam.contributions(&canvas, &device).unwrap();
            assert_eq!((h, w), (2, 2), "{kind}");
            let mut data = Vec::new();
            cam.input.normalise_into(&canvas, &mut data);
            let image = Tensor::<4>::from_data(TensorData::new(data, [1, 3, 64, 64]), &device);
            let logit = to_vec(cam.model.forward(image).reshape([1])).unwrap()[0];
            let mean = raw.iter().sum::<f32>() / raw.len() as f32;
            assert!(
                (mean + bias - logit).abs() < 1e-4 * (1.0 + logit.abs()),
                "{kind}: {mean} + {bias} vs {logit}"
            );
        }
    }

    #[test]
    fn resample_keeps_corners_and_range() {
        let cam = Cam {
            values: vec![0.0, 1.0, 0.5, 0.25],
            h: 2,
            w: 2,
        };
        let r = cam.resample(8);
        assert_eq!(r.len(), 64);
        assert_eq!(r[0], 0.0);
        assert_eq!(r[7], 1.0);
        assert_eq!(r[63], 0.25);
        assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
