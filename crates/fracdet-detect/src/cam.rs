//! Class activation maps of the classifier, computed in the same pass as its probability.
//!
//! Every fracdet backbone ends in global average pooling followed by one linear layer (with
//! dropout, an identity at inference), so the fracture logit is
//! `b + mean over locations of w · A[:, y, x]` and Grad-CAM's gradient weights are exactly
//! `w / (h * w)`: Grad-CAM equals CAM. The map is therefore computed without autodiff, by
//! running the head on each location's feature vector as a 1x1 map and subtracting the
//! head's value on zeros (the bias). No BatchNorm statistics are touched.

use std::path::Path;
use std::str::FromStr;

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use fracdet_model::{BackboneKind, Classifier};
use fracdet_run::InputSpec;

use crate::error::{DetectError, Result};

/// A classifier in inference mode with the input recipe it was trained with.
pub struct CamModel {
    model: Classifier,
    input: InputSpec,
}

/// A CAM over the model canvas: `h * w` values in [0, 1] (min-max normalised), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Cam {
    pub values: Vec<f32>,
    pub h: usize,
    pub w: usize,
}

impl CamModel {
    /// `model` must already hold its trained weights; it is put in inference mode here.
    pub fn new(model: Classifier, input: InputSpec) -> Self {
        Self {
            model: model.valid(),
            input,
        }
    }

    /// The best weights of the run in `run_dir`.
    pub fn open(
        run_dir: &Path,
        backbone: &str,
        input: &InputSpec,
        device: &Device,
    ) -> Result<Self> {
        let kind = BackboneKind::from_str(backbone)?;
        let model = kind.init(input.channels, device)?;
        let model = fracdet_run::load_run_weights(model, run_dir)?;
        Ok(Self::new(model, input.clone()))
    }

    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    pub fn model(&self) -> &Classifier {
        &self.model
    }

    /// Fracture probability, CAM and pooled trunk features of each grey canvas (`size *
    /// size` values in [0, 1], as fracdet-io's letterbox makes them), from one forward pass
    /// over the batch. The probability is the network's own head on the pooled features,
    /// exactly what `Predictor` computes; the features are what the typicality check
    /// measures.
    pub fn score(&self, canvases: &[Vec<f32>], device: &Device) -> Result<Vec<CamScore>> {
        if canvases.is_empty() {
            return Ok(Vec::new());
        }
        let n = canvases.len();
        let images = self.tensor(canvases, device)?;
        let (features, logits) = self.model.forward_with_features(images);
        let probabilities = to_vec(sigmoid(logits.reshape([n])))?;
        let [_, f, _, _] = features.dims();
        let pooled = to_vec(features.clone().mean_dim(3).mean_dim(2).reshape([n * f]))?;
        let (raw, h, w) = self.contributions(features, device)?;
        Ok(probabilities
            .into_iter()
            .zip(raw.chunks(h * w))
            .zip(pooled.chunks(f))
            .map(|((probability, raw), pooled)| CamScore {
                probability,
                cam: normalise(raw, h, w),
                features: pooled.to_vec(),
            })
            .collect())
    }

    /// The CAM of one canvas (see [`CamModel::score`]).
    pub fn cam(&self, canvas: &[f32], device: &Device) -> Result<Option<Cam>> {
        let mut scored = self.score(&[canvas.to_vec()], device)?;
        Ok(scored.pop().and_then(|s| s.cam))
    }

    fn tensor(&self, canvases: &[Vec<f32>], device: &Device) -> Result<Tensor<4>> {
        Ok(self.input.input_tensor(canvases, device)?)
    }

    /// Per-location logit contributions `w · A[:, y, x]` of every image (image-major, then
    /// row-major, `n * h * w` values) and the map size. Their per-image mean plus the
    /// head's bias is that image's logit.
    fn contributions(
        &self,
        features: Tensor<4>,
        device: &Device,
    ) -> Result<(Vec<f32>, usize, usize)> {
        let [n, f, h, w] = features.dims();
        // [N, F, h, w] -> [N * h * w, F, 1, 1]: one 1x1 "image" per location.
        let per_location = features.permute([0, 2, 3, 1]).reshape([n * h * w, f, 1, 1]);
        let logits = to_vec(self.head(per_location).reshape([n * h * w]))?;
        let bias = to_vec(
            self.head(Tensor::<4>::zeros([1, f, 1, 1], device))
                .reshape([1]),
        )?
        .first()
        .copied()
        .unwrap_or(0.0);
        Ok((logits.iter().map(|&l| l - bias).collect(), h, w))
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

/// Min-max normalisation as in the original CAM paper rather than Grad-CAM's ReLU: a model
/// that scores every image low (all contributions negative) still shows where its evidence
/// is strongest. `None` when the map is flat (a saturated untrained network, for one).
fn normalise(raw: &[f32], h: usize, w: usize) -> Option<Cam> {
    let lo = raw.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let range = hi - lo;
    // Differences below ~1e-5 of the logit scale are float noise, not evidence.
    if !(range.is_finite() && range > 1e-5 * (1.0 + hi.abs().max(lo.abs()))) {
        return None;
    }
    let values = raw.iter().map(|&v| (v - lo) / range).collect();
    Some(Cam { values, h, w })
}

/// One canvas as [`CamModel::score`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CamScore {
    pub probability: f32,
    /// `None` when the map is flat.
    pub cam: Option<Cam>,
    /// The trunk's features averaged over locations (what the head reads).
    pub features: Vec<f32>,
}

pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| DetectError::Tensor(format!("{e:?}")))
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

    fn canvas(seed: usize) -> Vec<f32> {
        (0..64 * 64)
            .map(|i| ((i * 37 + seed * 11) % 101) as f32 / 100.0)
            .collect()
    }

    /// The decomposition is exact: mean contribution + bias = the network's own logit, for
    /// each image of a batch.
    #[test]
    fn contributions_reproduce_the_logit() {
        let device = Device::default();
        for kind in ["resnet18", "mobilenet_v2"] {
            let input = InputSpec::imagenet(64);
            let model = BackboneKind::from_str(kind)
                .unwrap()
                .init(input.channels, &device)
                .unwrap();
            let cam = CamModel::new(model, input);
            let canvases = vec![canvas(0), canvas(5)];
            let images = cam.tensor(&canvases, &device).unwrap();
            let logits = to_vec(cam.model.forward(images.clone()).reshape([2])).unwrap();
            let features = cam.model.features(images);
            let f = features.dims()[1];
            let (raw, h, w) = cam.contributions(features, &device).unwrap();
            assert_eq!((h, w), (2, 2), "{kind}");
            let zeros = Tensor::<4>::zeros([1, f, 1, 1], &device);
            let bias = to_vec(cam.head(zeros).reshape([1])).unwrap()[0];
            for (i, logit) in logits.iter().enumerate() {
                let mean = raw[i * 4..(i + 1) * 4].iter().sum::<f32>() / 4.0;
                assert!(
                    (mean + bias - logit).abs() < 1e-4 * (1.0 + logit.abs()),
                    "{kind} image {i}: {mean} + {bias} vs {logit}"
                );
            }
            // The batched score gives each image the probability of its own logit.
            let scored = cam.score(&canvases, &device).unwrap();
            for (s, logit) in scored.iter().zip(&logits) {
                let expect = 1.0 / (1.0 + (-logit).exp());
                let p = s.probability;
                assert!((p - expect).abs() < 1e-6, "{kind}: {p} vs {expect}");
                assert!(!s.features.is_empty() && s.features.iter().all(|v| v.is_finite()));
            }
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
        assert!(
            normalise(&[3.0, 3.0], 1, 2).is_none(),
            "flat maps have no CAM"
        );
    }
}
