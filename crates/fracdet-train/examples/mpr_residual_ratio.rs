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
//!
//! Control: fracture boxes lie on bone, and soft tissue or background is easier to re-draw,
//! so "inside > outside" could mean "bone > not bone". The control compares the inside
//! with the outside pixels of the same image whose brightness lies within the inside
//! pixels' interquartile range (bone-like pixels away from the fracture).

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
    // inside sum, inside n, outside sum, outside n, matched outside sum, matched outside n
    let mut sums = vec![[0.0f64; 6]; n_scales];
    let mut wins = vec![0usize; n_scales];
    let mut matched_wins = vec![0usize; n_scales];
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
        let content = |px: usize| canvas[px] > 1.0 / 255.0; // not letterbox padding
        let mut inside_values: Vec<f32> = (0..size * size)
            .filter(|&px| content(px) && inside(px))
            .map(|px| canvas[px])
            .collect();
        inside_values.sort_by(f32::total_cmp);
        let quartile = |q: usize| inside_values.get(inside_values.len() * q / 4).copied();
        let (q1, q3) = (
            quartile(1).unwrap_or(f32::INFINITY),
            quartile(3).unwrap_or(f32::NEG_INFINITY),
        );
        for (k, s) in sums.iter_mut().enumerate() {
            let map = &maps[k * size * size..(k + 1) * size * size];
            let mut img = [0.0f64; 6];
            for (px, &r) in map.iter().enumerate() {
                if !content(px) {
                    continue;
                }
                let slot = if inside(px) { 0 } else { 2 };
                img[slot] += r as f64;
                img[slot + 1] += 1.0;
                if slot == 2 && (q1..=q3).contains(&canvas[px]) {
                    img[4] += r as f64;
                    img[5] += 1.0;
                }
            }
            let mean = |j: usize| img[j] / img[j + 1];
            if img[1] > 0.0 && img[3] > 0.0 && mean(0) > mean(2) {
                wins[k] += 1;
            }
            if img[1] > 0.0 && img[5] > 0.0 && mean(0) > mean(4) {
                matched_wins[k] += 1;
            }
            for j in 0..6 {
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
        let matched = s[4] / s[5].max(1.0);
        println!(
            "  scale {:>3} px: mean residual inside boxes {inside:.4}, outside {outside:.4}, ratio {:.2}; inside > outside in {}/{used} images",
            config.scales[k],
            inside / outside.max(1e-12),
            wins[k]
        );
        println!(
            "  scale {:>3} px, control: outside pixels as bright as the inside's middle half {matched:.4}, ratio {:.2}; inside > that in {}/{used} images",
            config.scales[k],
            inside / matched.max(1e-12),
            matched_wins[k]
        );
    }
    Ok(())
}
