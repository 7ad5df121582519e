//! Cost of full MPR inference per image (issue #5 acceptance: ≤ 0.25 s at the default
//! working size on 2 cores): residual maps from the inpainter, then the grid detector.
//!
//! `cargo run --release -p fracdet-train --example mpr_detector_bench -- [SIZE] [SCALES] [REPEATS] [STRIDE]`
//!
//! Defaults: 256, `32,64`, 5 timed images after one warm-up, stride 16, batch 1, untrained networks
//! (the cost does not depend on the weights). `SCALES` `none` times the detector without
//! residual channels. Prints best and mean seconds per image for the maps, the detector
//! and both. Set `RAYON_NUM_THREADS=2` to pin the thread count.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use fracdet_model::grid_detector::GridDetectorConfig;
use fracdet_model::mpr::InpainterConfig;
use fracdet_train::mpr::ResidualSource;
use fracdet_train::mpr::inpainter_residuals::InpainterResiduals;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(256);
    let scales: Vec<usize> = match args.get(1).map(String::as_str) {
        Some("none") => Vec::new(),
        Some(s) => s.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        None => vec![32, 64],
    };
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let stride: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);

    let device = Device::default();
    let g = InpainterConfig::new().init(&device)?;
    let source = InpainterResiduals::new(g, scales.clone(), device.clone(), "bench".into());
    let detector = GridDetectorConfig::new()
        .with_in_channels(1 + scales.len())
        .with_stride(stride)
        .init(&device)?
        .valid();
    let mut maps_t = Vec::new();
    let mut det_t = Vec::new();
    for i in 0..=repeats {
        let canvas: Vec<f32> =
            Tensor::<1>::random([size * size], Distribution::Uniform(0.0, 1.0), &device)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))?;
        let t = Instant::now();
        let maps = if scales.is_empty() {
            vec![Vec::new()]
        } else {
            source.residuals(std::slice::from_ref(&canvas), size as u32)?
        };
        let t_maps = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut input = canvas;
        input.extend_from_slice(&maps[0]);
        let x = Tensor::<4>::from_data(
            burn::tensor::TensorData::new(input, [1, 1 + scales.len(), size, size]),
            &device,
        );
        let (cells, image) = detector.forward(x);
        let _ = (cells.into_data(), image.into_data());
        let t_det = t.elapsed().as_secs_f64();
        if i > 0 {
            maps_t.push(t_maps);
            det_t.push(t_det);
        }
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let total: Vec<f64> = maps_t.iter().zip(&det_t).map(|(a, b)| a + b).collect();
    println!("size {size}, scales {scales:?}, stride {stride}, {repeats} images, batch 1");
    println!(
        "residual maps: best {:.3} s, mean {:.3} s per image",
        best(&maps_t),
        mean(&maps_t)
    );
    println!(
        "detector:      best {:.3} s, mean {:.3} s per image",
        best(&det_t),
        mean(&det_t)
    );
    println!(
        "full MPR:      best {:.3} s, mean {:.3} s per image",
        best(&total),
        mean(&total)
    );
    Ok(())
}
