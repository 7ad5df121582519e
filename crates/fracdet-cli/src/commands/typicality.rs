//! `fracdet typicality`: fits a model's "is this image like my training data?" check on a
//! dataset's train split, sets its threshold on val, and writes `typicality.json` beside
//! the model, which `detect` and `serve` then apply (images beyond it: not assessed).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_detect::typicality::{DEFAULT_IN_SCOPE_SHARE, TYPICALITY_FILE, features_of};
use fracdet_detect::{Detector, Typicality};
use fracdet_io::dataset::{Dataset, Sample, Split};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::usage::usage;

#[derive(Debug, Args)]
pub struct TypicalityArgs {
    /// Classifier bundle or run directory; typicality.json is written into it.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Dataset with train and val splits (the density is fitted on train, the threshold
    /// set on val; nothing is tuned on a test split).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Principal components of the feature density.
    #[arg(long, default_value_t = 32)]
    pub components: usize,
    /// Share of val images kept in scope.
    #[arg(long, default_value_t = DEFAULT_IN_SCOPE_SHARE)]
    pub share: f64,
    /// Leave this body region out of the fit (train and the val threshold), to measure how
    /// much of it the check then calls out of scope; the result is printed and, unless
    /// --out is given, not written.
    #[arg(long, value_name = "REGION")]
    pub exclude_region: Option<String>,
    /// Where to write (default: MODEL/typicality.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing typicality.json.
    #[arg(long)]
    pub replace: bool,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
}

pub fn run(args: TypicalityArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    if !(0.5..=1.0).contains(&args.share) {
        return usage(format!("--share {} must be in [0.5, 1]", args.share));
    }
    let out = match (&args.out, &args.exclude_region) {
        (Some(out), _) => Some(out.clone()),
        (None, None) => Some(args.model.join(TYPICALITY_FILE)),
        (None, Some(_)) => None,
    };
    if let Some(out) = &out
        && out.exists()
        && !args.replace
    {
        return usage(format!(
            "{} exists; --replace to fit it again",
            out.display()
        ));
    }
    let dataset = Dataset::open(&args.data)
        .with_context(|| format!("cannot open dataset {}", args.data.display()))?;
    let device = &crate::device::select(device)?;
    let detector = Detector::open(&args.model, device)
        .with_context(|| format!("cannot open model {}", args.model.display()))?;
    // Left out of the fit: every image showing the region, mixed ones included. Measured:
    // the images of that region alone (a mixed image also shows regions the fit knows).
    let region = args.exclude_region.as_deref();
    let excluded = |s: &Sample| region.is_some_and(|r| s.shows_region(r));
    let of_region = |s: &Sample| region.is_some() && s.meta.body_part.as_deref() == region;
    let (train, train_region): (Vec<Sample>, Vec<Sample>) = dataset
        .split(Split::Train)
        .into_iter()
        .partition(|s| !excluded(s));
    let train_region: Vec<Sample> = train_region.into_iter().filter(|s| of_region(s)).collect();
    let val = dataset.split(Split::Val);
    if train.len() < 2 || val.is_empty() {
        bail!(
            "need train and val images ({} train, {} val)",
            train.len(),
            val.len()
        );
    }
    let extract = |samples: &[Sample], what: &str| -> anyhow::Result<(Vec<Vec<f32>>, Vec<usize>)> {
        let paths: Vec<PathBuf> = samples.iter().map(|s| s.image.clone()).collect();
        let bar = progress(paths.len() as u64, what);
        let out = features_of(detector.scorer(), &paths, args.batch, device, &|n| {
            bar.set_position(n as u64)
        })?;
        bar.finish_and_clear();
        Ok(out)
    };
    let (train_features, train_kept) = extract(&train, "train")?;
    let (val_features, val_kept) = extract(&val, "val")?;
    // The threshold is set on val without the excluded region: it is what is measured.
    let fit_val: Vec<usize> = (0..val_kept.len())
        .filter(|&i| !excluded(&val[val_kept[i]]))
        .collect();
    let held_out: Vec<usize> = (0..val_kept.len())
        .filter(|&i| of_region(&val[val_kept[i]]))
        .collect();
    let fit_val_features: Vec<Vec<f32>> =
        fit_val.iter().map(|&i| val_features[i].clone()).collect();
    let fitted_on = format!(
        "{}: train ({} images) for the density, val ({}) for the threshold{}",
        args.data.display(),
        train_features.len(),
        fit_val_features.len(),
        args.exclude_region
            .as_deref()
            .map_or(String::new(), |r| format!(", region {r} left out"))
    );
    let typicality = Typicality::fit(
        &train_features,
        &fit_val_features,
        args.components,
        args.share,
        fitted_on,
    )?;
    let train_samples: Vec<&Sample> = train_kept.iter().map(|&i| &train[i]).collect();
    let typicality = typicality.with_regions_of(
        &train_samples,
        &train_features,
        &fit_val_features,
        args.share,
    )?;
    if let Some(r) = &typicality.region {
        eprintln!(
            "region probe over {}: uncertainty limit {:.3} nats",
            r.probe.regions.join(", "),
            r.max_entropy
        );
    }
    eprintln!(
        "typicality threshold {:.3}: {:.1} % of {} val images in scope",
        typicality.threshold,
        typicality.val_in_scope * 100.0,
        typicality.n_val
    );
    // Per region, the share of val images the check keeps.
    let mut by_region: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (i, features) in val_features.iter().enumerate() {
        let region = val[val_kept[i]]
            .meta
            .body_part
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let typical = typicality.score(features)?.typical;
        let e = by_region.entry(region).or_default();
        e.0 += usize::from(typical);
        e.1 += 1;
    }
    for (region, (kept, n)) in &by_region {
        let note = if args.exclude_region.as_deref() == Some(region.as_str()) {
            "  <- left out of the fit"
        } else {
            ""
        };
        println!(
            "{region:<10} val in scope {kept:>4} / {n:<4} ({:.1} %){note}",
            *kept as f64 * 100.0 / (*n).max(1) as f64
        );
    }
    if let Some(region) = region {
        let out_of_scope = |features: &[&Vec<f32>]| {
            let n = features
                .iter()
                .filter(|f| typicality.score(f).is_ok_and(|t| !t.typical))
                .count();
            (
                n,
                features.len(),
                n as f64 * 100.0 / features.len().max(1) as f64,
            )
        };
        let val_held: Vec<&Vec<f32>> = held_out.iter().map(|&i| &val_features[i]).collect();
        let (n, of, pct) = out_of_scope(&val_held);
        println!("held-out region {region}: {n} of {of} val images out of scope ({pct:.1} %)");
        // Train images of the region are unseen too when the network was trained without
        // it (`train classifier --exclude-region`); otherwise the network knows them.
        let (train_region_features, _) = extract(&train_region, region)?;
        let (n, of, pct) = out_of_scope(&train_region_features.iter().collect::<Vec<_>>());
        println!(
            "held-out region {region}: {n} of {of} train images out of scope ({pct:.1} %; \
             unseen by the network only if it was trained with --exclude-region {region})"
        );
    }
    if let Some(out) = out {
        fracdet_io::write::write_file_atomic(&out, typicality.to_json()?.as_bytes(), true)
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(n: u64, what: &str) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:30}} {{pos}}/{{len}} images  ETA {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
