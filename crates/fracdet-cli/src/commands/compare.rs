//! `fracdet compare REPORT_A REPORT_B`: two evaluations side by side, with a paired
//! bootstrap CI of the AUROC difference on the images both scored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_eval::{
    AurocComparison, BootstrapConfig, Estimate, MetricsReport, Prediction, compare_auroc,
    read_predictions,
};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// First report directory (written by `fracdet evaluate`).
    pub report_a: PathBuf,
    /// Second report directory.
    pub report_b: PathBuf,
    /// Bootstrap resamples for the paired interval.
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
    /// Also write comparison.json into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Comparison {
    report_a: PathBuf,
    report_b: PathBuf,
    n_paired: usize,
    n_positive: usize,
    only_in_a: usize,
    only_in_b: usize,
    bootstrap: BootstrapConfig,
    auroc: AurocComparison,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let a = read_predictions(&args.report_a.join("predictions.csv"))?;
    let b = read_predictions(&args.report_b.join("predictions.csv"))?;
    let by_name: HashMap<&str, &Prediction> = b.iter().map(|p| (p.image.as_str(), p)).collect();
    if by_name.len() != b.len() {
        bail!("{} lists an image more than once", args.report_b.display());
    }
    let (mut labels, mut sa, mut sb) = (Vec::new(), Vec::new(), Vec::new());
    for p in &a {
        if let Some(q) = by_name.get(p.image.as_str()) {
            if p.label != q.label {
                bail!(
                    "{}: label {} in A but {} in B; the reports are not on the same data",
                    p.image,
                    p.label,
                    q.label
                );
            }
            labels.push(p.label);
            sa.push(p.score());
            sb.push(q.score());
        }
    }
    if labels.is_empty() {
        bail!("the two reports share no image names; they must be evaluations of the same split");
    }
    let (only_a, only_b) = (a.len() - labels.len(), b.len() - labels.len());
    if only_a + only_b > 0 {
        eprintln!(
            "warning: {only_a} image(s) only in A and {only_b} only in B are left out of the paired comparison"
        );
    }
    let cfg = BootstrapConfig {
        n_resamples: args.bootstrap.max(1),
        ..BootstrapConfig::default()
    };
    let cmp = compare_auroc(&labels, &sa, &sb, &cfg)?;

    let ma = read_metrics(&args.report_a);
    let mb = read_metrics(&args.report_b);
    print_side_by_side(&args.report_a, &args.report_b, ma.as_ref(), mb.as_ref());
    println!();
    println!(
        "paired on {} images ({} fractured):",
        labels.len(),
        labels.iter().filter(|&&y| y).count()
    );
    println!("  AUROC A        {}", fmt(&cmp.auroc_a, false));
    println!("  AUROC B        {}", fmt(&cmp.auroc_b, false));
    println!("  A - B          {}", fmt(&cmp.difference, true));
    if let Some(p) = cmp.p_value {
        println!("  bootstrap p    {p:.4}");
    }

    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let doc = Comparison {
            report_a: args.report_a.clone(),
            report_b: args.report_b.clone(),
            n_paired: labels.len(),
            n_positive: labels.iter().filter(|&&y| y).count(),
            only_in_a: only_a,
            only_in_b: only_b,
            bootstrap: cfg,
            auroc: cmp,
        };
        let path = out.join("comparison.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `value (95% CI lower to upper)`; `signed` prints a + on positive numbers (differences).
fn fmt(e: &Estimate, signed: bool) -> String {
    let n = |v: f64| {
        if signed {
            format!("{v:+.4}")
        } else {
            format!("{v:.4}")
        }
    };
    match (e.value, &e.ci) {
        (Some(v), Some(ci)) => format!(
            "{} ({:.0}% CI {} to {})",
            n(v),
            100.0 * ci.level,
            n(ci.lower),
            n(ci.upper)
        ),
        (Some(v), None) => n(v),
        (None, _) => format!("n/a ({})", e.note.as_deref().unwrap_or("undefined")),
    }
}

fn read_metrics(dir: &Path) -> Option<MetricsReport> {
    let path = dir.join("metrics.json");
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("warning: {}: {e}", path.display());
            None
        }
    }
}

/// Reads one number out of a report, for one row of the side-by-side table.
type Getter = Box<dyn Fn(&MetricsReport) -> Option<f64>>;

fn print_side_by_side(a: &Path, b: &Path, ma: Option<&MetricsReport>, mb: Option<&MetricsReport>) {
    let cell = |m: Option<&MetricsReport>, get: &dyn Fn(&MetricsReport) -> Option<f64>| {
        m.and_then(get).map_or_else(
            || "-".to_string(),
            // Counts print as integers, rates and scores with four decimals.
            |v| {
                if v.fract() == 0.0 && v > 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.4}")
                }
            },
        )
    };
    println!("{:<32} {:>20} {:>20}", "", "A", "B");
    println!("{:<32} {:>20} {:>20}", "report", short(a), short(b));
    let rows: Vec<(String, Getter)> = {
        let mut rows: Vec<(String, Getter)> = vec![
            (
                "images".into(),
                Box::new(|m: &MetricsReport| Some(m.n as f64)),
            ),
            ("AUROC".into(), Box::new(|m: &MetricsReport| m.auroc.value)),
            (
                "average precision".into(),
                Box::new(|m: &MetricsReport| m.average_precision.value),
            ),
            (
                "Brier".into(),
                Box::new(|m: &MetricsReport| m.calibration.brier.value),
            ),
            (
                "ECE".into(),
                Box::new(|m: &MetricsReport| m.calibration.ece.value),
            ),
        ];
        for name in [
            "fixed",
            "target_sensitivity",
            "youden",
            "target_specificity",
        ] {
            for (what, pick) in [("threshold", 0), ("sensitivity", 1), ("specificity", 2)] {
                rows.push((
                    format!("{name} {what}"),
                    Box::new(move |m: &MetricsReport| {
                        let p = m.at_operating_points.iter().find(|p| p.name == name)?;
                        match pick {
                            0 => Some(p.metrics.threshold),
                            1 => p.metrics.sensitivity.value,
                            _ => p.metrics.specificity.value,
                        }
                    }),
                ));
            }
        }
        rows
    };
    for (label, get) in &rows {
        println!(
            "{:<32} {:>20} {:>20}",
            label,
            cell(ma, get.as_ref()),
            cell(mb, get.as_ref())
        );
    }
}

fn short(p: &Path) -> String {
    let s = p.display().to_string();
    let n = s.chars().count();
    if n <= 20 {
        s
    } else {
        format!("…{}", s.chars().skip(n - 19).collect::<String>())
    }
}
