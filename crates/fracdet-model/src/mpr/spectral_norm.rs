//! Spectral normalisation (Miyato et al. 2018) of a convolution, by power iteration.
//!
//! burn has no built-in spectral norm. [`SnConv2d`] keeps an ordinary [`Conv2d`] (its weight
//! is what the optimiser trains) and an estimate `u` of the weight matrix's leading left
//! singular vector. `u` is a [`RunningState`]: saved with the weights (so a resumed run
//! continues with the same estimate) but never trained. Every forward on an autodiff device
//! (training) advances the power iteration by one step, as PyTorch's `spectral_norm` does;
//! inference uses the stored `u` as it is.
//!
//! The layer convolves with `W / σ`, σ = uᵀ W v, where `u` and `v` are treated as constants
//! and the gradient flows through `W` in both numerator and σ.

use burn::module::{Module, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

/// Keeps the normalisation of a near-zero vector finite.
const EPS: f64 = 1e-12;

/// A spectrally normalised 2-D convolution with square kernel and symmetric zero padding.
#[derive(Module, Debug)]
pub struct SnConv2d {
    /// The unnormalised convolution; `weight` is `[c_out, c_in, k, k]`.
    pub conv: Conv2d,
    /// Estimate of the leading left singular vector of `weight` seen as a
    /// `[c_out, c_in * k * k]` matrix, unit length, `[c_out]`.
    pub u: RunningState<Tensor<1>>,
    /// Zero padding on every side.
    pub padding: usize,
}

/// Build an [`SnConv2d`]: `c_in` → `c_out` channels, `kernel`² kernel, `stride`, `padding`
/// on every side, with bias. `u` starts as a random unit vector.
pub fn sn_conv2d(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> SnConv2d {
    let conv = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device);
    let u = l2_normalise(Tensor::<1>::random(
        [c_out],
        Distribution::Normal(0.0, 1.0),
        device,
    ));
    SnConv2d {
        conv,
        u: RunningState::new(u),
        padding,
    }
}

fn l2_normalise<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powf_scalar(2.0).sum().sqrt().add_scalar(EPS);
    let shape = [1; D];
    x / norm.reshape(shape)
}

impl SnConv2d {
    /// The weight as the matrix whose largest singular value is normalised:
    /// `[c_out, c_in * k * k]`.
    pub fn weight_matrix(&self) -> Tensor<2> {
        let w = self.conv.weight.val();
        let [c_out, c_in, kh, kw] = w.dims();
        w.reshape([c_out, c_in * kh * kw])
    }

    /// The current estimate σ of the largest singular value of [`Self::weight_matrix`]
    /// (no power-iteration step, no gradient): `[1]`.
    pub fn sigma(&self) -> Tensor<1> {
        let w = self.weight_matrix().detach();
        let u = self.u.value_sync().to_device(&w.device());
        let (_, _, sigma) = Self::estimate(w, u);
        sigma
    }

    /// From `u`: `v = normalise(Wᵀu)`, `u' = normalise(W v)` and σ = u'ᵀ W v (`[1]`).
    /// `u'` and `v` carry no gradient; σ carries W's.
    fn estimate(w: Tensor<2>, u: Tensor<1>) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let [c_out, k] = w.dims();
        let wd = w.clone().detach();
        let v = l2_normalise(wd.clone().transpose().matmul(u.reshape([c_out, 1])));
        let u_next = l2_normalise(wd.matmul(v.clone()));
        let wv: Tensor<2> = w.matmul(v.clone());
        let sigma = (u_next.clone() * wv).sum();
        (u_next.reshape([c_out]), v.reshape([k]), sigma)
    }

    /// `[N, c_in, H, W]` → `[N, c_out, H', W']` with the standard convolution output size.
    /// On an autodiff device this also advances the power iteration by one step.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let weight = self.conv.weight.val();
        let device = weight.device();
        let training = x.device().is_autodiff();
        let w = self.weight_matrix();
        let u = if training {
            self.u.value_sync()
        } else {
            self.u.value()
        }
        .to_device(&device);
        let (u_next, _, sigma) = Self::estimate(w, u);
        if training {
            self.u.update(u_next.detach());
        }
        let weight = weight / sigma.reshape([1, 1, 1, 1]);
        let pad = self.padding;
        let options = ConvOptions::new(self.conv.stride, [pad, pad], self.conv.dilation, 1);
        conv2d(x, weight, self.conv.bias.as_ref().map(|b| b.val()), options)
    }
}
