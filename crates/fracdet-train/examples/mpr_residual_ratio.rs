//! Do the residual maps light up on fractures? Mean residual inside vs outside the fracture
//! boxes of the fractured images of a split (issue #5 acceptance).
//!
//! `cargo run --release -p fracdet-train --example mpr_residual_ratio -- INPAINTER_RUN DATA [SPLIT] [LIMIT]`
//!
//! For each fractured image with boxes (at most LIMIT, default all) of SPLIT (default val):
//! residual maps of the run's trained inpainter at its working size and scales, then per
//! scale the mean residual inside the boxes and over the rest of the image content (the
//! letterbox padding left out). Prints the ratio of the pooled means and the fraction of
//! images whose inside mean exceeds their outside mean.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use fracdet_io::dataset::{Dataset, Split};
use fracdet_io::loader::{Loader, LoaderConfig};
use fracdet_model::mpr::residual_maps;
use fracdet_train::inpainter::load_inpainter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = PathBuf::from(
        args.first()
            .ok_or("usage: INPAINTER_RUN DATA [SPLIT] [LIMIT]")?,
    );
    let data = PathBuf::from(
        args.get(1)
            .ok_or("usage: INPAINTER_RUN DATA [SPLIT] [LIMIT]")?,
    );
    let split = Split::parse(args.get(2).map_or("val", String::as_str)).ok_or("bad split")?;
    let limit: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);

    let device = Device::default();
    let (g, config) = load_inpainter(&run, &device)?;
    let size = config.size as usize;
    let samples: Vec<_> = Dataset::open(&data)?
        .split(split)
        .into_iter()
        .filter(|s| s.label == Some(true) && !s.boxes.is_empty())
        .take(limit)
        .collect();
    let loader = Loader::new(
        samples,
        LoaderConfig {
            size: config.size,
            batch_size: 1,
            shuffle: false,
            augment: None,
            ..LoaderConfig::default()
        },
    )?;
    let n_scales = config.scales.len();
    let mut sums = vec![[0.0f64; 4]; n_scales]; // inside sum, inside n, outside sum, outside n
    let mut wins = vec![0usize; n_scales];
    let mut used = 0usize;
    for i in 0..loader.len() {
        let Ok((canvas, boxes)) = loader.grey(i, 0) else {
            continue;
        };
        let x =
            Tensor::<4>::from_data(TensorData::new(canvas.clone(), [1, 1, size, size]), &device);
        let maps: Vec<f32> = residual_maps(&g, x, &config.scales)?
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        let inside = |px: usize| {
            let (x, y) = ((px % size) as f32 + 0.5, (px / size) as f32 + 0.5);
            boxes
                .iter()
                .any(|b| x >= b.x_min && x <= b.x_max && y >= b.y_min && y <= b.y_max)
        };
        used += 1;
        for (k, s) in sums.iter_mut().enumerate() {
            let map = &maps[k * size * size..(k + 1) * size * size];
            let mut img = [0.0f64; 4];
            for (px, &r) in map.iter().enumerate() {
                if canvas[px] <= 1.0 / 255.0 {
                    continue; // letterbox padding
                }
                let slot = if inside(px) { 0 } else { 2 };
                img[slot] += r as f64;
                img[slot + 1] += 1.0;
            }
            if img[1] > 0.0 && img[3] > 0.0 && img[0] / img[1] > img[2] / img[3] {
                wins[k] += 1;
            }
            for j in 0..4 {
                s[j] += img[j];
            }
        }
    }
    println!(
        "{used} fractured {} images with boxes, inpainter {}:",
        split.as_str(),
        run.display()
    );
    for (k, s) in sums.iter().enumerate() {
        let (inside, outside) = (s[0] / s[1].max(1.0), s[2] / s[3].max(1.0));
        println!(
            "  scale {:>3} px: mean residual inside boxes {inside:.4}, outside {outside:.4}, ratio {:.2}; inside > outside in {}/{used} images",
            config.scales[k],
            inside / outside.max(1e-12),
            wins[k]
        );
    }
    Ok(())
}
