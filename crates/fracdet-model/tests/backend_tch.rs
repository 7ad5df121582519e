//! The LibTorch backend (`--features tch`) against the default pure-Rust `flex` backend:
//! the same weights give the same logits for every backbone, and one AdamW training step
//! moves both to the same place.
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
    use burn::module::{AutodiffModule, Module};
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::{Device, Distribution, Tensor};
    use fracdet_model::{BackboneKind, Classifier};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32 tensor")
    }

    /// Largest |a − b| over the largest |a| (at least 1): logits of random-init networks are
    /// O(1), deep features can be larger.
    fn worst(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = a.iter().fold(1f32, |m, x| m.max(x.abs()));
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    fn input(device: &Device) -> Tensor<4> {
        Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), device)
    }

    #[test]
    fn every_backbone_gives_the_same_logits_on_flex_and_tch() {
        let flex = Device::flex();
        let tch = Device::libtorch();
        for kind in BackboneKind::ALL {
            let model: Classifier = kind.init(3, &flex).unwrap();
            let on_tch = model.clone().fork(&tch);
            let x = input(&flex);
            let a = values(model.forward(x.clone()));
            let b = values(on_tch.forward(x.to_device(&tch)));
            let err = worst(&a, &b);
            eprintln!("{}: worst logit difference {err:.2e}", kind.name());
            assert!(err <= 1e-4, "{}: flex {a:?} vs tch {b:?}", kind.name());
        }
    }

    #[test]
    fn one_training_step_agrees() {
        for kind in [BackboneKind::Resnet18, BackboneKind::MobilenetV2] {
            let flex = Device::flex().autodiff();
            let tch = Device::libtorch().autodiff();
            let start: Classifier = kind.init(3, &Device::flex()).unwrap();
            let x = input(&Device::flex());
            let target = Tensor::<2>::from_floats([[1.0], [0.0]], &Device::flex());
            let mut after = Vec::new();
            let mut losses = Vec::new();
            for device in [&flex, &tch] {
                let model = start.clone().fork(device);
                let logits = model.forward(x.clone().to_device(device));
                let loss = (logits - target.clone().to_device(device))
                    .powf_scalar(2.0)
                    .mean();
                losses.push(values(loss.clone())[0]);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let mut optim = AdamWConfig::new().init();
                let model = optim.step(1e-3, model, grads);
                let probe = model.valid();
                let inner = Device::flex();
                after.push(values(
                    probe
                        .forward(x.clone().to_device(&device.clone().inner()))
                        .to_device(&inner),
                ));
            }
            let err = worst(&after[0], &after[1]);
            eprintln!(
                "{}: loss flex {} tch {}, logits after one AdamW step differ by {err:.2e}",
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
