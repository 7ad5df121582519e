//! `fracdet evaluate --perturb`: the split scored again under each standard perturbation
//! (`fracdet_detect::evaluation::perturbation_rows`), each row's AUROC drop printed as a
//! table on stderr as it is done.

use std::path::Path;

use anyhow::Context;
use burn::tensor::Device;
use fracdet_detect::Scorer;
use fracdet_detect::evaluation::{PerturbationRow, ScoreOptions, SplitScores, perturbation_rows};
use fracdet_eval::{BootstrapConfig, Estimate};
use fracdet_io::dataset::Sample;

use super::evaluate::EvaluateArgs;

/// Scores `samples` under each perturbation, compares with `baseline` (their unperturbed
/// scores) and writes `perturbations.json` into the report directory.
pub(super) fn run(
    args: &EvaluateArgs,
    scorer: &Scorer,
    device: &Device,
    root: &Path,
    samples: &[Sample],
    baseline: &SplitScores,
    cfg: &BootstrapConfig,
) -> anyhow::Result<()> {
    eprintln!("AUROC under perturbation (paired bootstrap CI of the difference):");
    let options = ScoreOptions {
        batch: args.batch,
        assess_anyway: args.assess_anyway,
        perturb: None,
    };
    let show_row = |row: &PerturbationRow| {
        eprintln!(
            "  {:<28} AUROC {}  difference {}",
            row.name,
            show(&row.auroc),
            show_ci(&row.difference)
        );
    };
    let base = &baseline.scored;
    let rows = perturbation_rows(scorer, device, root, samples, base, &options, cfg, show_row)?;
    let path = args.out.join("perturbations.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn show(e: &Estimate) -> String {
    e.value.map_or("n/a".into(), |v| format!("{v:.3}"))
}

fn show_ci(e: &Estimate) -> String {
    match (e.value, &e.ci) {
        (Some(v), Some(ci)) => format!("{v:+.3} [{:+.3}, {:+.3}]", ci.lower, ci.upper),
        (Some(v), None) => format!("{v:+.3}"),
        _ => "n/a".into(),
    }
}
