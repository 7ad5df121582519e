//! The LibTorch backend (`--features tch`) against the default pure-Rust `flex` backend:
//! the same weights give the same logits for every backbone, and one training step (loss,
//! backward, SGD update) moves both to the same place.
//!
//! Built only with `--features tch` and libtorch present (tools/setup-libtorch.sh prints the
//! environment); in the default build one test says on stderr that it is skipped.

#[cfg(not(feature = "tch"))]
#[test]
fn tch_comparison_skipped_without_the_tch_feature() {
    eprintln!(
        "NOTICE: built without --features tch; the flex-vs-libtorch comparison is skipped \
         (bash tools/setup-libtorch.sh, then cargo test --release -p fracdet-model --features tch)"
    );
}

#[cfg(feature = "tch")]
mod with_tch {
    use burn::module::Module;
    use burn::optim::{GradientsParams, SgdConfig};
    use burn::tensor::{Device, Distribution, Tensor};
    use fracdet_model::{BackboneKind, Classifier};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 tensor")
    }

    /// Largest |a − b| over the largest |a|: relative to the tensor's own scale, which for
    /// some random-init trunks is far below 1 (a floor of 1 would hide any difference).
    fn worst(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = a.iter().fold(f32::MIN_POSITIVE, |m, x| m.max(x.abs()));
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// burn marks its LibTorch backend deprecated in favour of CubeCL ones; it is still
    /// the one whose kernels are PyTorch's own, which is what this comparison is for.
    #[allow(deprecated)]
    fn libtorch() -> Device {
        Device::libtorch()
    }

    /// The tests seed flex's generator for repeatable weights; it is shared, so they take
    /// turns.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn input(device: &Device) -> Tensor<4> {
        Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), device)
    }

    #[test]
    fn every_backbone_gives_the_same_logits_on_flex_and_tch() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let flex = Device::flex();
        flex.seed(7);
        let tch = libtorch();
        for kind in BackboneKind::ALL {
            let model: Classifier = kind.init(3, &flex).unwrap();
            let on_tch = model.clone().fork(&tch);
            let x = input(&flex);
            // Features as well as logits: a fresh head may start at zero, and then equal
            // logits would prove nothing about the trunk.
            let (fa, a) = model.forward_with_features(x.clone());
            let (fb, b) = on_tch.forward_with_features(x.to_device(&tch));
            let (a, b) = (values(a), values(b));
            let (fa, fb) = (values(fa), values(fb));
            assert!(
                fa.iter().any(|v| *v != 0.0),
                "{}: all-zero features",
                kind.name()
            );
            let (err, ferr) = (worst(&a, &b), worst(&fa, &fb));
            let scale = fa.iter().fold(0f32, |m, x| m.max(x.abs()));
            eprintln!(
                "{}: worst relative difference, logits {err:.2e}, trunk features {ferr:.2e} \
                 (features up to {scale:.2e})",
                kind.name()
            );
            assert!(err <= 1e-4, "{}: flex {a:?} vs tch {b:?}", kind.name());
            assert!(
                ferr <= 1e-4,
                "{}: trunk features differ by {ferr}",
                kind.name()
            );
        }
    }

    /// ResNet-18 only. MobileNetV2's and EfficientNet-Lite0's heads drop 20 % of features
    /// in training, with masks from each backend's own generator, so one step's loss differs
    /// by the mask (measured: 0.48 vs 0.19) while their trunks agree. Deeper ResNets agree on
    /// the loss (ResNet-34: 1e-5 relative) but drift apart after the step (ResNet-34: 9e-4 to
    /// 2.8e-2 over seeds; with AdamW, ResNet-50 9e-4), most likely rounding amplified by
    /// training-mode BatchNorm over channels whose batch variance is near zero at random
    /// init; not established, so not asserted.
    ///
    /// Plain SGD at a small rate, not AdamW: AdamW's first step moves every weight by about
    /// the learning rate whatever its gradient's size, so near-zero gradients that round to
    /// opposite signs move apart; SGD's step is proportional to the gradient, so it checks
    /// the backward pass itself.
    #[test]
    fn one_training_step_agrees() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        Device::flex().seed(7);
        for kind in [BackboneKind::Resnet18] {
            let flex = Device::flex().autodiff();
            let tch = libtorch().autodiff();
            let start: Classifier = kind.init(3, &Device::flex()).unwrap();
            // Batch 4 at 96 px: BatchNorm in training normalises by the batch's own
            // variance, and at batch 2 x 64 px the last stage has 8 values per channel,
            // whose variance can be near zero and amplify rounding (seen: 1.7e-3 apart).
            // A fixed input (not the backend's generator), so a run is repeatable.
            let pattern: Vec<f32> = (0..4 * 3 * 96 * 96)
                .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 3.0)
                .collect();
            let x = Tensor::<1>::from_floats(pattern.as_slice(), &Device::flex())
                .reshape([4, 3, 96, 96]);
            let target = Tensor::<2>::from_floats([[1.0], [0.0], [1.0], [0.0]], &Device::flex());
            let mut after = Vec::new();
            let mut losses = Vec::new();
            for device in [&flex, &tch] {
                let model = start.clone().fork(device).train().set_require_grad(true);
                let logits = model.forward(x.clone().to_device(device));
                let loss = (logits - target.clone().to_device(device))
                    .powf_scalar(2.0)
                    .mean();
                losses.push(values(loss.clone())[0]);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let mut optim = SgdConfig::new().init();
                let model = optim.step(1e-3, model, grads);
                // The stepped model on the same batch, still in training mode: batch
                // statistics, as the step itself used (the running averages after a single
                // batch are a different, ill-conditioned quantity).
                after.push(values(model.forward(x.clone().to_device(device))));
            }
            let err = worst(&after[0], &after[1]);
            eprintln!(
                "{}: loss flex {} tch {}, logits after one SGD step differ by {err:.2e}",
                kind.name(),
                losses[0],
                losses[1]
            );
            assert!((losses[0] - losses[1]).abs() <= 1e-4 * losses[0].abs().max(1.0));
            assert!(
                err <= 1e-4,
                "{}: {:?} vs {:?}",
                kind.name(),
                after[0],
                after[1]
            );
        }
    }
}
