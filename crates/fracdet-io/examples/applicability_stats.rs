//! The statistics behind `fracdet_io::applicability`'s thresholds, over a folder of images:
//! per statistic the minimum, 0.1 %, 1 %, median, 99 %, 99.9 % and maximum, and how many
//! images the default thresholds would refuse, with the reason and file of each.
//!
//! `cargo run --release -p fracdet-io --example applicability_stats -- DIR`

use fracdet_io::applicability::{Thresholds, check, image_stats};
use fracdet_io::walk::{WalkOptions, walk};
use fracdet_io::{ReadOptions, read_radiograph};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: applicability_stats DIR");
    let walked = walk(
        std::path::Path::new(&dir),
        WalkOptions::default(),
        &|p: &std::path::Path| {
            p.extension().is_some_and(|e| {
                matches!(
                    e.to_string_lossy().to_ascii_lowercase().as_str(),
                    "png" | "jpg" | "jpeg" | "dcm"
                )
            })
        },
    )
    .expect("cannot walk the folder");
    let (mut rows, mut refused) = (Vec::new(), Vec::new());
    for path in walked.files {
        let Ok(image) = read_radiograph(&path, &ReadOptions::default()) else {
            continue;
        };
        let s = image_stats(&image);
        rows.push([
            image.meta.chroma.unwrap_or(0.0),
            s.std,
            s.clipped_fraction,
            s.white_fraction,
            s.neighbour_correlation,
            s.edge_ratio,
        ]);
        if let Err(why) = check(&image, &Thresholds::default()) {
            refused.push(format!("{}: {}", path.display(), why.describe()));
        }
    }
    let names = [
        "chroma",
        "std",
        "clipped",
        "white",
        "neighbour_corr",
        "edge_ratio",
    ];
    println!("{} images", rows.len());
    println!("| statistic | min | 0.1 % | 1 % | median | 99 % | 99.9 % | max |");
    println!("|---|---|---|---|---|---|---|---|");
    for (k, name) in names.iter().enumerate() {
        let mut v: Vec<f32> = rows.iter().map(|r| r[k]).collect();
        v.sort_by(f32::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |",
            q(0.0),
            q(0.001),
            q(0.01),
            q(0.5),
            q(0.99),
            q(0.999),
            q(1.0)
        );
    }
    println!("refused by the defaults: {}", refused.len());
    for r in refused {
        println!("  {r}");
    }
}
