//! Cost of MPR residual maps (issue #5) on the default device (flex on CPU).
//!
//! `cargo run --release -p fracdet-train --example mpr_bench -- [SIZE] [SCALES] [IMAGES] [REPEATS] [WIDTH]`
//!
//! Defaults: 256, `32,64`, 1 image per call, 5 timed calls after one warm-up, the default
//! inpainter width. Each call computes the residual maps of `IMAGES` random images at every
//! scale (9 inpainter passes per scale, batched) with an untrained inpainter (the cost does
//! not depend on the weights). Prints the best and mean time per image and the inpainter's
//! multiply–adds per pass. Set `RAYON_NUM_THREADS=2` to pin the thread count.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use fracdet_model::mpr::{InpainterConfig, residual_maps};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(256);
    let scales: Vec<usize> = args
        .get(1)
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![32, 64]);
    let images: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut config = InpainterConfig::new();
    if let Some(w) = args.get(4).and_then(|s| s.parse().ok()) {
        config.width = w;
    }

    let device = Device::default();
    let g = config.init(&device)?;
    let x = Tensor::<4>::random(
        [images, 1, size, size],
        Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let mut times = Vec::new();
    for i in 0..=repeats {
        let t = Instant::now();
        let maps = residual_maps(&g, x.clone(), &scales)?;
        let v: Vec<f32> = maps
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(v.len(), images * scales.len() * size * size);
        if i > 0 {
            times.push(t.elapsed().as_secs_f64() / images as f64);
        }
    }
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "residual maps {size}x{size}, scales {scales:?} ({} passes/image), {images} image(s)/call, \
         width {}, {} threads: best {:.3} s/image, mean {:.3} s/image; inpainter {:.0} M MACs/pass",
        9 * scales.len(),
        config.width,
        rayon::current_num_threads(),
        best,
        mean,
        macs(&config, size) / 1e6
    );
    Ok(())
}

/// Multiply–adds of one inpainter pass at `size`² (convolutions only).
fn macs(c: &InpainterConfig, size: usize) -> f64 {
    let w = c.width as f64;
    let (s8, s16) = (size as f64 / 8.0, size as f64 / 16.0);
    let conv = |side: f64, c_in: f64, c_out: f64, k: f64| side * side * c_in * c_out * k * k;
    conv(s16, 128.0, w, 2.0)
        + c.dilations.len() as f64 * conv(s16, w, w, 3.0)
        + conv(s16, w, 128.0, 3.0)
        + conv(s8, 32.0 + 128.0, 64.0, 1.0)
        + conv(s8, 64.0, 64.0, 1.0)
}
