//! Training and inference throughput of a backbone on the default device (flex on CPU).
//!
//! `cargo run --release -p fracdet-train --example bench -- BACKBONE [SIZE] [BATCH] [STEPS] [DEVICE]`
//!
//! DEVICE is `flex` (default); built with `--features tch`, `tch` (LibTorch on the CPU);
//! built with `--features wgpu`, `wgpu` (the first GPU wgpu finds).
//! `bench/side_by_side.py` runs this beside PyTorch and writes the table.
//!
//! Times `STEPS` training steps (forward, W-BCE, backward, AdamW) and `STEPS` inference
//! batches (`valid()` model) after one untimed warm-up of each, on random input; prints the
//! best step (least disturbed by other load) and the mean. Data loading is not included.

use std::str::FromStr;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use fracdet_model::BackboneKind;
use fracdet_train::BinaryClassifier;
use fracdet_train::loss::weighted_bce_with_logits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As `fracdet` does at start-up: measure the process users run.
    fracdet_run::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = BackboneKind::from_str(args.first().map(String::as_str).unwrap_or("resnet18"))?;
    let parse = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (size, batch, steps) = (parse(1, 224), parse(2, 16), parse(3, 3));

    let device = match args.get(4).map(String::as_str).unwrap_or("flex") {
        "flex" => Device::flex(),
        #[cfg(feature = "tch")]
        #[allow(deprecated)] // burn marks LibTorch deprecated; it is the reference here.
        "tch" => Device::libtorch(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::default()),
        other => return Err(format!("unknown or not compiled-in device {other}").into()),
    };
    let backend = args.get(4).map_or("flex", String::as_str).to_string();
    let ad = device.clone().autodiff();
    let mut model = kind.init(3, &device)?.fork(&ad).train();
    let mut optim = AdamWConfig::new().init();
    let images =
        |d: &Device| Tensor::<4>::random([batch, 3, size, size], Distribution::Normal(0.0, 1.0), d);
    let targets = Tensor::<1>::from_floats(
        (0..batch)
            .map(|i| (i % 2) as f32)
            .collect::<Vec<_>>()
            .as_slice(),
        &ad,
    );

    let mut times = Vec::new();
    for i in 0..=steps {
        let t = Instant::now();
        let loss = weighted_bce_with_logits(model.logits(images(&ad)), targets.clone(), 1.0);
        let _: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        if i > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let train_s = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let train_mean: f64 = times.iter().sum::<f64>() / times.len() as f64;

    let eval = model.valid();
    let mut times = Vec::new();
    for i in 0..=steps {
        let t = Instant::now();
        let p: Vec<f32> = eval
            .logits(images(&device))
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(p.len(), batch);
        if i > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let infer_s = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let infer_mean: f64 = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{backend} {kind} {size}x{size} batch {batch}, {steps} timed steps, {} threads: \
         train best {:.2} s/step = {:.2} img/s (mean {:.2} img/s); \
         inference best {:.2} s/batch = {:.2} img/s (mean {:.2} img/s)",
        rayon::current_num_threads(),
        train_s,
        batch as f64 / train_s,
        batch as f64 / train_mean,
        infer_s,
        batch as f64 / infer_s,
        batch as f64 / infer_mean
    );
    Ok(())
}
